"""FilterSets of the scorecard's lists, used by the catalog page and the API alike."""

from __future__ import annotations

import django_filters as df
from django import forms
from django.db.models import QuerySet

from revops.weeks import IsoWeek
from scorecard.choices import MetricKind, Rag, Team
from scorecard.models import Metric, MetricDefinition, SnapshotSliceValue, SnapshotValue


class IsoWeekField(forms.CharField):
    """A form field that reads 2026-W46 into an IsoWeek, with a readable error otherwise."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            return IsoWeek.parse(value)
        except ValueError as exc:
            # As a parameter: a "%" the user typed must not be read as a format.
            raise forms.ValidationError("%(reason)s", params={"reason": str(exc)}) from None


class IsoWeekFilter(df.Filter):
    field_class = IsoWeekField

    def filter(self, qs: QuerySet, value: IsoWeek | None) -> QuerySet:
        if value is None:
            return qs
        return qs.filter(**{f"{self.field_name}__{self.lookup_expr}": value.monday})


class MetricFilter(df.FilterSet):
    team = df.ChoiceFilter(choices=Team.choices)
    kind = df.ChoiceFilter(choices=MetricKind.choices)
    is_active = df.BooleanFilter()

    class Meta:
        model = Metric
        fields = ["team", "kind", "is_active"]


class MetricDefinitionFilter(df.FilterSet):
    metric = df.CharFilter(field_name="metric__key", label="Metric key")

    class Meta:
        model = MetricDefinition
        fields = ["metric"]


class WeeklyValueFilter(df.FilterSet):
    # `?team=` names a sales team (a slice, pipeline/dimensions.py); the metric's own team
    # (marketing, sales, customer success) is its `section`.
    metric = df.CharFilter(field_name="metric__key", label="Metric key")
    section = df.ChoiceFilter(
        field_name="metric__team", choices=Team.choices, label="The metric's section"
    )
    since = IsoWeekFilter(field_name="week_start", lookup_expr="gte", label="From week")
    until = IsoWeekFilter(field_name="week_start", lookup_expr="lte", label="To week")
    rag = df.ChoiceFilter(choices=Rag.choices)

    class Meta:
        model = SnapshotValue
        fields = ["metric", "section", "since", "until", "rag"]


class WeeklySliceValueFilter(WeeklyValueFilter):
    """The same filters over the values publication froze for one slice."""

    class Meta(WeeklyValueFilter.Meta):
        model = SnapshotSliceValue
