"""Reads of the scorecard: the catalog, a week's scorecard and a metric's trend.

A week's values come from its published snapshot when there is one, and are computed live
otherwise (the week in progress, a week nobody published, a metric added after the week was
published). Live values are marked as such wherever they are shown."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from pipeline.dimensions import COMPANY, Slice
from revops.db import prepared_cursor, sql_columns
from revops.weeks import IsoWeek
from scorecard import trust
from scorecard.charts import TrendPoint
from scorecard.choices import Rag, Team
from scorecard.compute import Cell, GroupedTotals, metric_dimensions, metric_values_compute
from scorecard.formatting import format_change, format_value
from scorecard.models import (
    Metric,
    MetricCommentary,
    MetricDefinition,
    PendingRestatement,
    SnapshotPublication,
    SnapshotSliceValue,
    SnapshotValue,
    WeeklySnapshot,
)
from scorecard.targets import TargetBook, pace_for, rag_status
from scorecard.trust import TrustMark, trust_marks_for_week

TEAM_ORDER = [Team.COMPANY, Team.MARKETING, Team.SALES, Team.CUSTOMER_SUCCESS]
TREND_WEEKS = 13


def metric_catalog(*, active_only: bool = False) -> QuerySet[Metric]:
    """Metrics in scorecard order (by section, then position)."""
    metrics = Metric.objects.select_related("owner")
    if active_only:
        metrics = metrics.filter(is_active=True)
    return metrics.order_by("position", "name", "id")


def definition_current_map(metric_ids: Iterable[int] | None = None) -> dict[int, MetricDefinition]:
    """Each metric's newest definition version, keyed by metric id."""
    definitions = MetricDefinition.objects.select_related("metric").order_by(
        "metric_id", "-version"
    )
    if metric_ids is not None:
        definitions = definitions.filter(metric_id__in=list(metric_ids))
    return {d.metric_id: d for d in definitions.distinct("metric_id")}


def snapshot_get(week: IsoWeek) -> WeeklySnapshot | None:
    return (
        WeeklySnapshot.objects.select_related("published_by").filter(week_start=week.monday).first()
    )


@dataclass(frozen=True)
class WeekCell:
    """One metric in one week as the scorecard shows it."""

    value: Decimal | None
    target: Decimal | None
    rag: str
    numerator: Decimal | None = None
    denominator: Decimal | None = None
    note: str = ""
    version: int | None = None
    live: bool = False
    pace: Decimal | None = None  # the week in progress: where the value is heading
    status: str = ""  # why a week in progress has no status yet

    @property
    def rag_label(self) -> str:
        """The status in words, saying once and the same way why there is none: no data,
        no target, or a week in progress not judged yet."""
        if self.rag != Rag.NONE:
            return Rag(self.rag).label
        if self.status:
            return self.status
        if self.value is None:
            return "No data"
        if self.target is None:
            return "No target"
        return Rag(self.rag).label


def frozen_slice_of(slice: Slice) -> tuple[str, str] | None:
    """The (dimension, value) under which published weeks freeze `slice`: a slice of one value
    of a standard dimension; None for the company, several dimensions, or another one."""
    from django.conf import settings

    if len(slice.filters) != 1 or slice.filters[0].rest:
        return None
    f = slice.filters[0]
    if f.dimension.key not in settings.SCORECARD_FROZEN_DIMENSIONS:
        return None
    return f.dimension.key, f.label


def week_cells(
    metrics: Sequence[Metric],
    weeks: Sequence[IsoWeek],
    *,
    slice: Slice = COMPANY,
    grouped: GroupedTotals | None = None,
) -> dict[tuple[int, date], WeekCell]:
    """Every (metric, week) of `metrics` × `weeks`: from published snapshots where they hold
    the metric, computed live with the current definitions for the rest. A slice's cells are
    the frozen ones of the published weeks whose breakdowns hold it (one value of a standard
    dimension: settings.SCORECARD_FROZEN_DIMENSIONS), computed live for the rest, judged
    against the slice's own targets."""
    if not metrics or not weeks:
        return {}
    ids = [m.id for m in metrics]
    columns = ("metric_id", "week_start", "value", "target", "rag", "numerator",
               "denominator", "note", "definition__version")  # fmt: skip
    span = {
        "week_start__gte": min(w.monday for w in weeks),
        "week_start__lte": max(w.monday for w in weeks),
        "metric_id__in": ids,
    }
    frozen = frozen_slice_of(slice)
    if not slice:
        rows = SnapshotValue.objects.filter(**span).values_list(*columns)
    elif frozen is not None:  # published weeks froze this slice with their breakdowns
        dimension, label = frozen
        rows = SnapshotSliceValue.objects.filter(
            slice__dimension=dimension, slice__label__iexact=label, **span
        ).values_list(*columns)
    else:
        rows = []
    cells: dict[tuple[int, date], WeekCell] = {}
    for metric_id, monday, value, target, rag, num, den, note, version in rows:
        cells[(metric_id, monday)] = WeekCell(value, target, rag, num, den, note, version)

    missing_weeks = sorted({w for w in weeks for m in ids if (m, w.monday) not in cells})
    if missing_weeks:
        missing_ids = {m for m in ids for w in missing_weeks if (m, w.monday) not in cells}
        definitions = definition_current_map()
        targets = TargetBook.load(slice.target_key)
        computed = metric_values_compute(
            weeks=missing_weeks,
            definitions=[definitions[m] for m in missing_ids],
            catalog=definitions,
            targets=targets,
            slice=slice,
            grouped=grouped,
        )
        by_id = {m.id: m for m in metrics}
        for metric_id, by_week in computed.items():
            metric = by_id[metric_id]
            for week, cell in by_week.items():
                if (metric_id, week.monday) in cells:
                    continue
                cells[(metric_id, week.monday)] = live_cell(
                    metric, week, cell, targets, definitions[metric_id].version
                )
    return cells


def live_cell(
    metric: Metric,
    week: IsoWeek,
    cell: Cell,
    targets: TargetBook,
    version: int,
    *,
    now: datetime | None = None,
) -> WeekCell:
    """A week's cell computed now. A count or an amount of the week in progress is judged
    against its target prorated to the share of the week elapsed (the metric's pacing), so a
    Tuesday is never red for being a Tuesday; rates and levels are judged as they stand."""
    now = now or timezone.now()
    target = targets.for_week(metric.id, week, additive=metric.additive)
    thresholds = {
        "up_is_good": metric.up_is_good,
        "green_pct": metric.green_pct,
        "red_pct": metric.red_pct,
    }
    pace, status = None, ""
    if metric.additive and not week.is_complete(now):
        judged = pace_for(
            cell.value, target, week=week, pacing=metric.pacing, now=now, **thresholds
        )
        rag, pace, status = judged.rag, judged.projected, judged.status
    else:
        rag = rag_status(cell.value, target, **thresholds)
    return WeekCell(
        value=cell.value,
        target=target,
        rag=rag,
        numerator=cell.numerator,
        denominator=cell.denominator,
        note=cell.note,
        version=version,
        live=True,
        pace=pace,
        status=status,
    )


@dataclass(frozen=True)
class Commentary:
    """The owner's word on a metric in a week: as frozen with the published week, or the
    draft of a week not published yet."""

    body: str  # Markdown, cleaned
    html: str  # sanitised when saved
    by: str  # who wrote it
    frozen: bool

    @property
    def safe_html(self):
        from django.utils.safestring import mark_safe

        return mark_safe(self.html)  # noqa: S308 - sanitised by revops.markdown.render on save


def _person(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else ""


def week_commentary(week: IsoWeek, snapshot: WeeklySnapshot | None) -> dict[int, Commentary]:
    """Each metric's commentary for `week`: frozen in a published week's values, the draft
    for a metric the snapshot does not hold (added later) or a week not published."""
    found: dict[int, Commentary] = {}
    frozen_ids: set[int] = set()
    if snapshot is not None:
        for value in (
            SnapshotValue.objects.filter(snapshot=snapshot)
            .select_related("commentary_by")
            .only("metric_id", "commentary", "commentary_html", "commentary_by")
        ):
            frozen_ids.add(value.metric_id)
            if value.commentary:
                found[value.metric_id] = Commentary(
                    value.commentary, value.commentary_html, _person(value.commentary_by), True
                )
    drafts = MetricCommentary.objects.filter(week_start=week.monday).select_related("written_by")
    for draft in drafts:
        if draft.metric_id not in frozen_ids:
            found[draft.metric_id] = Commentary(
                draft.body, draft.html, _person(draft.written_by), False
            )
    return found


@dataclass
class MetricRow:
    """A metric on the week's scorecard, ready to show."""

    metric: Metric
    cell: WeekCell
    previous: WeekCell | None
    trend: list[TrendPoint]
    trust: TrustMark | None
    value_display: str = ""
    value_compact: str = ""
    target_display: str = ""
    pace_display: str = ""
    change: Decimal | None = None
    change_display: str = ""
    change_good: bool | None = None  # None: no change or no direction to judge
    page_url: str = ""  # set by the view: the metric's week page and its records
    records_url: str = ""
    commentary: Commentary | None = None
    spark: str = ""  # set by the page: the trend as inline SVG (charts.sparkline_svg)

    def __post_init__(self) -> None:
        unit = self.metric.unit
        self.value_display = format_value(self.cell.value, unit)
        self.value_compact = format_value(self.cell.value, unit, compact=True)
        self.target_display = format_value(self.cell.target, unit, compact=True)
        if self.cell.pace is not None:
            self.pace_display = format_value(self.cell.pace, unit, compact=True)
        prev = self.previous.value if self.previous else None
        if self.cell.value is not None and prev is not None:
            self.change = self.cell.value - prev
            self.change_display = format_change(self.change, unit)
            if self.change:
                self.change_good = (self.change > 0) == self.metric.up_is_good
        else:
            self.change_display = "—"

    @property
    def rag(self) -> str:
        return self.cell.rag


@dataclass
class Section:
    team: str
    label: str
    rows: list[MetricRow] = field(default_factory=list)


@dataclass
class ScorecardWeek:
    """Everything the week's scorecard shows."""

    week: IsoWeek
    snapshot: WeeklySnapshot | None
    publications: list[SnapshotPublication]
    top_line: list[MetricRow]
    sections: list[Section]
    is_complete: bool
    # Metric keys of a published week whose live value differs from the frozen one, as the
    # restatement check last found them: a restatement is pending.
    pending: list[str] = field(default_factory=list)
    # The records the page shows (pipeline/dimensions.py): every one, or a region's, a team's…
    slice: Slice = COMPANY

    @property
    def rows(self) -> list[MetricRow]:
        return self.top_line + [row for section in self.sections for row in section.rows]

    @property
    def has_live_values(self) -> bool:
        return any(row.cell.live for row in self.rows)

    @property
    def frozen_slice(self) -> bool:
        """A slice of a published week whose numbers are the ones its publication froze: at
        least one value is frozen and none with a value is live (a metric the slice does not
        apply to has no value either way)."""
        if not (self.slice and self.snapshot):
            return False
        rows = self.rows
        return any(not row.cell.live for row in rows) and not any(
            row.cell.live and row.cell.value is not None for row in rows
        )

    def count(self, rag: str) -> int:
        return sum(row.rag == rag for row in self.rows)

    @property
    def rag_counts(self) -> dict[str, int]:
        return {rag: self.count(rag) for rag in (Rag.RED, Rag.AMBER, Rag.GREEN)}


def scorecard_week(
    week: IsoWeek, *, trend_weeks: int = TREND_WEEKS, slice: Slice = COMPANY
) -> ScorecardWeek:
    """The scorecard of `week`: the top line (company metrics) and the marketing, sales and
    customer-success sections, each metric with its value, target, RAG, change from the week
    before, trend over `trend_weeks` weeks ending with this one, and trust mark.

    With a `slice`, every value is the slice's, computed live against the slice's targets;
    the trust marks and the owners' commentary, which speak of the company's numbers, are
    left out."""
    metrics = list(metric_catalog(active_only=True))
    weeks = [week.shift(-i) for i in range(trend_weeks - 1, -1, -1)]
    cells = week_cells(metrics, weeks, slice=slice)
    marks = {} if slice else trust_marks_for_week(week, [m.key for m in metrics])
    snapshot = snapshot_get(week)
    said = {} if slice else week_commentary(week, snapshot)
    pending = (
        PendingRestatement.objects.filter(week_start=week.monday)
        .values_list("metrics", flat=True)
        .first()
        if snapshot
        else None
    )
    publications = (
        list(snapshot.publications.select_related("published_by").order_by("-revision"))
        if snapshot and snapshot.revision > 1
        else []
    )

    top_line: list[MetricRow] = []
    sections = {
        team: Section(team, Team(team).label) for team in TEAM_ORDER if team != Team.COMPANY
    }
    for metric in metrics:
        trend = [
            TrendPoint(
                w.label,
                w.monday,
                cells[(metric.id, w.monday)].value,
                cells[(metric.id, w.monday)].target,
                cells[(metric.id, w.monday)].rag,
            )
            for w in weeks
        ]
        row = MetricRow(
            metric=metric,
            cell=cells[(metric.id, week.monday)],
            previous=cells.get((metric.id, weeks[-2].monday)) if len(weeks) > 1 else None,
            trend=trend,
            trust=marks.get(metric.key),
            commentary=said.get(metric.id),
        )
        if metric.team == Team.COMPANY:
            top_line.append(row)
        else:
            sections[metric.team].rows.append(row)
    return ScorecardWeek(
        week=week,
        snapshot=snapshot,
        publications=publications,
        top_line=top_line,
        sections=[s for s in sections.values() if s.rows],
        is_complete=week.is_complete(),
        pending=pending or [],
        slice=slice,
    )


def scorecard_week_stamp(week: IsoWeek, *, trend_weeks: int = TREND_WEEKS) -> str | None:
    """A fingerprint of everything a week's scorecard shows when every week of its trend is
    published: the active catalog as last edited, the revision of each published week, what
    the trust marks read and the current week (which decides the "next week" link). Two equal
    stamps mean the same scorecard, so it may be served from a cache; None when some week is
    not published (its values are live and change as data arrives)."""
    return scorecard_week_stamp_and(week, trend_weeks=trend_weeks)[0]


def scorecard_week_stamp_and(
    week: IsoWeek, *, trend_weeks: int = TREND_WEEKS, also: Sequence[tuple[str, dict]] = ()
) -> tuple[str | None, list]:
    """The week's stamp, and the values of the (sql, params) expressions `also` (the footer's
    counts) read in the same statement.

    One round trip, prepared (revops.db.prepared_cursor): this runs on every request for a
    published week. Each trust source that declares its version (scorecard.trust.
    trust_version) adds one expression to the query; a source that does not, or whose
    version is too large to read, has its marks computed."""
    first = week.shift(-(trend_weeks - 1))
    sources = list(trust.TRUST_SOURCES)
    versioned = [s for s in sources if getattr(s, "version", None)]
    expressions = [s.version for s in versioned] + list(also)
    sql, params = _stamp_statement(tuple(sql for sql, _ in expressions)), {}
    for column, (_, expression_params) in enumerate(expressions):
        params.update({f"x{column}_{k}": v for k, v in expression_params.items()})
    params.update(first=first.monday, last=week.monday)
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        published, snapshots, catalog, pending, *rest = cursor.fetchone()
    versions, values = rest[: len(versioned)], rest[len(versioned) :]
    if published < trend_weeks:
        return None, values
    evidence = []
    for source in sources:
        version = versions[versioned.index(source)] if source in versioned else None
        if source not in versioned or _unknown(version):
            keys = [key for _, key, _ in json.loads(catalog)]
            marks = trust.trust_marks_for_week(week, keys, sources=[source])
            evidence.append(("marks", sorted(marks.items())))
        else:
            evidence.append(("version", version))
    # The published weeks, the catalog and the pending restatements are hashed as the text
    # PostgreSQL sent: nothing here needs them parsed.
    fingerprint = repr((week.label, IsoWeek.current().label, snapshots, catalog, pending, evidence))
    return hashlib.sha256(fingerprint.encode()).hexdigest(), values


@functools.lru_cache(maxsize=32)
def _stamp_statement(expressions: tuple[str, ...]) -> str:
    """The stamp's statement with `expressions` as extra columns (their parameters renamed
    `x{n}_{name}`), built once per set of expressions: the same text each request, so the
    prepared statement is found again."""
    columns, _ = sql_columns([(sql, {}) for sql in expressions], prefix="x")
    return f"""
        SELECT
            (SELECT count(*) FROM scorecard_weeklysnapshot
             WHERE week_start BETWEEN %(first)s AND %(last)s),
            (SELECT coalesce(json_agg(json_build_array(week_start, revision, published_at)
                                      ORDER BY week_start), '[]')::text
             FROM scorecard_weeklysnapshot WHERE week_start BETWEEN %(first)s AND %(last)s),
            (SELECT coalesce(json_agg(json_build_array(id, key, updated_at) ORDER BY id),
                             '[]')::text
             FROM scorecard_metric WHERE is_active),
            (SELECT coalesce(json_agg(metrics), '[]')::text FROM scorecard_pendingrestatement
             WHERE week_start = %(last)s)
            {"".join(f", {column}" for column in columns)}
        """


def _unknown(version: object) -> bool:
    """A version with a part too large to fingerprint says nothing."""
    if isinstance(version, list):
        return any(_unknown(part) for part in version)
    return version == trust.VERSION_UNKNOWN


def metric_trend(
    metric: Metric, week: IsoWeek, *, weeks: int, slice: Slice = COMPANY
) -> list[TrendPoint]:
    """The metric's values over `weeks` weeks ending with `week` (the slice's, with one)."""
    span = [week.shift(-i) for i in range(weeks - 1, -1, -1)]
    cells = week_cells([metric], span, slice=slice)
    return [
        TrendPoint(
            w.label,
            w.monday,
            cells[(metric.id, w.monday)].value,
            cells[(metric.id, w.monday)].target,
            cells[(metric.id, w.monday)].rag,
        )
        for w in span
    ]


def metric_week_cell(metric: Metric, week: IsoWeek, *, slice: Slice = COMPANY) -> WeekCell:
    return week_cells([metric], [week], slice=slice)[(metric.id, week.monday)]


@dataclass
class BreakdownRow:
    """One value of a dimension on a metric's page: the metric in the week for that slice,
    the change from the week before, and its trend."""

    slice: Slice
    label: str
    cell: WeekCell
    previous: WeekCell | None
    trend: list[TrendPoint]
    is_rest: bool = False  # the "Other" or "Not set" row

    @property
    def change(self) -> Decimal | None:
        if self.cell.value is None or self.previous is None or self.previous.value is None:
            return None
        return self.cell.value - self.previous.value


def metric_breakdown(
    metric: Metric,
    week: IsoWeek,
    dimension,
    *,
    weeks: int = TREND_WEEKS,
    within: Slice = COMPANY,
    top: int = 12,
) -> list[BreakdownRow]:
    """The metric in `week` for each value of `dimension` (its most frequent values, then
    "Other" and "Not set": rows that partition the records, so a count's or an amount's rows
    add up to the value of `within`), each with its own targets, change and trend over
    `weeks` weeks, computed live."""
    from pipeline.dimensions import breakdown_slices

    span = [week.shift(-i) for i in range(weeks - 1, -1, -1)]
    grouped = GroupedTotals(dimension, within)  # every row's totals from one query
    frozen = _frozen_breakdown(week, dimension) if not within else None
    parts = list(frozen) if frozen else breakdown_slices(dimension, top=top, within=within)
    rows = []
    for part in parts:
        cells = week_cells([metric], span, slice=part, grouped=grouped)
        if frozen and (cell := frozen[part].get(metric.id)) is not None:
            cells[(metric.id, week.monday)] = cell  # Other and Not set, as frozen too
        last = part.filters[-1]
        rows.append(
            BreakdownRow(
                slice=part,
                label=last.label,
                cell=cells[(metric.id, week.monday)],
                previous=cells.get((metric.id, span[-2].monday)) if len(span) > 1 else None,
                trend=[
                    TrendPoint(
                        w.label,
                        w.monday,
                        cells[(metric.id, w.monday)].value,
                        cells[(metric.id, w.monday)].target,
                        cells[(metric.id, w.monday)].rag,
                    )
                    for w in span
                ],
                is_rest=last.rest,
            )
        )
    return rows


def _frozen_breakdown(week: IsoWeek, dimension) -> dict[Slice, dict[int, WeekCell]] | None:
    """The breakdown of `week` by `dimension` as its publication froze it: each row's slice
    (the field values it stood for then) and its metrics' cells; None when not frozen."""
    from pipeline.dimensions import Filter
    from scorecard.models import SnapshotSlice

    frozen = list(
        SnapshotSlice.objects.filter(week_start=week.monday, dimension=dimension.key)
        .order_by("position")
        .prefetch_related("values__definition")
    )
    if not frozen:
        return None
    out: dict[Slice, dict[int, WeekCell]] = {}
    for row in frozen:
        part = Slice(
            (Filter(dimension, row.label, tuple(row.keys), negate=row.negate, rest=row.rest),)
        )
        out[part] = {
            v.metric_id: WeekCell(
                v.value,
                v.target,
                v.rag,
                v.numerator,
                v.denominator,
                v.note,
                v.definition.version,
            )  # fmt: skip
            for v in row.values.all()
        }
    return out


@dataclass
class RedSlice:
    """One row of a breakdown by a standard dimension and the metrics red in it."""

    slice: Slice
    label: str  # "Team: Enterprise"
    rows: list[MetricRow]


def red_slices(week: IsoWeek) -> list[RedSlice]:
    """The rows of the company's breakdowns by the standard dimensions (settings.
    SCORECARD_FROZEN_DIMENSIONS) whose metrics are red in `week` against the row's own quotas:
    as the week's publication froze them, or computed now for a dimension it did not freeze
    (one grouped query per object type for the totals). In dimension order, then breakdown
    order. A slice of several dimensions has no quota of its own, so only these can be red."""
    from django.conf import settings

    from pipeline.dimensions import BY_KEY, breakdown_slices

    metrics = list(metric_catalog(active_only=True))
    definitions = definition_current_map()
    out: list[RedSlice] = []
    for key in settings.SCORECARD_FROZEN_DIMENSIONS:
        dimension = BY_KEY.get(key)
        if dimension is None:
            continue
        sliced = [m for m in metrics if dimension in metric_dimensions(definitions[m.id])]
        if not sliced:
            continue
        parts = _frozen_breakdown(week, dimension)
        if not parts:
            grouped = GroupedTotals(dimension)
            parts = {}
            for part in breakdown_slices(dimension):
                cells = week_cells(sliced, [week], slice=part, grouped=grouped)
                parts[part] = {m.id: cells[(m.id, week.monday)] for m in sliced}
        for part, cells in parts.items():
            rows = [
                MetricRow(metric=m, cell=cells[m.id], previous=None, trend=[], trust=None)
                for m in sliced
                if m.id in cells and cells[m.id].rag == Rag.RED
            ]
            if rows:
                label = f"{dimension.label}: {part.filters[-1].label}"
                out.append(RedSlice(slice=part, label=label, rows=rows))
    return out


@dataclass(frozen=True)
class TurnedRed:
    metric_id: int
    metric_key: str
    name: str
    value: str
    target: str
    was: str  # last week's RAG, as a label


def turned_red(week: IsoWeek, *, metric_ids: Iterable[int] | None = None) -> list[TurnedRed]:
    """Metrics red in `week`'s published values that were not red the week before (a metric
    new to the scorecard counts as turned red), of `metric_ids` only when given. Empty when
    `week` is not published."""
    rows = (
        SnapshotValue.objects.filter(
            week_start__in=[week.monday, week.shift(-1).monday], metric__is_active=True
        )
        .select_related("metric")
        .order_by("metric__position", "metric__name")
    )
    if metric_ids is not None:
        rows = rows.filter(metric_id__in=list(metric_ids))
    now: list[SnapshotValue] = []
    before: dict[int, str] = {}
    for row in rows:
        if row.week_start == week.monday:
            now.append(row)
        else:
            before[row.metric_id] = row.rag
    return [
        TurnedRed(
            row.metric_id,
            row.metric.key,
            row.metric.name,
            format_value(row.value, row.metric.unit, compact=True),
            format_value(row.target, row.metric.unit, compact=True),
            Rag(before[row.metric_id]).label if row.metric_id in before else "not on the scorecard",
        )
        for row in now
        if row.rag == Rag.RED and before.get(row.metric_id) != Rag.RED
    ]
