"""Writes to the metric catalog: metrics, their definition versions, targets and imported
series. Ops staff make these in the browser; every one validates and explains a refusal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from scorecard.choices import FormulaOperator, MetricKind, Pacing, TargetPeriod, Team, Unit
from scorecard.models import (
    KEY_PATTERN,
    Metric,
    MetricDefinition,
    MetricTarget,
    SeriesImport,
    SeriesValue,
)
from scorecard.selectors import definition_current_map
from scorecard.series_csv import RowError, series_parse

# Words the scorecard's URLs use after a week or under metrics/, so no metric may be keyed so.
RESERVED_KEYS = frozenset({"new", "print", "publish", "records", "edit"})

# What a definition version is made of: a change to any of these is a new version.
COMPUTATION_FIELDS = ("builtin", "window_weeks", "operator", "left_id", "right_id", "factor")


@dataclass(frozen=True)
class Formula:
    operator: str
    left: Metric
    right: Metric
    factor: Decimal = Decimal(1)


def _check_thresholds(up_is_good: bool, green_pct: Decimal, red_pct: Decimal) -> None:
    if green_pct < 0 or red_pct < 0:
        raise ValidationError("Thresholds are percentages of the target and cannot be negative.")
    if up_is_good and red_pct > green_pct:
        raise ValidationError(
            f"When up is good, red ({red_pct}% of target) must not be above green "
            f"({green_pct}%): red is for falling short."
        )
    if not up_is_good and red_pct < green_pct:
        raise ValidationError(
            f"When down is good, red ({red_pct}% of target) must not be below green "
            f"({green_pct}%): red is for overshooting."
        )


def _check_formula(metric: Metric | None, formula: Formula) -> None:
    """No operand may be the metric itself, directly or through other formulas."""
    if formula.operator not in FormulaOperator.values:
        raise ValidationError(f"Unknown operator {formula.operator!r}.")
    if metric is None:
        return
    current = definition_current_map()
    stack = [formula.left.id, formula.right.id]
    seen: set[int] = set()
    while stack:
        metric_id = stack.pop()
        if metric_id == metric.id:
            raise ValidationError(
                f"{metric.name} cannot be computed from itself, directly or through another "
                "formula."
            )
        if metric_id in seen:
            continue
        seen.add(metric_id)
        definition = current.get(metric_id)
        if definition is not None and definition.is_formula:
            stack.extend([definition.left_id, definition.right_id])


@transaction.atomic
def metric_create(
    *,
    by: AbstractBaseUser | None,
    key: str,
    name: str,
    team: str,
    unit: str,
    up_is_good: bool,
    kind: str,
    definition: str,
    additive: bool = False,
    formula: Formula | None = None,
    green_pct: Decimal = Decimal(100),
    red_pct: Decimal | None = None,
    position: int = 100,
) -> Metric:
    """Add a metric without code: a formula over existing metrics, or a weekly series that
    ops import as CSV. Built-in metrics come only with the code that computes them."""
    import re

    if not re.match(KEY_PATTERN, key):
        raise ValidationError(
            "The key is 2–60 lower-case letters, digits and underscores, starting with a letter."
        )
    if key in RESERVED_KEYS:
        raise ValidationError(f"{key!r} is a word the scorecard's addresses use; pick another key.")
    if Metric.objects.filter(key=key).exists():
        raise ValidationError(f"There is already a metric with the key {key!r}.")
    if kind not in (MetricKind.FORMULA, MetricKind.SERIES):
        raise ValidationError("A new metric is either a formula or an imported series.")
    if kind == MetricKind.FORMULA and formula is None:
        raise ValidationError("A formula metric needs its operator and two metrics.")
    if team not in Team.values or unit not in Unit.values:
        raise ValidationError("Choose a team and a unit from the lists.")
    if not definition.strip():
        raise ValidationError("Say in plain language what the metric counts, and over what.")
    if not name.strip():
        raise ValidationError("The metric needs a name.")
    if red_pct is None:
        red_pct = Decimal(90) if up_is_good else Decimal(110)
    _check_thresholds(up_is_good, green_pct, red_pct)
    if formula is not None:
        _check_formula(None, formula)
        # A sum or difference of additive metrics is additive; a ratio never is.
        additive = formula.operator != FormulaOperator.RATIO and all(
            m.additive for m in (formula.left, formula.right)
        )
    metric = Metric.objects.create(
        key=key,
        name=name.strip(),
        team=team,
        unit=unit,
        up_is_good=up_is_good,
        additive=additive,
        kind=kind,
        definition=definition.strip(),
        green_pct=green_pct,
        red_pct=red_pct,
        position=position,
        updated_by=by,
    )
    MetricDefinition.objects.create(
        metric=metric,
        version=1,
        operator=formula.operator if formula else "",
        left=formula.left if formula else None,
        right=formula.right if formula else None,
        factor=formula.factor if formula else Decimal(1),
        definition=metric.definition,
        note="Created",
        created_by=by,
    )
    return metric


UNCHANGED = object()  # a keyword left out: keep what the metric has


@dataclass(frozen=True)
class MetricUpdate:
    metric: Metric
    new_version: MetricDefinition | None  # set when the computation changed


@transaction.atomic
def metric_update(
    *,
    metric: Metric,
    by: AbstractBaseUser | None,
    name: str,
    team: str,
    definition: str,
    green_pct: Decimal,
    red_pct: Decimal,
    position: int,
    is_active: bool,
    unit: str | None = None,
    up_is_good: bool | None = None,
    additive: bool | None = None,
    window_weeks: int | None = None,
    formula: Formula | None = None,
    note: str = "",
    owner: AbstractBaseUser | None | object = UNCHANGED,
    pacing: str | None = None,
    tolerance_abs: Decimal | None = None,
    tolerance_pct: Decimal | None = None,
) -> MetricUpdate:
    """Edit a metric. Names, definitions' text, thresholds and order change in place; a change
    to how the value is computed (a formula, a trailing window) adds a definition version, so
    weeks already published keep the version they were computed with."""
    metric = Metric.objects.select_for_update().get(pk=metric.pk)
    current = metric.definitions.order_by("-version").first()
    if metric.kind == MetricKind.BUILTIN and (
        unit not in (None, metric.unit) or up_is_good not in (None, metric.up_is_good)
    ):
        raise ValidationError(
            "The unit and direction of a built-in metric come with its computation."
        )
    if team not in Team.values:
        raise ValidationError("Choose a team from the list.")
    if not definition.strip():
        raise ValidationError("Say in plain language what the metric counts, and over what.")
    if not name.strip():
        raise ValidationError("The metric needs a name.")
    up = metric.up_is_good if up_is_good is None else up_is_good
    _check_thresholds(up, green_pct, red_pct)

    proposed = {f: getattr(current, f) for f in COMPUTATION_FIELDS}
    if metric.kind == MetricKind.BUILTIN and window_weeks is not None:
        if current.window_weeks is None:
            raise ValidationError(f"{metric.name} has no trailing window to change.")
        if not 1 <= window_weeks <= 104:
            raise ValidationError("A trailing window is 1 to 104 weeks.")
        proposed["window_weeks"] = window_weeks
    if metric.kind == MetricKind.FORMULA and formula is not None:
        _check_formula(metric, formula)
        proposed.update(
            operator=formula.operator,
            left_id=formula.left.id,
            right_id=formula.right.id,
            factor=Decimal(formula.factor).quantize(Decimal("0.0001")),
        )
        additive = formula.operator != FormulaOperator.RATIO and all(
            m.additive for m in (formula.left, formula.right)
        )

    metric.name = name.strip()
    metric.team = team
    metric.definition = definition.strip()
    metric.green_pct = green_pct
    metric.red_pct = red_pct
    metric.position = position
    metric.is_active = is_active
    if owner is not UNCHANGED:
        metric.owner = owner
    if pacing is not None:
        if pacing not in Pacing.values:
            raise ValidationError("Choose how the week in progress is judged from the list.")
        metric.pacing = pacing
    for name, tolerance in (("tolerance_abs", tolerance_abs), ("tolerance_pct", tolerance_pct)):
        if tolerance is not None:
            if tolerance < 0:
                raise ValidationError("A tolerance is zero or more.")
            setattr(metric, name, tolerance)
    if metric.kind != MetricKind.BUILTIN:
        if unit is not None:
            if unit not in Unit.values:
                raise ValidationError("Choose a unit from the list.")
            metric.unit = unit
        if up_is_good is not None:
            metric.up_is_good = up_is_good
    if additive is not None and metric.kind != MetricKind.BUILTIN:
        metric.additive = additive
    metric.updated_by = by
    metric.save()

    new_version = None
    if any(proposed[f] != getattr(current, f) for f in COMPUTATION_FIELDS):
        new_version = MetricDefinition.objects.create(
            metric=metric,
            version=current.version + 1,
            builtin=proposed["builtin"],
            builtin_fingerprint=current.builtin_fingerprint,
            window_weeks=proposed["window_weeks"],
            operator=proposed["operator"],
            left_id=proposed["left_id"],
            right_id=proposed["right_id"],
            factor=proposed["factor"],
            definition=metric.definition,
            note=note.strip()[:300],
            created_by=by,
        )
    return MetricUpdate(metric, new_version)


@transaction.atomic
def target_set(
    *,
    metric: Metric,
    by: AbstractBaseUser | None,
    starts_on: date,
    value: Decimal,
    period: str = TargetPeriod.WEEK,
) -> MetricTarget:
    """Set the target in force from `starts_on` (replacing one that starts the same day).
    Targets of weeks already published stay as they were published."""
    if value < 0:
        raise ValidationError("A target cannot be negative.")
    if period not in TargetPeriod.values:
        raise ValidationError("Choose week, month or quarter.")
    if not metric.additive and period != TargetPeriod.WEEK:
        raise ValidationError(
            f"{metric.name} is a rate or a level, not a sum: its target is the level itself, "
            "so it has no monthly or quarterly form."
        )
    target, _ = MetricTarget.objects.update_or_create(
        metric=metric,
        starts_on=starts_on,
        defaults={"value": value, "period": period, "created_by": by},
    )
    return target


@transaction.atomic
def target_delete(*, target: MetricTarget) -> None:
    target.delete()


class SeriesImportError(ValidationError):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__([str(e) for e in errors])
        self.row_errors = errors


@transaction.atomic
def series_import(
    *, metric: Metric, by: AbstractBaseUser | None, data: bytes, file_name: str = ""
) -> SeriesImport:
    """Import a `week,value` CSV into a series metric: all rows or none. A week already held is
    replaced; published weeks keep the value they were published with."""
    if metric.kind != MetricKind.SERIES:
        raise ValidationError(f"{metric.name} is computed, not imported.")
    rows, errors = series_parse(data)
    if errors:
        raise SeriesImportError(errors)
    existing = set(
        SeriesValue.objects.filter(
            metric=metric, week_start__in=[r.week.monday for r in rows]
        ).values_list("week_start", flat=True)
    )
    batch = SeriesImport.objects.create(
        metric=metric,
        file_name=file_name[:255],
        rows_created=sum(r.week.monday not in existing for r in rows),
        rows_updated=sum(r.week.monday in existing for r in rows),
        created_by=by,
    )
    SeriesValue.objects.bulk_create(
        [
            SeriesValue(metric=metric, week_start=r.week.monday, value=r.value, batch=batch)
            for r in rows
        ],
        update_conflicts=True,
        unique_fields=["metric", "week_start"],
        update_fields=["value", "batch"],
    )
    return batch


@transaction.atomic
def builtin_definitions_sync() -> list[MetricDefinition]:
    """Hold each built-in metric's current definition version to its declaration in the
    registry. A version that predates fingerprints takes the declaration's; one whose
    declaration has changed since is followed by a new version (same calculator and window)
    that says so. Published weeks keep the version they were computed with. Runs after every
    `migrate`; returns the versions it made."""
    from pipeline import metrics

    made = []
    current = definition_current_map()
    for definition in current.values():
        spec = metrics.spec_get(definition.builtin) if definition.builtin else None
        if spec is None or definition.builtin_fingerprint == spec.fingerprint:
            continue
        if not definition.builtin_fingerprint:
            definition.builtin_fingerprint = spec.fingerprint
            definition.save(update_fields=["builtin_fingerprint"])
            continue
        made.append(
            MetricDefinition.objects.create(
                metric=definition.metric,
                version=definition.version + 1,
                builtin=definition.builtin,
                builtin_fingerprint=spec.fingerprint,
                window_weeks=definition.window_weeks,
                definition=definition.metric.definition,
                note="The built-in computation changed: "
                + spec.computed_as(definition.window_weeks)[:250],
            )
        )
    return made
