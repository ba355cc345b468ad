"""Computing metric values for any ISO weeks from the golden records, set-based.

Each built-in metric reads one or more *sources*: a handful of aggregate queries that return
one row per week (or per week pair, or per account and week), never one row per lead or deal.
pandas and numpy then do the window arithmetic (trailing 13 weeks, the 52-week NRR cohort)
over those aggregated rows. A source runs once per computation however many metrics read it,
so 18 metrics over 104 weeks cost about a dozen queries.

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

from pipeline.choices import NEGATIVE_ARR_KINDS, AccountHealth, ArrChangeKind, DealSource, DealType
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


def _cents(x) -> Decimal:
    return (Decimal(int(x)) * CENT).quantize(FOUR_PLACES)


# --- Sources: aggregate queries, one row per week ------------------------------------------------


# The choice values the queries compare with, passed as parameters: the SQL names the choice,
# and a renamed value changes the query with it instead of silently counting nothing.
CHOICE_PARAMS = {
    "new_business": DealType.NEW,
    "expansion": DealType.EXPANSION,
    "marketing_sourced": DealSource.MARKETING,
    "arr_reducing": list(NEGATIVE_ARR_KINDS),
    "churn": ArrChangeKind.CHURN,
    "good_health": AccountHealth.GOOD,
}


def _frame(sql: str, params: dict, columns: list[str], index: str = "wk") -> pd.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    frame = pd.DataFrame(rows, columns=columns)
    if index:
        frame[index] = pd.to_datetime(frame[index])
    return frame


class Sources:
    """The aggregate queries of one computation, each run at most once per range."""

    def __init__(self, targets: TargetBook, metric_ids: dict[str, int]) -> None:
        self.targets = targets
        self.metric_ids = metric_ids  # metric key → id, for metrics that read another's target
        self._cache: dict[tuple, object] = {}

    def _cached(self, key: tuple, make: Callable[[], object]):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def _bounds(self, first: date, last: date) -> dict:
        return {
            **week_params(),
            **CHOICE_PARAMS,
            "start": IsoWeek.of(first).start,
            "end": IsoWeek.of(last).end,
            "first": first,
            "last": last,
            "first_day": first,
            "end_day": last + WEEK,
        }

    @staticmethod
    def _dense(frame: pd.DataFrame, first: date, last: date, columns: list[str]) -> pd.DataFrame:
        index = pd.date_range(first, last, freq="7D")
        if frame.empty:
            return pd.DataFrame(0, index=index, columns=columns, dtype="int64")
        dense = frame.groupby("wk")[columns].sum().reindex(index, fill_value=0)
        return dense.astype("int64")

    def lead_counts(self, first: date, last: date) -> pd.DataFrame:
        """Leads created, became MQL and became SQL, per week."""

        dates = {"created": "created_at", "mql": "mql_at", "sql": "sql_at"}

        def make():
            sql = " UNION ALL ".join(
                f"SELECT '{col}', {week_sql(col)}, count(*) FROM pipeline_lead "
                f"WHERE {col} >= %(start)s AND {col} < %(end)s GROUP BY 2"
                for col in dates.values()
            )
            rows = _frame(sql, self._bounds(first, last), ["what", "wk", "n"])
            for column, col in dates.items():
                rows[column] = rows["n"].where(rows["what"] == col, 0)
            return self._dense(rows, first, last, ["created", "mql", "sql"])

        return self._cached(("lead_counts", first, last), make)

    def mql_cohort(self, first: date, last: date) -> tuple[np.ndarray, np.ndarray]:
        """(reached, mqls) over the weeks of [first, last]: reached[i, j], the leads that became
        MQL in week i and became SQL by the end of week j (j ≥ i matters; an SQL date before
        the MQL date counts as reached), and mqls[i], the leads that became MQL in week i."""

        def make():
            sql = (
                f"SELECT {week_sql('mql_at')} AS mwk, {week_sql('sql_at')} AS swk, count(*) "
                "FROM pipeline_lead WHERE mql_at >= %(start)s AND mql_at < %(end)s GROUP BY 1, 2"
            )
            rows = _frame(sql, self._bounds(first, last), ["mwk", "swk", "n"], index="mwk")
            k = (last - first).days // 7 + 1
            base = pd.Timestamp(first)
            reached = np.zeros((k, k + 1), dtype="int64")  # last column: not (yet) SQL
            if not rows.empty:
                i = ((rows["mwk"] - base).dt.days // 7).to_numpy(dtype="int64")
                weeks_in = (pd.to_datetime(rows["swk"]) - base).dt.days // 7
                # An SQL week before the range is reached by every week of it; one after the
                # range, or none at all, by none (the last column).
                j = weeks_in.clip(0, k).fillna(k).to_numpy(dtype="int64")
                np.add.at(reached, (i, j), rows["n"].to_numpy(dtype="int64"))
            cumulative = np.cumsum(reached[:, :k], axis=1)
            mqls = reached.sum(axis=1)
            return cumulative, mqls

        return self._cached(("mql_cohort", first, last), make)

    def touch_median(self, first: date, last: date) -> pd.DataFrame:
        """Median hours from MQL to first sales touch, over MQLs first touched in each week."""

        def make():
            sql = (
                f"SELECT {week_sql('first_touch_at')} AS wk, "
                "percentile_cont(0.5) WITHIN GROUP (ORDER BY "
                "greatest(extract(epoch FROM first_touch_at - mql_at), 0) / 3600.0), count(*) "
                "FROM pipeline_lead WHERE mql_at IS NOT NULL "
                "AND first_touch_at >= %(start)s AND first_touch_at < %(end)s GROUP BY 1"
            )
            rows = _frame(sql, self._bounds(first, last), ["wk", "median", "n"])
            return rows.set_index("wk")

        return self._cached(("touch_median", first, last), make)

    def deal_weeks(self, first: date, last: date) -> pd.DataFrame:
        """Per week: pipeline created (new business and expansion; marketing-sourced of any
        type), in cents; and by close week, deals won, new-business deals closed and won, and
        new bookings in cents."""

        def make():
            sql = f"""
                SELECT {week_sql("created_at")} AS wk,
                    coalesce(sum(amount * 100) FILTER (
                        WHERE deal_type IN (%(new_business)s, %(expansion)s)), 0)::bigint,
                    coalesce(sum(amount * 100) FILTER (WHERE source = %(marketing_sourced)s),
                             0)::bigint,
                    0, 0, 0, 0::bigint
                FROM pipeline_deal WHERE created_at >= %(start)s AND created_at < %(end)s
                GROUP BY 1
                UNION ALL
                SELECT {week_sql("close_date", is_date=True)} AS wk, 0, 0,
                    count(*) FILTER (WHERE is_won),
                    count(*) FILTER (WHERE deal_type = %(new_business)s),
                    count(*) FILTER (WHERE is_won AND deal_type = %(new_business)s),
                    coalesce(sum(amount * 100) FILTER (
                        WHERE is_won AND deal_type = %(new_business)s), 0)::bigint
                FROM pipeline_deal
                WHERE is_closed AND close_date >= %(first_day)s AND close_date < %(end_day)s
                GROUP BY 1
            """
            columns = ["pipeline", "pipeline_mkt", "won", "closed_new", "won_new", "bookings"]
            rows = _frame(sql, self._bounds(first, last), ["wk", *columns])
            return self._dense(rows, first, last, columns)

        return self._cached(("deal_weeks", first, last), make)

    def cycle_days(self, first: date, last: date) -> pd.DataFrame:
        """New-business deals won per (close week, days from created to close): a histogram
        small enough to take any trailing window's exact median from."""

        def make():
            sql = f"""
                SELECT {week_sql("close_date", is_date=True)} AS wk,
                    close_date - (created_at AT TIME ZONE %(tz)s)::date AS days, count(*)
                FROM pipeline_deal
                WHERE is_won AND deal_type = %(new_business)s
                  AND close_date >= %(first_day)s AND close_date < %(end_day)s
                GROUP BY 1, 2
            """
            return _frame(sql, self._bounds(first, last), ["wk", "days", "n"])

        return self._cached(("cycle_days", first, last), make)

    def coverage(self, first: date, last: date) -> pd.DataFrame:
        """Per week: open new-business pipeline at the week's end closing in the quarter of its
        Sunday, and new business booked in that quarter up to the week's end, in cents.

        A deal is open at the end of week W when it was created by then (its created week
        c ≤ W) and had not closed (no close week k, or k > W). The query groups deals by
        quarter, c, k and outcome, so each week's sums are array masks over a few thousand
        aggregated rows rather than a join of every week with every deal."""

        def make():
            q_first = quarter_bounds(first + timedelta(days=6))[0]
            q_end = quarter_bounds(last + timedelta(days=6))[1]
            sql = f"""
                SELECT date_trunc('quarter', close_date)::date AS q,
                    {week_sql("created_at")} AS c,
                    CASE WHEN is_closed THEN {week_sql("close_date", is_date=True)} END AS k,
                    is_won, sum(amount * 100)::bigint
                FROM pipeline_deal
                WHERE deal_type = %(new_business)s
                  AND close_date >= %(q_first)s AND close_date < %(q_end)s
                GROUP BY 1, 2, 3, 4
            """
            params = {**self._bounds(first, last), "q_first": q_first, "q_end": q_end}
            rows = _frame(sql, params, ["q", "c", "k", "won", "cents"], index="")
            q = pd.to_datetime(rows["q"]).to_numpy()
            c = pd.to_datetime(rows["c"]).to_numpy()
            k = pd.to_datetime(rows["k"]).to_numpy()
            won = rows["won"].to_numpy(dtype=bool)
            cents = rows["cents"].to_numpy(dtype="int64")
            still_open = np.isnat(k)
            weeks = pd.date_range(first, last, freq="7D")
            out = pd.DataFrame(0, index=weeks, columns=["open", "booked"], dtype="int64")
            for week in weeks:
                in_quarter = q == np.datetime64(quarter_bounds(week.date() + timedelta(days=6))[0])
                w = week.to_datetime64()
                is_open = in_quarter & (c <= w) & (still_open | (k > w))
                out.at[week, "open"] = cents[is_open].sum()
                out.at[week, "booked"] = cents[in_quarter & won & ~still_open & (k <= w)].sum()
            return out

        return self._cached(("coverage", first, last), make)

    def arr_matrix(self, first: date, last: date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """ARR in cents of every account that ever had an ARR change, at the end of each week
        of [first, last] (accounts × weeks), the account ids, and the accounts lost (a churn
        change) per week."""

        def make():
            sql = f"""
                SELECT account_id, {week_sql("effective_date", is_date=True)} AS wk,
                    (CASE WHEN kind = ANY(%(arr_reducing)s) THEN -amount ELSE amount END
                        * 100)::bigint,
                    kind = %(churn)s
                FROM pipeline_arrchange WHERE effective_date < %(end_day)s
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
                    "SELECT id FROM pipeline_account "
                    "WHERE health = %(good_health)s AND id = ANY(%(ids)s)",
                    {**CHOICE_PARAMS, "ids": accounts.tolist()},
                )
                good = np.array([row[0] for row in cursor.fetchall()], dtype=accounts.dtype)
            return np.isin(accounts, good)

        # Keyed by the accounts themselves: two different sets of one size are two answers.
        return self._cached(("healthy", accounts.dtype.str, accounts.tobytes()), make)


# --- Built-in metrics ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Builtin:
    """A metric computed from the golden records: how far back it reads and how it turns the
    sources into one Cell per requested week."""

    key: str
    compute: Callable[[Sources, list[date], int | None], dict[date, Cell]]
    window: int | None = None  # default trailing window in weeks, for rates over a window


def _span(weeks: list[date], lookback: int = 0) -> tuple[date, date]:
    return weeks[0] - lookback * WEEK, weeks[-1]


def _count(column: str, source: str = "lead_counts"):
    def compute(src: Sources, weeks: list[date], window: int | None) -> dict[date, Cell]:
        frame = getattr(src, source)(*_span(weeks))
        return {w: Cell(Decimal(int(frame.at[pd.Timestamp(w), column]))) for w in weeks}

    return compute


def _amount(column: str):
    def compute(src: Sources, weeks: list[date], window: int | None) -> dict[date, Cell]:
        frame = src.deal_weeks(*_span(weeks))
        return {w: Cell(_cents(frame.at[pd.Timestamp(w), column])) for w in weeks}

    return compute


def _mql_to_sql(src: Sources, weeks: list[date], window: int | None) -> dict[date, Cell]:
    n = window or 13
    first, last = _span(weeks, n - 1)
    cumulative, mqls = src.mql_cohort(first, last)
    out = {}
    for w in weeks:
        j = (w - first).days // 7
        rows = slice(j - n + 1, j + 1)
        out[w] = _ratio(
            cumulative[rows, j].sum(), mqls[rows].sum(), empty=f"No MQLs in the {n} weeks"
        )
    return out


def _speed_to_lead(src: Sources, weeks: list[date], window: int | None) -> dict[date, Cell]:
    frame = src.touch_median(*_span(weeks))
    out = {}
    for w in weeks:
        key = pd.Timestamp(w)
        if key in frame.index:
            out[w] = Cell(_dec(frame.at[key, "median"]), denominator=_dec(frame.at[key, "n"]))
        else:
            out[w] = Cell(None, note="No MQL had a first sales touch this week")
    return out


def _rolling(frame: pd.DataFrame, column: str, n: int) -> pd.Series:
    return frame[column].rolling(n, min_periods=1).sum()


def _win_rate(src: Sources, weeks: list[date], window: int | None) -> dict[date, Cell]:
    n = window or 13
    frame = src.deal_weeks(*_span(weeks, n - 1))
    won, closed = _rolling(frame, "won_new", n), _rolling(frame, "closed_new", n)
    return {
        w: _ratio(won[pd.Timestamp(w)], closed[pd.Timestamp(w)], empty="No new business closed")
        for w in weeks
    }


def _avg_deal_size(src: Sources, weeks: list[date], window: int | None) -> dict[date, Cell]:
    n = window or 13
    frame = src.deal_weeks(*_span(weeks, n - 1))
    booked, won = _rolling(frame, "bookings", n), _rolling(frame, "won_new", n)
    out = {}
    for w in weeks:
        key = pd.Timestamp(w)
        cell = _ratio(booked[key], won[key], scale=CENT, empty="No new business won")
        out[w] = Cell(
            None if cell.value is None else cell.value.quantize(CENT),
            _cents(booked[key]),
            cell.denominator,
            cell.note,
        )
    return out


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


def _sales_cycle(src: Sources, weeks: list[date], window: int | None) -> dict[date, Cell]:
    n = window or 13
    first, last = _span(weeks, n - 1)
    frame = src.cycle_days(first, last)
    week_of = frame["wk"].to_numpy()
    days = frame["days"].to_numpy(dtype="float64")
    counts = frame["n"].to_numpy(dtype="int64")
    out = {}
    for w in weeks:
        in_window = (week_of >= np.datetime64(w - (n - 1) * WEEK)) & (week_of <= np.datetime64(w))
        if not in_window.any():
            out[w] = Cell(None, note="No new business won in the window")
            continue
        median = weighted_median(days[in_window], counts[in_window])
        out[w] = Cell(_dec(median), denominator=Decimal(int(counts[in_window].sum())))
    return out


def _coverage(src: Sources, weeks: list[date], window: int | None) -> dict[date, Cell]:
    frame = src.coverage(*_span(weeks))
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
        open_ = _cents(frame.at[key, "open"])
        if target is None:
            out[w] = Cell(None, open_, None, "No quarterly new-bookings target")
            continue
        remaining = (target - _cents(frame.at[key, "booked"])).quantize(FOUR_PLACES)
        if remaining <= 0:
            out[w] = Cell(None, open_, remaining, "Quarter's new-bookings target already met")
        else:
            out[w] = Cell((open_ / remaining).quantize(FOUR_PLACES), open_, remaining)
    return out


# The ARR metrics share one account × week matrix that reaches back far enough for the longest
# retention window a definition may have (104 weeks), so it is built once per computation.
ARR_LOOKBACK = 104


def _arr_view(src: Sources, weeks: list[date]):
    """(arr, accounts, lost, offset): the ARR matrix and the column of weeks[0] in it."""
    first, last = _span(weeks, ARR_LOOKBACK)
    arr, accounts, lost = src.arr_matrix(first, last)
    return arr, accounts, lost, ARR_LOOKBACK


def _arr(src: Sources, weeks: list[date], window: int | None) -> dict[date, Cell]:
    arr, _, _, offset = _arr_view(src, weeks)
    totals = arr.sum(axis=0)
    return {w: Cell(_cents(totals[offset + i])) for i, w in enumerate(weeks)}


def _retention(net: bool):
    def compute(src: Sources, weeks: list[date], window: int | None) -> dict[date, Cell]:
        n = window or 52
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
                _cents(kept.sum()),
                _cents(start[cohort].sum()),
            )
        return out

    return compute


def _logo_churn(src: Sources, weeks: list[date], window: int | None) -> dict[date, Cell]:
    _, _, lost, offset = _arr_view(src, weeks)
    return {w: Cell(Decimal(int(lost[offset + i]))) for i, w in enumerate(weeks)}


def _healthy_share(src: Sources, weeks: list[date], window: int | None) -> dict[date, Cell]:
    arr, accounts, _, offset = _arr_view(src, weeks)
    good = src.healthy(accounts)
    out = {}
    for i, w in enumerate(weeks):
        customers = arr[:, offset + i] > 0
        out[w] = _ratio(
            (customers & good).sum(), customers.sum(), empty="No customers at the week's end"
        )
    return out


BUILTINS: dict[str, Builtin] = {
    b.key: b
    for b in [
        Builtin("leads_created", _count("created")),
        Builtin("mqls", _count("mql")),
        Builtin("sqls", _count("sql")),
        Builtin("mql_to_sql_rate", _mql_to_sql, window=13),
        Builtin("speed_to_lead", _speed_to_lead),
        Builtin("pipeline_created", _amount("pipeline")),
        Builtin("pipeline_created_marketing", _amount("pipeline_mkt")),
        Builtin("pipeline_coverage", _coverage),
        Builtin("win_rate", _win_rate, window=13),
        Builtin("avg_deal_size", _avg_deal_size, window=13),
        Builtin("sales_cycle", _sales_cycle, window=13),
        Builtin("deals_won", _count("won", "deal_weeks")),
        Builtin("new_bookings", _amount("bookings")),
        Builtin("arr", _arr),
        Builtin("nrr", _retention(net=True), window=52),
        Builtin("grr", _retention(net=False), window=52),
        Builtin("logo_churn", _logo_churn),
        Builtin("healthy_accounts", _healthy_share),
    ]
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


def metric_values_compute(
    *,
    weeks: Iterable[IsoWeek],
    definitions: Sequence,
    catalog: dict[int, object] | None = None,
    targets: TargetBook | None = None,
) -> dict[int, dict[IsoWeek, Cell]]:
    """The value of every metric of `definitions` (MetricDefinition rows, with `metric`
    selected) for every week of `weeks`, keyed by metric id then week.

    A formula's operands are computed with their own current definitions, taken from
    `catalog` (metric id → current MetricDefinition; read from the database when omitted).
    Weeks need not be contiguous; the queries cover the span from the first to the last."""
    requested = sorted(set(weeks))
    if not requested:
        return {}
    with transaction.atomic():
        with connection.cursor() as cursor:
            # These aggregates run in milliseconds; JIT-compiling them costs 50–150 ms each.
            cursor.execute("SET LOCAL jit = off")
        return _compute(requested, definitions, catalog, targets)


def _compute(requested, definitions, catalog, targets) -> dict[int, dict[IsoWeek, Cell]]:
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
    sources = Sources(targets, {d.metric.key: d.metric_id for d in needed.values()})
    if "new_bookings" not in sources.metric_ids:
        from scorecard.models import Metric

        sources.metric_ids.update(
            Metric.objects.filter(key="new_bookings").values_list("key", "id")
        )

    values: dict[int, dict[date, Cell]] = {}
    series_ids = []
    for metric_id, definition in needed.items():
        kind = definition.metric.kind
        if kind == MetricKind.BUILTIN:
            builtin = BUILTINS[definition.builtin]
            values[metric_id] = builtin.compute(sources, span, definition.window_weeks)
        elif kind == MetricKind.SERIES:
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
