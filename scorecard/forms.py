"""Forms of the catalog pages. They only shape input; the services decide and explain."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model

from pipeline.selectors import RECONCILED_METRICS
from scorecard.choices import FormulaOperator, MetricKind, Pacing, TargetPeriod, Team, Unit
from scorecard.models import Metric
from scorecard.services.catalog import TARGETS_FILE_MAX_BYTES, Formula

DATE = forms.DateInput(attrs={"type": "date"})
PCT = {"min": 0, "max": 10000, "step": "0.1"}
# As the model stores thresholds: up to 99,999.99% of target.
PCT_FIELD = {"max_digits": 7, "decimal_places": 2, "min_value": 0}


class FormulaFields(forms.Form):
    """The formula part of a metric form: A (operator) B × factor."""

    left = forms.ModelChoiceField(queryset=Metric.objects.none(), required=False, label="Metric A")
    operator = forms.ChoiceField(choices=[("", "—"), *FormulaOperator.choices], required=False)
    right = forms.ModelChoiceField(queryset=Metric.objects.none(), required=False, label="Metric B")
    factor = forms.DecimalField(
        initial=Decimal(1),
        max_digits=14,
        decimal_places=4,
        required=False,
        help_text="Multiplies the result: 100 turns a ratio into a percentage.",
    )

    def __init__(self, *args, exclude: Metric | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        metrics = Metric.objects.order_by("name")
        if exclude is not None:
            metrics = metrics.exclude(pk=exclude.pk)
        self.fields["left"].queryset = metrics
        self.fields["right"].queryset = metrics

    def formula(self) -> Formula | None:
        data = self.cleaned_data
        if not (data.get("operator") and data.get("left") and data.get("right")):
            return None
        return Formula(
            data["operator"], data["left"], data["right"], data.get("factor") or Decimal(1)
        )


class MetricCreateForm(FormulaFields):
    kind = forms.ChoiceField(
        choices=[
            (MetricKind.FORMULA, "A formula over existing metrics"),
            (MetricKind.SERIES, "A weekly series I import as CSV"),
        ],
        widget=forms.RadioSelect,
        initial=MetricKind.FORMULA,
    )
    key = forms.RegexField(
        regex=r"^[a-z][a-z0-9_]{1,59}$",
        max_length=60,
        help_text="Lower case, digits and underscores; it never changes, e.g. email_ctr.",
        error_messages={"invalid": "Use lower-case letters, digits and underscores."},
    )
    name = forms.CharField(max_length=100)
    team = forms.ChoiceField(choices=Team.choices)
    unit = forms.ChoiceField(choices=Unit.choices)
    up_is_good = forms.TypedChoiceField(
        label="Direction",
        choices=[("1", "Up is good"), ("0", "Down is good")],
        coerce=lambda v: v == "1",
        initial="1",
    )
    additive = forms.BooleanField(
        required=False,
        label="Weekly values add up over a month or quarter",
        help_text="For an imported series of counts or amounts; formulas work it out.",
    )
    definition = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Exactly what is counted, and in which window.",
    )
    green_pct = forms.DecimalField(
        label="Green at % of target", initial=100, widget=forms.NumberInput(attrs=PCT), **PCT_FIELD
    )
    red_pct = forms.DecimalField(
        label="Red beyond % of target",
        required=False,
        **PCT_FIELD,
        help_text="Empty: 90% when up is good, 110% when down is good.",
        widget=forms.NumberInput(attrs=PCT),
    )

    field_order = [
        "kind", "key", "name", "team", "unit", "up_is_good", "additive", "definition",
        "left", "operator", "right", "factor", "green_pct", "red_pct",
    ]  # fmt: skip

    def clean(self):
        data = super().clean()
        if data.get("kind") == MetricKind.FORMULA and not self.formula():
            raise forms.ValidationError("A formula needs metric A, an operator and metric B.")
        for name in ("tolerance_abs", "tolerance_pct"):  # a cleared tolerance is none at all
            if name in self.fields and data.get(name) is None and name not in self.errors:
                data[name] = Decimal(0)
        return data


class MetricEditForm(FormulaFields):
    name = forms.CharField(max_length=100)
    team = forms.ChoiceField(choices=Team.choices)
    definition = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Exactly what is counted, and in which window.",
    )
    unit = forms.ChoiceField(choices=Unit.choices, required=False)
    up_is_good = forms.TypedChoiceField(
        label="Direction",
        choices=[("1", "Up is good"), ("0", "Down is good")],
        coerce=lambda v: v == "1",
        required=False,
    )
    additive = forms.BooleanField(
        required=False, label="Weekly values add up over a month or quarter"
    )
    window_weeks = forms.IntegerField(
        label="Trailing window (weeks)", min_value=1, max_value=104, required=False
    )
    green_pct = forms.DecimalField(
        label="Green at % of target", widget=forms.NumberInput(attrs=PCT), **PCT_FIELD
    )
    red_pct = forms.DecimalField(
        label="Red beyond % of target", widget=forms.NumberInput(attrs=PCT), **PCT_FIELD
    )
    owner = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label="Nobody yet",
        help_text="Answers for the number and writes its weekly commentary.",
    )
    pacing = forms.ChoiceField(
        label="Week in progress judged",
        choices=Pacing.choices,
        required=False,
        help_text="Against the target prorated to the share of the week elapsed, or only "
        "once the week is complete.",
    )
    tolerance_abs = forms.DecimalField(
        label="Explained within (absolute)",
        max_digits=20,
        decimal_places=4,
        min_value=0,
        required=False,
        help_text="A reconciliation difference the bridge does not explain, up to this much, "
        "is still marked explained rather than variance.",
    )
    tolerance_pct = forms.DecimalField(
        label="… plus % of sales' value",
        widget=forms.NumberInput(attrs=PCT),
        **{**PCT_FIELD, "required": False},
    )
    position = forms.IntegerField(min_value=0, max_value=32000, help_text="Smallest first.")
    is_active = forms.BooleanField(required=False, label="Shown on the scorecard")
    note = forms.CharField(
        max_length=300,
        required=False,
        label="Why the computation changes",
        help_text="Recorded with the new definition version when the formula or window changes.",
    )

    field_order = [
        "name", "team", "definition", "left", "operator", "right", "factor", "window_weeks",
        "unit", "up_is_good", "additive", "green_pct", "red_pct", "owner", "pacing",
        "tolerance_abs", "tolerance_pct", "position", "is_active", "note",
    ]  # fmt: skip

    def __init__(self, *args, metric: Metric, current, **kwargs) -> None:
        initial = {
            "name": metric.name,
            "team": metric.team,
            "definition": metric.definition,
            "unit": metric.unit,
            "up_is_good": "1" if metric.up_is_good else "0",
            "additive": metric.additive,
            "window_weeks": current.window_weeks,
            "green_pct": metric.green_pct,
            "red_pct": metric.red_pct,
            "owner": metric.owner_id,
            "pacing": metric.pacing,
            "tolerance_abs": metric.tolerance_abs.normalize(),
            "tolerance_pct": metric.tolerance_pct.normalize(),
            "position": metric.position,
            "is_active": metric.is_active,
            "left": current.left_id,
            "operator": current.operator,
            "right": current.right_id,
            "factor": current.factor,
        }
        super().__init__(*args, initial=initial, exclude=metric, **kwargs)
        self.metric = metric
        self.fields["owner"].queryset = (
            get_user_model().objects.filter(is_active=True).order_by("first_name", "username")
        )
        self.fields["owner"].label_from_instance = lambda u: u.get_full_name() or u.username
        if metric.key not in RECONCILED_METRICS:  # nothing reconciles it: no tolerance
            del self.fields["tolerance_abs"]
            del self.fields["tolerance_pct"]
        # Only what ops may change for this kind of metric is on the form.
        if metric.kind == MetricKind.BUILTIN:
            for name in ("unit", "up_is_good", "additive", "left", "operator", "right", "factor"):
                del self.fields[name]
            if current.window_weeks is None:
                del self.fields["window_weeks"]
        else:
            del self.fields["window_weeks"]
            if metric.kind == MetricKind.SERIES:
                for name in ("left", "operator", "right", "factor"):
                    del self.fields[name]
            else:
                del self.fields["additive"]  # a formula's additivity follows from its operands

    def clean(self):
        data = super().clean()
        if self.metric.kind == MetricKind.FORMULA and not self.formula():
            raise forms.ValidationError("A formula needs metric A, an operator and metric B.")
        return data


class TargetForm(forms.Form):
    """The company's target, or with a dimension and its value a slice's (a team's quota).
    `dimensions`: those the metric is sliced by (none: the form sets the company's only)."""

    dimension = forms.ChoiceField(choices=[], required=False, label="For")
    dimension_value = forms.CharField(
        required=False,
        max_length=100,
        label="Which",
        help_text="The team, owner, region … as the scorecard names it.",
    )
    starts_on = forms.DateField(
        widget=DATE, help_text="The target holds from this day until the next target starts."
    )
    value = forms.DecimalField(min_value=0, max_digits=20, decimal_places=4)
    period = forms.ChoiceField(choices=TargetPeriod.choices, initial=TargetPeriod.WEEK)

    def __init__(self, *args, metric: Metric, dimensions=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not metric.additive:
            del self.fields["period"]
            self.fields["value"].help_text = "A level: the value a week should reach."
        if dimensions:
            self.fields["dimension"].choices = [
                ("", "The whole company"),
                *((d.key, d.label) for d in dimensions),
            ]
        else:
            del self.fields["dimension"], self.fields["dimension_value"]

    def clean(self):
        data = super().clean()
        if data.get("dimension_value", "").strip() and not data.get("dimension"):
            self.add_error(
                "dimension", "Choose what it is (a team, an owner …), or leave “Which” blank."
            )
        return data


class QuotasUploadForm(forms.Form):
    file = forms.FileField(
        help_text="CSV (UTF-8, comma or semicolon) with the header metric, period, dimension, "
        "value, target, starts_on: e.g. new_bookings,quarter,team,Enterprise,250000,2026-01-01. "
        "Leave dimension and value blank for the company's target."
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > TARGETS_FILE_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is over {TARGETS_FILE_MAX_BYTES // 1_000_000} MB."
            )
        return upload


class SeriesImportForm(forms.Form):
    file = forms.FileField(
        help_text="CSV with a header row week,value; weeks as 2026-W46 or any date in the week."
    )


class PublishForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Required to republish a week; recorded with the revision.",
    )
