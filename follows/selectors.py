"""Reads of follows: what a person follows, with where each thing stands."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser

from disputes.models import Dispute
from follows.models import Alert, Follow
from revops.weeks import IsoWeek
from scorecard.formatting import format_value
from scorecard.models import Metric, SnapshotValue


@dataclass(frozen=True)
class FollowedMetric:
    metric: Metric
    week: IsoWeek
    value: str  # as published for `week`, "—" when it is not
    rag: str


def followed_metrics(user: AbstractBaseUser) -> list[FollowedMetric]:
    """The metrics `user` follows, in scorecard order, each with its value and RAG as
    published for the last completed week (two queries)."""
    week = IsoWeek.last_completed()
    metrics = list(
        Metric.objects.filter(
            pk__in=Follow.objects.filter(user=user, metric__isnull=False).values("metric_id")
        ).order_by("position", "name")
    )
    published = {
        v.metric_id: v
        for v in SnapshotValue.objects.filter(week_start=week.monday, metric__in=metrics)
    }
    found = []
    for metric in metrics:
        value = published.get(metric.pk)
        found.append(
            FollowedMetric(
                metric,
                week,
                format_value(value.value, metric.unit, compact=True) if value else "—",
                value.rag if value else "none",
            )
        )
    return found


def followed_disputes(user: AbstractBaseUser) -> list[Dispute]:
    """The disputes `user` follows, unresolved first, then newest."""
    return list(
        Dispute.objects.filter(
            pk__in=Follow.objects.filter(user=user, dispute__isnull=False).values("dispute_id")
        )
        .select_related("metric")
        .order_by("resolved_at", "-filed_at", "-id")
    )


def is_following(
    user: AbstractBaseUser, *, metric: Metric | None = None, dispute: Dispute | None = None
) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    target = {"metric": metric} if metric is not None else {"dispute": dispute}
    return Follow.objects.filter(user=user, **target).exists()


def alerts_recent(user: AbstractBaseUser, *, limit: int = 10) -> list[Alert]:
    """The last alerts sent to `user`, newest first, with what happened on each channel."""
    return list(Alert.objects.filter(user=user).order_by("-created_at", "-id")[:limit])
