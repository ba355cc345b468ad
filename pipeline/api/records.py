"""The records API: golden leads, accounts, deals and ARR changes, each with the source
versions it was built from; the source records themselves; systems and field authority.
Every role reads them (records.view), as on the pages; nothing here writes."""

from __future__ import annotations

import django_filters as df
from django.db.models import Prefetch
from rest_framework import serializers, viewsets

from pipeline.choices import ArrChangeKind
from pipeline.filters import AccountFilter, DealFilter, LeadFilter
from pipeline.models import (
    Account,
    ArrChange,
    Deal,
    FieldAuthority,
    Lead,
    SourceAccount,
    SourceArrChange,
    SourceDeal,
    SourceLead,
    SourceSystem,
)
from revops.api import ById, UtcDateTimeFilter
from revops.permissions import Can

SOURCE_COMMON = [
    "id", "system", "external_id", "batch", "batch_row", "first_seen_at", "updated_at",
    "deleted_at", "deleted_batch",
]  # fmt: skip
LEAD_FIELDS = [
    "first_name", "last_name", "company", "stage", "source", "owner", "created_at", "mql_at",
    "sal_at", "sql_at", "converted_at", "disqualified_at", "first_touch_at",
]  # fmt: skip
ACCOUNT_FIELDS = ["name", "industry", "employees", "owner", "health", "renewal_date"]
DEAL_FIELDS = [
    "name", "stage", "amount", "currency", "amount_at_close", "amount_at_creation", "created_at",
    "close_date", "source", "deal_type", "owner", "is_closed", "is_won",
]  # fmt: skip
ARR_FIELDS = ["kind", "amount", "currency", "amount_converted", "effective_date"]


# --- Serializers ------------------------------------------------------------------------------


class SourceSerializer(serializers.ModelSerializer):
    system = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    batch = serializers.IntegerField(source="batch_id", read_only=True, allow_null=True)
    deleted_batch = serializers.IntegerField(
        source="deleted_batch_id", read_only=True, allow_null=True
    )


class SourceLeadSerializer(SourceSerializer):
    lead = serializers.IntegerField(source="lead_id", read_only=True, allow_null=True)

    class Meta:
        model = SourceLead
        fields = [*SOURCE_COMMON, "lead", "email", "phone", *LEAD_FIELDS, "account_external_id",
                  "converted_deal_external_id"]  # fmt: skip


class SourceAccountSerializer(SourceSerializer):
    account = serializers.IntegerField(source="account_id", read_only=True, allow_null=True)

    class Meta:
        model = SourceAccount
        fields = [*SOURCE_COMMON, "account", "domain", *ACCOUNT_FIELDS]


class SourceDealSerializer(SourceSerializer):
    deal = serializers.IntegerField(source="deal_id", read_only=True, allow_null=True)

    class Meta:
        model = SourceDeal
        fields = [*SOURCE_COMMON, "deal", *DEAL_FIELDS, "account_external_id",
                  "lead_external_id", "crm_id"]  # fmt: skip


class SourceArrChangeSerializer(SourceSerializer):
    arr_change = serializers.IntegerField(source="arr_change_id", read_only=True, allow_null=True)

    class Meta:
        model = SourceArrChange
        fields = [*SOURCE_COMMON, "arr_change", *ARR_FIELDS, "account_external_id"]


class LeadSerializer(serializers.ModelSerializer):
    account = serializers.IntegerField(source="account_id", read_only=True, allow_null=True)
    # The email key, else `tel:<phone>` or `<system>:<id>` for a lead without a usable email.
    key = serializers.CharField(source="email_key", read_only=True)

    class Meta:
        model = Lead
        fields = ["id", "key", "email", "phone", *LEAD_FIELDS, "account", "won_at",
                  "first_seen_at", "updated_at", "deleted_at"]  # fmt: skip


class LeadDetailSerializer(LeadSerializer):
    sources = SourceLeadSerializer(source="source_records", many=True, read_only=True)

    class Meta(LeadSerializer.Meta):
        fields = [*LeadSerializer.Meta.fields, "sources"]


class AccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = ["id", "name", "domain", *ACCOUNT_FIELDS[1:], "arr", "customer_since",
                  "churned_on", "first_seen_at", "updated_at", "deleted_at"]  # fmt: skip


class AccountDetailSerializer(AccountSerializer):
    sources = SourceAccountSerializer(source="source_records", many=True, read_only=True)

    class Meta(AccountSerializer.Meta):
        fields = [*AccountSerializer.Meta.fields, "sources"]


class DealSerializer(serializers.ModelSerializer):
    account = serializers.IntegerField(source="account_id", read_only=True, allow_null=True)
    lead = serializers.IntegerField(source="lead_id", read_only=True, allow_null=True)

    class Meta:
        model = Deal
        fields = ["id", *DEAL_FIELDS, "account", "lead", "first_seen_at", "updated_at",
                  "deleted_at"]  # fmt: skip


class DealDetailSerializer(DealSerializer):
    sources = SourceDealSerializer(source="source_records", many=True, read_only=True)

    class Meta(DealSerializer.Meta):
        fields = [*DealSerializer.Meta.fields, "sources"]


class ArrChangeSerializer(serializers.ModelSerializer):
    account = serializers.IntegerField(source="account_id", read_only=True)
    deal = serializers.IntegerField(source="deal_id", read_only=True, allow_null=True)

    class Meta:
        model = ArrChange
        fields = ["id", *ARR_FIELDS, "account", "deal", "first_seen_at", "updated_at",
                  "deleted_at"]  # fmt: skip


class SourceSystemSerializer(serializers.ModelSerializer):
    class Meta:
        model = SourceSystem
        fields = [
            "id", "slug", "name", "role", "vendor", "description", "match_by_phone",
            "record_url_template", "created_at",
        ]  # fmt: skip


class FieldAuthoritySerializer(serializers.ModelSerializer):
    system = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    updated_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = FieldAuthority
        fields = ["id", "object_type", "field", "system", "updated_by", "updated_at"]


# --- Filters ----------------------------------------------------------------------------------


class ArrChangeFilter(df.FilterSet):
    kind = df.ChoiceFilter(choices=ArrChangeKind.choices)
    account = df.NumberFilter(field_name="account_id")
    effective_after = df.DateFilter(field_name="effective_date", lookup_expr="gte")
    effective_before = df.DateFilter(field_name="effective_date", lookup_expr="lte")

    class Meta:
        model = ArrChange
        fields = ["kind", "account", "effective_after", "effective_before"]


def source_filter(model, golden: str) -> type[df.FilterSet]:
    """?system=<slug>&external_id=…&batch=<id>&<golden>=<id>&updated_after=…"""
    meta = type("Meta", (), {"model": model, "fields": []})
    return type(
        f"{model.__name__}Filter",
        (df.FilterSet,),
        {
            "Meta": meta,
            "system": df.CharFilter(field_name="system__slug"),
            "external_id": df.CharFilter(),
            "batch": df.NumberFilter(field_name="batch_id"),
            golden: df.NumberFilter(field_name=f"{golden}_id"),
            "updated_after": UtcDateTimeFilter(field_name="updated_at", lookup_expr="gte"),
        },
    )


# --- Views ------------------------------------------------------------------------------------


class RecordViewSet(viewsets.ReadOnlyModelViewSet):
    """A list filtered as on the records pages, in id order (cursor pages); one record with
    the source versions it was built from."""

    permission_classes = [Can]
    permission_action = "records.view"
    pagination_class = ById
    detail_serializer_class: type[serializers.Serializer]
    source_model: type

    def get_serializer_class(self):
        return self.detail_serializer_class if self.action == "retrieve" else self.serializer_class

    def filter_queryset(self, queryset):
        # One record by id is found whatever the list's filters, a deleted one included (the
        # list leaves those out by default).
        return queryset if self.action == "retrieve" else super().filter_queryset(queryset)

    def get_queryset(self):
        queryset = self.queryset
        if self.action == "retrieve":
            sources = self.source_model.objects.select_related("system").order_by("system_id")
            queryset = queryset.prefetch_related(Prefetch("source_records", queryset=sources))
        return queryset


class LeadViewSet(RecordViewSet):
    """Golden leads: `?stage=mql&q=acme&created_after=2026-01-01`."""

    queryset = Lead.objects.all()
    serializer_class = LeadSerializer
    detail_serializer_class = LeadDetailSerializer
    source_model = SourceLead
    filterset_class = LeadFilter


class AccountViewSet(RecordViewSet):
    """Golden accounts, one per normalised domain."""

    queryset = Account.objects.all()
    serializer_class = AccountSerializer
    detail_serializer_class = AccountDetailSerializer
    source_model = SourceAccount
    filterset_class = AccountFilter


class DealViewSet(RecordViewSet):
    """Golden deals: `?stage=closed_won&close_after=2026-10-01`."""

    queryset = Deal.objects.all()
    serializer_class = DealSerializer
    detail_serializer_class = DealDetailSerializer
    source_model = SourceDeal
    filterset_class = DealFilter


class ArrChangeViewSet(viewsets.ReadOnlyModelViewSet):
    """Dated ARR changes: new, expansion, contraction, churn."""

    permission_classes = [Can]
    permission_action = "records.view"
    pagination_class = ById
    queryset = ArrChange.objects.all()
    serializer_class = ArrChangeSerializer
    filterset_class = ArrChangeFilter


def source_viewset(
    model, serializer, golden: str, what: str
) -> type[viewsets.ReadOnlyModelViewSet]:
    return type(
        f"{model.__name__}ViewSet",
        (viewsets.ReadOnlyModelViewSet,),
        {
            "__doc__": f"{what} as each system sent them; `?system=hubspot&{golden}=<id>`.",
            "permission_classes": [Can],
            "permission_action": "records.view",
            "pagination_class": ById,
            "queryset": model.objects.select_related("system"),
            "serializer_class": serializer,
            "filterset_class": source_filter(model, golden),
        },
    )


SourceLeadViewSet = source_viewset(SourceLead, SourceLeadSerializer, "lead", "Source leads")
SourceAccountViewSet = source_viewset(
    SourceAccount, SourceAccountSerializer, "account", "Source accounts"
)
SourceDealViewSet = source_viewset(SourceDeal, SourceDealSerializer, "deal", "Source deals")
SourceArrChangeViewSet = source_viewset(
    SourceArrChange, SourceArrChangeSerializer, "arr_change", "Source ARR changes"
)


class SourceSystemViewSet(viewsets.ReadOnlyModelViewSet):
    """The systems records come from, with their role (marketing, sales, customer success)."""

    permission_classes = [Can]
    permission_action = "records.view"
    pagination_class = ById
    queryset = SourceSystem.objects.all()
    serializer_class = SourceSystemSerializer
    filterset_fields = ["role", "slug"]


class FieldAuthorityViewSet(viewsets.ReadOnlyModelViewSet):
    """Which system's value the golden record shows, per object and field."""

    permission_classes = [Can]
    permission_action = "records.view"
    pagination_class = ById
    queryset = FieldAuthority.objects.select_related("system", "updated_by")
    serializer_class = FieldAuthoritySerializer
    filterset_fields = ["object_type", "field"]
