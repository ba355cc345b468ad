"""Targets and RAG status: which target holds a metric in a given week, and what colour its
value earns against it. Pure functions over rows already read."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from revops.weeks import IsoWeek, company_tz, month_bounds, quarter_bounds
from scorecard.choices import Pacing, Rag, TargetPeriod

FOUR_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class TargetRow:
    metric_id: int
    starts_on: date
    period: str
    value: Decimal


def period_bounds(period: str, day: date) -> tuple[date, date]:
    """The target period (week, month or quarter) that contains `day`: [start, end)."""
    if period == TargetPeriod.QUARTER:
        return quarter_bounds(day)
    if period == TargetPeriod.MONTH:
        return month_bounds(day)
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=7)


class TargetBook:
    """Every metric's targets, so that the target of any week is a lookup, not a query.

    A week is held to the target in force on its Sunday. For an additive metric (a count or an
    amount) a monthly or quarterly target is spread evenly over its days, so a week of a
    91-day quarter gets 7/91 of the quarterly target; for any other metric (a rate, a median,
    a level such as ARR) the target is the level itself, whatever its period."""

    def __init__(self, rows: Iterable[TargetRow]) -> None:
        self._by_metric: dict[int, list[TargetRow]] = defaultdict(list)
        for row in sorted(rows, key=lambda r: (r.metric_id, r.starts_on)):
            self._by_metric[row.metric_id].append(row)
        self._starts = {m: [r.starts_on for r in rows] for m, rows in self._by_metric.items()}

    @classmethod
    def load(cls, slice_key: tuple[str, str] = ("", "")) -> TargetBook:
        """The company's targets, or with `slice_key` (a slice's `target_key`: a dimension
        and its value) the targets ops set for that slice (a team's quota)."""
        from scorecard.models import MetricTarget

        dimension, value = slice_key
        return cls(
            TargetRow(*values)
            for values in MetricTarget.objects.filter(
                dimension=dimension, dimension_value=value
            ).values_list("metric_id", "starts_on", "period", "value")
        )

    def row_on(self, metric_id: int, day: date) -> TargetRow | None:
        """The target in force on `day`: the latest one that started on or before it."""
        starts = self._starts.get(metric_id)
        if not starts:
            return None
        i = bisect.bisect_right(starts, day)
        return self._by_metric[metric_id][i - 1] if i else None

    def amount_for(self, metric_id: int, start: date, end: date, *, additive: bool):
        """The target for the days [start, end), judged by the target in force on the last of
        them; None when the metric has no target then."""
        row = self.row_on(metric_id, end - timedelta(days=1))
        if row is None:
            return None
        if not additive:
            return row.value
        period_start, period_end = period_bounds(row.period, end - timedelta(days=1))
        days = Decimal((end - start).days)
        return (row.value * days / Decimal((period_end - period_start).days)).quantize(FOUR_PLACES)

    def for_week(self, metric_id: int, week: IsoWeek, *, additive: bool) -> Decimal | None:
        return self.amount_for(
            metric_id, week.monday, week.monday + timedelta(days=7), additive=additive
        )


def rag_status(
    value: Decimal | None,
    target: Decimal | None,
    *,
    up_is_good: bool,
    green_pct: Decimal,
    red_pct: Decimal,
) -> str:
    """Green, amber or red for `value` against `target`, with thresholds in percent of target.

    Up is good: green at or above green_pct% of target, red below red_pct%, amber between.
    Down is good: green at or below green_pct%, red above red_pct%, amber between.
    No value or no target: no status."""
    if value is None or target is None:
        return Rag.NONE
    green_line = target * green_pct / 100
    red_line = target * red_pct / 100
    if up_is_good:
        if value >= green_line:
            return Rag.GREEN
        return Rag.RED if value < red_line else Rag.AMBER
    if value <= green_line:
        return Rag.GREEN
    return Rag.RED if value > red_line else Rag.AMBER


# --- The week in progress --------------------------------------------------------------------

# Before this share of the week has elapsed (one business day, or one calendar day), a week
# in progress is not judged at all: a few hours say nothing about a week.
PACE_MIN_SHARE = {Pacing.BUSINESS_DAYS: Decimal("0.2"), Pacing.CALENDAR_DAYS: Decimal(1) / 7}


def week_elapsed_share(week: IsoWeek, pacing: str, now: datetime) -> Decimal:
    """The share of `week` elapsed at `now`, 0 to 1: in business days (Monday to Friday, each
    counted by the hour) or in calendar days, with each day cut at company midnight."""
    tz = company_tz()
    days = 5 if pacing == Pacing.BUSINESS_DAYS else 7
    elapsed = Decimal(0)
    for offset in range(days):
        day = week.monday + timedelta(days=offset)
        start = datetime.combine(day, time.min, tzinfo=tz)
        end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
        if now >= end:
            elapsed += 1
        elif now > start:
            elapsed += Decimal((now - start).total_seconds()) / Decimal(
                (end - start).total_seconds()
            )
    return min(elapsed / days, Decimal(1))


@dataclass(frozen=True)
class Pace:
    """How a count or an amount of the week in progress stands: the share of the week elapsed,
    where the value is heading at this rate, and the status it earns against the target
    prorated to that share (none before PACE_MIN_SHARE: too early to say)."""

    share: Decimal
    projected: Decimal | None
    rag: str
    status: str


def pace_for(
    value: Decimal | None,
    target: Decimal | None,
    *,
    week: IsoWeek,
    pacing: str,
    now: datetime,
    up_is_good: bool,
    green_pct: Decimal,
    red_pct: Decimal,
) -> Pace:
    """The week in progress judged against its target prorated to the share elapsed."""
    if pacing == Pacing.COMPLETE:
        return Pace(Decimal(0), None, Rag.NONE, "Judged when the week ends")
    share = week_elapsed_share(week, pacing, now)
    if value is None or target is None:
        return Pace(share, None, Rag.NONE, "")
    if share < PACE_MIN_SHARE[Pacing(pacing)]:
        return Pace(share, None, Rag.NONE, "Too early to judge")
    projected = (value / share).quantize(FOUR_PLACES)
    rag = rag_status(
        value,
        (target * share).quantize(FOUR_PLACES),
        up_is_good=up_is_good,
        green_pct=green_pct,
        red_pct=red_pct,
    )
    return Pace(share, projected, rag, "")
