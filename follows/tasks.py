"""Alerts to followers, sent by a worker (or in-process without Redis)."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def week_alerts_task(week_label: str) -> int:
    from follows.services import week_alerts_send
    from revops.weeks import IsoWeek

    return week_alerts_send(week=IsoWeek.parse(week_label))


@shared_task(acks_late=True)
def dispute_alerts_task(dispute_id: int, key: str, what: str, by_id: int | None) -> int:
    from follows.services import dispute_alerts_send

    return dispute_alerts_send(dispute_id=dispute_id, key=key, what=what, by_id=by_id)
