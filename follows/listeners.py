"""What follows does when scorecard or disputes say something happened: enqueue the alerts
(tasks run after the commit that emitted, in a worker or in-process)."""

from __future__ import annotations


def week_published(*, week_label: str) -> None:
    from follows.tasks import week_alerts_task

    week_alerts_task.delay(week_label)


def dispute_changed(*, dispute_id: int, key: str, what: str, by_id: int | None) -> None:
    from follows.tasks import dispute_alerts_task

    dispute_alerts_task.delay(dispute_id, key, what, by_id)
