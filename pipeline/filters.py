"""FilterSets for golden records, shared by the HTML list pages and the API."""

from __future__ import annotations

import django_filters as df
from django import forms
from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema_field

from pipeline.choices import (
    FIELD_LABELS,
    RECONCILED_FIELDS,
    AccountHealth,
    DealSource,
    DealStage,
    DealType,
    DiscrepancyKind,
    LeadStage,
    ObjectType,
    ReconciliationTrigger,
    RunStatus,
)
from pipeline.models import (
    Account,
    Deal,
    Discrepancy,
    ExchangeRate,
    Lead,
    ReconciledMetricWeek,
    ReconciliationRun,
    SourceSystem,
)
from pipeline.selectors import RECONCILED_METRICS
from revops.weeks import IsoWeek

DATE = forms.DateInput(attrs={"type": "date"})


class RecordFilter(df.FilterSet):
    """A golden record list: records deleted in every source are left out unless asked for
    (`?deleted=with` shows them too, `?deleted=only` only them)."""

    deleted = df.ChoiceFilter(
        choices=[("with", "Live and deleted"), ("only", "Deleted only")],
        method="filter_deleted",
        empty_label="Live records",
        label="Deleted in the source",
    )

    def filter_deleted(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(deleted_at__isnull=False) if value == "only" else queryset

    @property
    def qs(self) -> QuerySet:
        # The default lives here, not in the filter: django-filter skips a filter left blank.
        asked = self.is_bound and self.form.is_valid() and self.form.cleaned_data.get("deleted")
        return super().qs if asked else super().qs.filter(deleted_at__isnull=True)


class LeadFilter(RecordFilter):
    q = df.CharFilter(method="search", label="Search")
    stage = df.ChoiceFilter(choices=LeadStage.choices, empty_label="Any stage")
    source = df.CharFilter(lookup_expr="iexact", label="Source channel")
    owner = df.CharFilter(lookup_expr="icontains")
    created_after = df.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label="Created from", widget=DATE
    )
    created_before = df.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label="Created to", widget=DATE
    )

    class Meta:
        model = Lead
        fields = ["q", "stage", "source", "owner", "created_after", "created_before"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        return queryset.filter(
            Q(email_key__icontains=value)
            | Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
            | Q(company__icontains=value)
        )


class DealFilter(RecordFilter):
    q = df.CharFilter(method="search", label="Search")
    stage = df.ChoiceFilter(choices=DealStage.choices, empty_label="Any stage")
    source = df.ChoiceFilter(choices=DealSource.choices, empty_label="Any source")
    deal_type = df.ChoiceFilter(choices=DealType.choices, empty_label="Any type")
    owner = df.CharFilter(lookup_expr="icontains")
    close_after = df.DateFilter(
        field_name="close_date", lookup_expr="gte", label="Closes from", widget=DATE
    )
    close_before = df.DateFilter(
        field_name="close_date", lookup_expr="lte", label="Closes to", widget=DATE
    )

    class Meta:
        model = Deal
        fields = ["q", "stage", "source", "deal_type", "owner", "close_after", "close_before"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        return queryset.filter(Q(name__icontains=value) | Q(account__name__icontains=value))


class AccountFilter(RecordFilter):
    q = df.CharFilter(method="search", label="Search")
    health = df.ChoiceFilter(choices=AccountHealth.choices, empty_label="Any health")
    industry = df.CharFilter(lookup_expr="iexact")
    customers = df.BooleanFilter(method="filter_customers", label="Current customers only")

    class Meta:
        model = Account
        fields = ["q", "health", "industry", "customers"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        return queryset.filter(Q(name__icontains=value) | Q(domain__icontains=value))

    def filter_customers(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        current = Q(customer_since__isnull=False, churned_on__isnull=True)
        return queryset.filter(current) if value else queryset.exclude(current)


# --- Reconciliation ------------------------------------------------------------------------------

RECONCILED_FIELD_CHOICES = [
    (name, FIELD_LABELS[name])
    for name in dict.fromkeys(f for fields in RECONCILED_FIELDS.values() for f in fields)
]


class IsoWeekField(forms.CharField):
    """A week typed as 2026-W46 (what an <input type=week> sends) or any date in it; cleans
    to the Monday."""

    widget = forms.TextInput(attrs={"type": "week", "placeholder": "2026-W46"})

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            return IsoWeek.parse_input(value).monday
        except ValueError as exc:
            # As a parameter: a "%" the user typed must not be read as a format.
            raise forms.ValidationError("%(reason)s", params={"reason": str(exc)}) from None


@extend_schema_field(
    {"type": "string", "example": "2026-W46", "description": "ISO week, or any date in it"}
)
class IsoWeekFilter(df.Filter):
    field_class = IsoWeekField


class DiscrepancyFilter(df.FilterSet):
    q = df.CharFilter(method="search", label="Search")
    status = df.ChoiceFilter(
        choices=[("open", "Open"), ("resolved", "Resolved")],
        method="filter_status",
        empty_label="Open and resolved",
        label="Status",
    )
    kind = df.ChoiceFilter(choices=DiscrepancyKind.choices, empty_label="Any kind")
    object_type = df.ChoiceFilter(
        choices=[(ObjectType.LEAD, "Leads"), (ObjectType.DEAL, "Deals")],
        empty_label="Leads and deals",
        label="Records",
    )
    field = df.ChoiceFilter(choices=RECONCILED_FIELD_CHOICES, empty_label="Any field")
    system = df.ModelChoiceFilter(
        queryset=SourceSystem.objects.order_by("name"), empty_label="Any system", label="Fix in"
    )
    week = IsoWeekFilter(method="filter_week", label="Week")
    run = df.NumberFilter(method="filter_run", label="Seen in run")
    first_seen_run = df.NumberFilter(field_name="first_seen_run_id", label="New in run")
    resolved_run = df.NumberFilter(field_name="resolved_run_id", label="Resolved by run")

    class Meta:
        model = Discrepancy
        fields = [
            "q",
            "status",
            "kind",
            "object_type",
            "field",
            "system",
            "week",
            "run",
            "first_seen_run",
            "resolved_run",
        ]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        return queryset.filter(Q(golden_key__icontains=value) | Q(label__icontains=value))

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "open":
            return queryset.filter(resolved_run__isnull=True)
        if value == "resolved":
            return queryset.filter(resolved_run__isnull=False)
        return queryset

    def filter_week(self, queryset: QuerySet, name: str, value) -> QuerySet:
        # A date that differs across weeks counts in both.
        return queryset.filter(Q(week_start=value) | Q(other_week_start=value))

    def filter_run(self, queryset: QuerySet, name: str, value) -> QuerySet:
        run = ReconciliationRun.objects.filter(pk=value, status=RunStatus.COMPLETED).first()
        if run is None:
            return queryset.none()
        # An episode is contiguous: first seen at or before the run, last seen at or after.
        return queryset.filter(
            first_seen_run__finished_at__lte=run.finished_at,
            last_seen_run__finished_at__gte=run.finished_at,
        )


class ReconciliationRunFilter(df.FilterSet):
    status = df.ChoiceFilter(choices=RunStatus.choices, empty_label="Any status")
    trigger = df.ChoiceFilter(
        choices=ReconciliationTrigger.choices, empty_label="Any start", label="Started from"
    )

    class Meta:
        model = ReconciliationRun
        fields = ["status", "trigger"]


class MetricWeekFilter(df.FilterSet):
    """Bridges of one run (the current one unless `run` is given)."""

    metric = df.ChoiceFilter(
        field_name="metric_key", choices=list(RECONCILED_METRICS.items()), label="Metric"
    )
    week = IsoWeekFilter(field_name="week_start", label="Week")
    run = df.NumberFilter(field_name="run_id", label="Run")

    class Meta:
        model = ReconciledMetricWeek
        fields = ["metric", "week", "run"]


class ExchangeRateFilter(df.FilterSet):
    currency = df.CharFilter(method="of_currency", label="Currency (ISO 4217 code)")
    valid_after = df.DateFilter(field_name="valid_from", lookup_expr="gte")

    class Meta:
        model = ExchangeRate
        fields = ["currency", "valid_after"]

    def of_currency(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(currency=value.strip().upper())
