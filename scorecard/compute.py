"""Computing metric values for any ISO weeks from the golden records, set-based.

What each built-in metric counts is declared once, in the registry (pipeline/metrics.py); this
module derives the computation from those declarations. Every total and ratio of one object
type comes from one aggregate query (a branch per date column, a FILTER aggregate per measure,
one row per week); cohorts, medians, coverage and the ARR metrics read a few more queries that
return one row per week (or per week pair, or per account and week), never one row per lead or
deal. pandas and numpy then do the window arithmetic (trailing 13 weeks, the 52-week NRR
cohort) over those aggregated rows. A source runs once per computation however many metrics
read it, so 18 metrics over 104 weeks cost about ten queries.

Formula metrics are evaluated after the metrics they name, week by week; series metrics read
the values ops imported. Every week bound is Monday 00:00 in settings.TIME_ZONE.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
from django.db import connection, transaction

from pipeline import metrics
from pipeline.dimensions import COMPANY, Slice, dimensions_for
from revops.weeks import IsoWeek, quarter_bounds, week_params, week_sql
from scorecard.choices import FormulaOperator, MetricKind
from scorecard.targets import FOUR_PLACES, TargetBook

WEEK = timedelta(days=7)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Cell:
    """A metric's value for one week, with the parts of a ratio and why it may be empty."""

    value: Decimal | None
    numerator: Decimal | None = None
    denominator: Decimal | None = None
    note: str = ""


def _dec(x) -> Decimal:
    return Decimal(str(x)).quantize(FOUR_PLACES)


def _ratio(num, den, *, scale: Decimal = HUNDRED, empty: str) -> Cell:
    num, den = _dec(num), _dec(den)
    if den == 0:
        return Cell(None, num, den, empty)
    return Cell((num * scale / den).quantize(FOUR_PLACES), num, den)


# Amounts reach numpy as integers of 1/10,000 of the company currency: exact to the four
# decimal places a value keeps, and summable without floating point.
UNITS = 10_000


def _units(x) -> Decimal:
    return (Decimal(int(x)) / UNITS).quantize(FOUR_PLACES)


def _params() -> dict:
    return {**week_params(), **metrics.SQL_PARAMS}


def _range_sql(column: str) -> str:
    """SQL: `column` falls in the computation's span of weeks."""
    if column in metrics.DATE_COLUMNS:
        return f"{column} >= %(first_day)s AND {column} < %(end_day)s"
    return f"{column} >= %(start)s AND {column} < %(end)s"


def _week_of(column: str) -> str:
    return week_sql(column, is_date=column in metrics.DATE_COLUMNS)


def _conditions(records: metrics.Records) -> str:
    return " AND ".join(w.sql() for w in records.conditions)


def _aggregate(measure: metrics.Measure, column: str) -> str:
    """SQL: one measure's aggregate in the branch of `column`, NULL in the other branches."""
    if measure.records.date != column:
        return "NULL::numeric"
    where = _conditions(measure.records)
    if measure.is_count:
        return f"(count(*) FILTER (WHERE {where}))::numeric"
    return f"coalesce(sum({measure.sum}) FILTER (WHERE {where}), 0)"


# --- Sources: aggregate queries, one row per week ------------------------------------------------


def _frame(sql: str, params: dict, columns: list[str], index: str = "wk") -> pd.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    frame = pd.DataFrame(rows, columns=columns)
    if index:
        frame[index] = pd.to_datetime(frame[index])
    return frame


def _zeros(object_type: str, first: date, last: date) -> dict[metrics.Measure, list]:
    k = (last - first).days // 7 + 1
    return {m: [0 if m.is_count else Decimal(0)] * k for m in metrics.measures(object_type)}


def _weekly_totals(
    object_type: str, first: date, last: date, where: str, params: dict, group: str = ""
) -> dict[object, dict[metrics.Measure, list]]:
    """Every total and ratio measure over `object_type` per week of [first, last] for the
    records meeting `where`: one statement, a branch per date column, a FILTER aggregate per
    measure; per value of the SQL expression `group` when one is given (keyed None when
    not). Counts are ints, amounts Decimals in the company currency."""
    measures = metrics.measures(object_type)
    if not measures:
        return {}
    table = metrics.GOLDEN_TABLES[object_type]
    k = (last - first).days // 7 + 1
    g = f"{group}, " if group else "NULL, "
    branches = []
    for column in dict.fromkeys(m.records.date for m in measures):
        aggregates = [_aggregate(m, column) for m in measures]
        branches.append(
            f"SELECT {g}{_week_of(column)} AS wk, {', '.join(aggregates)} FROM {table} "
            f"WHERE {_range_sql(column)} AND {where} GROUP BY 1, 2"
        )
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(branches), params)
        rows = cursor.fetchall()
    out: dict[object, dict[metrics.Measure, list]] = {}
    for key, week, *values in rows:
        i = (week - first).days // 7
        if not 0 <= i < k:
            continue
        series = out.get(key)
        if series is None:
            series = out[key] = _zeros(object_type, first, last)
        for m, value in zip(measures, values, strict=True):
            if value is not None:
                series[m][i] += int(value) if m.is_count else value
    return out


class GroupedTotals:
    """The totals and ratios of every row of a breakdown by `dimension` (within the slice
    `within`) from one query per object type, grouped by the dimension's field and the week:
    each row (a slice ending with one filter of the dimension) sums the field values its filter
    stands for, rather than querying once a row. The other shapes (cohorts, medians, ARR) still
    query per row."""

    def __init__(self, dimension, within: Slice = COMPANY) -> None:
        self.dimension = dimension
        self.within = within
        self._cache: dict[tuple, dict] = {}

    def _group_sql(self, object_type: str) -> str:
        d, table = self.dimension, metrics.GOLDEN_TABLES[object_type]
        if object_type in d.carried_by:
            return d.key_sql(f"{table}.{d.base}")
        return (
            f"coalesce((SELECT {d.key_sql('sa.' + d.base)} FROM pipeline_account sa "
            f"WHERE sa.id = {table}.account_id), '')"
        )

    def row(self, src: Sources, object_type: str, first: date, last: date):
        key = (object_type, first, last)
        if key not in self._cache:
            where = self.within.sql(object_type)[0]
            self._cache[key] = _weekly_totals(
                object_type,
                first,
                last,
                where,
                src._bounds(first, last),
                group=self._group_sql(object_type),
            )
        by_value = self._cache[key]
        last_filter = src.slice.filters[-1]
        keys = set(last_filter.keys)
        out = _zeros(object_type, first, last)
        for value, series in by_value.items():
            if (value in keys) != last_filter.negate:
                for m, weekly in series.items():
                    out[m] = [a + b for a, b in zip(out[m], weekly, strict=True)]
        return out


class Sources:
    """The aggregate queries of one computation, each run at most once per range."""

    def __init__(
        self,
        targets: TargetBook,
        metric_ids: dict[str, int],
        reach: date | None = None,
        slice: Slice = COMPANY,
        grouped: GroupedTotals | None = None,
    ) -> None:
        self.targets = targets
        # The records every query reads are those of the slice (every record, for the
        # company): its condition is ANDed to each query's own.
        self.slice = slice
        # A breakdown's row: its totals are summed from the breakdown's one grouped query.
        self.grouped = grouped
        self.metric_ids = metric_ids  # metric key → id, for metrics that read another's target
        # The earliest week any total or ratio of this computation reads: the per-object
        # queries cover it once, and each metric takes its slice.
        self.reach = reach
        self._cache: dict[tuple, object] = {}

    def _cached(self, key: tuple, make: Callable[[], object]):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def _in_slice(self, object_type: str) -> str:
        return self.slice.sql(object_type)[0]

    def _bounds(self, first: date, last: date) -> dict:
        return {
            **_params(),
            **self.slice.sql_params(),
            "start": IsoWeek.of(first).start,
            "end": IsoWeek.of(last).end,
            "first_day": first,
            "end_day": last + WEEK,
        }

    def totals(self, object_type: str, first: date, last: date) -> dict[metrics.Measure, list]:
        """Every total and ratio measure the registry declares over `object_type`, per week of
        [first, last]: one statement, a branch per date column, a FILTER aggregate per
        measure. Counts are ints, amounts Decimals in the company currency. Computed once
        from `reach` (when earlier) and sliced, so metrics of different windows share it."""
        if self.reach is not None and self.reach < first:
            wide = self.totals(object_type, self.reach, last)
            skip = (first - self.reach).days // 7
            return {m: series[skip:] for m, series in wide.items()}
        if self.grouped is not None and self.grouped.dimension.applies_to(object_type):
            return self.grouped.row(self, object_type, first, last)

        def make():
            by_group = _weekly_totals(
                object_type, first, last, self._in_slice(object_type), self._bounds(first, last)
            )
            return by_group.get(None) or _zeros(object_type, first, last)

        return self._cached(("totals", object_type, first, last), make)

    def cohort(
        self, spec: metrics.MetricSpec, first: date, last: date
    ) -> tuple[np.ndarray, np.ndarray]:
        """(reached, entered) over the weeks of [first, last]: reached[i, j], the records that
        entered (by the measure's date) in week i and had their `reached` date by the end of
        week j (j ≥ i matters; a reached date before entering counts as reached), and
        entered[i], the records that entered in week i."""
        records = spec.measure.records

        def make():
            sql = (
                f"SELECT {_week_of(records.date)} AS mwk, {_week_of(spec.reached)} AS swk, "
                f"count(*) FROM {metrics.GOLDEN_TABLES[records.object_type]} "
                f"WHERE {_range_sql(records.date)} AND {_conditions(records)} "
                f"AND {self._in_slice(records.object_type)} GROUP BY 1, 2"
            )
            rows = _frame(sql, self._bounds(first, last), ["mwk", "swk", "n"], index="mwk")
            k = (last - first).days // 7 + 1
            base = pd.Timestamp(first)
            reached = np.zeros((k, k + 1), dtype="int64")  # last column: not (yet) reached
            if not rows.empty:
                i = ((rows["mwk"] - base).dt.days // 7).to_numpy(dtype="int64")
                weeks_in = (pd.to_datetime(rows["swk"]) - base).dt.days // 7
                # A reached week before the range is reached by every week of it; one after the
                # range, or none at all, by none (the last column).
                j = weeks_in.clip(0, k).fillna(k).to_numpy(dtype="int64")
                np.add.at(reached, (i, j), rows["n"].to_numpy(dtype="int64"))
            cumulative = np.cumsum(reached[:, :k], axis=1)
            entered = reached.sum(axis=1)
            return cumulative, entered

        return self._cached(("cohort", spec.key, first, last), make)

    def weekly_median(self, spec: metrics.MetricSpec, first: date, last: date) -> pd.DataFrame:
        """The median of the spec's per-record value over each week's records, and their
        number, in PostgreSQL (percentile_cont)."""
        records = spec.measure.records

        def make():
            sql = (
                f"SELECT {_week_of(records.date)} AS wk, percentile_cont(0.5) WITHIN GROUP "
                f"(ORDER BY {spec.median_of.sql.format(p='')}), count(*) "
                f"FROM {metrics.GOLDEN_TABLES[records.object_type]} "
                f"WHERE {_range_sql(records.date)} AND {_conditions(records)} "
                f"AND {self._in_slice(records.object_type)} GROUP BY 1"
            )
            return _frame(sql, self._bounds(first, last), ["wk", "median", "n"]).set_index("wk")

        return self._cached(("weekly_median", spec.key, first, last), make)

    def histogram(self, spec: metrics.MetricSpec, first: date, last: date) -> pd.DataFrame:
        """The records per (week, per-record value): small enough to take any trailing
        window's exact median from."""
        records = spec.measure.records

        def make():
            sql = (
                f"SELECT {_week_of(records.date)} AS wk, {spec.median_of.sql.format(p='')} AS v, "
                f"count(*) FROM {metrics.GOLDEN_TABLES[records.object_type]} "
                f"WHERE {_range_sql(records.date)} AND {_conditions(records)} "
                f"AND {self._in_slice(records.object_type)} GROUP BY 1, 2"
            )
            return _frame(sql, self._bounds(first, last), ["wk", "v", "n"])

        return self._cached(("histogram", spec.key, first, last), make)

    def coverage(self, spec: metrics.MetricSpec, first: date, last: date) -> pd.DataFrame:
        """Per week: the open pipeline of the spec's deals at the week's end closing in the
        quarter of its Sunday, and the part of it won in that quarter up to the week's end, in
        units (1/10,000 of the company currency).

        A deal is open at the end of week W when it was created by then (its created week
        c ≤ W) and had not closed (no close week k, or k > W). The query groups deals by
        quarter, c, k and outcome, so each week's sums are array masks over a few thousand
        aggregated rows rather than a join of every week with every deal."""
        m = spec.measure

        def make():
            q_first = quarter_bounds(first + timedelta(days=6))[0]
            q_end = quarter_bounds(last + timedelta(days=6))[1]
            sql = f"""
                SELECT date_trunc('quarter', close_date)::date AS q,
                    {week_sql("created_at")} AS c,
                    CASE WHEN {metrics.CLOSED.sql()} THEN {_week_of("close_date")} END AS k,
                    {metrics.WON.sql()}, (sum({m.sum}) * {UNITS})::bigint
                FROM pipeline_deal
                WHERE {_conditions(m.records)} AND {m.sum} IS NOT NULL
                  AND close_date >= %(q_first)s AND close_date < %(q_end)s
                  AND {self._in_slice(m.records.object_type)}
                GROUP BY 1, 2, 3, 4
            """
            params = {**self._bounds(first, last), "q_first": q_first, "q_end": q_end}
            rows = _frame(sql, params, ["q", "c", "k", "won", "units"], index="")
            q = pd.to_datetime(rows["q"]).to_numpy()
            c = pd.to_datetime(rows["c"]).to_numpy()
            k = pd.to_datetime(rows["k"]).to_numpy()
            won = rows["won"].to_numpy(dtype=bool)
            units = rows["units"].to_numpy(dtype="int64")
            still_open = np.isnat(k)
            weeks = pd.date_range(first, last, freq="7D")
            out = pd.DataFrame(0, index=weeks, columns=["open", "booked"], dtype="int64")
            for week in weeks:
                in_quarter = q == np.datetime64(quarter_bounds(week.date() + timedelta(days=6))[0])
                w = week.to_datetime64()
                is_open = in_quarter & (c <= w) & (still_open | (k > w))
                out.at[week, "open"] = units[is_open].sum()
                out.at[week, "booked"] = units[in_quarter & won & ~still_open & (k <= w)].sum()
            return out

        return self._cached(("coverage", spec.key, first, last), make)

    def arr_matrix(self, first: date, last: date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """ARR in units (1/10,000 of the company currency) of every account that ever had an
        ARR change, at the end of each week of [first, last] (accounts × weeks), the account
        ids, and the accounts lost (a churn change) per week. A change with no exchange rate
        for its date has no converted amount and is left out; so is one deleted in the source,
        or whose account is."""

        def make():
            amount = metrics.ARR_AMOUNT
            sql = f"""
                SELECT account_id, {week_sql("effective_date", is_date=True)} AS wk,
                    (CASE WHEN {metrics.ARR_REDUCING.sql()} THEN -{amount} ELSE {amount} END
                        * {UNITS})::bigint,
                    {metrics.CHURN.sql()}
                FROM pipeline_arrchange
                WHERE effective_date < %(end_day)s AND {amount} IS NOT NULL
                  AND {metrics.LIVE.sql()} AND NOT EXISTS (
                      SELECT 1 FROM pipeline_account a
                      WHERE a.id = account_id AND a.deleted_at IS NOT NULL)
                  AND {self._in_slice(ARR)}
            """
            rows = _frame(sql, self._bounds(first, last), ["account", "wk", "delta", "churn"])
            index = pd.date_range(first, last, freq="7D")
            if rows.empty:
                empty = np.zeros((0, len(index)), dtype="int64")
                return empty, np.zeros(0, dtype="int64"), np.zeros(len(index), dtype="int64")
            accounts, acc_idx = np.unique(rows["account"].to_numpy(), return_inverse=True)
            # Changes before the range fold into its first column, so the cumulative sum along
            # the weeks is each account's ARR at the end of each week.
            col = ((rows["wk"] - pd.Timestamp(first)).dt.days // 7).clip(lower=0).to_numpy()
            deltas = np.zeros((len(accounts), len(index)), dtype="int64")
            np.add.at(deltas, (acc_idx, col), rows["delta"].to_numpy(dtype="int64"))
            arr = np.maximum(np.cumsum(deltas, axis=1), 0)
            churned = rows[rows["churn"] & (rows["wk"] >= pd.Timestamp(first))]
            lost = (
                churned.drop_duplicates(["account", "wk"])
                .groupby("wk")
                .size()
                .reindex(index, fill_value=0)
                .to_numpy()
            )
            return arr, accounts, lost

        return self._cached(("arr", first, last), make)

    def healthy(self, accounts: np.ndarray) -> np.ndarray:
        """Which of `accounts` the customer-success system rates in good health now."""

        def make():
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT id FROM pipeline_account "
                    f"WHERE {metrics.GOOD_HEALTH.sql()} AND {metrics.LIVE.sql()} "
                    "AND id = ANY(%(ids)s)",
                    {**_params(), "ids": accounts.tolist()},
                )
                good = np.array([row[0] for row in cursor.fetchall()], dtype=accounts.dtype)
            return np.isin(accounts, good)

        # Keyed by the accounts themselves: two different sets of one size are two answers.
        return self._cached(("healthy", accounts.dtype.str, accounts.tobytes()), make)


# --- Built-in metrics: one calculator per shape of declaration ---------------------------------


@dataclass(frozen=True)
class Builtin:
    """A metric computed from the golden records: its declaration, and how it turns the
    sources into one Cell per requested week."""

    spec: metrics.MetricSpec
    compute: Callable[[Sources, list[date], int | None], dict[date, Cell]]

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def window(self) -> int | None:
        return self.spec.window


def _span(weeks: list[date], lookback: int = 0) -> tuple[date, date]:
    return weeks[0] - lookback * WEEK, weeks[-1]


def _as_value(measure: metrics.Measure, x) -> Decimal:
    return Decimal(int(x)) if measure.is_count else _dec(x)


def _total(spec: metrics.MetricSpec):
    m = spec.measure

    def compute(src: Sources, weeks: list[date], window: int | None) -> dict[date, Cell]:
        first, last = _span(weeks)
        series = src.totals(m.records.object_type, first, last)[m]
        return {w: Cell(_as_value(m, series[(w - first).days // 7])) for w in weeks}

    return compute


def _rolling(series: list, n: int) -> list:
    """Trailing sums of `n` entries (fewer at the start), exactly (ints or Decimals)."""
    out, running = [], 0
    for i, x in enumerate(series):
        running += x
        if i >= n:
            running -= series[i - n]
        out.append(running)
    return out


def _empty(spec: metrics.MetricSpec, n: int) -> str:
    """Why a week has no value: the declaration's words, else generated from its records."""
    if spec.empty:
        return spec.empty.format(n=n)
    records = (spec.denominator or spec.measure).records.words()
    return f"No {records} {'this week' if n == 1 else f'in the {n} weeks'}"


def _ratio_of(spec: metrics.MetricSpec):
    num_m, den_m = spec.numerator, spec.denominator

    def compute(src: Sources, weeks: list[date], window: int | None) -> dict[date, Cell]:
        n = window or spec.window or 1
        first, last = _span(weeks, n - 1)
        num = _rolling(src.totals(num_m.records.object_type, first, last)[num_m], n)
        den = _rolling(src.totals(den_m.records.object_type, first, last)[den_m], n)
        out = {}
        for w in weeks:
            i = (w - first).days // 7
            cell = _ratio(num[i], den[i], scale=spec.scale, empty=_empty(spec, n))
            if spec.unit == "currency" and cell.value is not None:
                cell = Cell(cell.value.quantize(CENT), cell.numerator, cell.denominator)
            out[w] = cell
        return out

    return compute


def _cohort(spec: metrics.MetricSpec):
    def compute(src: Sources, weeks: list[date], window: int | None) -> dict[date, Cell]:
        n = window or spec.window or 1
        first, last = _span(weeks, n - 1)
        cumulative, entered = src.cohort(spec, first, last)
        out = {}
        for w in weeks:
            j = (w - first).days // 7
            rows = slice(j - n + 1, j + 1)
            out[w] = _ratio(
                cumulative[rows, j].sum(),
                entered[rows].sum(),
                scale=spec.scale,
                empty=_empty(spec, n),
            )
        return out

    return compute


def weighted_median(values: np.ndarray, counts: np.ndarray) -> float:
    """PostgreSQL's percentile_cont(0.5) over `values` each repeated `counts` times: the middle
    value, or the mean of the two middle ones."""
    order = np.argsort(values, kind="stable")
    values, counts = values[order], counts[order]
    ends = np.cumsum(counts)  # rank (exclusive) where each value's run ends
    position = (ends[-1] - 1) / 2
    low = values[np.searchsorted(ends, np.floor(position), side="right")]
    high = values[np.searchsorted(ends, np.ceil(position), side="right")]
    return float(low + (high - low) * (position - np.floor(position)))


def _median(spec: metrics.MetricSpec):

    def compute(src: Sources, weeks: list[date], window: int | None) -> dict[date, Cell]:
        n = window or spec.window or 1
        out = {}
        if n == 1:
            # One week at a time: PostgreSQL's percentile_cont over the week's records.
            frame = src.weekly_median(spec, *_span(weeks))
            for w in weeks:
                key = pd.Timestamp(w)
                if key in frame.index:
                    value, count = frame.at[key, "median"], frame.at[key, "n"]
                    out[w] = Cell(_dec(value), denominator=_dec(count))
                else:
                    out[w] = Cell(None, note=_empty(spec, 1))
            return out
        frame = src.histogram(spec, *_span(weeks, n - 1))
        week_of = frame["wk"].to_numpy()
        values = frame["v"].to_numpy(dtype="float64")
        counts = frame["n"].to_numpy(dtype="int64")
        for w in weeks:
            in_window = (week_of >= np.datetime64(w - (n - 1) * WEEK)) & (
                week_of <= np.datetime64(w)
            )
            if not in_window.any():
                out[w] = Cell(None, note=_empty(spec, n))
                continue
            median = weighted_median(values[in_window], counts[in_window])
            out[w] = Cell(_dec(median), denominator=Decimal(int(counts[in_window].sum())))
        return out

    return compute


def _coverage(spec: metrics.MetricSpec):
    def compute(src: Sources, weeks: list[date], window: int | None) -> dict[date, Cell]:
        frame = src.coverage(spec, *_span(weeks))
        bookings_id = src.metric_ids.get("new_bookings")
        out = {}
        for w in weeks:
            q_start, q_end = quarter_bounds(w + timedelta(days=6))
            target = (
                src.targets.amount_for(bookings_id, q_start, q_end, additive=True)
                if bookings_id
                else None
            )
            key = pd.Timestamp(w)
            open_ = _units(frame.at[key, "open"])
            if target is None:
                out[w] = Cell(None, open_, None, "No quarterly new-bookings target")
                continue
            remaining = (target - _units(frame.at[key, "booked"])).quantize(FOUR_PLACES)
            if remaining <= 0:
                out[w] = Cell(None, open_, remaining, "Quarter's new-bookings target already met")
            else:
                out[w] = Cell((open_ / remaining).quantize(FOUR_PLACES), open_, remaining)
        return out

    return compute


# The ARR metrics share one account × week matrix that reaches back far enough for the longest
# retention window a definition may have (104 weeks), so it is built once per computation.
ARR_LOOKBACK = 104


def _arr_view(src: Sources, weeks: list[date]):
    """(arr, accounts, lost, offset): the ARR matrix and the column of weeks[0] in it."""
    first, last = _span(weeks, ARR_LOOKBACK)
    arr, accounts, lost = src.arr_matrix(first, last)
    return arr, accounts, lost, ARR_LOOKBACK


def _arr(spec: metrics.MetricSpec):
    def compute(src: Sources, weeks: list[date], window: int | None) -> dict[date, Cell]:
        arr, _, _, offset = _arr_view(src, weeks)
        totals = arr.sum(axis=0)
        return {w: Cell(_units(totals[offset + i])) for i, w in enumerate(weeks)}

    return compute


def _retention(spec: metrics.MetricSpec):
    net = spec.shape == metrics.RETENTION_NET

    def compute(src: Sources, weeks: list[date], window: int | None) -> dict[date, Cell]:
        n = window or spec.window or 52
        arr, _, _, offset = _arr_view(src, weeks)
        out = {}
        for i, w in enumerate(weeks):
            start, end = arr[:, offset + i - n], arr[:, offset + i]
            cohort = start > 0
            kept = end[cohort] if net else np.minimum(end[cohort], start[cohort])
            if not cohort.any():
                out[w] = Cell(None, None, Decimal(0), "No customers at the window's start")
                continue
            out[w] = Cell(
                (Decimal(int(kept.sum())) * HUNDRED / Decimal(int(start[cohort].sum()))).quantize(
                    FOUR_PLACES
                ),
                _units(kept.sum()),
                _units(start[cohort].sum()),
            )
        return out

    return compute


def _logos_lost(spec: metrics.MetricSpec):
    def compute(src: Sources, weeks: list[date], window: int | None) -> dict[date, Cell]:
        _, _, lost, offset = _arr_view(src, weeks)
        return {w: Cell(Decimal(int(lost[offset + i]))) for i, w in enumerate(weeks)}

    return compute


def _healthy_share(spec: metrics.MetricSpec):
    def compute(src: Sources, weeks: list[date], window: int | None) -> dict[date, Cell]:
        arr, accounts, _, offset = _arr_view(src, weeks)
        good = src.healthy(accounts)
        out = {}
        for i, w in enumerate(weeks):
            customers = arr[:, offset + i] > 0
            out[w] = _ratio(
                (customers & good).sum(), customers.sum(), empty="No customers at the week's end"
            )
        return out

    return compute


_CALCULATORS = {
    metrics.TOTAL: _total,
    metrics.RATIO: _ratio_of,
    metrics.COHORT: _cohort,
    metrics.MEDIAN: _median,
    metrics.COVERAGE: _coverage,
    metrics.ARR_TOTAL: _arr,
    metrics.RETENTION_NET: _retention,
    metrics.RETENTION_GROSS: _retention,
    metrics.LOGOS_LOST: _logos_lost,
    metrics.HEALTHY_SHARE: _healthy_share,
}

BUILTINS: dict[str, Builtin] = {
    spec.key: Builtin(spec, _CALCULATORS[spec.shape](spec)) for spec in metrics.SPECS
}


# --- The engine ---------------------------------------------------------------------------------


def _evaluate(op: str, a: Decimal | None, b: Decimal | None, factor: Decimal) -> Cell:
    if a is None or b is None:
        return Cell(None, a, b, "An operand has no value this week")
    if op == FormulaOperator.RATIO:
        if b == 0:
            return Cell(None, a, b, "The divisor is 0 this week")
        return Cell((a / b * factor).quantize(FOUR_PLACES), a, b)
    result = a + b if op == FormulaOperator.SUM else a - b
    return Cell((result * factor).quantize(FOUR_PLACES), a, b)


# --- Weeks before the data ----------------------------------------------------------------------

ARR = "arr"


def reads_object(spec: metrics.MetricSpec) -> str | None:
    """The records a built-in metric reads: an object type, or ARR for the ARR metrics."""
    if spec.shape in metrics.ARR_SHAPES:
        return ARR
    measure = spec.measure or spec.numerator or spec.denominator
    return measure.records.object_type if measure else None


def metric_dimensions(definition) -> list:
    """The dimensions a metric is sliced by, from the object type its current `definition`
    reads (none for a formula or an imported series)."""
    if definition is None or definition.metric.kind != MetricKind.BUILTIN:
        return []
    builtin = BUILTINS.get(definition.builtin)
    return dimensions_for(reads_object(builtin.spec)) if builtin else []


def _data_starts() -> dict[str, date]:
    """The first day of data of each kind of record (the oldest lead and deal by creation,
    the oldest ARR change by effective date), in company time; one round trip over indexes."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT (SELECT min(created_at) FROM pipeline_lead),
                      (SELECT min(created_at) FROM pipeline_deal),
                      (SELECT min(effective_date) FROM pipeline_arrchange)"""
        )
        lead, deal, arr = cursor.fetchone()
    from django.utils import timezone

    starts = {"lead": lead, "deal": deal}
    found = {k: timezone.localtime(v).date() for k, v in starts.items() if v is not None}
    if arr is not None:
        found[ARR] = arr
    return found


def _before_data(cells: dict[date, Cell], start: date | None) -> dict[date, Cell]:
    """A week that ended before the first record of what the metric reads has no data, not a
    zero, so no target judges it. With no such record at all the values stand as computed."""
    if start is None:
        return cells
    first = IsoWeek.of(start)
    note = f"No data: the records start in {first.label}"
    return {
        monday: (Cell(None, note=note) if monday < first.monday else cell)
        for monday, cell in cells.items()
    }


def metric_values_compute(
    *,
    weeks: Iterable[IsoWeek],
    definitions: Sequence,
    catalog: dict[int, object] | None = None,
    targets: TargetBook | None = None,
    slice: Slice = COMPANY,
    grouped: GroupedTotals | None = None,
) -> dict[int, dict[IsoWeek, Cell]]:
    """The value of every metric of `definitions` (MetricDefinition rows, with `metric`
    selected) for every week of `weeks`, keyed by metric id then week.

    A formula's operands are computed with their own current definitions, taken from
    `catalog` (metric id → current MetricDefinition; read from the database when omitted).
    Weeks need not be contiguous; the queries cover the span from the first to the last.

    With a `slice`, every value is the slice's (its records only; `targets` should be the
    slice's); a metric the slice does not apply to (a lead metric by product, an imported
    series) has no value, and says so."""
    requested = sorted(set(weeks))
    if not requested:
        return {}
    with transaction.atomic():
        with connection.cursor() as cursor:
            # These aggregates run in milliseconds; JIT-compiling them costs 50–150 ms each.
            cursor.execute("SET LOCAL jit = off")
        return _compute(requested, definitions, catalog, targets, slice, grouped)


def _not_sliced(slice: Slice, span: list[date]) -> dict[date, Cell]:
    names = " or ".join(f.dimension.label.lower() for f in slice.filters)
    return {w: Cell(None, note=f"Not sliced by {names}") for w in span}


def _compute(
    requested, definitions, catalog, targets, slice, grouped
) -> dict[int, dict[IsoWeek, Cell]]:
    from scorecard.models import SeriesValue
    from scorecard.selectors import definition_current_map

    mondays = [w.monday for w in requested]
    span = [mondays[0] + i * WEEK for i in range((mondays[-1] - mondays[0]).days // 7 + 1)]
    by_monday = {w.monday: w for w in requested}

    # Formulas need their operands, and their operands' operands.
    needed = {d.metric_id: d for d in definitions}
    pending = [d for d in needed.values() if d.is_formula]
    while pending:
        definition = pending.pop()
        for operand_id in (definition.left_id, definition.right_id):
            if operand_id not in needed:
                catalog = catalog if catalog is not None else definition_current_map()
                operand = catalog[operand_id]
                needed[operand_id] = operand
                if operand.is_formula:
                    pending.append(operand)

    targets = targets if targets is not None else TargetBook.load()
    windows = [
        d.window_weeks or BUILTINS[d.builtin].window or 1
        for d in needed.values()
        if d.metric.kind == MetricKind.BUILTIN
        and BUILTINS[d.builtin].spec.shape in (metrics.TOTAL, metrics.RATIO)
    ]
    reach = span[0] - (max(windows, default=1) - 1) * WEEK
    sources = Sources(
        targets, {d.metric.key: d.metric_id for d in needed.values()}, reach, slice, grouped
    )
    if "new_bookings" not in sources.metric_ids:
        from scorecard.models import Metric

        sources.metric_ids.update(
            Metric.objects.filter(key="new_bookings").values_list("key", "id")
        )

    values: dict[int, dict[date, Cell]] = {}
    series_ids = []
    starts = (
        _data_starts() if any(d.metric.kind == MetricKind.BUILTIN for d in needed.values()) else {}
    )
    for metric_id, definition in needed.items():
        kind = definition.metric.kind
        if kind == MetricKind.BUILTIN:
            builtin = BUILTINS[definition.builtin]
            if not slice.applies_to(reads_object(builtin.spec)):
                values[metric_id] = _not_sliced(slice, span)
                continue
            cells = builtin.compute(sources, span, definition.window_weeks)
            values[metric_id] = _before_data(cells, starts.get(reads_object(builtin.spec)))
        elif kind == MetricKind.SERIES:
            if slice:
                values[metric_id] = _not_sliced(slice, span)
            else:
                series_ids.append(metric_id)

    if series_ids:
        imported = SeriesValue.objects.filter(
            metric_id__in=series_ids, week_start__gte=span[0], week_start__lte=span[-1]
        ).values_list("metric_id", "week_start", "value")
        found: dict[int, dict[date, Decimal]] = {m: {} for m in series_ids}
        for metric_id, monday, value in imported:
            found[metric_id][monday] = value
        for metric_id in series_ids:
            values[metric_id] = {
                w: Cell(found[metric_id][w])
                if w in found[metric_id]
                else Cell(None, note="No value imported for this week")
                for w in span
            }

    # Formulas in dependency order: a formula waits until both operands have values.
    formulas = [d for d in needed.values() if d.is_formula]
    while formulas:
        ready = [d for d in formulas if d.left_id in values and d.right_id in values]
        if not ready:
            raise ValueError("formula metrics refer to each other in a cycle")
        for d in ready:
            left, right = values[d.left_id], values[d.right_id]
            values[d.metric_id] = {
                w: _evaluate(d.operator, left[w].value, right[w].value, d.factor) for w in span
            }
            formulas.remove(d)

    wanted = {d.metric_id for d in definitions}
    return {
        metric_id: {by_monday[m]: cell for m, cell in cells.items() if m in by_monday}
        for metric_id, cells in values.items()
        if metric_id in wanted
    }
