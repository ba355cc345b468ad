"""Trust marks: how far a number on the scorecard can be trusted this week.

- disputed: someone has an open dispute against the number (links to it);
- explained: marketing's and sales' systems give different values, and the reconciliation
  bridge explains the difference, or all of it but what the metric's tolerance allows (neutral:
  an expected gap; the reasons in its title, the bridge one click away);
- variance: marketing's and sales' systems differ by more than the bridge explains and the
  tolerance allows (the percentage, linking to the bridge);
- reconciled: both systems agree;
- not reconciled: a metric reconciliation compares, for a week it has not compared yet;
- unconverted: an amount metric left out records in a currency with no exchange rate for
  their date (how many, in which currencies, linking to the rates page); it outranks the
  reconciliation's marks, since the number itself is incomplete.
Metrics that only one system measures get no mark.

Each kind of evidence is a *source*: a function from a week and the metric keys on show to the
marks it has an opinion on. `TRUST_SOURCES` lists them strongest first, and the first source
with a mark for a metric wins, so an open dispute outranks a reconciled result. The disputes
app plugs in by adding its function to the front of that list when it starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, QuerySet
from django.urls import reverse

from pipeline import metrics
from pipeline import selectors as pipeline_selectors
from pipeline.choices import RunStatus, SystemRole
from pipeline.models import ArrChange
from pipeline.selectors import RECONCILED_METRICS, MetricReconciliation
from pipeline.services.reconciliation import reconciliation_missing_system
from revops.weeks import IsoWeek
from scorecard.drilldown import drilldown_for

RECONCILED = "reconciled"
EXPLAINED = "explained"
VARIANCE = "variance"
DISPUTED = "disputed"
NOT_RECONCILED = "not_reconciled"
UNCONVERTED = "unconverted"


@dataclass(frozen=True)
class TrustMark:
    state: str
    label: str
    detail: str = ""
    url: str | None = None
    variance_pct: Decimal | None = None
    # A weaker source's bridge mark kept beside a stronger mark (a disputed number that also
    # differs between the systems keeps its bridge one click away).
    also: TrustMark | None = None


TrustSource = Callable[[IsoWeek, frozenset[str]], dict[str, TrustMark]]

# The most rows a source's version reads before it gives up and the marks are computed instead.
VERSION_ROW_LIMIT = 1000
# What a version says when it gives up.
VERSION_UNKNOWN = "unknown"


def trust_version(sql: str, params: dict | None = None):
    """Declares what a source's marks depend on, as one SQL expression whose value changes
    whenever its marks could (VERSION_UNKNOWN, alone or in a JSON array: too much to
    fingerprint, compute the marks instead). The
    cached scorecard's stamp reads every source's version in the one query it runs per
    request instead of computing the marks; a source without one has its marks computed
    into the stamp."""

    def declare(source: TrustSource) -> TrustSource:
        source.version = (sql, params or {})
        return source

    return declare


def unconverted_version_sql(table: str, condition: str) -> str:
    """A fingerprint of the rows of `table` with no converted amount (every column of each),
    from the partial index of just those rows; VERSION_UNKNOWN when there are more than
    VERSION_ROW_LIMIT."""
    return f"""(SELECT CASE WHEN count(*) > {VERSION_ROW_LIMIT} THEN '{VERSION_UNKNOWN}'
                       ELSE md5(coalesce(string_agg(t::text, ',' ORDER BY t.id), '')) END
                FROM (SELECT * FROM {table} WHERE {condition}
                      ORDER BY id LIMIT {VERSION_ROW_LIMIT + 1}) t)"""


def _bridge_url(key: str, week: IsoWeek) -> str:
    """Reconciliation's bridge of the metric and week: why marketing's number is not sales'."""
    return f"{reverse('pipeline:reconciliation-bridge')}?metric={key}&week={week.label}"


def reconciliation_mark(
    result: MetricReconciliation,
    week: IsoWeek,
    *,
    tolerance_abs: Decimal = Decimal(0),
    tolerance_pct: Decimal = Decimal(0),
) -> TrustMark:
    """The mark one reconciliation result earns: reconciled when the systems agree; explained
    when the bridge explains the difference but for what the tolerance allows; variance, with
    what is left unexplained, otherwise."""
    marketing, sales = result.marketing_value, result.sales_value
    if result.agrees:
        return TrustMark(
            RECONCILED,
            "Reconciled",
            f"Marketing and sales systems agree: {_plain(sales)}",
        )
    pct = result.variance_pct
    sign = "+" if pct is not None and pct >= 0 else "−"
    gap = f"{sign}{abs(pct):.1f}%" if pct is not None else ""
    says = f"Marketing's system says {_plain(marketing)}, sales' system {_plain(sales)}"
    reasons = "; ".join(f"{label} {_signed(value)}" for label, value in result.steps)
    url = _bridge_url(result.metric_key, week)
    if result.explained_within(tolerance_abs, tolerance_pct):
        rest = (
            f"; {_signed(result.unexplained)} unexplained, within tolerance"
            if (result.unexplained)
            else ""
        )
        return TrustMark(
            EXPLAINED,
            f"Explained {gap}".strip(),
            f"{says}. The bridge explains it: {reasons or 'no step'}{rest}",
            url=url,
            variance_pct=pct,
        )
    explained = f" The bridge explains {_signed(result.explained)} ({reasons})." if reasons else ""
    return TrustMark(
        VARIANCE,
        f"Variance {gap}".strip(),
        f"{says}.{explained} {_signed(result.unexplained)} is unexplained.",
        url=url,
        variance_pct=pct,
    )


def _signed(value: Decimal) -> str:
    text = _plain(abs(value))
    return f"+{text}" if value > 0 else f"−{text}" if value < 0 else text


def _plain(value: Decimal) -> str:
    return f"{value.normalize():,f}"


@trust_version(
    """json_build_array(
        (SELECT id FROM pipeline_reconciliationrun WHERE status = %(completed)s
         ORDER BY finished_at DESC, id DESC LIMIT 1),
        (SELECT string_agg(DISTINCT role, ',' ORDER BY role) FROM pipeline_sourcesystem
         WHERE role IN (%(marketing)s, %(sales)s)))""",
    {
        "completed": RunStatus.COMPLETED.value,
        "marketing": SystemRole.MARKETING.value,
        "sales": SystemRole.SALES.value,
    },
)
def reconciliation_marks(week: IsoWeek, keys: frozenset[str]) -> dict[str, TrustMark]:
    """Marks from the current reconciliation run: reconciled or variance where it compared the
    metric this week, `not reconciled` for a reconciled metric it has no result for."""
    wanted = keys & RECONCILED_METRICS.keys()
    if not wanted:
        return {}
    results = pipeline_selectors.metric_reconciliation_for_week(week.monday)
    # No result this week: say why when it is that a system to compare is missing.
    missing = "" if results else reconciliation_missing_system()
    if missing:
        return {
            key: TrustMark(NOT_RECONCILED, "Not reconciled", missing.split(":")[0])
            for key in wanted
        }
    from scorecard.models import Metric

    tolerances = {
        key: (absolute, pct)
        for key, absolute, pct in Metric.objects.filter(key__in=wanted).values_list(
            "key", "tolerance_abs", "tolerance_pct"
        )
    }
    marks = {}
    for key in wanted:
        if key in results:
            absolute, pct = tolerances.get(key, (Decimal(0), Decimal(0)))
            marks[key] = reconciliation_mark(
                results[key], week, tolerance_abs=absolute, tolerance_pct=pct
            )
        else:
            marks[key] = TrustMark(
                NOT_RECONCILED,
                "Not reconciled",
                "No reconciliation has compared this number for this week yet",
            )
    return marks


def _unconverted(key: str, week: IsoWeek) -> QuerySet | None:
    """The records metric `key` reads in `week` (its declared window) that have no converted
    amount, or None for a metric that sums no amount."""
    spec = metrics.spec_get(key)
    if spec is None or not spec.is_money and spec.shape not in metrics.ARR_SHAPES:
        return None
    if spec.shape in metrics.ARR_SHAPES:
        changes = ArrChange.objects.filter(effective_date__lt=week.monday + timedelta(days=7))
        return changes.filter(**{f"{metrics.ARR_AMOUNT}__isnull": True})
    summed = next(
        (m.sum for m in (spec.measure, spec.numerator, spec.denominator) if m and m.sum), None
    )
    drill = drilldown_for(key, week, spec.window)
    if summed is None or drill is None or drill.kind != "deal":
        return None
    return drill.queryset.model.objects.filter(
        pk__in=drill.queryset.filter(**{f"{summed}__isnull": True}).values("pk")
    )


@trust_version(
    f"json_build_array("
    f"{unconverted_version_sql('pipeline_deal', metrics.UNCONVERTED_DEAL)}, "
    f"{unconverted_version_sql('pipeline_arrchange', metrics.UNCONVERTED_ARR)})"
)
def currency_marks(week: IsoWeek, keys: frozenset[str]) -> dict[str, TrustMark]:
    """An amount metric that left out records with no exchange rate says so: how many, in
    which currencies, with a link to the exchange rates."""
    money = [
        key
        for key in keys
        if (spec := metrics.spec_get(key)) and (spec.is_money or spec.shape in metrics.ARR_SHAPES)
    ]
    if not money or not pipeline_selectors.amounts_unconverted_exist():
        return {}  # the usual case, answered from two partial indexes in one round trip
    marks = {}
    for key in money:
        missing = _unconverted(key, week)
        if missing is None:
            continue
        counts = list(
            missing.values_list("currency").annotate(n=Count("pk")).order_by("-n", "currency")
        )
        if not counts:
            continue
        noun = "ARR change" if metrics.spec_get(key).shape in metrics.ARR_SHAPES else "deal"
        parts = [f"{n:,} {noun}{'s' if n != 1 else ''} in {code}" for code, n in counts]
        marks[key] = TrustMark(
            UNCONVERTED,
            "Missing exchange rate",
            f"{', '.join(parts)} {'have' if sum(n for _, n in counts) != 1 else 'has'} no "
            "exchange rate for their date and are left out of this number",
            url=reverse("pipeline:exchange-rate-list"),
        )
    return marks


# Strongest evidence first. Disputes go in front of the rest.
TRUST_SOURCES: list[TrustSource] = [currency_marks, reconciliation_marks]


def trust_marks_for_week(
    week: IsoWeek, keys: Iterable[str], sources: list[TrustSource] | None = None
) -> dict[str, TrustMark]:
    """The mark of every metric in `keys` that has one, the strongest source winning."""
    keys = frozenset(keys)
    marks: dict[str, TrustMark] = {}
    for source in reversed(sources if sources is not None else TRUST_SOURCES):
        for key, mark in source(week, keys).items():
            weaker = marks.get(key)
            if weaker is not None and weaker.state in (VARIANCE, EXPLAINED) and weaker.url:
                mark = replace(mark, also=weaker)  # the bridge stays one click away
            marks[key] = mark
    return marks
