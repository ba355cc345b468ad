"""The records behind a number: for each built-in metric and week, the golden records it
counted, as a queryset with the columns that explain the count.

Each queryset is derived from the metric's declaration in the registry (pipeline/metrics.py),
the same declaration the weekly SQL of compute.py is derived from: its conditions rendered as a
Q instead of SQL, its date as a range of the week or window. Nothing here restates what a
metric counts; the property test holds the two derivations to the same counts and sums. For a
ratio the queryset is the denominator and `numerator` picks the records counted above the
line."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import (
    Case,
    DecimalField,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django_filters import FilterSet

from pipeline import metrics
from pipeline import selectors as pipeline_selectors
from pipeline.choices import ObjectType
from pipeline.filters import AccountFilter, DealFilter, LeadFilter
from pipeline.models import Account, SourceAccount, SourceDeal, SourceLead, SourceSystem
from revops.weeks import IsoWeek, quarter_bounds


@dataclass(frozen=True)
class Column:
    label: str
    attr: str
    # text, datetime, date, amount (a source's, in the record's `currency`), money (in the
    # company currency), number, stage, health, flag, ids (a system's ids of the record)
    kind: str = "text"
    html: bool = True  # shown in the page's table (else only in the CSV)


@dataclass
class Drilldown:
    """What one number counted."""

    kind: str  # lead, deal or account
    queryset: QuerySet
    columns: list[Column]
    filterset_class: type[FilterSet]
    description: str
    numerator: Q | None = None  # for a ratio: the records counted above the line
    numerator_label: str = ""
    denominator_label: str = ""
    sum_attr: str | None = None  # the number is a sum of this column (else a count)
    notes: list[str] = field(default_factory=list)


LEAD = [
    Column("Email", "email"),
    Column("Name", "full_name"),
    Column("Company", "company"),
    Column("Stage", "stage", "stage"),
    Column("Source", "source"),
    Column("Owner", "owner"),
    Column("Created", "created_at", "datetime"),
    Column("MQL", "mql_at", "datetime"),
    Column("SQL", "sql_at", "datetime"),
    Column("First touch", "first_touch_at", "datetime"),
]
DEAL_AMOUNT = Column("Amount", "amount", "amount")
DEAL = [
    Column("Deal", "name"),
    Column("Account", "account.name"),
    Column("Stage", "stage", "stage"),
    DEAL_AMOUNT,
    # The page writes the currency with the amount ("EUR 1,200"); the CSV keeps it apart, so
    # the amount stays a number a spreadsheet sums.
    Column("Currency", "currency", html=False),
    Column("Type", "get_deal_type_display"),
    Column("Source", "get_source_display"),
    Column("Owner", "owner"),
    Column("Created", "created_at", "datetime"),
    Column("Close", "close_date", "date"),
]
ACCOUNT = [
    Column("Account", "name"),
    Column("Domain", "domain"),
    Column("Industry", "industry"),
    Column("Health", "health", "health"),
    Column("Owner", "owner"),
    Column("Renewal", "renewal_date", "date"),
]


_SOURCES = {
    "lead": (SourceLead, "lead"),
    "deal": (SourceDeal, "deal"),
    "account": (SourceAccount, "account"),
}


def external_ids(drilldown: Drilldown, rows: QuerySet) -> tuple[QuerySet, list[Column]]:
    """`rows` with, per source system that holds records of the drill-down's kind, the ids of
    each record in that system (an array: a system may hold duplicates), and a column for
    each: "Salesforce id". One query finds the systems; the ids come in the rows' own query,
    one correlated subquery per system over its (golden record, system) index."""
    model, fk = _SOURCES[drilldown.kind]
    systems = (
        SourceSystem.objects.filter(Exists(model.objects.filter(system_id=OuterRef("pk"))))
        .order_by("name")
        .values_list("id", "name")
    )
    annotations, columns = {}, []
    for system_id, name in systems:
        ids = model.objects.filter(**{fk: OuterRef("pk")}, system_id=system_id)
        annotations[f"ids_{system_id}"] = ArraySubquery(
            ids.order_by("external_id").values("external_id")
        )
        columns.append(Column(f"{name} id", f"ids_{system_id}", "ids"))
    return rows.annotate(**annotations), columns


def _signed_arr(before) -> Sum:
    """Sum of an account's converted ARR changes dated before `before`, contraction and churn
    negative; a change with no exchange rate for its date is left out, as in the metric."""
    amount = f"arr_changes__{metrics.ARR_AMOUNT}"
    signed = Case(
        When(metrics.ARR_REDUCING.q("arr_changes__"), then=-F(amount)),
        default=F(amount),
        output_field=DecimalField(max_digits=24, decimal_places=6),
    )
    return Coalesce(
        Sum(signed, filter=Q(arr_changes__effective_date__lt=before)),
        Value(0),
        output_field=DecimalField(max_digits=24, decimal_places=6),
    )


_LISTS = {
    ObjectType.LEAD: ("lead", pipeline_selectors.lead_list, LEAD, LeadFilter),
    ObjectType.DEAL: ("deal", pipeline_selectors.deal_list, DEAL, DealFilter),
}


def _in_window(records: metrics.Records, week: IsoWeek, n: int) -> QuerySet:
    """The records whose date falls in the `n` weeks ending with `week`, meeting every
    condition of the declaration."""
    first = week.shift(-(n - 1))
    if records.date_is_day:
        lo, hi = first.monday, week.monday + timedelta(days=7)
    else:
        lo, hi = first.start, week.end
    _, listing, _, _ = _LISTS[records.object_type]
    return listing().filter(records.q(), **{f"{records.date}__gte": lo, f"{records.date}__lt": hi})


def _span_words(week: IsoWeek, n: int) -> str:
    return f"in {week.label}" if n == 1 else f"in the {n} weeks ending with {week.label}"


def _records_words(records: metrics.Records, week: IsoWeek, n: int) -> str:
    what = records.words()
    return (
        f"{what[0].upper()}{what[1:]} whose {metrics.DATE_WORDS[records.date]} falls "
        f"{_span_words(week, n)}"
    )


def _columns(records: metrics.Records, *extra: Column, amount: str | None = None) -> list[Column]:
    _, _, columns, _ = _LISTS[records.object_type]
    columns = list(columns)
    if records.object_type == ObjectType.DEAL:
        converted = amount or metrics.AMOUNT_AT_CLOSE
        if converted != "amount":
            columns.insert(
                columns.index(DEAL_AMOUNT) + 2,
                Column(f"Amount in {settings.COMPANY_CURRENCY}", converted, "money"),
            )
    return [*columns, *extra]


def _median_value(spec: metrics.MetricSpec) -> RawSQL:
    table = metrics.GOLDEN_TABLES[spec.measure.records.object_type]
    sql = spec.median_of.sql.format(p=f'"{table}".')
    return RawSQL(
        sql.replace("%(tz)s", "%s"),
        [settings.TIME_ZONE] * sql.count("%(tz)s"),
        output_field=DecimalField(),
    )


def drilldown_for(builtin: str, week: IsoWeek, window: int | None) -> Drilldown | None:
    """The records behind built-in metric `builtin` in `week`; None for an unknown one."""
    spec = metrics.spec_get(builtin)
    if spec is None:
        return None
    n = window or spec.window or 1
    label = week.label
    next_monday = week.monday + timedelta(days=7)

    if spec.shape == metrics.TOTAL:
        m = spec.measure
        kind, _, _, filterset = _LISTS[m.records.object_type]
        return Drilldown(
            kind,
            _in_window(m.records, week, 1),
            _columns(m.records, amount=m.sum),
            filterset,
            f"{_records_words(m.records, week, 1)}.",
            sum_attr=m.sum,
        )
    if spec.shape == metrics.RATIO:
        num, den = spec.numerator, spec.denominator
        kind, _, _, filterset = _LISTS[den.records.object_type]
        drill = Drilldown(
            kind,
            _in_window(den.records, week, n),
            _columns(den.records, amount=num.sum),
            filterset,
            f"{_records_words(den.records, week, n)}.",
        )
        if num.is_count:
            extra = Q()
            for where in num.records.extends(den.records):
                extra &= where.q()
            drill.numerator = extra
            drill.numerator_label = spec.numerator_words
            drill.denominator_label = spec.denominator_words
        else:
            # The same records, summed above the line and counted below it.
            num.records.extends(den.records)
            drill.sum_attr = num.sum
            drill.description += " The number is their average amount."
        return drill
    if spec.shape == metrics.MEDIAN:
        records = spec.measure.records
        kind, _, _, filterset = _LISTS[records.object_type]
        return Drilldown(
            kind,
            _in_window(records, week, n)
            .annotate(median_value=_median_value(spec))
            .order_by("-median_value", "-id"),
            _columns(
                records, Column(spec.median_of.unit_words.capitalize(), "median_value", "number")
            ),
            filterset,
            f"{_records_words(records, week, n)}; the number is the median of the last column.",
        )
    if spec.shape == metrics.COHORT:
        records = spec.measure.records
        kind, _, _, filterset = _LISTS[records.object_type]
        reached = Q(**{f"{spec.reached}__lt": week.end})
        return Drilldown(
            kind,
            _in_window(records, week, n).annotate(
                reached=Case(When(reached, then=True), default=False)
            ),
            _columns(
                records,
                Column(
                    f"{metrics.DATE_WORDS[spec.reached].capitalize()} by week's end",
                    "reached",
                    "flag",
                ),
            ),
            filterset,
            f"{_records_words(records, week, n)}.",
            numerator=reached,
            numerator_label=spec.numerator_words,
            denominator_label=spec.denominator_words,
        )
    if spec.shape == metrics.COVERAGE:
        m = spec.measure
        q_start, q_end = quarter_bounds(week.sunday)
        return Drilldown(
            "deal",
            pipeline_selectors.deal_list()
            .filter(
                m.records.q(),
                created_at__lt=week.end,
                close_date__gte=q_start,
                close_date__lt=q_end,
                **{f"{m.sum}__isnull": False},
            )
            .filter(~metrics.CLOSED.q() | Q(close_date__gte=next_monday)),
            _columns(m.records, amount=m.sum),
            DealFilter,
            f"{m.records.words()[0].upper()}{m.records.words()[1:]} open at the end of {label} "
            f"with a close date from {q_start:%-d %b} to {q_end - timedelta(days=1):%-d %b %Y}: "
            "the pipeline above the line.",
            sum_attr=m.sum,
        )

    accounts = Account.objects.all()
    arr_column = Column(f"ARR at week's end ({settings.COMPANY_CURRENCY})", "arr_at_end", "money")
    if spec.shape in (metrics.ARR_TOTAL, metrics.HEALTHY_SHARE):
        customers = (
            accounts.annotate(arr_at_end=_signed_arr(next_monday))
            .filter(arr_at_end__gt=0)
            .order_by("-arr_at_end", "name", "id")
        )
        if spec.shape == metrics.ARR_TOTAL:
            return Drilldown(
                "account",
                customers,
                [*ACCOUNT, arr_column],
                AccountFilter,
                f"Accounts with ARR above zero at the end of {label}.",
                sum_attr="arr_at_end",
            )
        return Drilldown(
            "account",
            customers,
            [*ACCOUNT, arr_column],
            AccountFilter,
            f"Customers at the end of {label} (ARR above zero).",
            numerator=metrics.GOOD_HEALTH.q(),
            numerator_label=spec.numerator_words,
            denominator_label=spec.denominator_words,
            notes=["Health is as the customer-success system records it now."],
        )
    if spec.shape in (metrics.RETENTION_NET, metrics.RETENTION_GROSS):
        then = week.shift(-n)
        cohort = (
            accounts.annotate(
                arr_then=_signed_arr(then.monday + timedelta(days=7)),
                arr_at_end=_signed_arr(next_monday),
            )
            .filter(arr_then__gt=0)
            .order_by("-arr_then", "name", "id")
        )
        return Drilldown(
            "account",
            cohort,
            [*ACCOUNT, Column(f"ARR at end of {then.label}", "arr_then", "money"), arr_column],
            AccountFilter,
            f"Customers at the end of {then.label}, {n} weeks before {label}, with their ARR "
            "then and now; the number is the second column's total over the first's"
            + (
                " (each account capped at its ARR then)."
                if spec.shape == metrics.RETENTION_GROSS
                else "."
            ),
            sum_attr="arr_then",
        )
    if spec.shape == metrics.LOGOS_LOST:
        lost = (
            accounts.annotate(
                lost_on=Max(
                    "arr_changes__effective_date",
                    filter=metrics.CHURN.q("arr_changes__")
                    & Q(
                        arr_changes__effective_date__gte=week.monday,
                        arr_changes__effective_date__lt=next_monday,
                    ),
                )
            )
            .filter(lost_on__isnull=False)
            .order_by("lost_on", "name", "id")
        )
        return Drilldown(
            "account",
            lost,
            [*ACCOUNT, Column("Churned on", "lost_on", "date")],
            AccountFilter,
            f"Customers with a churn change dated in {label}.",
        )
    return None
