"""The audit log: one event table per tracked table, written by PostgreSQL triggers.

Triggers, not model signals: `QuerySet.update()`, `bulk_create()`, raw SQL and the admin's bulk
actions all pass through them. django-pghistory generates the event models and pgtrigger the
triggers. Every tracked model is tracked through a proxy declared here, so the event tables
*and* the triggers live in this app's migrations: the data apps know nothing of the audit (the
layers only point down), and third-party tables (auth, django_celery_beat) need no migration
in an app we do not own.

What is tracked is what people edit: source systems, field authority, exchange rates, import
presets and the life of an import batch, the metric catalog and published weeks, mechanisms,
disputes and the corrections they make (lead aliases, field overrides), API tokens, users and
their roles, and the beat schedules. What is not tracked, on purpose: golden records (leads,
accounts, deals, ARR changes), source records, stage histories, discrepancies, bridges, series
values and snapshot values. They change by the million through imports, reconciliation
runs and publications, each of which is itself recorded (its batch, run or publication); a
trigger there would double the cost of the hot path for a log nobody could read.

Secrets never reach the log: a user's password hash and an API token's key hash are left out
of the snapshot. Columns that change on their own (progress counters, heartbeats, "last used",
beat's run counters) are left out too, and with them out an update that only touches them
fires no event (pghistory's update condition is "any tracked column changed").
"""

from __future__ import annotations

import pghistory
from django.conf import settings
from django.contrib.auth.models import User
from django.db import models
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from pghistory.models import Events

from disputes.models import Dispute, DisputeComment, DisputeSettings
from mechanisms.models import Action, Goal, Link, LogEntry, Mechanism
from pipeline.models import (
    Connection,
    ExchangeRate,
    FieldAuthority,
    FieldOverride,
    ImportBatch,
    ImportPreset,
    LeadAlias,
    Owner,
    PlaceholderEmail,
    Region,
    RegionCountry,
    SourceSystem,
    Team,
)
from revops.models import ApiToken
from scorecard.models import (
    Metric,
    MetricCommentary,
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
    # A connection's secret never enters the log; its cursors and test results are state.
    (
        Connection,
        (
            "secret",
            "cursors",
            "api_limits",
            "last_test_at",
            "last_test_ok",
            "last_test_message",
            "last_synced_at",
        ),
    ),
    (FieldAuthority, ()),
    (ExchangeRate, ()),
    (ImportPreset, ()),
    (PlaceholderEmail, ()),
    # Who is in which team, which countries make a region: they move every slice's numbers.
    (Team, ()),
    (Owner, ()),
    (Region, ()),
    (RegionCountry, ()),
    # An import writes its progress every few thousand rows: only its status and outcome count.
    (
        ImportBatch,
        (
            "phase",
            "progress",
            "heartbeat_at",
            "phases",
            "preview",
            "unknown_columns",
            "file",
            "deleted_ids",
        ),
    ),
    (Metric, ()),
    (MetricDefinition, ()),
    (MetricTarget, ()),
    (SeriesImport, ()),
    (WeeklySnapshot, ()),
    (SnapshotPublication, ()),
    (MetricCommentary, ()),
    (Mechanism, ()),
    (Goal, ()),
    (Link, ()),
    (LogEntry, ()),
    (Action, ()),
    # Disputes: the filing, its status, assignee and resolution; the thread; the SLA. Their
    # workflow steps are a log already (DisputeTransition). The evidence is frozen at filing.
    (Dispute, ("evidence",)),
    (DisputeComment, ()),
    (DisputeSettings, ()),
    # Corrections accepted from disputes: two leads made one, a field set by hand.
    (LeadAlias, ()),
    (FieldOverride, ()),
    # Token use is written at most once a minute (last_used_at): not an edit by anyone.
    (ApiToken, ("key_hash", "last_used_at")),
    # Signing in writes last_login; the password hash must never be copied anywhere.
    (User, ("password", "last_login")),
    # Beat writes last_run_at and total_run_count on every run of a task.
    (PeriodicTask, ("last_run_at", "total_run_count", "date_changed")),
    (CrontabSchedule, ()),
    (IntervalSchedule, ()),
)


# The event model of each tracked table, by the tracked model's label ("pipeline.importbatch").
EVENT_MODELS: dict[str, type[models.Model]] = {}


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
        # A save that only moves an `auto_now` stamp (updated_at) changed nothing anyone wrote.
        pghistory.UpdateEvent(
            trigger_name="audit_update", condition=pghistory.AnyChange(exclude_auto=True)
        ),
        pghistory.DeleteEvent(trigger_name="audit_delete"),
        exclude=list(exclude),
        model_name=f"{name}Event",
        obj_field=pghistory.ObjForeignKey(related_name="+", related_query_name="+", db_index=False),
        app_label="audit",
        # The log's diff reads each event's previous event of the same row: (row, event) finds
        # it in one index probe however many rows' events interleave.
        meta={
            "indexes": [
                models.Index(
                    fields=["pgh_obj", "pgh_id"], name=f"audit_{name.lower()[:16]}_obj_idx"
                )
            ]
        },
    )(proxy)
    globals()[proxy.__name__] = proxy
    # pghistory put the event model into this module under its name.
    EVENT_MODELS[model._meta.label_lower] = globals()[f"{name}Event"]
    return proxy


for _model, _exclude in TRACKED:
    _track(_model, _exclude)

# Role membership is the many-to-many table auth_user_groups: adding a user to "ops" is an
# insert there, taking the role away a delete.
_track(User.groups.through, name="UserGroup")


class AuditEvent(Events):
    """One row of the audit log as ops read it: any event of any tracked table (pghistory's
    aggregate over every event table), with who made it and where from, read out of the context
    the middleware, a command or a task attached (`pgh_context`). Keyed by `pgh_slug`
    ("audit.MechanismEvent:12"). Not a table: a query over the event tables."""

    user = pghistory.ProxyField(
        "pgh_context__user",
        models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, null=True),
    )
    url = pghistory.ProxyField("pgh_context__url", models.TextField(null=True))
    source = pghistory.ProxyField("pgh_context__source", models.TextField(null=True))

    class Meta:
        proxy = True
