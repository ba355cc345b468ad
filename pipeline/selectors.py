"""Reads over the revenue data: querysets and aggregates, computed in PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import FieldDoesNotExist
from django.db import connection
from django.db.models import Count, F, Prefetch, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from pipeline import metrics
from pipeline.choices import AUTHORITY_FIELDS, ObjectType, RunStatus, SystemRole
from pipeline.models import (
    Account,
    BridgeStep,
    Deal,
    Discrepancy,
    FieldAuthority,
    ImportBatch,
    Lead,
    Owner,
    ReconciledMetricWeek,
    ReconciliationRun,
    SourceDeal,
    SourceLead,
    SourceSystem,
    Team,
)
from pipeline.presets import FIELDS
from revops.currencies import money_format
from revops.weeks import IsoWeek


def pipeline_overview(*, today: date | None = None) -> dict:
    """Headline counts for the home page: one aggregate query per table."""
    today = today or timezone.localdate()
    week_start = IsoWeek.of(today).start
    leads = Lead.objects.aggregate(
        total=Count("id"),
        this_week=Count("id", filter=Q(created_at__gte=week_start)),
        mqls_this_week=Count("id", filter=Q(mql_at__gte=week_start)),
    )
    deals = Deal.objects.aggregate(
        open=Count("id", filter=~metrics.CLOSED.q()),
        open_amount=Sum(metrics.AMOUNT_AT_CLOSE, filter=~metrics.CLOSED.q()),
        won=Count("id", filter=metrics.WON.q()),
    )
    accounts = Account.objects.aggregate(
        total=Count("id"),
        customers=Count("id", filter=Q(customer_since__isnull=False, churned_on__isnull=True)),
        arr=Sum("arr"),
    )
    return {"leads": leads, "deals": deals, "accounts": accounts, "week_start": week_start}


def source_systems_exist() -> bool:
    return SourceSystem.objects.exists()


def amounts_unconverted_exist() -> bool:
    """Is any deal or ARR change without an amount in the company currency (no exchange rate
    for its date)? One round trip, answered from partial indexes of just those rows."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM pipeline_deal WHERE {metrics.UNCONVERTED_DEAL}) "
            f"OR EXISTS (SELECT 1 FROM pipeline_arrchange WHERE {metrics.UNCONVERTED_ARR})"
        )
        return cursor.fetchone()[0]


def lead_list() -> QuerySet[Lead]:
    return Lead.objects.select_related("account").order_by("-created_at", "-id")


def deal_list() -> QuerySet[Deal]:
    return Deal.objects.select_related("account").order_by(
        F("created_at").desc(nulls_last=True), "-id"
    )


def account_list() -> QuerySet[Account]:
    return Account.objects.annotate(deal_count=Count("deals")).order_by("name", "id")


def import_batch_recent(*, limit: int = 5) -> QuerySet[ImportBatch]:
    return ImportBatch.objects.select_related("system", "created_by")[:limit]


# --- Reconciliation, as the scorecard reads it -------------------------------------------------
# Metrics that reconciliation compares between marketing's and sales' systems, by the keys the
# scorecard's metric catalog uses for the same numbers, with their names; what each counts is
# its declaration in pipeline/metrics.py. A week is an ISO week (Monday 00:00 to the next
# Monday 00:00 in settings.TIME_ZONE), named by its Monday; labels look like 2026-W46.
RECONCILED_METRICS: dict[str, str] = {key: spec.name for key, spec in metrics.RECONCILED.items()}


@dataclass(frozen=True)
class MetricReconciliation:
    """One reconciled metric for one week, from the current (last completed) run: the two
    systems' values, what the bridge's steps explain of the difference (`steps`: each step's
    label in the systems' names and its signed effect, largest first) and what they leave
    unexplained."""

    metric_key: str
    week_start: date
    marketing_value: Decimal
    sales_value: Decimal
    golden_value: Decimal
    run_id: int
    unexplained: Decimal
    steps: tuple[tuple[str, Decimal], ...] = ()

    @property
    def agrees(self) -> bool:
        return self.marketing_value == self.sales_value

    @property
    def difference(self) -> Decimal:
        return self.sales_value - self.marketing_value

    @property
    def explained(self) -> Decimal:
        """The part of the difference the bridge's steps account for."""
        return self.difference - self.unexplained

    @property
    def variance_pct(self) -> Decimal | None:
        """Marketing's value against sales', in percent of sales'; None when sales has 0."""
        if self.sales_value == 0:
            return None
        return (self.marketing_value - self.sales_value) / self.sales_value * 100

    def explained_within(self, absolute: Decimal, pct: Decimal) -> bool:
        """No difference, or none beyond what the bridge explains and the tolerance allows:
        |unexplained| ≤ absolute + pct% of |sales' value| (data-diff's abs and rel tolerance)."""
        allowed = absolute + abs(self.sales_value) * pct / 100
        return abs(self.unexplained) <= allowed


def metric_reconciliation_for_week(week_start: date) -> dict[str, MetricReconciliation]:
    """The current reconciliation of every reconciled metric for the ISO week starting
    `week_start`, keyed by metric key; empty when no run has completed. The bridge behind a
    value is at `{% url 'pipeline:reconciliation-bridge' %}?metric=<key>&week=<YYYY-Www>`."""
    # One query, the current run as a subquery: the scorecard asks on every page view; the
    # steps in a second, only for weeks that differ.
    current = (
        ReconciliationRun.objects.filter(status=RunStatus.COMPLETED)
        .order_by("-finished_at", "-id")
        .values("id")[:1]
    )
    rows = list(
        ReconciledMetricWeek.objects.filter(
            run=Subquery(current), week_start=IsoWeek.of(week_start).monday
        )
    )
    from pipeline.charts import step_label  # charts reads this module's names

    differing = [row.pk for row in rows if row.marketing_value != row.sales_value]
    steps: dict[int, list[BridgeStep]] = {}
    names: tuple[str, str] = ("Marketing", "Sales")
    if differing:
        for step in BridgeStep.objects.filter(metric_week_id__in=differing).order_by("position"):
            steps.setdefault(step.metric_week_id, []).append(step)
        run = ReconciliationRun.objects.select_related("marketing_system", "sales_system").get(
            pk=rows[0].run_id
        )
        names = (
            run.marketing_system.name if run.marketing_system else "Marketing",
            run.sales_system.name if run.sales_system else "Sales",
        )
    return {
        row.metric_key: MetricReconciliation(
            metric_key=row.metric_key,
            week_start=row.week_start,
            marketing_value=row.marketing_value,
            sales_value=row.sales_value,
            golden_value=row.golden_value,
            run_id=row.run_id,
            unexplained=row.unexplained,
            steps=tuple(
                (
                    step_label(s.reason, s.field, marketing=names[0], sales=names[1]),
                    s.value,
                )
                for s in sorted(steps.get(row.pk, []), key=lambda s: (-abs(s.value), s.position))
            ),
        )
        for row in rows
    }


# --- Reconciliation runs, discrepancies and bridges ---------------------------------------------


def reconciliation_run_current() -> ReconciliationRun | None:
    """The last completed run: the one whose results pages, the API and the scorecard show.
    A failed, skipped or unfinished run never replaces it."""
    return (
        ReconciliationRun.objects.filter(status=RunStatus.COMPLETED)
        .select_related("marketing_system", "sales_system", "started_by")
        .order_by("-finished_at", "-id")
        .first()
    )


def reconciliation_run_list() -> QuerySet[ReconciliationRun]:
    return ReconciliationRun.objects.select_related(
        "started_by", "marketing_system", "sales_system"
    ).order_by("-created_at", "-id")


def discrepancy_list() -> QuerySet[Discrepancy]:
    """Every discrepancy, open and resolved, latest week first; filter with DiscrepancyFilter."""
    return Discrepancy.objects.select_related(
        "system", "left_system", "right_system", "first_seen_run", "resolved_run"
    ).order_by(F("week_start").desc(nulls_last=True), "-id")


def metric_weeks_for_run(run: ReconciliationRun, metric_key: str) -> list[ReconciledMetricWeek]:
    """The weekly values of one metric in one run, oldest week first, with their steps."""
    return list(
        ReconciledMetricWeek.objects.filter(run=run, metric_key=metric_key)
        .prefetch_related(Prefetch("steps", queryset=BridgeStep.objects.order_by("position")))
        .order_by("week_start")
    )


def metric_week_get(
    run: ReconciliationRun, metric_key: str, week_start: date
) -> ReconciledMetricWeek | None:
    return (
        ReconciledMetricWeek.objects.filter(run=run, metric_key=metric_key, week_start=week_start)
        .prefetch_related(Prefetch("steps", queryset=BridgeStep.objects.order_by("position")))
        .first()
    )


@dataclass(frozen=True)
class FieldRow:
    """One field of a discrepancy's two records, side by side."""

    name: str
    label: str
    left: object
    right: object
    golden: object
    differs: bool


@dataclass(frozen=True)
class DiscrepancyRecords:
    left: SourceLead | SourceDeal | None
    right: SourceLead | SourceDeal | None
    golden: Lead | Deal | None
    rows: list[FieldRow]


_SIDE_BY_SIDE = {
    "lead": (
        "external_id",
        "email",
        "first_name",
        "last_name",
        "company",
        "stage",
        "source",
        "owner",
        "created_at",
        "mql_at",
        "sal_at",
        "sql_at",
        "converted_at",
        "disqualified_at",
    ),
    "deal": (
        "external_id",
        "crm_id",
        "name",
        "stage",
        "amount",
        "currency",
        "source",
        "deal_type",
        "owner",
        "created_at",
        "close_date",
    ),
}


def _display(value: object) -> str:
    """A field value as the side-by-side shows it: times to the minute in the company's time
    zone, dates as ISO, amounts with two decimals; nothing is an em dash."""
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return f"{timezone.localtime(value):%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return str(value)


def _field_text(record, name: str, value: object) -> str:
    """A field of a golden or source record as record pages read it: a choice by its label
    ("Closed lost", not closed_lost), an amount with its currency ("$24,100"), the rest as
    `_display` writes it."""
    if value is None or value == "":
        return "—"
    try:
        choices = dict(record._meta.get_field(name).flatchoices)
    except FieldDoesNotExist:  # a source account's domain is its domain_key
        choices = {}
    if choices:
        return str(choices.get(value, value))
    if name == "amount":
        return money_format(value, getattr(record, "currency", None))
    return _display(value)


def discrepancy_records(discrepancy: Discrepancy) -> DiscrepancyRecords:
    """The two source records behind a discrepancy as they are now, field by field, with the
    golden record's value beside them and the differing fields marked. A record deleted since
    the run shows as absent."""
    model = SourceLead if discrepancy.object_type == "lead" else SourceDeal
    golden_model = Lead if discrepancy.object_type == "lead" else Deal
    ids = [i for i in (discrepancy.left_record_id, discrepancy.right_record_id) if i]
    found = model.objects.select_related("system").in_bulk(ids)
    left = found.get(discrepancy.left_record_id)
    right = found.get(discrepancy.right_record_id)
    key_field = "email_key" if discrepancy.object_type == "lead" else "key"
    golden = golden_model.objects.filter(**{key_field: discrepancy.golden_key}).first()
    rows = []
    for name in _SIDE_BY_SIDE[discrepancy.object_type]:
        if not hasattr(model, name) and name not in {f.name for f in model._meta.fields}:
            continue
        field = model._meta.get_field(name)
        lv = getattr(left, name) if left else None
        rv = getattr(right, name) if right else None
        gv = getattr(golden, name, None) if golden else None
        # Ids differ by nature; only the fields the two systems should agree on are marked.
        comparable = name not in {"external_id", "crm_id", "email"}
        label = str(field.verbose_name)
        rows.append(
            FieldRow(
                name=name,
                label=label[:1].upper() + label[1:],
                left=_field_text(left, name, lv),
                right=_field_text(right, name, rv),
                golden=_field_text(golden, name, gv),
                differs=bool(left and right and comparable and lv != rv),
            )
        )
    return DiscrepancyRecords(left=left, right=right, golden=golden, rows=rows)


@dataclass(frozen=True)
class ScheduleState:
    """The nightly reconciliation schedule as people read it."""

    exists: bool
    enabled: bool
    at: time | None  # None: a schedule set elsewhere that is not one time of day
    days: list[int]  # ISO weekdays, 1 = Monday
    weeks: int
    timezone: str
    cron: str
    description: str
    next_run: datetime | None


def reconciliation_schedule_get(*, now: datetime | None = None) -> ScheduleState:
    """The scheduled reconciliation's settings and its next run in the company's time zone."""
    import json
    import zoneinfo

    from celery.schedules import crontab_parser
    from django.conf import settings
    from django_celery_beat.models import PeriodicTask

    from pipeline.services.reconciliation import DEFAULT_WEEKS, SCHEDULE_NAME

    task = PeriodicTask.objects.select_related("crontab").filter(name=SCHEDULE_NAME).first()
    if task is None or task.crontab is None:
        return ScheduleState(
            False, False, None, [], DEFAULT_WEEKS, settings.TIME_ZONE, "", "", None
        )
    cron = task.crontab
    tz_name = str(cron.timezone)
    try:
        weeks = int(json.loads(task.kwargs or "{}").get("weeks", DEFAULT_WEEKS))
    except (ValueError, TypeError, AttributeError):
        weeks = DEFAULT_WEEKS
    at = None
    if cron.minute.isdigit() and cron.hour.isdigit() and cron.day_of_month == "*":
        at = time(int(cron.hour), int(cron.minute))
    try:
        cron_days = crontab_parser(7).parse(cron.day_of_week)
        days = sorted({d if d else 7 for d in cron_days})
    except Exception:  # a day expression set elsewhere that we cannot read
        days, at = [], None
    next_run = None
    if task.enabled and at is not None and days:
        zone = zoneinfo.ZoneInfo(tz_name)
        local_now = (now or timezone.now()).astimezone(zone)
        for ahead in range(8):
            day = local_now.date() + timedelta(days=ahead)
            candidate = datetime.combine(day, at, tzinfo=zone)
            if day.isoweekday() in days and candidate > local_now:
                next_run = candidate
                break
    expression = (
        f"{cron.minute} {cron.hour} {cron.day_of_month} {cron.month_of_year} {cron.day_of_week}"
    )
    return ScheduleState(
        exists=True,
        enabled=task.enabled,
        at=at,
        days=days,
        weeks=weeks,
        timezone=tz_name,
        cron=expression,
        description=task.description,
        next_run=next_run,
    )


# --- A record beside each system's version of it (record pages) --------------------------------

_EXTRA_FIELDS = {
    ObjectType.LEAD: ("email",),
    ObjectType.ACCOUNT: ("domain",),
    ObjectType.DEAL: (),
    ObjectType.ARR: ("kind", "amount", "effective_date"),
}


@dataclass(frozen=True)
class VersionRow:
    """One field of a golden record beside each source record's value."""

    name: str
    label: str
    golden: object
    values: list[object]  # one per source record, in `sources` order
    differs: bool
    authority: str  # the name of the system a rule names for this field, or ""
    golden_text: str = ""  # the golden value as the page reads it: labels, not codes
    texts: list[str] = field(default_factory=list)  # each source's value, likewise


@dataclass(frozen=True)
class RecordVersions:
    sources: list  # source records, CRM first
    rows: list[VersionRow]

    @property
    def deleted(self) -> list:
        """The source records their system deleted (a full export no longer held them)."""
        return [s for s in self.sources if s.deleted_at is not None]

    @property
    def live(self) -> list:
        return [s for s in self.sources if s.deleted_at is None]


def _same(a: object, b: object) -> bool:
    return (a in (None, "")) and (b in (None, "")) or a == b


def record_versions(object_type: str, golden) -> RecordVersions:
    """The golden record's fields beside every source record that resolved to it, with the
    fields the systems disagree on marked. Duplicates within a system appear side by side."""
    from pipeline.models import SOURCE_MODELS

    fk = {
        ObjectType.LEAD: "lead",
        ObjectType.ACCOUNT: "account",
        ObjectType.DEAL: "deal",
        ObjectType.ARR: "arr_change",
    }[object_type]
    order = {SystemRole.SALES: 0, SystemRole.MARKETING: 1, SystemRole.CUSTOMER_SUCCESS: 2}
    sources = sorted(
        SOURCE_MODELS[object_type]
        .objects.filter(**{fk: golden})
        .select_related("system", "batch", "deleted_batch"),
        key=lambda s: (order.get(s.system.role, 9), s.system_id, s.id),
    )
    rules = dict(
        FieldAuthority.objects.filter(object_type=object_type).values_list("field", "system__name")
    )
    rows = []
    for name in (*_EXTRA_FIELDS[object_type], *AUTHORITY_FIELDS.get(object_type, ())):
        values = [getattr(s, "domain_key" if name == "domain" else name) for s in sources]
        differs = any(not _same(values[0], v) for v in values[1:])
        label = next((f.label for f in FIELDS[object_type] if f.name == name), name)
        rows.append(
            VersionRow(
                name,
                label,
                getattr(golden, name),
                values,
                differs,
                rules.get(name, ""),
                golden_text=_field_text(golden, name, getattr(golden, name)),
                texts=[_field_text(s, name, v) for s, v in zip(sources, values, strict=True)],
            )
        )
    return RecordVersions(sources=sources, rows=rows)


def import_batch_list() -> QuerySet[ImportBatch]:
    return ImportBatch.objects.select_related("system", "created_by", "confirmed_by").order_by(
        "-created_at", "-id"
    )


# --- Connections ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Freshness:
    """How fresh a connected system's data is: `stale` when its last good sync is older than
    the connection says it should be (or it never synced)."""

    system: str
    slug: str
    synced_at: datetime | None
    fresh_hours: int
    stale: bool

    @property
    def sentence(self) -> str:
        if self.synced_at is None:
            return f"{self.system} is connected but has not synced yet."
        hours = (timezone.now() - self.synced_at).total_seconds() / 3600
        age = f"{hours:.0f} hours" if hours < 72 else f"{hours / 24:.0f} days"
        return (
            f"{self.system}'s data is {age} old (last good sync "
            f"{timezone.localtime(self.synced_at):%a %d %b %H:%M}); it should be under "
            f"{self.fresh_hours} hours."
        )


def connection_freshness(conn) -> Freshness:
    limit = timezone.now() - timedelta(hours=conn.fresh_hours)
    return Freshness(
        system=conn.system.name,
        slug=conn.system.slug,
        synced_at=conn.last_synced_at,
        fresh_hours=conn.fresh_hours,
        stale=conn.last_synced_at is None or conn.last_synced_at < limit,
    )


def connections_stale() -> list[Freshness]:
    """The connected, live systems whose data is older than their schedule says (one query):
    the scorecard's footer warns of each."""
    from pipeline.models import Connection

    conns = Connection.objects.filter(system__retired_at__isnull=True).select_related("system")
    return [f for f in (connection_freshness(c) for c in conns) if f.stale]


# The footer's answer, kept for a minute in each process: freshness is counted in hours, and
# the scorecard's readers should not pay a query for it on every page. Saving a connection or
# ending a sync forgets it in the process that did it.
STALE_MEMO_SECONDS = 60
_stale_memo: dict = {}


def connections_stale_forget() -> None:
    _stale_memo.clear()


def stale_data_note(request):
    """The scorecard footer's warning when a connected system's data is older than it should
    be: the numbers above lag that system."""
    import time

    from django.urls import reverse

    from revops.hooks import FooterNote
    from revops.permissions import can

    if not _stale_memo or time.monotonic() - _stale_memo["at"] > STALE_MEMO_SECONDS:
        _stale_memo.update(at=time.monotonic(), stale=connections_stale())
    stale = _stale_memo["stale"]
    if not stale:
        return None
    text = " ".join(f.sentence for f in stale) + " The numbers above may lag."
    url = reverse("pipeline:connection", args=[stale[0].slug])
    return FooterNote(text, url if can(request.user, "systems.edit") else "", "warning")


# --- Owners and regions -----------------------------------------------------------------------


@dataclass(frozen=True)
class OwnerCounts:
    leads: int = 0
    deals: int = 0
    accounts: int = 0

    @property
    def total(self) -> int:
        return self.leads + self.deals + self.accounts


def owner_record_counts() -> dict[str, OwnerCounts]:
    """How many live leads, deals and accounts name each owner, by the owner field trimmed (as
    the scorecard slices by it): one GROUP BY over the three tables."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT k, count(*) FILTER (WHERE t = 'l'), count(*) FILTER (WHERE t = 'd'),
                      count(*) FILTER (WHERE t = 'a')
               FROM (SELECT btrim(owner) AS k, 'l' AS t FROM pipeline_lead
                     WHERE deleted_at IS NULL
                     UNION ALL SELECT btrim(owner), 'd' FROM pipeline_deal
                     WHERE deleted_at IS NULL
                     UNION ALL SELECT btrim(owner), 'a' FROM pipeline_account
                     WHERE deleted_at IS NULL) x
               WHERE k <> '' GROUP BY k"""
        )
        return {key: OwnerCounts(*counts) for key, *counts in cursor.fetchall()}


@dataclass
class TeamOwners:
    team: Team | None  # None: the owners in no team
    owners: list[tuple[Owner, OwnerCounts]] = field(default_factory=list)


@dataclass
class OwnerDirectory:
    teams: list[TeamOwners]
    # Owners the records name that no Owner row lists, most records first.
    unlisted: list[tuple[str, OwnerCounts]]
    unlisted_count: int


def owner_directory(*, unlisted_shown: int = 20) -> OwnerDirectory:
    """Every team with its manager and owners (each with the records naming it), then the
    owners in no team, then the owners the records name that ops have not listed. Three
    queries, whatever the number of owners."""
    counts = owner_record_counts()
    by_team = {team.pk: TeamOwners(team) for team in Team.objects.order_by("name")}
    no_team = TeamOwners(None)
    listed = set()
    for owner in Owner.objects.order_by("key"):
        listed.add(owner.key)
        group = by_team.get(owner.team_id, no_team)
        group.owners.append((owner, counts.get(owner.key, OwnerCounts())))
    unlisted = sorted(
        ((k, c) for k, c in counts.items() if k not in listed), key=lambda kc: (-kc[1].total, kc[0])
    )
    teams = list(by_team.values()) + ([no_team] if no_team.owners else [])
    return OwnerDirectory(teams, unlisted[:unlisted_shown], len(unlisted))


def countries_in_no_region(*, limit: int = 30) -> list[tuple[str, int]]:
    """The countries live leads and accounts hold that no region lists (compared as the
    scorecard compares them: without case or surrounding spaces), with how many records hold
    each, most first: what ops have left to put in a region."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT min(btrim(country)), count(*)
               FROM (SELECT country FROM pipeline_lead WHERE deleted_at IS NULL
                     UNION ALL SELECT country FROM pipeline_account WHERE deleted_at IS NULL) x
               WHERE btrim(coalesce(country, '')) <> ''
                 AND upper(btrim(country)) NOT IN
                     (SELECT upper(btrim(country)) FROM pipeline_regioncountry)
               GROUP BY upper(btrim(country)) ORDER BY 2 DESC, 1 LIMIT %s""",
            [limit],
        )
        return list(cursor.fetchall())
