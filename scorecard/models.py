"""The metric catalog, its versioned definitions and targets, imported series, and the weekly
snapshots that freeze what executives discussed."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now

from pipeline import metrics
from scorecard.choices import (
    OPERATOR_SYMBOL,
    FormulaOperator,
    MetricKind,
    Pacing,
    PublicationSource,
    Rag,
    TargetPeriod,
    Team,
    Unit,
)

KEY_PATTERN = r"^[a-z][a-z0-9_]{1,59}$"


def _money(*args, **kwargs) -> models.DecimalField:
    return models.DecimalField(*args, max_digits=20, decimal_places=4, **kwargs)


class Metric(models.Model):
    """One metric of the catalog, e.g. `mqls`. Keyed by `key`, which never changes; the name,
    the plain-language definition, the targets and the RAG thresholds are ops' to edit. How the
    value is computed lives in its `MetricDefinition` versions; `kind` says which sort of
    computation it is and is fixed at creation.

    Thresholds are percentages of the target: with up-is-good, green at or above `green_pct`
    of target and red below `red_pct`; with down-is-good, green at or below `green_pct` and red
    above `red_pct`. Amber in between."""

    key = models.CharField(max_length=60, unique=True)
    name = models.CharField(max_length=100)
    team = models.CharField(max_length=20, choices=Team.choices)
    unit = models.CharField(max_length=10, choices=Unit.choices)
    up_is_good = models.BooleanField("up is good", default=True)
    additive = models.BooleanField(
        default=False,
        help_text="Weekly values add up over a month or a quarter (counts and amounts), so a "
        "monthly or quarterly target is spread over its weeks.",
    )
    kind = models.CharField(max_length=10, choices=MetricKind.choices)
    definition = models.TextField(
        help_text="In plain language: exactly what is counted, and in which window."
    )
    green_pct = models.DecimalField(
        "green at % of target", max_digits=7, decimal_places=2, default=Decimal(100)
    )
    red_pct = models.DecimalField(
        "red beyond % of target", max_digits=7, decimal_places=2, default=Decimal(90)
    )
    tolerance_abs = _money(
        "explained within (absolute)",
        default=Decimal(0),
        help_text="A reconciliation difference no bridge step explains, up to this much, still "
        "counts as explained.",
    )
    tolerance_pct = models.DecimalField(
        "explained within (% of sales' value)",
        max_digits=7,
        decimal_places=2,
        default=Decimal(0),
        help_text="Added to the absolute tolerance: this share of the sales system's value.",
    )
    pacing = models.CharField(
        "week in progress judged",
        max_length=16,
        choices=Pacing.choices,
        default=Pacing.BUSINESS_DAYS,
        help_text="A count or an amount of the week in progress is judged against its target "
        "prorated to the share of the week elapsed; rates and levels as they stand.",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_metrics",
        help_text="The person who answers for the number and writes its weekly commentary.",
    )
    position = models.PositiveSmallIntegerField(
        default=100, help_text="Order within its section, smallest first."
    )
    is_active = models.BooleanField(
        "shown on the scorecard", default=True, help_text="Retired metrics keep their history."
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(key__regex=KEY_PATTERN), name="scorecard_metric_key"
            ),
            models.CheckConstraint(
                condition=Q(team__in=Team.values), name="scorecard_metric_team_valid"
            ),
            models.CheckConstraint(
                condition=Q(unit__in=Unit.values), name="scorecard_metric_unit_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=MetricKind.values), name="scorecard_metric_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(pacing__in=Pacing.values), name="scorecard_metric_pacing_valid"
            ),
            models.CheckConstraint(
                condition=Q(tolerance_abs__gte=0, tolerance_pct__gte=0),
                name="scorecard_metric_tolerance_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(green_pct__gte=0, red_pct__gte=0)
                & (
                    Q(up_is_good=True, red_pct__lte=F("green_pct"))
                    | Q(up_is_good=False, red_pct__gte=F("green_pct"))
                ),
                name="scorecard_metric_thresholds_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class MetricDefinition(models.Model):
    """One version of how a metric is computed. Keyed by (metric, version); versions only grow.
    A change to the computation (a formula's operands, operator or factor, a trailing window)
    creates the next version, and every published week records the version it used, so a new
    definition never rewrites last quarter's scorecard. `definition` keeps the plain-language
    text as it read when this version was made."""

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="definitions")
    version = models.PositiveIntegerField()
    builtin = models.CharField(
        max_length=40, blank=True, help_text="The calculator of a built-in metric."
    )
    builtin_fingerprint = models.CharField(
        max_length=16,
        blank=True,
        editable=False,
        help_text="The digest of the built-in's declaration this version computes with.",
    )
    window_weeks = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Trailing window of a built-in rate, in weeks."
    )
    operator = models.CharField(max_length=12, choices=FormulaOperator.choices, blank=True)
    left = models.ForeignKey(
        Metric, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    right = models.ForeignKey(
        Metric, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    factor = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal(1))
    definition = models.TextField(blank=True)
    note = models.CharField(max_length=300, blank=True, help_text="Why the computation changed.")
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["metric", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "version"], name="scorecard_definition_version_unique"
            ),
            models.CheckConstraint(
                condition=Q(version__gte=1), name="scorecard_definition_version_positive"
            ),
            models.CheckConstraint(
                condition=(Q(operator="") & Q(left__isnull=True) & Q(right__isnull=True))
                | (
                    Q(operator__in=FormulaOperator.values)
                    & Q(left__isnull=False)
                    & Q(right__isnull=False)
                    & Q(builtin="")
                ),
                name="scorecard_definition_formula_complete",
            ),
            models.CheckConstraint(
                condition=Q(window_weeks__isnull=True)
                | Q(window_weeks__gte=1, window_weeks__lte=104),
                name="scorecard_definition_window_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric.key} v{self.version}"

    @property
    def is_formula(self) -> bool:
        return bool(self.operator)

    def computed_as(self) -> str:
        """How a built-in version is computed, in one sentence generated from the metric's
        declaration in the registry; empty for formulas and series."""
        spec = metrics.spec_get(self.builtin) if self.builtin else None
        return spec.computed_as(self.window_weeks) if spec else ""

    def formula_display(self) -> str:
        """`Email clicks ÷ Email recipients × 100`, for a formula version."""
        if not self.is_formula:
            return ""
        text = f"{self.left.name} {OPERATOR_SYMBOL[self.operator]} {self.right.name}"
        if self.factor != 1:
            text += f" × {self.factor.normalize():f}"
        return text


class MetricTarget(models.Model):
    """A metric's target from `starts_on` until the next target of the same metric starts.
    Keyed by (metric, starts_on). A week is held to the target in force on its Sunday."""

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="targets")
    starts_on = models.DateField()
    period = models.CharField(
        max_length=10, choices=TargetPeriod.choices, default=TargetPeriod.WEEK
    )
    value = _money()
    # A slice's target (a team's or an owner's quota): the dimension's key (pipeline/dimensions.py)
    # and the value it holds; both blank for the company's own target.
    dimension = models.CharField(max_length=20, blank=True, db_default="")
    dimension_value = models.CharField(max_length=100, blank=True, db_default="")
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["metric", "dimension", "dimension_value", "-starts_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "dimension", "dimension_value", "starts_on"],
                name="scorecard_target_start_unique",
            ),
            models.CheckConstraint(
                condition=Q(dimension="", dimension_value="")
                | (~Q(dimension="") & ~Q(dimension_value="")),
                name="scorecard_target_slice_whole",
            ),
            models.CheckConstraint(
                condition=Q(value__gte=0), name="scorecard_target_value_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(period__in=TargetPeriod.values), name="scorecard_target_period_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric.key} {self.value} {self.get_period_display()} from {self.starts_on}"


class SeriesImport(models.Model):
    """One CSV file of (week, value) rows imported into a series metric; applied whole or not
    at all."""

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="imports")
    file_name = models.CharField(max_length=255, blank=True)
    rows_created = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.metric.key} import #{self.pk}"


class SeriesValue(models.Model):
    """One week's value of an imported series metric. Keyed by (metric, week_start), the
    week's Monday; a later import of the same week replaces the value."""

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="series_values")
    week_start = models.DateField()
    value = _money()
    batch = models.ForeignKey(SeriesImport, on_delete=models.PROTECT, related_name="values")

    class Meta:
        ordering = ["metric", "week_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "week_start"], name="scorecard_seriesvalue_week_unique"
            ),
            models.CheckConstraint(
                condition=Q(week_start__iso_week_day=1), name="scorecard_seriesvalue_monday"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric_id} {self.week_start}: {self.value}"


class WeeklySnapshot(models.Model):
    """The published scorecard of one ISO week: the values executives discussed, frozen.
    Keyed by `week_start`, the week's Monday. It changes only when ops republish it on
    purpose; each publication is recorded in `SnapshotPublication`."""

    week_start = models.DateField(unique=True)
    revision = models.PositiveIntegerField(default=1)
    source = models.CharField(max_length=10, choices=PublicationSource.choices)
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    digest_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-week_start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(week_start__iso_week_day=1), name="scorecard_snapshot_monday"
            ),
            models.CheckConstraint(
                condition=Q(source__in=PublicationSource.values),
                name="scorecard_snapshot_source_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Scorecard of week {self.week_start} (revision {self.revision})"


class SnapshotValue(models.Model):
    """One metric's value in a published week, with the definition version, target and RAG it
    was published with. Keyed by (snapshot, metric); `week_start` repeats the snapshot's week
    so that a trend reads one index range."""

    snapshot = models.ForeignKey(WeeklySnapshot, on_delete=models.CASCADE, related_name="values")
    metric = models.ForeignKey(Metric, on_delete=models.PROTECT, related_name="snapshot_values")
    definition = models.ForeignKey(MetricDefinition, on_delete=models.PROTECT, related_name="+")
    week_start = models.DateField()
    value = _money(null=True, blank=True)
    numerator = _money(null=True, blank=True)
    denominator = _money(null=True, blank=True)
    target = _money(null=True, blank=True)
    rag = models.CharField(max_length=5, choices=Rag.choices, default=Rag.NONE)
    note = models.CharField(max_length=200, blank=True)
    # When this value was last frozen (its publication or the republish that restated it):
    # what moved it since is what a restatement's causes look for.
    frozen_at = models.DateTimeField(null=True, blank=True)
    # The owner's commentary as it was when the week was published (MetricCommentary).
    commentary = models.TextField(blank=True)
    commentary_html = models.TextField(blank=True)
    commentary_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["snapshot", "metric"], name="scorecard_snapshotvalue_unique"
            ),
            models.CheckConstraint(
                condition=Q(rag__in=Rag.values), name="scorecard_snapshotvalue_rag_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["week_start", "metric"], name="scorecard_value_week_idx"),
            models.Index(fields=["metric", "week_start"], name="scorecard_value_metric_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.metric_id} in week {self.week_start}: {self.value}"


class SnapshotSlice(models.Model):
    """A row of a published week's breakdown by a standard dimension, frozen with the week
    (settings.SCORECARD_FROZEN_DIMENSIONS): the value people read (`label`: EMEA, Other, No
    team) and the field values it stood for when the week was published (`keys`, or every
    value but them when `negate`), so a published slice does not change under the meeting's
    feet. Keyed by (snapshot, dimension, label)."""

    snapshot = models.ForeignKey(WeeklySnapshot, on_delete=models.CASCADE, related_name="slices")
    week_start = models.DateField()
    dimension = models.CharField(max_length=20)
    label = models.CharField(max_length=100)
    keys = ArrayField(models.CharField(max_length=300), default=list, blank=True)
    negate = models.BooleanField(default=False)
    rest = models.BooleanField(default=False, help_text="The Other or Not set row.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["snapshot", "dimension", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["snapshot", "dimension", "label"], name="scorecard_snapshotslice_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["dimension", "label", "week_start"], name="scorecard_slice_label_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.dimension}={self.label} in week {self.week_start}"


class SnapshotSliceValue(models.Model):
    """One metric's value in a frozen slice of a published week, as SnapshotValue is the
    company's: judged against the slice's own target."""

    slice = models.ForeignKey(SnapshotSlice, on_delete=models.CASCADE, related_name="values")
    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="+")
    definition = models.ForeignKey(MetricDefinition, on_delete=models.PROTECT, related_name="+")
    week_start = models.DateField()
    value = _money(null=True, blank=True)
    numerator = _money(null=True, blank=True)
    denominator = _money(null=True, blank=True)
    target = _money(null=True, blank=True)
    rag = models.CharField(max_length=5, choices=Rag.choices, default=Rag.NONE)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["slice", "metric"], name="scorecard_snapshotslicevalue_unique"
            ),
            models.CheckConstraint(
                condition=Q(rag__in=Rag.values), name="scorecard_slicevalue_rag_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric_id} in {self.slice}: {self.value}"


class SnapshotPublication(models.Model):
    """One act of publishing a week: its first publication or a deliberate republish, with who,
    when, why, and for a republish the values that changed (`changes`: metric key → old and new
    value as strings) and what moved them (`causes`, scorecard/restatements.py)."""

    snapshot = models.ForeignKey(
        WeeklySnapshot, on_delete=models.CASCADE, related_name="publications"
    )
    revision = models.PositiveIntegerField()
    source = models.CharField(max_length=10, choices=PublicationSource.choices)
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(blank=True)
    changes = models.JSONField(default=dict, blank=True)
    causes = models.JSONField(
        default=list,
        blank=True,
        help_text="What moved the changed values: import batches, corrections, definitions, "
        "targets or a dispute, each with the metric keys it explains.",
    )

    class Meta:
        ordering = ["snapshot", "-revision"]
        constraints = [
            models.UniqueConstraint(
                fields=["snapshot", "revision"], name="scorecard_publication_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.snapshot.week_start} revision {self.revision}"


class PendingRestatement(models.Model):
    """A published week whose frozen values differ from the live ones (late-arriving records,
    corrections): a restatement waiting for ops. Kept by the restatement check
    (services/snapshots.py::restatements_check, hourly and whenever ops open the list), and
    cleared for a week when it is republished, so the executives' cached page can say one is
    pending without recomputing the week. Keyed by `week_start`."""

    week_start = models.DateField(unique=True)
    metrics = models.JSONField(
        default=list, help_text="The metric keys whose frozen value differs from the live one."
    )
    checked_at = models.DateTimeField()

    class Meta:
        ordering = ["-week_start"]

    def __str__(self) -> str:
        return f"Restatement pending for week {self.week_start}: {', '.join(self.metrics)}"


COMMENTARY_MAX_CHARS = 4000


class MetricCommentary(models.Model):
    """The owner's word on one metric in one week: why it moved, what is being done. Markdown
    as typed (cleaned, mechanisms' rules) and its sanitised HTML, rendered once on save.
    Keyed by (metric, week_start). Publishing a week freezes it into the week's
    SnapshotValue; changing the commentary of a published week is a republish with a reason
    (services/snapshots.py::snapshot_commentary_restate)."""

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="commentaries")
    week_start = models.DateField()
    body = models.TextField()
    html = models.TextField()
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    written_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-week_start", "metric"]
        verbose_name_plural = "metric commentaries"
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "week_start"], name="scorecard_commentary_unique"
            ),
            models.CheckConstraint(
                condition=Q(week_start__iso_week_day=1), name="scorecard_commentary_monday"
            ),
        ]

    def __str__(self) -> str:
        return f"Commentary on {self.metric_id} in week {self.week_start}"
