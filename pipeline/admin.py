"""Admin for ops staff to inspect every table. Golden and source records are read-only here:
they change through imports and identity resolution, never by hand in the admin."""

from __future__ import annotations

from django.contrib import admin

from pipeline import models


class ReadOnlyAdmin(admin.ModelAdmin):
    show_full_result_count = False  # a COUNT(*) over a million rows on every page is not free
    list_per_page = 50

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(models.SourceSystem)
class SourceSystemAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "role", "vendor", "created_at"]
    list_filter = ["role", "vendor"]
    search_fields = ["name", "slug", "vendor"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(models.ImportBatch)
class ImportBatchAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "system",
        "object_type",
        "file_name",
        "status",
        "rows_total",
        "rows_created",
        "rows_updated",
        "rows_unchanged",
        "rows_rejected",
        "created_by",
        "created_at",
    ]
    list_filter = ["status", "object_type", "system"]
    search_fields = ["file_name", "file_sha256"]
    list_select_related = ["system", "created_by"]


@admin.register(models.ExchangeRate)
class ExchangeRateAdmin(ReadOnlyAdmin):
    """Read-only: a rate changed here would leave the converted amounts stale; the Currencies
    page and the API change rates through the service that reconverts them."""

    list_display = ["currency", "valid_from", "rate", "updated_by", "updated_at"]
    list_filter = ["currency"]
    list_select_related = ["updated_by"]


@admin.register(models.FieldAuthority)
class FieldAuthorityAdmin(ReadOnlyAdmin):
    list_display = ["object_type", "field", "system", "updated_by", "updated_at"]
    list_filter = ["object_type", "system"]
    search_fields = ["field"]


@admin.register(models.Lead)
class LeadAdmin(ReadOnlyAdmin):
    list_display = [
        "email",
        "first_name",
        "last_name",
        "company",
        "stage",
        "source",
        "owner",
        "created_at",
        "mql_at",
        "sql_at",
    ]
    list_filter = ["stage", "source"]
    search_fields = ["email_key", "first_name", "last_name", "company"]
    date_hierarchy = "created_at"
    list_select_related = ["account"]


@admin.register(models.Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = [
        "name",
        "domain",
        "industry",
        "employees",
        "arr",
        "health",
        "renewal_date",
        "customer_since",
        "churned_on",
        "owner",
    ]
    list_filter = ["health", "industry"]
    search_fields = ["name", "domain", "key"]


@admin.register(models.Deal)
class DealAdmin(ReadOnlyAdmin):
    list_display = [
        "name",
        "account",
        "stage",
        "amount",
        "currency",
        "created_at",
        "close_date",
        "source",
        "deal_type",
        "owner",
    ]
    list_filter = ["stage", "source", "deal_type", "is_won", "currency"]
    search_fields = ["name", "account__name"]
    date_hierarchy = "created_at"
    list_select_related = ["account"]


@admin.register(models.ArrChange)
class ArrChangeAdmin(ReadOnlyAdmin):
    list_display = ["account", "kind", "amount", "effective_date", "deal"]
    list_filter = ["kind"]
    search_fields = ["account__name"]
    date_hierarchy = "effective_date"
    list_select_related = ["account", "deal"]


@admin.register(models.LeadStageChange)
class LeadStageChangeAdmin(ReadOnlyAdmin):
    list_display = ["lead", "from_stage", "to_stage", "changed_at", "system"]
    list_filter = ["to_stage", "system"]
    search_fields = ["lead__email_key"]
    list_select_related = ["lead", "system"]


@admin.register(models.DealStageChange)
class DealStageChangeAdmin(ReadOnlyAdmin):
    list_display = ["deal", "from_stage", "to_stage", "changed_at", "amount"]
    list_filter = ["to_stage"]
    search_fields = ["deal__name"]
    list_select_related = ["deal"]


class SourceRecordAdmin(ReadOnlyAdmin):
    list_filter = ["system"]
    list_select_related = ["system"]


@admin.register(models.SourceLead)
class SourceLeadAdmin(SourceRecordAdmin):
    list_display = [
        "external_id",
        "system",
        "email",
        "stage",
        "source",
        "owner",
        "created_at",
        "mql_at",
        "lead",
    ]
    list_filter = ["system", "stage"]
    search_fields = ["external_id", "email_key", "last_name", "company"]


@admin.register(models.SourceAccount)
class SourceAccountAdmin(SourceRecordAdmin):
    list_display = ["external_id", "system", "name", "domain_key", "industry", "account"]
    search_fields = ["external_id", "name", "domain_key"]


@admin.register(models.SourceDeal)
class SourceDealAdmin(SourceRecordAdmin):
    list_display = ["external_id", "system", "name", "stage", "amount", "close_date", "deal"]
    list_filter = ["system", "stage"]
    search_fields = ["external_id", "name"]


@admin.register(models.SourceArrChange)
class SourceArrChangeAdmin(SourceRecordAdmin):
    list_display = [
        "external_id",
        "system",
        "account_external_id",
        "kind",
        "amount",
        "effective_date",
    ]
    list_filter = ["system", "kind"]
    search_fields = ["external_id", "account_external_id"]


@admin.register(models.ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "status",
        "trigger",
        "started_by",
        "started_at",
        "finished_at",
        "open_count",
        "new_count",
        "resolved_count",
    ]
    list_filter = ["status", "trigger"]
    list_select_related = ["started_by"]


@admin.register(models.Discrepancy)
class DiscrepancyAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "object_type",
        "kind",
        "field",
        "label",
        "system",
        "week_start",
        "first_seen_run",
        "resolved_run",
    ]
    list_filter = ["object_type", "kind", "field", "system"]
    search_fields = ["golden_key", "label"]
    list_select_related = ["system"]


@admin.register(models.LeadAlias)
class LeadAliasAdmin(ReadOnlyAdmin):
    list_display = ["alias_key", "canonical_key", "created_at", "created_by"]
    search_fields = ["alias_key", "canonical_key", "reason"]


@admin.register(models.FieldOverride)
class FieldOverrideAdmin(ReadOnlyAdmin):
    list_display = ["object_type", "record_key", "field", "value", "created_at", "created_by"]
    list_filter = ["object_type", "field"]
    search_fields = ["record_key", "reason"]
