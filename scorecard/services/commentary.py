"""Writes of the owner's commentary on a metric in a week.

The metric's owner or ops write it; it is Markdown, cleaned on save and rendered once to
sanitised HTML (revops/markdown.py). On a week not yet published it is a draft that the
publication freezes; on a published week, writing it republishes that one cell's commentary
(services/snapshots.py::snapshot_commentary_restate), and changing or removing commentary that
was frozen needs a reason, recorded with the revision."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from revops import markdown
from revops.permissions import can
from revops.weeks import IsoWeek
from scorecard.models import COMMENTARY_MAX_CHARS, Metric, MetricCommentary


def may_comment(user: AbstractBaseUser, metric: Metric) -> bool:
    """The metric's owner, and ops, write its commentary."""
    return bool(
        user.is_authenticated
        and (can(user, "scorecard.publish") or (metric.owner_id and metric.owner_id == user.pk))
    )


@transaction.atomic
def commentary_set(
    *, metric: Metric, week: IsoWeek, body: str, by: AbstractBaseUser, reason: str = ""
) -> MetricCommentary | None:
    """Write (or, with an empty body, remove) `metric`'s commentary for `week`. Returns the
    commentary, None when removed."""
    from scorecard.services.snapshots import snapshot_commentary_restate

    if not may_comment(by, metric):
        raise PermissionDenied("Only the metric's owner or ops write its commentary.")
    if week > IsoWeek.current():
        raise ValidationError({"body": f"{week.label} has not started yet."})
    # Stored as typed and sanitised when rendered; the limit is on the text as rendered.
    body = markdown.source_normalise(body).strip()
    size = len(markdown.source_clean(body))
    if size > COMMENTARY_MAX_CHARS:
        raise ValidationError(
            {"body": f"Keep it under {COMMENTARY_MAX_CHARS:,} characters ({size:,} now)."}
        )
    html = str(markdown.render(body)) if body else ""
    existing = MetricCommentary.objects.filter(metric=metric, week_start=week.monday).first()
    snapshot_commentary_restate(
        week=week, metric=metric, body=body, html=html, by=by, reason=reason.strip()
    )
    if not body:
        if existing:
            existing.delete()
        return None
    if existing is None:
        return MetricCommentary.objects.create(
            metric=metric, week_start=week.monday, body=body, html=html, written_by=by
        )
    existing.body, existing.html, existing.written_by = body, html, by
    existing.save(update_fields=["body", "html", "written_by", "written_at"])
    return existing
