"""Celery tasks of the scorecard: thin wrappers around the services."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def snapshot_publish_due_task() -> None:
    """Monday 06:00 (a beat schedule ops can change): publish the week that just ended."""
    from scorecard.services import snapshots  # in-body import avoids the services<->tasks cycle

    snapshots.snapshot_publish_due()


@shared_task(acks_late=True)
def digest_send_task(week_label: str) -> None:
    """Email the digest of a published week to executives, once."""
    from revops.weeks import IsoWeek
    from scorecard.services import digest

    digest.digest_send(week=IsoWeek.parse(week_label))


@shared_task(acks_late=True)
def week_warm_task(week_label: str) -> None:
    """Fill the shared cache with a just-published week's page and JSON, and those of the
    latest completed week, whose trend it may be part of. A retry renders the same thing."""
    from revops.weeks import IsoWeek
    from scorecard.rendering import week_warm

    week = IsoWeek.parse(week_label)
    week_warm(week)
    latest = IsoWeek.last_completed()
    if latest != week:
        week_warm(latest)


@shared_task(acks_late=True)
def restatements_check_task() -> int:
    """Hourly: list the published weeks whose frozen values differ from the live ones."""
    from scorecard.services import snapshots

    return len(snapshots.restatements_check())
