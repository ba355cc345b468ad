"""The metric registry: every built-in metric declared once.

A declaration says which records a metric reads (an object type, the date that puts a record
in a week, the conditions that make it count), what each record adds (one, or an amount in
the company currency), how the weekly figures combine (a total, a ratio of two measures over a
trailing window, a median, a cohort, or one of the account-level ARR calculations), its unit
and direction, and whether reconciliation compares it between the marketing and sales systems.

Everything else is derived from these declarations and from nowhere else:

- the scorecard's set-based computation (scorecard/compute.py): one aggregate query per object
  type for every total and ratio, whatever the number of metrics and weeks;
- the drill-down (scorecard/drilldown.py): the records a value counted, as a queryset, from the
  same conditions rendered as a Q instead of SQL;
- reconciliation's per-system and golden weekly values and its bridges
  (pipeline/services/reconciliation.py): the same conditions over the source tables;
- the plain-language "how it is computed" line, the API's description and the charts' units.

A condition is a `Where`: a field, an operator and a choice value. It renders as SQL that names
a parameter (never spelling the value, so a renamed choice changes every query with it) and as
a Django Q over the golden model, or over a related model with a prefix.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q

from pipeline.choices import (
    NEGATIVE_ARR_KINDS,
    AccountHealth,
    ArrChangeKind,
    DealSource,
    DealStage,
    DealType,
    ObjectType,
)

HUNDRED = Decimal(100)
ONE = Decimal(1)

# --- Conditions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Where:
    """One condition on one record: `field` `op` `value`, with the words people use for it.

    op: "eq" (equals a choice value), "in" (one of several), "set" (not null), "unset" (null)
    or "before_end" (a moment before the end of the week being computed; cohorts only)."""

    field: str
    op: str
    value: Any = None
    words: str = ""

    @property
    def param(self) -> str:
        """The name of the SQL parameter holding the value."""
        values = self.value if isinstance(self.value, (list, tuple)) else [self.value]
        slug = "_".join(re.sub(r"\W", "_", str(v)) for v in values)
        return f"w_{self.field}_{self.op}_{slug}"

    def sql(self, prefix: str = "") -> str:
        column = f"{prefix}{self.field}"
        if self.op == "eq":
            return f"{column} = %({self.param})s"
        if self.op == "in":
            return f"{column} = ANY(%({self.param})s)"
        if self.op == "set":
            return f"{column} IS NOT NULL"
        if self.op == "unset":
            return f"{column} IS NULL"
        raise ValueError(f"unknown operator {self.op!r}")

    def params(self) -> dict[str, Any]:
        if self.op == "eq":
            return {self.param: str(self.value)}
        if self.op == "in":
            return {self.param: [str(v) for v in self.value]}
        return {}

    def q(self, prefix: str = "") -> Q:
        name = f"{prefix}{self.field}"
        if self.op == "eq":
            return Q(**{name: self.value})
        if self.op == "in":
            return Q(**{f"{name}__in": list(self.value)})
        if self.op == "set":
            return Q(**{f"{name}__isnull": False})
        if self.op == "unset":
            return Q(**{f"{name}__isnull": True})
        raise ValueError(f"unknown operator {self.op!r}")


WON = Where("stage", "eq", DealStage.CLOSED_WON, "won")
CLOSED = Where("stage", "in", (DealStage.CLOSED_WON, DealStage.CLOSED_LOST), "closed")
NEW_BUSINESS = Where("deal_type", "eq", DealType.NEW, "new-business")
NEW_OR_EXPANSION = Where(
    "deal_type", "in", (DealType.NEW, DealType.EXPANSION), "new-business and expansion"
)
MARKETING_SOURCED = Where("source", "eq", DealSource.MARKETING, "marketing-sourced")
MQL_SET = Where("mql_at", "set", words="with an MQL date")
ARR_REDUCING = Where("kind", "in", NEGATIVE_ARR_KINDS, "contraction or churn")
CHURN = Where("kind", "eq", ArrChangeKind.CHURN, "churn")
GOOD_HEALTH = Where("health", "eq", AccountHealth.GOOD, "in good health")
# Not deleted in every source system. Every metric reads only such records: `Records.conditions`
# adds it to each declaration's own, so the scorecard, the drill-down and reconciliation's
# golden values all leave a deleted record out (reconciliation's per-system values read each
# system's live rows, its source tables having the same column).
LIVE = Where("deleted_at", "unset")

# --- Records and measures ----------------------------------------------------------------------

# Golden and source tables of each object type, and which of their columns are dates (no time
# zone) rather than moments.
GOLDEN_TABLES = {
    ObjectType.LEAD: "pipeline_lead",
    ObjectType.DEAL: "pipeline_deal",
    ObjectType.ACCOUNT: "pipeline_account",
    ObjectType.ARR: "pipeline_arrchange",
}
SOURCE_TABLES = {
    ObjectType.LEAD: "pipeline_sourcelead",
    ObjectType.DEAL: "pipeline_sourcedeal",
    ObjectType.ACCOUNT: "pipeline_sourceaccount",
    ObjectType.ARR: "pipeline_sourcearrchange",
}
DATE_COLUMNS = frozenset({"close_date", "effective_date", "renewal_date"})

# The amount columns in the company currency, by the date whose exchange rate converts them.
AMOUNT_AT_CLOSE = "amount_at_close"
AMOUNT_AT_CREATION = "amount_at_creation"
ARR_AMOUNT = "amount_converted"
# SQL true for a record with no converted amount (no exchange rate for its date), as the
# partial indexes that find them are declared (pipeline/models/golden.py).
UNCONVERTED_DEAL = f"({AMOUNT_AT_CLOSE} IS NULL OR {AMOUNT_AT_CREATION} IS NULL)"
UNCONVERTED_ARR = f"{ARR_AMOUNT} IS NULL"

NOUNS = {
    ObjectType.LEAD: ("lead", "leads"),
    ObjectType.DEAL: ("deal", "deals"),
    ObjectType.ACCOUNT: ("account", "accounts"),
    ObjectType.ARR: ("ARR change", "ARR changes"),
}
DATE_WORDS = {
    "created_at": "created date",
    "mql_at": "MQL date",
    "sql_at": "SQL date",
    "first_touch_at": "first sales touch",
    "won_at": "opportunity won",
    "close_date": "close date",
    "effective_date": "effective date",
}


@dataclass(frozen=True)
class Records:
    """The records of one object type a measure reads: those whose `date` falls in the week
    (or window) and that meet every condition of `where`."""

    object_type: str
    date: str
    where: tuple[Where, ...] = ()

    @property
    def date_is_day(self) -> bool:
        return self.date in DATE_COLUMNS

    @property
    def conditions(self) -> tuple[Where, ...]:
        """What a record must meet to count: the declaration's `where`, and being live. (Not
        part of `where`, so the metrics' fingerprints and words stay as declared.)"""
        return (*self.where, LIVE)

    def sql(self, prefix: str = "") -> str:
        """SQL true for a record counted in some week: its date is set and it meets every
        condition."""
        conditions = [f"{prefix}{self.date} IS NOT NULL", *(w.sql(prefix) for w in self.conditions)]
        return " AND ".join(conditions)

    def q(self) -> Q:
        q = Q()
        for w in self.conditions:
            q &= w.q()
        return q

    def words(self) -> str:
        shown = [w for w in self.where if w.op != "set" and w.words]
        if WON in shown:  # won implies closed
            shown = [w for w in shown if w != CLOSED]
        adjectives = " ".join(w.words for w in shown)
        noun = NOUNS[self.object_type][1]
        phrase = f"{adjectives} {noun}".strip()
        extra = [w.words for w in self.where if w.op == "set" and w.words]
        return " ".join([phrase, *extra])

    def extends(self, other: Records) -> tuple[Where, ...]:
        """The conditions these records add to `other` (same object and date, a superset of
        its conditions); raises if they are not such a subset."""
        if (self.object_type, self.date) != (other.object_type, other.date) or not set(
            other.where
        ) <= set(self.where):
            raise ValueError(f"{self} does not narrow {other}")
        return tuple(w for w in self.where if w not in other.where)


@dataclass(frozen=True)
class Measure:
    """What the records add up to: their count, or the sum of an amount column in the company
    currency."""

    records: Records
    sum: str | None = None

    @property
    def is_count(self) -> bool:
        return self.sum is None

    def value_sql(self, prefix: str = "") -> str:
        return "1" if self.sum is None else f"{prefix}{self.sum}"

    def words(self) -> str:
        what = self.records.words()
        return f"number of {what}" if self.sum is None else f"total amount of {what}"


# --- Metric declarations ------------------------------------------------------------------------

TOTAL = "total"  # the measure, per week
RATIO = "ratio"  # numerator / denominator over a trailing window, times `scale`
MEDIAN = "median"  # the median of `median_of` over the records, over a trailing window
COHORT = "cohort"  # of the records in the window, the share whose `reached` date is by week end
COVERAGE = "coverage"  # open pipeline closing this quarter / what is left of the target
ARR_TOTAL = "arr_total"  # ARR of every account at the week's end
RETENTION_NET = "retention_net"  # ARR now of the customers of `window` weeks ago / theirs then
RETENTION_GROSS = "retention_gross"  # as net, each account capped at its ARR then
LOGOS_LOST = "logos_lost"  # accounts with a churn change dated in the week
HEALTHY_SHARE = "healthy_share"  # share of customers in good health
# The shapes computed from ARR changes (in the company currency at their date's rate).
ARR_SHAPES = frozenset({ARR_TOTAL, RETENTION_NET, RETENTION_GROSS, LOGOS_LOST, HEALTHY_SHARE})


@dataclass(frozen=True)
class Median:
    """A per-record value to take the median of, as SQL over one record (`{p}` the column
    prefix), and the words for it."""

    sql: str
    unit_words: str


@dataclass(frozen=True)
class MetricSpec:
    key: str
    name: str
    team: str
    unit: str
    shape: str
    up_is_good: bool = True
    measure: Measure | None = None  # total, cohort and coverage: the records counted or summed
    numerator: Measure | None = None
    denominator: Measure | None = None
    median_of: Median | None = None
    reached: str = ""  # cohort: the date that counts a record above the line
    window: int | None = None  # default trailing window in weeks
    scale: Decimal = HUNDRED  # ratio and cohort: percent (100) or a plain quotient (1)
    reconciled: bool = False
    empty: str = ""  # why a week has no value, when the generated sentence reads badly
    prose: str = field(default="", compare=False)
    numerator_words: str = ""
    denominator_words: str = ""

    @property
    def additive(self) -> bool:
        """Weekly values add up over a month or quarter (counts and amounts)."""
        return self.shape in (TOTAL, LOGOS_LOST)

    @property
    def base(self) -> Measure | None:
        """The measure whose records the drill-down lists (a ratio's denominator)."""
        return self.denominator or self.measure

    @property
    def is_money(self) -> bool:
        return self.unit == "currency"

    @property
    def fingerprint(self) -> str:
        """A digest of what the computation reads and how it combines it (not its names or
        words, nor the trailing window, which each definition version sets): a change to the
        declaration changes it, and the catalog then makes the metric's next definition
        version (scorecard.services.catalog.builtin_definitions_sync)."""

        def measure(m: Measure | None):
            if m is None:
                return None
            r = m.records
            wheres = [(w.field, w.op, str(w.params())) for w in r.where]
            return (r.object_type, r.date, sorted(wheres), m.sum)

        parts = (
            self.shape,
            measure(self.measure),
            measure(self.numerator),
            measure(self.denominator),
            self.median_of.sql if self.median_of else None,
            self.reached,
            str(self.scale),
        )
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]

    @property
    def part_units(self) -> tuple[str, str]:
        """The units of a value's numerator and denominator, as the metric's page shows them."""
        if self.shape == RATIO:
            return tuple(
                "count" if m.is_count else "currency" for m in (self.numerator, self.denominator)
            )
        if self.shape in (COVERAGE, RETENTION_NET, RETENTION_GROSS):
            return ("currency", "currency")
        if self.shape == TOTAL:
            return (self.unit, self.unit)
        return ("count", "count")

    def computed_as(self, window: int | None = None) -> str:
        """One plain-language line, generated from the declaration."""
        n = window or self.window
        span = f"in the {n} weeks ending with the week" if n and n > 1 else "in the week"
        if self.shape == TOTAL:
            m = self.measure
            return f"The {m.words()} whose {DATE_WORDS[m.records.date]} falls {span}" + (
                ", each converted to the company currency." if m.sum else "."
            )
        if self.shape == RATIO:
            num, den = self.numerator, self.denominator
            share = "as a percentage of" if self.scale == HUNDRED else "divided by"
            return (
                f"The {num.words()} {share} the {den.words()}, by "
                f"{DATE_WORDS[den.records.date]}, {span}."
            )
        if self.shape == MEDIAN:
            m = self.measure
            return (
                f"The median {self.median_of.unit_words} over the {m.records.words()} whose "
                f"{DATE_WORDS[m.records.date]} falls {span}."
            )
        if self.shape == COHORT:
            m = self.measure
            return (
                f"Of the {m.records.words()} whose {DATE_WORDS[m.records.date]} falls {span}, "
                f"the share with an {DATE_WORDS[self.reached]} by the end of the week."
            )
        if self.shape == COVERAGE:
            return (
                f"The total amount of open {self.measure.records.words()} with a close date in "
                "the quarter, converted to the company currency, divided by what is left of the "
                "quarter's new-bookings target."
            )
        return {
            ARR_TOTAL: "The sum over accounts of their ARR changes dated by the week's end, each "
            "converted to the company currency, an account below zero counting as zero.",
            RETENTION_NET: f"ARR at the week's end of the accounts that had ARR {n} weeks "
            "earlier, over their ARR then.",
            RETENTION_GROSS: f"As net retention over {n} weeks, each account capped at its ARR "
            "then.",
            LOGOS_LOST: "The number of accounts with a churn ARR change dated in the week.",
            HEALTHY_SHARE: "Of the accounts with ARR above zero at the week's end, the share "
            "the customer-success system rates in good health.",
        }[self.shape]


_LEADS_CREATED = Records(ObjectType.LEAD, "created_at")
_MQLS = Records(ObjectType.LEAD, "mql_at")
_SQLS = Records(ObjectType.LEAD, "sql_at")
_CLOSED_NEW = Records(ObjectType.DEAL, "close_date", (CLOSED, NEW_BUSINESS))
_WON_NEW = Records(ObjectType.DEAL, "close_date", (CLOSED, WON, NEW_BUSINESS))
_HOURS_TO_TOUCH = Median(
    "greatest(extract(epoch FROM {p}first_touch_at - {p}mql_at), 0) / 3600.0",
    "hours from MQL date to first sales touch (0 for a touch before the MQL date)",
)
_DAYS_TO_CLOSE = Median(
    "{p}close_date - ({p}created_at AT TIME ZONE %(tz)s)::date",
    "days from created date to close date",
)

SPECS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "leads_created", "Leads created", "marketing", "count", TOTAL,
        measure=Measure(_LEADS_CREATED), reconciled=True,
    ),
    MetricSpec(
        "mqls", "MQLs", "marketing", "count", TOTAL, measure=Measure(_MQLS), reconciled=True
    ),
    MetricSpec(
        "sqls", "SQLs", "sales", "count", TOTAL, measure=Measure(_SQLS), reconciled=True
    ),
    MetricSpec(
        "mql_to_sql_rate", "MQL → SQL conversion", "marketing", "percent", COHORT,
        measure=Measure(_MQLS), reached="sql_at", window=13, empty="No MQLs in the {n} weeks",
        numerator_words="that reached SQL by the end of the week",
        denominator_words="MQLs in the window",
    ),
    MetricSpec(
        "mql_to_won_rate", "MQL → won conversion", "marketing", "percent", COHORT,
        measure=Measure(_MQLS), reached="won_at", window=13, empty="No MQLs in the {n} weeks",
        numerator_words="whose deal was won by the end of the week",
        denominator_words="MQLs in the window",
    ),
    MetricSpec(
        "speed_to_lead", "Speed to lead", "sales", "hours", MEDIAN, up_is_good=False,
        measure=Measure(Records(ObjectType.LEAD, "first_touch_at", (MQL_SET,))),
        median_of=_HOURS_TO_TOUCH, empty="No MQL had a first sales touch this week",
    ),
    MetricSpec(
        "pipeline_created", "Pipeline created", "sales", "currency", TOTAL,
        measure=Measure(
            Records(ObjectType.DEAL, "created_at", (NEW_OR_EXPANSION,)), AMOUNT_AT_CREATION
        ),
    ),
    MetricSpec(
        "pipeline_created_marketing", "Marketing-sourced pipeline", "marketing", "currency",
        TOTAL,
        measure=Measure(
            Records(ObjectType.DEAL, "created_at", (MARKETING_SOURCED,)), AMOUNT_AT_CREATION
        ),
        reconciled=True,
    ),
    MetricSpec(
        "pipeline_coverage", "Pipeline coverage", "company", "ratio", COVERAGE,
        measure=Measure(Records(ObjectType.DEAL, "close_date", (NEW_BUSINESS,)), AMOUNT_AT_CLOSE),
        scale=ONE,
    ),
    MetricSpec(
        "win_rate", "Win rate", "sales", "percent", RATIO,
        numerator=Measure(_WON_NEW), denominator=Measure(_CLOSED_NEW), window=13,
        numerator_words="that were won", denominator_words="closed (won or lost)",
        empty="No new business closed",
    ),
    MetricSpec(
        "avg_deal_size", "Average deal size", "sales", "currency", RATIO,
        numerator=Measure(_WON_NEW, AMOUNT_AT_CLOSE), denominator=Measure(_WON_NEW),
        window=13, scale=ONE, empty="No new business won",
    ),
    MetricSpec(
        "sales_cycle", "Sales cycle", "sales", "days", MEDIAN, up_is_good=False,
        measure=Measure(_WON_NEW), median_of=_DAYS_TO_CLOSE, window=13,
        empty="No new business won in the window",
    ),
    MetricSpec(
        "deals_won", "Deals won", "sales", "count", TOTAL,
        measure=Measure(Records(ObjectType.DEAL, "close_date", (WON,))), reconciled=True,
    ),
    MetricSpec(
        "new_bookings", "New bookings", "company", "currency", TOTAL,
        measure=Measure(
            Records(ObjectType.DEAL, "close_date", (WON, NEW_BUSINESS)), AMOUNT_AT_CLOSE
        ),
        reconciled=True,
    ),
    MetricSpec("arr", "ARR", "company", "currency", ARR_TOTAL),
    MetricSpec(
        "nrr", "Net revenue retention", "company", "percent", RETENTION_NET, window=52
    ),
    MetricSpec(
        "grr", "Gross revenue retention", "customer_success", "percent", RETENTION_GROSS,
        window=52,
    ),
    MetricSpec(
        "logo_churn", "Logos lost", "customer_success", "count", LOGOS_LOST, up_is_good=False
    ),
    MetricSpec(
        "healthy_accounts", "Healthy accounts", "customer_success", "percent", HEALTHY_SHARE,
        numerator_words="in good health", denominator_words="customers",
    ),
)  # fmt: skip

REGISTRY: dict[str, MetricSpec] = {spec.key: spec for spec in SPECS}
RECONCILED: dict[str, MetricSpec] = {s.key: s for s in SPECS if s.reconciled}


def spec_get(key: str) -> MetricSpec | None:
    return REGISTRY.get(key)


def measures(object_type: str, specs: Iterable[MetricSpec] = SPECS) -> list[Measure]:
    """Every distinct total or ratio measure over `object_type`, in declaration order: what one
    aggregate query per object type computes."""
    found: list[Measure] = []
    for spec in specs:
        if spec.shape not in (TOTAL, RATIO):
            continue
        for m in (spec.measure, spec.numerator, spec.denominator):
            if m is not None and m.records.object_type == object_type and m not in found:
                found.append(m)
    return found


def _all_wheres() -> list[Where]:
    out: list[Where] = [ARR_REDUCING, CHURN, GOOD_HEALTH]
    for spec in SPECS:
        for m in (spec.measure, spec.numerator, spec.denominator):
            if m is not None:
                out.extend(m.records.where)
    return out


# Every parameter the conditions' SQL names, with its choice value.
SQL_PARAMS: dict[str, Any] = {k: v for w in _all_wheres() for k, v in w.params().items()}
