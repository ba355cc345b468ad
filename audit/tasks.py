"""What a Celery task changes is marked with the task's name in the audit log: a nightly
reconciliation or a queued import has no user, but it has a name ("task:pipeline.…")."""

from __future__ import annotations

from typing import Any

import pghistory
from celery import signals

# The open context of each running task, by task id (a worker runs one task per process or
# thread at a time, but eager tasks may nest inside a request).
_open: dict[str, pghistory.context] = {}


def _task_started(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    if task_id is None or task is None:
        return
    context = pghistory.context(source=f"task:{task.name}")
    context.__enter__()
    _open[task_id] = context


def _task_finished(task_id: str | None = None, **kwargs: Any) -> None:
    context = _open.pop(task_id, None) if task_id else None
    if context is not None:
        context.__exit__(None, None, None)


def connect() -> None:
    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="audit-task-started")
    signals.task_postrun.connect(_task_finished, weak=False, dispatch_uid="audit-task-finished")
