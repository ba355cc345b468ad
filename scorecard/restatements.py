"""Restatements: where a published week's frozen numbers and today's live ones part, and why.

A published week is frozen. The golden records go on changing under it (late-arriving
records, corrections, a new definition or target), so the live value of a frozen cell may
come to differ from its frozen one. Nothing changes the frozen value except a republish;
this module says what a republish of a week would change (`week_restatement`: per metric,
frozen → live, with the causes recorded since the publication and a fingerprint the confirm
must match) and which published weeks have such a difference waiting (`pending_compute`).
Writes go through scorecard/services/snapshots.py."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from pipeline.choices import BatchStatus, ObjectType
from revops.weeks import IsoWeek
from scorecard.choices import MetricKind
from scorecard.compute import ARR, BUILTINS, Cell, reads_object
from scorecard.formatting import format_change, format_plain, format_value
from scorecard.models import Metric, MetricDefinition, SnapshotValue, WeeklySnapshot
from scorecard.targets import FOUR_PLACES, rag_status

# How far back ops look for pending restatements, and a dispute's correction is traced.
RESTATEMENT_WEEKS = 104

CHANGED, ADDED, REMOVED = "changed", "added", "removed"


def _four(value: Decimal | None) -> Decimal | None:
    """A live value as a snapshot stores it (four decimal places), so equal means equal."""
    return None if value is None else value.quantize(FOUR_PLACES)


@dataclass(frozen=True)
class LiveCell:
    """A metric's value in a week as it would be frozen now."""

    metric: Metric
    definition: MetricDefinition
    cell: Cell
    value: Decimal | None
    target: Decimal | None
    rag: str

    @classmethod
    def of(cls, metric, definition, cell: Cell, target: Decimal | None) -> LiveCell:
        value = _four(cell.value)
        rag = rag_status(
            value,
            target,
            up_is_good=metric.up_is_good,
            green_pct=metric.green_pct,
            red_pct=metric.red_pct,
        )
        return cls(metric, definition, cell, value, target, rag)


@dataclass(frozen=True)
class CellChange:
    """One metric of a published week that a republish would change."""

    kind: str  # CHANGED, ADDED (on the scorecard since publication) or REMOVED (taken off)
    key: str
    name: str
    unit: str
    frozen: Decimal | None
    live: Decimal | None
    frozen_target: Decimal | None = None
    live_target: Decimal | None = None
    definition_changed: bool = False
    live_cell: LiveCell | None = None

    @property
    def value_moved(self) -> bool:
        return self.frozen != self.live

    @property
    def difference(self) -> Decimal | None:
        if self.frozen is None or self.live is None:
            return None
        return self.live - self.frozen

    @property
    def difference_pct(self) -> Decimal | None:
        if self.difference is None or not self.frozen:
            return None
        return (self.difference / abs(self.frozen) * 100).quantize(Decimal("0.1"))

    @property
    def difference_text(self) -> str:
        """The size of the difference, e.g. “+7 (+3.6%)”; “new value” from no value."""
        if self.difference is None:
            return "value appears" if self.live is not None else "value gone"
        pct = self.difference_pct
        text = format_change(self.difference, self.unit)
        if pct is not None and self.unit != "percent":
            text += f" ({'+' if pct > 0 else ''}{pct}%)"
        return text

    def what(self) -> str:
        """The change in words, e.g. “193 → 200; target 250 → 300; definition v2”."""
        if self.kind == ADDED:
            return f"added to the scorecard: {format_value(self.live, self.unit)}"
        if self.kind == REMOVED:
            return f"taken off the scorecard (was {format_value(self.frozen, self.unit)})"
        parts = []
        if self.value_moved:
            parts.append(
                f"{format_value(self.frozen, self.unit)} → {format_value(self.live, self.unit)}"
            )
        if self.frozen_target != self.live_target:
            parts.append(
                f"target {format_value(self.frozen_target, self.unit)} → "
                f"{format_value(self.live_target, self.unit)}"
            )
        if self.definition_changed and self.live_cell is not None:
            parts.append(f"definition v{self.live_cell.definition.version}")
        return "; ".join(parts) or "status recomputed"

    def record(self) -> dict[str, str]:
        """What the publication's `changes` keeps for this metric: the value before and after,
        and the target's when it changed."""
        kept = {"old": format_plain(self.frozen), "new": format_plain(self.live)}
        if self.kind == CHANGED and self.frozen_target != self.live_target:
            kept["target_old"] = format_plain(self.frozen_target)
            kept["target_new"] = format_plain(self.live_target)
        return kept

    def token(self) -> tuple:
        return (
            self.kind,
            self.key,
            str(self.frozen),
            str(self.live),
            str(self.frozen_target),
            str(self.live_target),
            self.definition_changed,
        )


def live_cells(
    weeks: list[IsoWeek],
) -> tuple[list[Metric], dict[IsoWeek, dict[int, LiveCell]]]:
    """Every active metric's value in each of `weeks` as a publication would freeze it now."""
    from scorecard.services.snapshots import _compute

    if not weeks:
        return [], {}
    metrics, definitions, targets, computed = _compute(weeks)
    return metrics, {
        week: {
            m.id: LiveCell.of(
                m,
                definitions[m.id],
                computed[m.id][week],
                targets.for_week(m.id, week, additive=m.additive),
            )
            for m in metrics
        }
        for week in weeks
    }


def differences(
    snapshot: WeeklySnapshot, live: dict[int, LiveCell], frozen: Iterable[SnapshotValue]
) -> list[CellChange]:
    """What republishing `snapshot` now would change, metric by metric, in catalog order."""
    stored = {v.metric_id: v for v in frozen}
    changes = []
    for metric_id, now in live.items():
        metric = now.metric
        was = stored.pop(metric_id, None)
        if was is None:
            changes.append(
                CellChange(
                    ADDED,
                    metric.key,
                    metric.name,
                    metric.unit,
                    None,
                    now.value,
                    None,
                    now.target,
                    live_cell=now,
                )
            )
            continue
        definition_changed = was.definition_id != now.definition.id
        if (was.value, was.target, was.rag) != (now.value, now.target, now.rag) or (
            definition_changed
        ):
            changes.append(
                CellChange(
                    CHANGED,
                    metric.key,
                    metric.name,
                    metric.unit,
                    was.value,
                    now.value,
                    was.target,
                    now.target,
                    definition_changed,
                    now,
                )
            )
    for was in stored.values():  # taken off the scorecard since publication
        changes.append(
            CellChange(
                REMOVED,
                was.metric.key,
                was.metric.name,
                was.metric.unit,
                was.value,
                None,
                was.target,
                None,
            )
        )
    return changes


def frozen_since(
    snapshot: WeeklySnapshot, frozen: Iterable[SnapshotValue], changes: list[CellChange]
) -> datetime:
    """Since when the changed cells have stood as frozen: the earliest time one of them was
    last written (published or restated), where causes of their change are to be found."""
    keys = {c.key for c in changes}
    times = [v.frozen_at for v in frozen if v.metric.key in keys and v.frozen_at is not None]
    return min(times, default=snapshot.published_at)


def fingerprint(snapshot: WeeklySnapshot, changes: list[CellChange]) -> str:
    """What a preview showed, so that a confirm changes exactly that: equal fingerprints mean
    the same revision and the same changes."""
    token = repr((snapshot.week_start, snapshot.revision, sorted(c.token() for c in changes)))
    return hashlib.sha256(token.encode()).hexdigest()[:32]


# --- Causes ---------------------------------------------------------------------------------


def _reads(definition: MetricDefinition, catalog: dict[int, MetricDefinition]) -> set[str]:
    """The kinds of record a metric's value is computed from: lead, deal, arr or series."""
    kind = definition.metric.kind
    if kind == MetricKind.BUILTIN:
        found = reads_object(BUILTINS[definition.builtin].spec)
        return {found} if found else set()
    if kind == MetricKind.SERIES:
        return {"series"}
    reads: set[str] = set()
    for operand in (definition.left_id, definition.right_id):
        if operand in catalog:
            reads |= _reads(catalog[operand], catalog)
    return reads


# The date columns that place a source record in a week, per object type.
_DATES = {
    ObjectType.LEAD: ("created_at", "mql_at", "sal_at", "sql_at", "converted_at"),
    ObjectType.DEAL: ("created_at", "close_date"),
    ARR: ("effective_date",),
}


def _batches_touching(object_type: str, week: IsoWeek, batch_ids: list[int]) -> set[int]:
    """Of `batch_ids`, those that wrote (or marked deleted) a record dated in `week`."""
    from pipeline.models import SourceArrChange, SourceDeal, SourceLead

    model = {ObjectType.LEAD: SourceLead, ObjectType.DEAL: SourceDeal, ARR: SourceArrChange}[
        object_type
    ]
    in_week = Q()
    for column in _DATES[object_type]:
        if column.endswith("_date"):
            in_week |= Q(**{f"{column}__gte": week.monday, f"{column}__lte": week.sunday})
        else:
            in_week |= Q(**{f"{column}__gte": week.start, f"{column}__lt": week.end})
    rows = model.objects.filter(in_week).filter(
        Q(batch_id__in=batch_ids) | Q(deleted_batch_id__in=batch_ids)
    )
    return set(rows.values_list("batch_id", flat=True).distinct()) | set(
        rows.filter(deleted_batch_id__in=batch_ids).values_list("deleted_batch_id", flat=True)
    )


@dataclass
class _Cause:
    kind: str
    label: str
    url: str = ""
    metrics: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "label": self.label, "url": self.url, "metrics": self.metrics}


def causes_since(
    week: IsoWeek,
    since: datetime,
    changes: list[CellChange],
    definitions=None,
    *,
    ignore: dict | None = None,
) -> list[dict]:
    """What was recorded since `since` (the publication) that can have moved these changes:
    the import batches applied since that wrote records dated in the week (or, when none did,
    every batch since of the records the metric reads: its value reads more than one week),
    corrections (overrides, same-lead aliases, field authority), and each metric's own new
    definition or target. A change nothing recorded explains says so. `ignore` is a correction
    named as a cause already (what disputes' _apply returns): it is not listed again."""
    from pipeline.models import FieldAuthority, FieldOverride, ImportBatch, LeadAlias
    from scorecard.models import SeriesImport
    from scorecard.selectors import definition_current_map

    if not changes:
        return []
    catalog = definitions or definition_current_map()
    by_key = {d.metric.key: d for d in catalog.values()}
    reads: dict[str, set[str]] = {
        c.key: (_reads(by_key[c.key], catalog) if c.key in by_key else set()) for c in changes
    }
    causes: list[_Cause] = []

    def add(kind, label, url, keys):
        keys = sorted(keys)
        if keys:
            causes.append(_Cause(kind, label, url, keys))

    moved = [c for c in changes if c.kind == CHANGED and c.value_moved]
    batches = list(
        ImportBatch.objects.filter(status=BatchStatus.APPLIED, finished_at__gt=since)
        .select_related("system")
        .order_by("finished_at", "id")
    )
    for object_type in (ObjectType.LEAD, ObjectType.DEAL, ARR):
        keys = [c.key for c in moved if object_type in reads[c.key]]
        ids = [b.id for b in batches if b.object_type == object_type]
        if not keys or not ids:
            continue
        touching = _batches_touching(object_type, week, ids) or set(ids)
        for batch in batches:
            if batch.id in touching:
                rows = batch.rows_created + batch.rows_updated + batch.rows_deleted
                add(
                    "import",
                    f"Import #{batch.id}: {batch.system.name} {batch.get_object_type_display()} "
                    f"records, {rows} changed "
                    f"({timezone.localtime(batch.finished_at):%-d %b %H:%M})",
                    reverse("pipeline:import-detail", args=[batch.id]),
                    keys,
                )
    lead_keys = [c.key for c in moved if ObjectType.LEAD in reads[c.key]]
    ignore = ignore or {}
    for alias in LeadAlias.objects.filter(created_at__gt=since).exclude(
        alias_key=ignore.get("alias", "")
    ):
        add("alias", f"Same lead: {alias.alias_key} is {alias.canonical_key}", "", lead_keys)
    overrides = FieldOverride.objects.filter(created_at__gt=since)
    if "record_key" in ignore:
        overrides = overrides.exclude(
            object_type=ignore["object_type"], record_key=ignore["record_key"],
            field=ignore["field"],
        )  # fmt: skip
    for override in overrides:
        keys = [c.key for c in moved if override.object_type in reads[c.key]]
        add(
            "override",
            f"Correction: {override.object_type} {override.record_key} {override.field} set "
            f"to {override.value if override.value is not None else 'no value'}",
            "",
            keys,
        )
    rules = FieldAuthority.objects.filter(updated_at__gt=since).select_related("system")
    if "system" in ignore:
        rules = rules.exclude(object_type=ignore["object_type"], field=ignore["field"])
    for rule in rules:
        keys = [c.key for c in moved if rule.object_type in reads[c.key]]
        add(
            "authority",
            f"Field authority: {rule.object_type} {rule.field} from {rule.system.name}",
            "",
            keys,
        )
    series = [c.key for c in moved if "series" in reads[c.key]]
    for upload in SeriesImport.objects.filter(created_at__gt=since, metric__key__in=series):
        add(
            "series",
            f"Values imported for {upload.metric.name} ({upload.file_name or 'file'})",
            "",
            [upload.metric.key],
        )
    for change in changes:
        if change.definition_changed and change.live_cell is not None:
            definition = change.live_cell.definition
            add(
                "definition",
                f"{change.name}: definition v{definition.version}"
                + (f" — {definition.note}" if definition.note else ""),
                reverse("scorecard:metric-detail", args=[change.key]),
                [change.key],
            )
        if change.frozen_target != change.live_target:
            add(
                "target",
                f"{change.name}: target now {format_value(change.live_target, change.unit)}",
                reverse("scorecard:metric-detail", args=[change.key]),
                [change.key],
            )
        if change.kind in (ADDED, REMOVED):
            verb = "added to" if change.kind == ADDED else "taken off"
            add("catalog", f"{change.name} {verb} the scorecard", "", [change.key])
    explained = {key for cause in causes for key in cause.metrics}
    unexplained = [c.key for c in changes if c.key not in explained]
    add("other", "No import or correction recorded since publication explains it", "", unexplained)
    return [cause.as_dict() for cause in causes]


# --- Weeks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekRestatement:
    """What republishing one published week now would change, and why."""

    week: IsoWeek
    snapshot: WeeklySnapshot
    changes: list[CellChange]
    causes: list[dict]
    fingerprint: str

    @property
    def moved(self) -> list[CellChange]:
        """The frozen values that differ from the live ones (late data, corrections)."""
        return [c for c in self.changes if c.kind == CHANGED and c.value_moved]


def _frozen(snapshots: list[WeeklySnapshot]) -> dict[int, list[SnapshotValue]]:
    found: dict[int, list[SnapshotValue]] = {s.id: [] for s in snapshots}
    for value in SnapshotValue.objects.filter(snapshot__in=snapshots).select_related("metric"):
        found[value.snapshot_id].append(value)
    return found


def week_restatement(week: IsoWeek, *, with_causes: bool = True) -> WeekRestatement | None:
    """The preview of republishing `week`; None when it is not published."""
    snapshot = WeeklySnapshot.objects.filter(week_start=week.monday).first()
    if snapshot is None:
        return None
    _, live = live_cells([week])
    frozen = _frozen([snapshot])[snapshot.id]
    changes = differences(snapshot, live[week], frozen)
    causes = (
        causes_since(week, frozen_since(snapshot, frozen, changes), changes) if with_causes else []
    )
    return WeekRestatement(week, snapshot, changes, causes, fingerprint(snapshot, changes))


def published_live(*, weeks: int = RESTATEMENT_WEEKS) -> dict[IsoWeek, dict[int, LiveCell]]:
    """The live cells of every published week of the last `weeks`, in one pass: taken before
    and after a correction, their difference is what the correction moved."""
    last = IsoWeek.last_completed()
    mondays = WeeklySnapshot.objects.filter(
        week_start__gte=last.shift(-(weeks - 1)).monday, week_start__lte=last.monday
    ).values_list("week_start", flat=True)
    return live_cells(sorted(IsoWeek.of(m) for m in mondays))[1]


def correction_moves(
    before: dict[IsoWeek, dict[int, LiveCell]], after: dict[IsoWeek, dict[int, LiveCell]]
) -> dict[IsoWeek, set[str]]:
    """Per week, the metric keys whose live value or target differs between `before` and
    `after`: what the change made between them moved, and nothing else."""
    moved: dict[IsoWeek, set[str]] = {}
    for week, cells in after.items():
        was = before.get(week, {})
        keys = {
            cell.metric.key
            for metric_id, cell in cells.items()
            if metric_id in was
            and (was[metric_id].value, was[metric_id].target) != (cell.value, cell.target)
        }
        if keys:
            moved[week] = keys
    return moved


def pending_compute(*, weeks: int = RESTATEMENT_WEEKS) -> list[WeekRestatement]:
    """Every published week of the last `weeks` whose frozen values differ from the live ones,
    newest first, computed in one pass. Metrics added to or taken off the scorecard since are
    not restatements waiting; a republish would take them in."""
    last = IsoWeek.last_completed()
    snapshots = list(
        WeeklySnapshot.objects.filter(
            week_start__gte=last.shift(-(weeks - 1)).monday, week_start__lte=last.monday
        ).order_by("-week_start")
    )
    if not snapshots:
        return []
    span = [IsoWeek.of(s.week_start) for s in snapshots]
    _, live = live_cells(span)
    frozen = _frozen(snapshots)
    found = []
    for week, snapshot in zip(span, snapshots, strict=True):
        changes = differences(snapshot, live[week], frozen[snapshot.id])
        if any(c.kind == CHANGED and c.value_moved for c in changes):
            found.append(
                WeekRestatement(
                    week,
                    snapshot,
                    changes,
                    causes_since(week, snapshot.published_at, changes),
                    fingerprint(snapshot, changes),
                )
            )
    return found


@dataclass(frozen=True)
class PreviewRow:
    change: CellChange
    causes: list[dict]


def preview_rows(restatement: WeekRestatement) -> list[PreviewRow]:
    """Each change of a preview with the causes that name its metric."""
    return [
        PreviewRow(c, [x for x in restatement.causes if c.key in x["metrics"]])
        for c in restatement.changes
    ]
