"""Writes to the metric catalog: metrics, their definition versions, targets and imported
series. Ops staff make these in the browser; every one validates and explains a refusal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from revops.csv import CsvRejected, CsvRowError, CsvUnreadable, csv_table_read
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

# A target as the model stores it: 20 digits, 4 after the point.
TARGET_MAX = Decimal("1e16")

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
    dimension: str = "",
    dimension_value: str = "",
) -> MetricTarget:
    """Set the target in force from `starts_on` (replacing one that starts the same day): the
    company's, or a slice's (`dimension` = `dimension_value`: a team's or an owner's quota).
    Targets of weeks already published stay as they were published."""
    from pipeline.dimensions import BY_KEY

    dimension, dimension_value = dimension.strip(), dimension_value.strip()
    if dimension or dimension_value:
        found = BY_KEY.get(dimension)
        if found is None:
            raise ValidationError(
                f"“{dimension}” is not a dimension: use one of {', '.join(BY_KEY)}."
            )
        if not dimension_value:
            raise ValidationError(f"Say which {found.label.lower()} the target is for.")
        if len(dimension_value) > 100:
            raise ValidationError("A dimension's value has at most 100 characters.")
        from scorecard.compute import metric_dimensions

        if found not in metric_dimensions(metric.definitions.order_by("-version").first()):
            raise ValidationError(f"{metric.name} is not sliced by {found.label.lower()}.")
        if found.group_by:
            # A team, manager, office or region as ops' tables spell it (the slice's label),
            # so `enterprise` is Enterprise's quota; a name no one defined is a typo.
            from pipeline.dimensions import UnknownValue, filter_for

            try:
                dimension_value = filter_for(found, dimension_value).label
            except UnknownValue as exc:
                raise ValidationError(str(exc)) from None
    if value < 0:
        raise ValidationError("A target cannot be negative.")
    if abs(value) >= TARGET_MAX:
        raise ValidationError(f"A target is below {int(TARGET_MAX):,}.")
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
        dimension=dimension,
        dimension_value=dimension_value,
        defaults={"value": value, "period": period, "created_by": by},
    )
    return target


@transaction.atomic
def target_delete(*, target: MetricTarget) -> None:
    target.delete()


TARGETS_FILE_MAX_BYTES = 5_000_000
TARGETS_ROWS_MAX = 5_000
# The header names a quotas file may use for each field, compared without case.
TARGET_COLUMNS: dict[str, tuple[str, ...]] = {
    "metric": ("metric", "metric_key"),
    "period": ("period",),
    "dimension": ("dimension",),
    "value": ("value", "dimension_value"),
    "target": ("target", "quota"),
    "starts_on": ("starts_on", "from"),
}
TARGET_COLUMNS_REQUIRED = ("metric", "dimension", "value", "target", "starts_on")


@dataclass
class TargetsImportResult:
    created: int = 0
    updated: int = 0
    metrics: list[str] = field(default_factory=list)


def _target_number(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(
            f"“{text[:40]}” is not a number (write 1234.5, without separators)."
        ) from None
    if not value.is_finite():
        raise ValueError(f"“{text[:40]}” is not a number.")
    if value < 0:
        raise ValueError("A target cannot be negative.")
    if value >= TARGET_MAX:
        raise ValueError(f"A target is below {int(TARGET_MAX):,}.")
    if -value.as_tuple().exponent > 4:
        raise ValueError("A target has at most 4 decimal places.")
    return value


@transaction.atomic
def targets_import(*, by: AbstractBaseUser | None, data: bytes) -> TargetsImportResult:
    """Import a CSV of targets (quotas), one row a target: `metric, period, dimension, value,
    target, starts_on` (or `from`); dimension and value blank for the company's target, period
    blank for a week. All rows or none: every problem (an unknown metric, a dimension the
    metric is not sliced by, a team no one defined, a bad number or date, a target given twice)
    is listed by row and column in CsvRejected. Each row goes through `target_set`, so a row
    replaces the target of the same metric, slice and start day."""
    from pipeline.dimensions import BY_KEY
    from scorecard.compute import metric_dimensions

    try:
        table = csv_table_read(data, max_bytes=TARGETS_FILE_MAX_BYTES, max_rows=TARGETS_ROWS_MAX)
    except CsvUnreadable as exc:
        raise CsvRejected([CsvRowError(exc.row, "", exc.message)]) from None
    at, clashes = table.columns(TARGET_COLUMNS)
    errors = [CsvRowError(1, "", message) for message in clashes]
    missing = [c for c in TARGET_COLUMNS_REQUIRED if c not in at]
    if missing:
        errors.append(
            CsvRowError(
                1,
                "",
                f"The header has no column {', '.join(missing)}: it must name metric, period, "
                "dimension, value, target and starts_on (or from).",
            )
        )
    if errors:
        raise CsvRejected(errors)
    errors.extend(CsvRowError(row, "", message) for row, message in table.bad_rows)
    column = {f: table.header[i] for f, i in at.items()}
    keys = {cells[at["metric"]].strip() for _, cells in table.rows}
    metrics = {m.key: m for m in Metric.objects.filter(key__in=keys)}
    current = definition_current_map()
    sliced_by = {m.id: metric_dimensions(current.get(m.id)) for m in metrics.values()}
    planned: list[tuple[int, dict]] = []
    first_row: dict[tuple, int] = {}
    for row, cells in table.rows:
        v = {f: cells[i].strip() for f, i in at.items()}
        problems = []

        def problem(f: str, message: str, row: int = row, problems: list = problems) -> None:
            problems.append(CsvRowError(row, column.get(f, ""), message))

        metric = metrics.get(v["metric"])
        if not v["metric"]:
            problem("metric", "Say which metric (its key, e.g. new_bookings).")
        elif metric is None:
            problem("metric", f"There is no metric with the key “{v['metric'][:60]}”.")
        period = (v.get("period") or TargetPeriod.WEEK).lower()
        if period not in TargetPeriod.values:
            problem("period", "Choose week, month or quarter.")
        elif metric is not None and not metric.additive and period != TargetPeriod.WEEK:
            problem("period", f"{metric.name} is a rate or a level: its target is per week.")
        dimension = v["dimension"].lower()
        if dimension and dimension not in BY_KEY:
            problem("dimension", f"“{v['dimension'][:40]}” is not one: use {', '.join(BY_KEY)}.")
        elif dimension and metric is not None and BY_KEY[dimension] not in sliced_by[metric.id]:
            problem("dimension", f"{metric.name} is not sliced by {dimension}.")
        if dimension and not v["value"]:
            problem("value", f"Say which {dimension} the target is for.")
        elif v["value"] and not dimension:
            problem("dimension", "Say what the value is (team, owner, region …).")
        elif len(v["value"]) > 100:
            problem("value", "A dimension's value has at most 100 characters.")
        try:
            target = _target_number(v["target"])
        except ValueError as exc:
            problem("target", str(exc))
        try:
            starts_on = date.fromisoformat(v["starts_on"])
        except ValueError:
            problem("starts_on", f"“{v['starts_on'][:40]}” is not a date like 2026-01-05.")
        if problems:
            errors.extend(problems)
            continue
        # Groups and countries compare without case; an owner's key (or a segment) as written.
        loose = dimension and (BY_KEY[dimension].group_by or BY_KEY[dimension].base == "country")
        same = (metric.id, dimension, v["value"].casefold() if loose else v["value"], starts_on)
        if same in first_row:
            problem("starts_on", f"The same target is on row {first_row[same]}.")
            errors.extend(problems)
            continue
        first_row[same] = row
        planned.append(
            (
                row,
                {
                    "metric": metric,
                    "period": period,
                    "dimension": dimension,
                    "dimension_value": v["value"],
                    "value": target,
                    "starts_on": starts_on,
                },
            )
        )
    if not planned and not errors:
        errors.append(CsvRowError(None, "", "The file has a header but no targets."))
    if errors:
        raise CsvRejected(errors[:1000])
    existing = set(
        MetricTarget.objects.filter(metric__in=metrics.values()).values_list("pk", flat=True)
    )
    result = TargetsImportResult()
    for row, kwargs in planned:
        try:
            saved = target_set(by=by, **kwargs)
        except ValidationError as exc:
            # What only target_set knows: a team or region no one defined.
            where = column["value"] if kwargs["dimension"] else ""
            errors.append(CsvRowError(row, where, " ".join(exc.messages)))
            continue
        if saved.pk in existing:
            result.updated += 1
        else:
            result.created += 1
    if errors:
        raise CsvRejected(errors[:1000])  # rolls back the rows already set
    result.metrics = sorted({kwargs["metric"].key for _, kwargs in planned})
    return result


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
