"""Data disputes: someone who believes a number or a record is wrong says so, with the evidence
the system had at that moment; ops triage and resolve it within an SLA."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from disputes.choices import UNRESOLVED, CorrectionKind, DisputeStatus, DisputeSubject
from pipeline.choices import ObjectType
from scorecard.choices import Team

DEFAULT_SLA_BUSINESS_DAYS = 2


class DisputeSettings(models.Model):
    """The one row of dispute settings ops edit: how many business days ops have to respond.
    Keyed by id 1."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    response_business_days = models.PositiveSmallIntegerField(default=DEFAULT_SLA_BUSINESS_DAYS)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "dispute settings"
        verbose_name_plural = "dispute settings"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="disputes_settings_singleton"),
            models.CheckConstraint(
                condition=Q(response_business_days__gte=1, response_business_days__lte=30),
                name="disputes_settings_sla_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Response within {self.response_business_days} business days"


class Dispute(models.Model):
    """One challenge of one number (a metric in a week), record or discrepancy. `evidence` is
    what the system showed when it was filed, frozen so the discussion is about the same
    numbers; `correction` is what accepting it changed. Keyed by id."""

    subject = models.CharField(max_length=12, choices=DisputeSubject.choices)
    metric = models.ForeignKey(
        "scorecard.Metric", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    week_start = models.DateField(null=True, blank=True, help_text="Monday of the ISO week.")
    discrepancy = models.ForeignKey(
        "pipeline.Discrepancy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    object_type = models.CharField(max_length=10, choices=ObjectType.choices, blank=True)
    record_key = models.CharField(
        max_length=300, blank=True, help_text="The golden record's key (lead: email key)."
    )
    title = models.CharField(max_length=300, help_text="What is disputed, in a few words.")
    team = models.CharField(max_length=20, choices=Team.choices)
    shown_value = models.CharField(max_length=100, blank=True, help_text="As the filer saw it.")
    claimed_value = models.CharField(max_length=100)
    claimed_number = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    explanation = models.TextField()
    attachment = models.FileField(upload_to="disputes/%Y/%m/", blank=True)
    attachment_name = models.CharField(max_length=255, blank=True)
    evidence = models.JSONField(default=dict)
    status = models.CharField(
        max_length=12, choices=DisputeStatus.choices, default=DisputeStatus.OPEN
    )
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="disputes_filed"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="disputes_assigned",
    )
    filed_at = models.DateTimeField(db_default=Now())
    due_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True, help_text="What was corrected, or why not.")
    correction_kind = models.CharField(max_length=10, choices=CorrectionKind.choices, blank=True)
    correction = models.JSONField(default=dict, blank=True)
    republished_weeks = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-filed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=DisputeStatus.values), name="disputes_dispute_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(subject__in=DisputeSubject.values),
                name="disputes_dispute_subject_valid",
            ),
            models.CheckConstraint(
                condition=Q(correction_kind="") | Q(correction_kind__in=CorrectionKind.values),
                name="disputes_dispute_correction_valid",
            ),
            # Each subject carries what identifies it.
            models.CheckConstraint(
                condition=~Q(subject=DisputeSubject.METRIC)
                | Q(metric__isnull=False, week_start__isnull=False),
                name="disputes_dispute_metric_has_week",
            ),
            models.CheckConstraint(
                condition=~Q(subject=DisputeSubject.RECORD)
                | (~Q(object_type="") & ~Q(record_key="")),
                name="disputes_dispute_record_has_key",
            ),
            # Closed means when; accepted and rejected also mean why.
            models.CheckConstraint(
                condition=Q(status__in=UNRESOLVED, resolved_at__isnull=True)
                | (~Q(status__in=UNRESOLVED) & Q(resolved_at__isnull=False)),
                name="disputes_dispute_resolved_at",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=[DisputeStatus.ACCEPTED, DisputeStatus.REJECTED])
                | ~Q(resolution=""),
                name="disputes_dispute_resolution_given",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="disputes_status_due_idx"),
            # The list's order, so its keyset pages are index range scans.
            models.Index(fields=["-filed_at", "-id"], name="disputes_dispute_filed_idx"),
            # The scorecard asks for unresolved disputes of a week's metrics on every view.
            models.Index(
                fields=["week_start", "metric"],
                name="disputes_open_metric_idx",
                condition=Q(status__in=UNRESOLVED),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_unresolved(self) -> bool:
        return self.status in UNRESOLVED

    def is_overdue(self, now=None) -> bool:
        return self.is_unresolved and self.due_at < (now or timezone.now())


class DisputeTransition(models.Model):
    """One step of a dispute's workflow: who moved it from which status to which, when, and
    with what note. An assignment is a step that keeps the status. Keyed by id; the timeline
    reads them in order."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=12, choices=DisputeStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=DisputeStatus.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(db_default=Now())
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["dispute", "at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(from_status="") | Q(from_status__in=DisputeStatus.values))
                & Q(to_status__in=DisputeStatus.values),
                name="disputes_transition_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.dispute_id} {self.from_status or '—'} → {self.to_status}"


class DisputeComment(models.Model):
    """One message in a dispute's thread: Markdown as typed, shown sanitised (revops.markdown)."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["dispute", "created_at", "id"]

    def __str__(self) -> str:
        return f"#{self.dispute_id} comment by {self.author_id}"
