"""Enumerations of disputes. Stored values are stable; labels are for people."""

from __future__ import annotations

from django.db import models


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_REVIEW = "in_review", "In review"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


# Still waiting for ops: these count against the SLA and put the disputed mark on a number.
UNRESOLVED = (DisputeStatus.OPEN, DisputeStatus.IN_REVIEW)


class DisputeSubject(models.TextChoices):
    """What the dispute is about: a scorecard number for a week, a golden record, or a
    discrepancy reconciliation found."""

    METRIC = "metric", "Scorecard metric"
    RECORD = "record", "Record"
    DISCREPANCY = "discrepancy", "Discrepancy"


class CorrectionKind(models.TextChoices):
    """What accepting a dispute changed in the source of truth."""

    NONE = "none", "Nothing to change in the data (explained or corrected at source)"
    AUTHORITY = "authority", "Change a field authority rule"
    SAME_LEAD = "same_lead", "Mark two leads as the same person"
    OVERRIDE = "override", "Correct a field on the record (manual override)"
