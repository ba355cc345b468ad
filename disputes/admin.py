"""Disputes in the admin: ops look them up there; every change goes through the pages and the
API, which keep the workflow and its timeline."""

from __future__ import annotations

from django.contrib import admin

from disputes.models import Dispute, DisputeComment, DisputeSettings, DisputeTransition


class _ReadOnly:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class TransitionInline(_ReadOnly, admin.TabularInline):
    model = DisputeTransition
    extra = 0
    fields = ["at", "from_status", "to_status", "by", "note"]
    readonly_fields = fields


class CommentInline(_ReadOnly, admin.TabularInline):
    model = DisputeComment
    extra = 0
    fields = ["created_at", "author", "body"]
    readonly_fields = fields


@admin.register(Dispute)
class DisputeAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ["id", "title", "team", "status", "filed_by", "assignee", "filed_at", "due_at"]
    list_filter = ["status", "team", "subject", "correction_kind"]
    search_fields = ["title", "explanation", "claimed_value", "record_key", "resolution"]
    date_hierarchy = "filed_at"
    list_select_related = ["filed_by", "assignee"]
    inlines = [TransitionInline, CommentInline]


@admin.register(DisputeSettings)
class DisputeSettingsAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ["response_business_days", "updated_at", "updated_by"]
