"""The audit log: one event table per tracked table, written by PostgreSQL triggers.

Triggers, not model signals: `QuerySet.update()`, `bulk_create()`, raw SQL and the admin's bulk
actions all pass through them. django-pghistory generates the event models and pgtrigger the
triggers. Every tracked model is tracked through a proxy declared here, so the event tables
*and* the triggers live in this app's migrations: the data apps know nothing of the audit (the
layers only point down), and third-party tables (auth, django_celery_beat) need no migration
in an app we do not own.

What is tracked is what people edit: source systems and field authority, import presets and
the life of an import batch, the metric catalog and published weeks, mechanisms, API tokens,
users and their roles, and the beat schedules. What is not tracked, on purpose: golden records
(leads, accounts, deals, ARR changes), source records, stage histories, discrepancies, bridges,
series values and snapshot values. They change by the million through imports, reconciliation
runs and publications, each of which is itself recorded (its batch, run or publication); a
trigger there would double the cost of the hot path for a log nobody could read.

Secrets never reach the log: a user's password hash and an API token's key hash are left out
of the snapshot. Columns that change on their own (progress counters, heartbeats, "last used",
beat's run counters) are left out too, and with them out an update that only touches them
fires no event (pghistory's update condition is "any tracked column changed").
"""

from __future__ import annotations

import pghistory
from django.contrib.auth.models import User
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from mechanisms.models import Action, Goal, Link, LogEntry, Mechanism
from pipeline.models import FieldAuthority, ImportBatch, ImportPreset, SourceSystem
from revops.models import ApiToken
from scorecard.models import (
    Metric,
    MetricDefinition,
    MetricTarget,
    SeriesImport,
    SnapshotPublication,
    WeeklySnapshot,
)

# Left out of every snapshot; the page and the API also mask them should one ever appear.
SECRET_FIELDS = frozenset({"password", "key_hash"})

# (model, columns left out). The order is the order of the model filter on the page.
TRACKED: tuple[tuple[type, tuple[str, ...]], ...] = (
    (SourceSystem, ()),
    (FieldAuthority, ()),
    (ImportPreset, ()),
    # An import writes its progress every few thousand rows: only its status and outcome count.
    (ImportBatch, ("phase", "progress", "heartbeat_at", "preview", "unknown_columns", "file")),
    (Metric, ()),
    (MetricDefinition, ()),
    (MetricTarget, ()),
    (SeriesImport, ()),
    (WeeklySnapshot, ()),
    (SnapshotPublication, ()),
    (Mechanism, ()),
    (Goal, ()),
    (Link, ()),
    (LogEntry, ()),
    (Action, ()),
    # Token use is written at most once a minute (last_used_at): not an edit by anyone.
    (ApiToken, ("key_hash", "last_used_at")),
    # Signing in writes last_login; the password hash must never be copied anywhere.
    (User, ("password", "last_login")),
    # Beat writes last_run_at and total_run_count on every run of a task.
    (PeriodicTask, ("last_run_at", "total_run_count", "date_changed")),
    (CrontabSchedule, ()),
    (IntervalSchedule, ()),
)


def _track(model: type, exclude: tuple[str, ...] = (), name: str = "") -> type:
    """Declare `<Name>Audit`, a proxy of `model` in this app, and its event model
    `<Name>Event` whose triggers record every insert, update and delete."""
    name = name or model.__name__
    proxy = type(
        f"{name}Audit",
        (model,),
        {
            "__module__": __name__,
            "Meta": type("Meta", (), {"proxy": True, "app_label": "audit"}),
        },
    )
    # Fresh trackers for each model: pghistory fills a tracker's update condition with the
    # columns of the first model it is set up on.
    pghistory.track(
        pghistory.InsertEvent(trigger_name="audit_insert"),
        pghistory.UpdateEvent(trigger_name="audit_update"),
        pghistory.DeleteEvent(trigger_name="audit_delete"),
        exclude=list(exclude),
        model_name=f"{name}Event",
        obj_field=pghistory.ObjForeignKey(related_name="+", related_query_name="+"),
        app_label="audit",
    )(proxy)
    globals()[proxy.__name__] = proxy
    return proxy


for _model, _exclude in TRACKED:
    _track(_model, _exclude)

# Role membership is the many-to-many table auth_user_groups: adding a user to "ops" is an
# insert there, taking the role away a delete.
_track(User.groups.through, name="UserGroup")
