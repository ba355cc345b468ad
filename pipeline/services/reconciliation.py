"""Reconciliation: compare the marketing system with the sales system, record by record and
metric by metric, set-based in PostgreSQL.

A run has four phases, all in one transaction with the run's completion:

1. compare: each system's representative record per golden key (its oldest, as a CRM merge
   keeps the master) is FULL JOINed with the other system's, reading both in key order from
   an index, and every pair that differs, and every record one side lacks, goes to a small
   temp table; extra records under one key in one system are the duplicates;
2. discrepancies: those differences are upserted by fingerprint (a rerun updates the open
   discrepancy, "last seen"), and open ones this run no longer finds are resolved by it;
3. metrics: for each reconciled metric and ISO week, marketing's, sales' and the golden value
   are summed straight from the tables, and the bridge steps from the differing records, so
   whatever the steps do not explain is what is left: stored as unexplained, never dropped;
4. the run is marked completed.

Two runs never overlap (a PostgreSQL advisory lock). A run that fails or is killed rolls
back whole, so the previous completed run stays the current one; the same data gives the
same discrepancies and bridges.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from pipeline import metrics as registry
from pipeline.choices import (
    RECONCILED_FIELDS,
    BridgeReason,
    DealSource,
    DiscrepancyKind,
    ObjectType,
    RunStatus,
    SystemRole,
)
from pipeline.models import (
    BridgeStep,
    Discrepancy,
    FieldAuthority,
    ReconciledMetricWeek,
    ReconciliationRun,
    SourceSystem,
)
from revops.db import advisory_lock, advisory_lock_held
from revops.laps import Laps
from revops.weeks import IsoWeek, week_params, week_sql

logger = logging.getLogger(__name__)

LOCK_NAME = "pipeline.reconciliation"
DEFAULT_WEEKS = 104
# Fifty years: a company's whole history fits; a date typed a century off does not.
MAX_WEEKS = 2600
# A queued run whose task never started (Redis lost it) stops blocking new runs after this.
QUEUED_STALE_AFTER = timedelta(hours=1)
# A run whose worker died is retried once when its message is redelivered, not forever.
MAX_ATTEMPTS = 2
# Seconds a redelivered run waits for the dead worker's lock (freed within ~1 s, see above).
REDELIVERED_LOCK_WAIT = 10


# --- What is compared ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Object:
    """How one object type is compared: its source table, the columns the comparison and the
    metrics read, and the column people know a record by."""

    object_type: str
    table: str
    label: str
    # column → SQL type family: "ts" (timestamptz), "date", "num" or "text"
    columns: dict[str, str]


_OBJECTS = {
    ObjectType.LEAD: _Object(
        ObjectType.LEAD,
        registry.SOURCE_TABLES[ObjectType.LEAD],
        "email",
        {
            "stage": "text",
            "mql_at": "ts",
            "sql_at": "ts",
            "source": "text",
            "owner": "text",
            "created_at": "ts",
        },
    ),
    ObjectType.DEAL: _Object(
        ObjectType.DEAL,
        registry.SOURCE_TABLES[ObjectType.DEAL],
        "name",
        {
            "amount": "num",
            registry.AMOUNT_AT_CLOSE: "num",
            registry.AMOUNT_AT_CREATION: "num",
            "stage": "text",
            "close_date": "date",
            "source": "text",
            "deal_type": "text",
            "created_at": "ts",
        },
    ),
}

# The week a field's difference belongs to: its own date, else the record's creation (for a
# deal's stage: its close date, when a win or loss counts).
_WEEK_OF_FIELD = {
    (ObjectType.LEAD, "mql_at"): "mql_at",
    (ObjectType.LEAD, "sql_at"): "sql_at",
    (ObjectType.DEAL, "close_date"): "close_date",
    (ObjectType.DEAL, "stage"): "close_date",
}


@dataclass(frozen=True)
class _Metric:
    """A reconciled metric as SQL over one record (columns prefixed by the caller), derived
    from its declaration in the registry: which object, which date puts it in a week, the
    conditions that make a record count (each with the field it depends on, in the order a
    difference is blamed on), and what it adds."""

    key: str
    object_type: str
    date_column: str
    conditions: tuple[tuple[str, str], ...]  # (field, SQL with {p} for the column prefix)
    value: str  # SQL with {p}

    @classmethod
    def of(cls, spec: registry.MetricSpec) -> _Metric:
        m = spec.measure
        return cls(
            spec.key,
            m.records.object_type,
            m.records.date,
            tuple((w.field, w.sql("{p}")) for w in m.records.where),
            m.value_sql("{p}"),
        )


METRICS: tuple[_Metric, ...] = tuple(_Metric.of(spec) for spec in registry.RECONCILED.values())

METRICS_BY_KEY = {metric.key: metric for metric in METRICS}

# The choice values the statements compare with, passed with every statement as parameters:
# the SQL names the choice, and a renamed value changes the query with it. The metrics'
# conditions bring their own (registry.SQL_PARAMS).
CHOICE_PARAMS = {
    **registry.SQL_PARAMS,
    "marketing_sourced": DealSource.MARKETING,
}

# The order of a bridge's steps, from marketing's value to sales'.
REASON_ORDER = (
    BridgeReason.MISSING_IN_SALES,
    BridgeReason.DUPLICATE,
    BridgeReason.OTHER_WEEK,
    BridgeReason.MISMATCH,
    BridgeReason.MISSING_IN_MARKETING,
    BridgeReason.NOT_SYNCED,
)


# --- Starting runs ------------------------------------------------------------------------------


def _validate_weeks(weeks: int) -> None:
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValidationError(f"Weeks must be between 1 and {MAX_WEEKS}, not {weeks}.")


def reconciliation_weeks_since(since: date) -> int:
    """How many ISO weeks a run needs to reach back to the week of `since` from the current
    one; refuses a day after today or more than MAX_WEEKS back, in a sentence."""
    current = IsoWeek.current()
    first = IsoWeek.of(since)
    if first > current:
        raise ValidationError(f"{since:%-d %B %Y} is in the future: reconcile from a past date.")
    weeks = (current.monday - first.monday).days // 7 + 1
    if weeks > MAX_WEEKS:
        raise ValidationError(
            f"{since:%-d %B %Y} is {weeks} weeks back; a run reaches back at most {MAX_WEEKS}."
        )
    return weeks


def reconciliation_weeks_all() -> int:
    """The weeks from the oldest record of the compared systems (created, MQL, SQL or close
    date) to the current week: "all the data there is"."""
    marketing, sales = reconciliation_pair()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT least(
                (SELECT min(least(created_at, mql_at, sql_at))
                 FROM {registry.SOURCE_TABLES[ObjectType.LEAD]}
                 WHERE system_id IN (%(m)s, %(s)s)),
                (SELECT min(least(created_at, (close_date::timestamp AT TIME ZONE %(tz)s)))
                 FROM {registry.SOURCE_TABLES[ObjectType.DEAL]}
                 WHERE system_id IN (%(m)s, %(s)s)))
            """,
            {"m": marketing.pk, "s": sales.pk, **week_params()},
        )
        (oldest,) = cursor.fetchone()
    if oldest is None:
        return 1
    return reconciliation_weeks_since(timezone.localtime(oldest).date())


def reconciliation_run_active() -> ReconciliationRun | None:
    """The run that is queued or running now, if any. A run marked running whose lock nobody
    holds died with its worker and does not count; nor does a queued run older than an hour
    (its task was lost)."""
    running = ReconciliationRun.objects.filter(status=RunStatus.RUNNING).order_by("-id").first()
    if running is not None and advisory_lock_held(LOCK_NAME):
        return running
    return (
        ReconciliationRun.objects.filter(
            status=RunStatus.QUEUED, created_at__gte=timezone.now() - QUEUED_STALE_AFTER
        )
        .order_by("-id")
        .first()
    )


@transaction.atomic
def reconciliation_start(
    *, by: AbstractBaseUser | None = None, trigger: str, weeks: int = DEFAULT_WEEKS
) -> ReconciliationRun:
    """Queue a run and hand it to the worker once committed (in-process without Redis).
    Refuses with a ValidationError that names the active run while one is queued or running,
    or says which system is missing. If the task queue cannot be reached, the run is marked
    failed with the reason."""
    _validate_weeks(weeks)
    reconciliation_pair()
    active = reconciliation_run_active()
    if active is not None:
        raise ValidationError(
            f"Run #{active.pk} is already {active.get_status_display().lower()} "
            f"(started by {active.started_by_label}); wait for it to finish."
        )
    run = ReconciliationRun.objects.create(
        trigger=trigger, started_by=by if getattr(by, "pk", None) else None, weeks=weeks
    )
    transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def _enqueue(run_id: int) -> None:
    from pipeline.tasks import reconciliation_run_task

    try:
        reconciliation_run_task.delay(run_id)
    except Exception as exc:  # the broker is down or hangs: say so on the run, do not 500
        logger.exception("Could not enqueue reconciliation run %s", run_id)
        ReconciliationRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
            status=RunStatus.FAILED,
            finished_at=timezone.now(),
            message=f"Could not reach the task queue, so nothing ran: {exc}",
        )


def reconciliation_run_now(
    *, by: AbstractBaseUser | None = None, trigger: str, weeks: int = DEFAULT_WEEKS
) -> ReconciliationRun:
    """Create a run and execute it in this process (the command line and the nightly task).
    Returns it completed, failed, or skipped because another run held the lock. Refuses with
    a ValidationError, creating no run, when a system to compare is missing."""
    _validate_weeks(weeks)
    reconciliation_pair()
    run = ReconciliationRun.objects.create(
        trigger=trigger, started_by=by if getattr(by, "pk", None) else None, weeks=weeks
    )
    return reconciliation_execute(run_id=run.pk)


def reconciliation_execute(*, run_id: int) -> ReconciliationRun:
    """Execute a queued run under the reconciliation lock. Without the lock, the run is
    marked skipped and says which run holds it. Holding it, any other run still marked
    running is marked failed (its worker died). A failure rolls back every result of the run
    and marks it failed with the error; it is logged, never raised, so callers can report it.
    """
    # A message redelivered after its worker died finds the run marked running, and the lock
    # perhaps still held by the dead worker's connection for a second or two (until PostgreSQL
    # notices, client_connection_check_interval): wait for it rather than give up.
    redelivered = ReconciliationRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).exists()
    wait = REDELIVERED_LOCK_WAIT if redelivered else 0
    with advisory_lock(LOCK_NAME, wait=wait) as acquired:
        if not acquired:
            holder = ReconciliationRun.objects.filter(status=RunStatus.RUNNING).order_by("-id")
            holder = holder.exclude(pk=run_id).first()
            which = f"Run #{holder.pk}" if holder else "Another run"
            ReconciliationRun.objects.filter(
                pk=run_id, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]
            ).update(
                status=RunStatus.SKIPPED,
                finished_at=timezone.now(),
                message=f"{which} was running, so this one did nothing.",
            )
            return ReconciliationRun.objects.get(pk=run_id)

        now = timezone.now()
        ReconciliationRun.objects.filter(status=RunStatus.RUNNING).exclude(pk=run_id).update(
            status=RunStatus.FAILED,
            finished_at=now,
            message="Interrupted: its worker stopped before it finished; nothing it did was kept.",
        )
        # Compare-and-swap: a redelivered message for a run that already finished does nothing.
        claimed = ReconciliationRun.objects.filter(
            pk=run_id, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]
        ).update(status=RunStatus.RUNNING, started_at=now, attempts=F("attempts") + 1)
        run = ReconciliationRun.objects.get(pk=run_id)
        if not claimed:
            return run
        if run.attempts > MAX_ATTEMPTS:
            return _fail(run, f"Stopped {MAX_ATTEMPTS} times before finishing; not retried.")
        laps = Laps()
        try:
            with transaction.atomic():
                _reconcile(run, laps)
            laps.lap("commit")
        except Exception as exc:
            logger.exception("Reconciliation run %s failed", run_id)
            return _fail(run, f"{type(exc).__name__}: {exc}")
        _analyze_results()
        laps.lap("analyze")
        ReconciliationRun.objects.filter(pk=run_id).update(phases=laps.seconds)
        return ReconciliationRun.objects.get(pk=run_id)


def _analyze_results() -> None:
    """Fresh planner statistics for what a run just wrote. A run inserts or resolves tens of
    thousands of discrepancies at once, before autovacuum notices; with stale statistics the
    open-discrepancy list (newest first, a page at a time) joined every open row and sorted
    them: 100 ms instead of 0.5 ms at demo scale 10."""
    tables = ", ".join(
        connection.ops.quote_name(model._meta.db_table)
        for model in (Discrepancy, ReconciledMetricWeek, BridgeStep)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")


def _fail(run: ReconciliationRun, message: str) -> ReconciliationRun:
    ReconciliationRun.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED, finished_at=timezone.now(), message=message[:2000]
    )
    run.refresh_from_db()
    return run


# --- The run ------------------------------------------------------------------------------------


def reconciliation_missing_system() -> str:
    """ "" when there is a marketing and a sales system to compare, else the sentence that
    says which is missing."""
    roles = set(
        SourceSystem.objects.filter(role__in=[SystemRole.MARKETING, SystemRole.SALES])
        .order_by()
        .values_list("role", flat=True)
        .distinct()
    )
    missing = [r.label.lower() for r in (SystemRole.MARKETING, SystemRole.SALES) if r not in roles]
    if not missing:
        return ""
    return (
        f"There is no {' and no '.join(missing)} system yet: reconciliation compares a "
        "marketing system with a sales system. Add the missing one on the Systems page and "
        "import its records."
    )


def reconciliation_pair() -> tuple[SourceSystem, SourceSystem]:
    """The marketing and the sales system to compare: the first of each role. A
    ValidationError says which is missing."""
    systems = {
        role: SourceSystem.objects.filter(role=role).order_by("id").first()
        for role in (SystemRole.MARKETING, SystemRole.SALES)
    }
    if None in systems.values():
        raise ValidationError(reconciliation_missing_system())
    return systems[SystemRole.MARKETING], systems[SystemRole.SALES]


def _week_range(weeks: int) -> tuple[date, date]:
    """The Mondays of the first and the last week of a run over `weeks` weeks that ends with
    the current one, in the company's time zone."""
    last = IsoWeek.current().monday
    return last - timedelta(weeks=weeks - 1), last


def _reconcile(run: ReconciliationRun, laps: Laps) -> None:
    marketing, sales = reconciliation_pair()
    first_week, last_week = _week_range(run.weeks)
    ctx = _Context(
        run_id=run.pk,
        marketing=marketing.pk,
        sales=sales.pk,
        now=timezone.now(),
        first_week=first_week,
        last_week=last_week,
        authority=_authority(marketing.pk, sales.pk),
    )
    with connection.cursor() as cursor:
        # What a foreign key check on each discrepancy would hold until commit: neither
        # system, nor the run, can be deleted while the run writes rows that name them.
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM pipeline_sourcesystem s, "
            "pipeline_reconciliationrun r WHERE s.id IN (%s, %s) AND r.id = %s "
            "FOR KEY SHARE) held",
            [marketing.pk, sales.pk, run.pk],
        )
        if cursor.fetchone()[0] != 2:
            raise ValidationError("A system to compare was deleted as the run started.")
        # JIT compiling these one-off statements costs more than it saves (1.7 s of 4.3 s
        # for the comparison at a million rows); the plans are simple scans and joins.
        cursor.execute("SET LOCAL jit = off")
        _compare_phase(cursor, ctx)
        laps.lap("compare")
        new = _discrepancy_phase(cursor, ctx)
        laps.lap("discrepancies")
        resolved = _resolve_phase(cursor, ctx)
        laps.lap("resolve")
        compared = _totals_phase(cursor, ctx)
        laps.lap("totals")
        _bridge_phase(cursor, ctx)
        laps.lap("bridges")
        counts = _open_counts(cursor)
    ReconciliationRun.objects.filter(pk=run.pk).update(
        status=RunStatus.COMPLETED,
        finished_at=timezone.now(),
        marketing_system=marketing,
        sales_system=sales,
        first_week=first_week,
        last_week=last_week,
        counts=counts,
        compared=compared,
        open_count=sum(counts.values()),
        new_count=new,
        resolved_count=resolved,
        message="",
    )


@dataclass(frozen=True)
class _Context:
    run_id: int
    marketing: int
    sales: int
    now: datetime
    first_week: date
    last_week: date
    # (object type, compared field) → the system of the pair the golden record follows, or
    # None when a rule names a third system.
    authority: dict[tuple[str, str], int | None]

    @property
    def params(self) -> dict[str, Any]:
        return {
            **week_params(),
            **CHOICE_PARAMS,
            "run": self.run_id,
            "m": self.marketing,
            "s": self.sales,
            "now": self.now,
            "first_week": self.first_week,
            "last_week": self.last_week,
        }


def _authority(marketing: int, sales: int) -> dict[tuple[str, str], int | None]:
    """For every field reconciliation compares, the system of the pair whose value the golden
    record takes: the one a FieldAuthority rule names, else sales (first in identity
    resolution's order). None when the rule names a third system: the golden record then
    follows that system where it holds the record, so either of the pair may be wrong."""
    rules = {
        (object_type, field): system_id
        for object_type, field, system_id in FieldAuthority.objects.values_list(
            "object_type", "field", "system_id"
        )
    }
    authority: dict[tuple[str, str], int | None] = {}
    for object_type, fields in RECONCILED_FIELDS.items():
        for field in fields:
            system = rules.get((object_type, field), sales)
            authority[(object_type, field)] = system if system in (marketing, sales) else None
    return authority


def _week(expr: str, kind: str) -> str:
    """SQL: the Monday of the company-time-zone ISO week `expr` (of a column kind of
    _Object.columns: "ts" or "date") falls in."""
    return week_sql(expr, is_date=kind == "date")


def _as_text(expr: str, kind: str) -> str:
    """SQL: a value as people read it ('' for none); times in the company's time zone."""
    if kind == "ts":
        return f"COALESCE(to_char(({expr}) AT TIME ZONE %(tz)s, 'YYYY-MM-DD HH24:MI'), '')"
    if kind == "date":
        return f"COALESCE(to_char({expr}, 'YYYY-MM-DD'), '')"
    return f"COALESCE(({expr})::text, '')"


# Phase 1 ---------------------------------------------------------------------------------------


def _compare_phase(cursor, ctx: _Context) -> None:
    """Fill `_pair_<object>` with every key whose two records differ or exist on one side
    only, and `_dup_<object>` with the extra records of a key within one system.

    One statement per object type: each system's oldest record per key (as a CRM merge
    keeps the master) streams in key order from the covering reconciliation index, with
    whether another record follows it under its key, and the two streams are merge-joined on
    the key. That reads each index entry once, needs no sort and a few MB of memory at any
    size, and keeps only what differs, so the temp tables stay small. The extra copies of the
    few keys that have them are then read by index.
    """
    for obj in _OBJECTS.values():
        o = obj.object_type
        cols = ["id", "external_id", obj.label, *obj.columns]
        side = (
            f"SELECT DISTINCT ON (golden_key) golden_key, {', '.join(cols)}, "
            # The next row in index order has the same key: this key has copies. Ordered
            # like the index, so the rows stay in index order and DISTINCT ON needs no sort;
            # looking one row ahead costs a quarter of counting each key's rows (a frame over
            # the whole key keeps every row of it). lead() ignores the frame, but the default
            # one (from the first row) keeps every row read in the window's store; a frame of
            # the current row lets it drop them as it goes: 0.25 s less at a million a side.
            "lead(golden_key) OVER (ORDER BY golden_key, created_at, id "
            "ROWS BETWEEN CURRENT ROW AND CURRENT ROW) IS NOT DISTINCT FROM golden_key AS copies "
            # A record deleted in a system is not in it: missing there, if the other holds it.
            f"FROM {obj.table} WHERE system_id = %({{side}})s AND golden_key <> '' "
            "AND deleted_at IS NULL "
            "ORDER BY golden_key, created_at, id"
        )
        differs = " OR ".join(_differs(o, "m.", "s."))
        out = ", ".join(f"m.{c} AS m_{c}, s.{c} AS s_{c}" for c in [*cols, "copies"])
        cursor.execute(f"DROP TABLE IF EXISTS _pair_{o}")
        cursor.execute(
            f"""
            CREATE TEMP TABLE _pair_{o} ON COMMIT DROP AS
            SELECT COALESCE(m.golden_key, s.golden_key) AS golden_key, {out}
            FROM ({side.format(side="m")}) m
            FULL JOIN ({side.format(side="s")}) s ON s.golden_key = m.golden_key
            WHERE m.copies OR s.copies OR m.id IS NULL OR s.id IS NULL
               OR {differs}
            """,
            ctx.params,
        )
        cursor.execute(f"DROP TABLE IF EXISTS _dup_{o}")
        cursor.execute(
            f"""
            CREATE TEMP TABLE _dup_{o} ON COMMIT DROP AS
            SELECT d.golden_key, d.system_id, {", ".join(f"d.{c}" for c in cols)},
                   d.original_id
            FROM (
                SELECT golden_key, %(m)s::bigint AS system_id, m_id AS original_id
                FROM _pair_{o} WHERE m_copies
                UNION ALL
                SELECT golden_key, %(s)s::bigint, s_id FROM _pair_{o} WHERE s_copies
            ) k
            CROSS JOIN LATERAL (
                SELECT r.golden_key, r.system_id, {", ".join(f"r.{c}" for c in cols)},
                       k.original_id
                FROM {obj.table} r
                WHERE r.system_id = k.system_id AND r.golden_key = k.golden_key
                  AND r.id <> k.original_id AND r.deleted_at IS NULL
            ) d
            """,
            ctx.params,
        )
        # Keys kept only for their duplicates, whose representatives agree, leave the pairs.
        cursor.execute(
            f"DELETE FROM _pair_{o} WHERE m_id IS NOT NULL AND s_id IS NOT NULL "
            f"AND NOT ({' OR '.join(_differs(o, 'm_', 's_'))})",
            ctx.params,
        )


def _differs(object_type: str, m: str, s: str) -> list[str]:
    """SQL conditions under which two records of a key differ in a way reconciliation reports
    or a bridge needs, with `m` and `s` prefixing the two sides' columns."""
    conditions = [f"{m}{c} IS DISTINCT FROM {s}{c}" for c in RECONCILED_FIELDS[object_type]]
    # A record created in different weeks moves a weekly count: keep it for the bridges.
    conditions.append(
        f"({m}created_at <> {s}created_at AND "
        f"{_week(f'{m}created_at', 'ts')} <> {_week(f'{s}created_at', 'ts')})"
    )
    if object_type == ObjectType.DEAL:
        conditions.append(f"{m}deal_type IS DISTINCT FROM {s}deal_type")
    # What a reconciled metric adds (an amount in the company currency) moves its value.
    for metric in METRICS:
        if metric.object_type == object_type and metric.value != "1":
            value = metric.value.format(p="")
            conditions.append(f"{m}{value} IS DISTINCT FROM {s}{value}")
    return list(dict.fromkeys(conditions))


# Phase 2 ---------------------------------------------------------------------------------------


def _discrepancy_phase(cursor, ctx: _Context) -> int:
    """Upsert this run's discrepancies by fingerprint. Returns how many are new."""
    cursor.execute("DROP TABLE IF EXISTS _found")
    cursor.execute(
        """
        CREATE TEMP TABLE _found (
            fingerprint uuid, object_type text, kind text, field text, golden_key text,
            label text, system_id bigint, left_system_id bigint, right_system_id bigint,
            left_record_id bigint, right_record_id bigint, left_value text, right_value text,
            week_start date, other_week_start date
        ) ON COMMIT DROP
        """
    )
    for obj in _OBJECTS.values():
        for sql in _found_sql(obj, ctx):
            cursor.execute(sql, ctx.params)
    cursor.execute(
        """
        WITH written AS (
            INSERT INTO pipeline_discrepancy AS d (
                fingerprint, object_type, kind, field, golden_key, label, system_id,
                left_system_id, right_system_id, left_record_id, right_record_id,
                left_value, right_value, week_start, other_week_start,
                first_seen_run_id, last_seen_run_id, first_seen_at, last_seen_at
            )
            SELECT fingerprint, object_type, kind, field, golden_key, left(label, 255), system_id,
                   left_system_id, right_system_id, left_record_id, right_record_id,
                   left_value, right_value, week_start, other_week_start,
                   %(run)s, %(run)s, %(now)s, %(now)s
            FROM _found
            ORDER BY object_type, golden_key, kind, field
            ON CONFLICT (fingerprint) WHERE resolved_run_id IS NULL DO UPDATE SET
                label = EXCLUDED.label, system_id = EXCLUDED.system_id,
                left_record_id = EXCLUDED.left_record_id,
                right_record_id = EXCLUDED.right_record_id,
                left_value = EXCLUDED.left_value, right_value = EXCLUDED.right_value,
                week_start = EXCLUDED.week_start, other_week_start = EXCLUDED.other_week_start,
                last_seen_run_id = EXCLUDED.last_seen_run_id, last_seen_at = EXCLUDED.last_seen_at
            RETURNING (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted) FROM written
        """,
        ctx.params,
    )
    return cursor.fetchone()[0]


def _resolve_phase(cursor, ctx: _Context) -> int:
    """Resolve the open discrepancies this run no longer finds. Returns how many."""
    cursor.execute(
        """
        UPDATE pipeline_discrepancy SET resolved_run_id = %(run)s, resolved_at = %(now)s
        WHERE resolved_run_id IS NULL AND last_seen_run_id <> %(run)s
        """,
        ctx.params,
    )
    return cursor.rowcount


def _found_sql(obj: _Object, ctx: _Context) -> list[str]:
    o = obj.object_type
    pair = f"_pair_{o}"
    created = obj.columns["created_at"]
    insert = (
        "INSERT INTO _found (fingerprint, object_type, kind, field, golden_key, label, "
        "system_id, left_system_id, right_system_id, left_record_id, right_record_id, "
        "left_value, right_value, week_start, other_week_start) "
    )

    def fingerprint(kind: str, field: str, extra: str = "''") -> str:
        return (
            f"md5(concat_ws('|', '{o}', '{kind}', {field}, %(m)s, %(s)s, p.golden_key, "
            f"{extra}))::uuid"
        )

    missing_in_marketing = "p.m_id IS NULL AND p.s_id IS NOT NULL"
    if o == ObjectType.DEAL:
        # Marketing holds the deals it sourced; a sales-sourced deal it lacks is not missing.
        missing_in_marketing += " AND p.s_source = %(marketing_sourced)s"
    statements = [
        f"""{insert}
        SELECT {fingerprint(DiscrepancyKind.MISSING_IN_SALES, "''")}, '{o}',
               '{DiscrepancyKind.MISSING_IN_SALES}', '', p.golden_key, p.m_{obj.label},
               %(s)s, %(m)s, %(s)s, p.m_id, NULL, p.m_external_id, '',
               {_week("p.m_created_at", created)}, NULL
        FROM {pair} p WHERE p.s_id IS NULL""",
        f"""{insert}
        SELECT {fingerprint(DiscrepancyKind.MISSING_IN_MARKETING, "''")}, '{o}',
               '{DiscrepancyKind.MISSING_IN_MARKETING}', '', p.golden_key, p.s_{obj.label},
               %(m)s, %(m)s, %(s)s, NULL, p.s_id, '', p.s_external_id,
               {_week("p.s_created_at", created)}, NULL
        FROM {pair} p WHERE {missing_in_marketing}""",
        # Duplicates: the kept record on the left, the extra copy on the right.
        f"""{insert}
        SELECT md5(concat_ws('|', '{o}', '{DiscrepancyKind.DUPLICATE}', '', d.system_id,
                             d.system_id, d.golden_key, d.external_id))::uuid,
               '{o}', '{DiscrepancyKind.DUPLICATE}', '', d.golden_key, d.{obj.label},
               d.system_id, d.system_id, d.system_id, d.original_id, d.id,
               (SELECT external_id FROM {obj.table} WHERE id = d.original_id), d.external_id,
               {_week("d.created_at", created)}, NULL
        FROM _dup_{o} d""",
    ]
    rows = []
    for field in RECONCILED_FIELDS[o]:
        kind = obj.columns[field]
        week_col = _WEEK_OF_FIELD.get((o, field), "created_at")
        week_kind = obj.columns[week_col]
        m_week, s_week = _week(f"p.m_{week_col}", week_kind), _week(f"p.s_{week_col}", week_kind)
        # The golden record takes the authority's value, so the other system is the one to
        # fix; with a third system as the authority, neither is named.
        authority = ctx.authority[(o, field)]
        fix_in = {ctx.marketing: ctx.sales, ctx.sales: ctx.marketing}.get(authority)
        rows.append(
            f"('{field}', p.m_{field} IS DISTINCT FROM p.s_{field}, "
            f"{_as_text(f'p.m_{field}', kind)}, {_as_text(f'p.s_{field}', kind)}, "
            f"COALESCE({m_week}, {s_week}), "
            f"CASE WHEN {m_week} <> {s_week} THEN {s_week} END, "
            f"{'NULL' if fix_in is None else fix_in}::bigint)"
        )
    statements.append(
        f"""{insert}
        SELECT {fingerprint(DiscrepancyKind.MISMATCH, "f.field")}, '{o}',
               '{DiscrepancyKind.MISMATCH}', f.field, p.golden_key, p.m_{obj.label},
               f.fix_in, %(m)s, %(s)s, p.m_id, p.s_id, f.m_text, f.s_text, f.week, f.other_week
        FROM {pair} p
        CROSS JOIN LATERAL (VALUES {", ".join(rows)})
            AS f(field, differs, m_text, s_text, week, other_week, fix_in)
        WHERE p.m_id IS NOT NULL AND p.s_id IS NOT NULL AND f.differs"""
    )
    return statements


def _open_counts(cursor) -> dict[str, int]:
    """Open discrepancies by kind after the run: exactly what this run found (everything else
    open was just resolved), so the small temp table answers, not the whole history."""
    cursor.execute(
        """
        SELECT object_type || '.' || kind || CASE WHEN field <> '' THEN '.' || field ELSE '' END,
               count(*)
        FROM _found GROUP BY 1 ORDER BY 1
        """
    )
    return dict(cursor.fetchall())


# Phase 3 ---------------------------------------------------------------------------------------


def _totals_phase(cursor, ctx: _Context) -> dict[str, int]:
    """Every reconciled metric's weekly value per system and in the golden records, into
    `_totals`. Returns the number of records each system holds per object type (counted on
    the way)."""
    cursor.execute("DROP TABLE IF EXISTS _totals")
    cursor.execute(
        "CREATE TEMP TABLE _totals (side text, metric text, week date, value numeric) "
        "ON COMMIT DROP"
    )
    compared: dict[str, int] = {}
    # Each scan reads every live record, and the cores are idle while it does: let workers
    # scan the table in parallel and hand their rows to one hash aggregate. The planner
    # would not (it cannot tell that a million records fall into a few thousand week
    # combinations, so it prices each row handed over as a group, and sorts them); handing
    # them over is cheap. 1.45 → 0.87 s for two million records on two cores.
    cursor.execute("SET LOCAL parallel_setup_cost = 0")
    cursor.execute("SET LOCAL parallel_tuple_cost = 0")
    cursor.execute("SET LOCAL enable_sort = off")
    for obj in _OBJECTS.values():
        metrics = [m for m in METRICS if m.object_type == obj.object_type]
        for golden in (False, True):
            cursor.execute(_totals_sql(obj, metrics, golden=golden), ctx.params)
            side_of = {ctx.marketing: "m", ctx.sales: "s", 0: "g"}
            rows = [(side_of[r[0]], *r[1:]) for r in cursor.fetchall()]
            if not golden:
                for name, side in (("marketing", "m"), ("sales", "s")):
                    compared[f"{obj.object_type}.{name}"] = int(
                        sum(r[3] for r in rows if r[0] == side and r[1] == "__records")
                    )
            first, last = ctx.first_week, ctx.last_week
            rows = [r for r in rows if r[1] != "__records" and first <= r[2] <= last]
            # A few hundred aggregate rows, not records: one statement writes them all.
            cursor.execute(
                "INSERT INTO _totals (side, metric, week, value) "
                "SELECT * FROM unnest(%s::text[], %s::text[], %s::date[], %s::numeric[])",
                [list(col) for col in zip(*rows, strict=True)] if rows else [[], [], [], []],
            )
    for name in ("parallel_setup_cost", "parallel_tuple_cost", "enable_sort"):
        cursor.execute(f"SET LOCAL {name} TO DEFAULT")
    return compared


def _bridge_phase(cursor, ctx: _Context) -> None:
    """Store every reconciled metric × week of the run's range with its bridge steps, from
    `_totals` and the differing pairs."""
    cursor.execute("DROP TABLE IF EXISTS _steps")
    cursor.execute(
        "CREATE TEMP TABLE _steps (metric text, week date, reason text, field text, "
        "value numeric, records bigint) ON COMMIT DROP"
    )
    for obj in _OBJECTS.values():
        metrics = [m for m in METRICS if m.object_type == obj.object_type]
        cursor.execute(_steps_sql(obj, metrics), ctx.params)
    cursor.execute(
        """
        WITH weeks AS (
            SELECT metric, week::date
            FROM unnest(%(metrics)s::text[]) AS metric,
                 generate_series(%(first_week)s::date, %(last_week)s::date,
                                 interval '7 days') AS week
        ),
        v AS (
            SELECT w.metric, w.week,
                COALESCE(sum(t.value) FILTER (WHERE t.side = 'm'), 0) AS m,
                COALESCE(sum(t.value) FILTER (WHERE t.side = 's'), 0) AS s,
                COALESCE(sum(t.value) FILTER (WHERE t.side = 'g'), 0) AS g
            FROM weeks w LEFT JOIN _totals t ON t.metric = w.metric AND t.week = w.week
            GROUP BY w.metric, w.week
        ),
        explained AS (SELECT metric, week, sum(value) AS value FROM _steps GROUP BY 1, 2)
        INSERT INTO pipeline_reconciledmetricweek
            (run_id, metric_key, week_start, marketing_value, sales_value, golden_value,
             unexplained)
        SELECT %(run)s, v.metric, v.week, v.m, v.s, v.g, v.s - v.m - COALESCE(e.value, 0)
        FROM v LEFT JOIN explained e ON e.metric = v.metric AND e.week = v.week
        ORDER BY v.metric, v.week
        """,
        {**ctx.params, "metrics": [m.key for m in METRICS]},
    )
    order = " ".join(f"WHEN '{reason}' THEN {i}" for i, reason in enumerate(REASON_ORDER))
    cursor.execute(
        f"""
        INSERT INTO pipeline_bridgestep (metric_week_id, reason, field, position, value, records)
        SELECT mw.id, st.reason, st.field,
               row_number() OVER (PARTITION BY mw.id ORDER BY CASE st.reason {order} END,
                                  st.field),
               st.value, st.records
        FROM _steps st
        JOIN pipeline_reconciledmetricweek mw
          ON mw.run_id = %(run)s AND mw.metric_key = st.metric AND mw.week_start = st.week
        WHERE st.value <> 0
        """,
        ctx.params,
    )


def _member(metric: _Metric, prefix: str) -> str:
    conditions = [sql.format(p=prefix) for _, sql in metric.conditions]
    date = f"{prefix}{metric.date_column} IS NOT NULL"
    return " AND ".join([date, *conditions])


def _totals_sql(obj: _Object, metrics: list[_Metric], *, golden: bool) -> str:
    """Every metric of this object type per side and week, summed from the source (or golden)
    table in one scan. Rows are first grouped by the combination of weeks they count in (a
    lead created, MQL and SQL in nearby weeks: a few thousand combinations), then that small
    result is unpivoted per metric, which is far cheaper than a row per record and metric.
    A plain SELECT, so PostgreSQL may scan in parallel (INSERT … SELECT never does)."""
    weeks = [
        f"CASE WHEN {_member(m, 'r.')} THEN "
        f"{_week(f'r.{m.date_column}', obj.columns[m.date_column])} END AS w{i}"
        for i, m in enumerate(metrics)
    ]
    values = [
        "count(*) AS v" + str(i) if m.value == "1" else f"sum({m.value.format(p='r.')}) AS v{i}"
        for i, m in enumerate(metrics)
    ]
    if golden:
        source, side, where = (
            registry.GOLDEN_TABLES[obj.object_type],
            "0::bigint",
            registry.LIVE.sql("r."),
        )
    else:
        # The system's id, not a label computed per row: integer keys hash cheaper. Its live
        # rows only, as the comparison reads them.
        source, side = obj.table, "r.system_id"
        where = f"r.system_id IN (%(m)s, %(s)s) AND {registry.LIVE.sql('r.')}"
    group = ", ".join(f"w{i}" for i in range(len(metrics)))
    unpivot = " UNION ALL ".join(
        f"SELECT side, '{m.key}', w{i}, sum(v{i}) FROM combos WHERE w{i} IS NOT NULL "
        "GROUP BY side, w" + str(i)
        for i, m in enumerate(metrics)
    )
    records = "SELECT side, '__records', NULL::date, sum(n) FROM combos GROUP BY side"
    return f"""
        WITH combos AS (
            SELECT {side} AS side, {", ".join(weeks)}, {", ".join(values)}, count(*) AS n
            FROM {source} r WHERE {where}
            GROUP BY 1, {group}
        )
        {unpivot} UNION ALL {records}
    """


def _steps_sql(obj: _Object, metrics: list[_Metric]) -> str:
    """The bridge steps of this object type's metrics, from the differing pairs and the
    duplicates only: a pair that agrees on everything a metric reads moves nothing.

    Each record adds its marketing side (minus) to the week marketing counts it in and its
    sales side (plus) to the week sales counts it in, under one reason: missing on a side;
    counted by one side only because a compared field differs (the first condition of the
    metric that differs; an uncompared field leaves it unexplained); counted in another
    week; or, counted in the same week, a different amount. A duplicate moves its own
    system's count."""
    o = obj.object_type
    units = []
    for m in metrics:
        date_kind = obj.columns[m.date_column]
        m_week = _week(f"p.m_{m.date_column}", date_kind)
        s_week = _week(f"p.s_{m.date_column}", date_kind)
        m_in, s_in = _member(m, "p.m_"), _member(m, "p.s_")
        m_val, s_val = m.value.format(p="p.m_"), m.value.format(p="p.s_")
        checks = ((m.date_column, f"{{p}}{m.date_column} IS NOT NULL"), *m.conditions)
        blame = " ".join(
            f"WHEN ({sql.format(p='p.m_')}) IS DISTINCT FROM ({sql.format(p='p.s_')}) "
            f"THEN {_blame(o, field)}"
            for field, sql in checks
        )
        if o == ObjectType.DEAL:
            missing_in_marketing = (
                f"CASE WHEN p.s_source = %(marketing_sourced)s "
                f"THEN '{BridgeReason.MISSING_IN_MARKETING}:' ELSE '{BridgeReason.NOT_SYNCED}:' END"
            )
        else:
            missing_in_marketing = f"'{BridgeReason.MISSING_IN_MARKETING}:'"
        reason = f"""CASE
            WHEN p.m_id IS NULL THEN {missing_in_marketing}
            WHEN p.s_id IS NULL THEN '{BridgeReason.MISSING_IN_SALES}:'
            WHEN ({m_in}) IS DISTINCT FROM ({s_in}) THEN CASE {blame} END
            WHEN {m_week} IS DISTINCT FROM {s_week}
                THEN '{BridgeReason.OTHER_WEEK}:{m.date_column}'
            WHEN ({m_val}) IS DISTINCT FROM ({s_val}) THEN {_blame(o, "amount")}
            END"""
        units.append(
            f"""SELECT '{m.key}' AS metric, r.reason, u.week, u.value, p.golden_key AS key
            FROM _pair_{o} p
            CROSS JOIN LATERAL (SELECT {reason} AS reason) r
            CROSS JOIN LATERAL (VALUES
                (CASE WHEN p.m_id IS NOT NULL AND {m_in} THEN {m_week} END,
                 -({m_val})::numeric),
                (CASE WHEN p.s_id IS NOT NULL AND {s_in} THEN {s_week} END,
                 ({s_val})::numeric)
            ) AS u(week, value)
            WHERE u.week IS NOT NULL AND r.reason IS NOT NULL"""
        )
        d_in, d_week = _member(m, "d."), _week(f"d.{m.date_column}", date_kind)
        units.append(
            f"""SELECT '{m.key}', '{BridgeReason.DUPLICATE}:', {d_week},
                   CASE WHEN d.system_id = %(m)s THEN -1 ELSE 1 END
                   * ({m.value.format(p="d.")})::numeric,
                   d.golden_key || '|' || d.external_id
            FROM _dup_{o} d WHERE {d_in}"""
        )
    return f"""
        INSERT INTO _steps (metric, week, reason, field, value, records)
        SELECT metric, week, split_part(reason, ':', 1), split_part(reason, ':', 2),
               sum(value), count(DISTINCT key)
        FROM ({" UNION ALL ".join(units)}) AS unit(metric, reason, week, value, key)
        WHERE week BETWEEN %(first_week)s AND %(last_week)s
        GROUP BY 1, 2, 3, 4
    """


def _blame(object_type: str, field: str) -> str:
    """SQL: the reason text blaming a compared field, or NULL (unexplained) for a field the
    reconciliation does not compare."""
    if field in RECONCILED_FIELDS[object_type]:
        return f"'{BridgeReason.MISMATCH}:{field}'"
    return "NULL"


# --- The nightly schedule -----------------------------------------------------------------------

SCHEDULE_NAME = "Nightly reconciliation"
SCHEDULE_TASK = "pipeline.reconciliation_nightly"


@transaction.atomic
def reconciliation_schedule_update(
    *, by: AbstractBaseUser, enabled: bool, at: time, days: list[int], weeks: int
) -> Any:
    """Set when the scheduled reconciliation runs: at `at` (company time) on the ISO weekdays
    `days` (1 = Monday … 7 = Sunday), reconciling `weeks` weeks, or not at all when disabled.
    Creates the schedule if someone deleted it. Beat picks the change up on its next tick."""
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    _validate_weeks(weeks)
    if not days or not set(days) <= set(range(1, 8)):
        raise ValidationError("Choose at least one day of the week.")
    day_of_week = "*" if len(set(days)) == 7 else ",".join(str(d % 7) for d in sorted(set(days)))
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=str(at.minute),
        hour=str(at.hour),
        day_of_week=day_of_week,
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    task = PeriodicTask.objects.filter(name=SCHEDULE_NAME).first() or PeriodicTask(
        name=SCHEDULE_NAME
    )
    who = (by.get_full_name() or by.get_username()) if getattr(by, "pk", None) else "the system"
    task.task = SCHEDULE_TASK
    task.crontab = crontab
    task.interval = task.solar = task.clocked = None
    task.one_off = False
    task.enabled = enabled
    task.kwargs = json.dumps({"weeks": weeks})
    task.description = f"Last changed by {who} on {timezone.localtime():%Y-%m-%d %H:%M %Z}."
    task.save()  # its signal tells beat that the schedule changed
    logger.info("Reconciliation schedule changed by %s: %s", who, task.description)
    return task
