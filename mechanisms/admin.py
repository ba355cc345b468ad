"""Admin for ops staff to inspect the mechanism tables. Read-only: mechanisms change through
their pages and the API, which validate, clean Markdown and keep every version."""

from __future__ import annotations

from django.contrib import admin

from mechanisms import models
from pipeline.admin import ReadOnlyAdmin


@admin.register(models.Mechanism)
class MechanismAdmin(ReadOnlyAdmin):
    list_display = ["name", "status", "team", "owner", "cadence", "next_inspection_on", "version"]
    list_filter = ["status", "team", "cadence"]
    search_fields = ["name", "slug", "summary"]
    list_select_related = ["owner"]


@admin.register(models.Goal)
class GoalAdmin(ReadOnlyAdmin):
    list_display = ["mechanism", "kind", "statement", "metric", "target", "due_on"]
    list_filter = ["kind"]
    list_select_related = ["mechanism", "metric"]


@admin.register(models.Link)
class LinkAdmin(ReadOnlyAdmin):
    list_display = ["source", "target", "label", "created_at"]
    list_select_related = ["source", "target"]


@admin.register(models.LogEntry)
class LogEntryAdmin(ReadOnlyAdmin):
    list_display = ["mechanism", "inspected_on", "inspected_by", "created_at"]
    list_select_related = ["mechanism", "inspected_by"]


@admin.register(models.Action)
class ActionAdmin(ReadOnlyAdmin):
    list_display = ["title", "mechanism", "assignee", "due_on", "done"]
    list_filter = ["done"]
    list_select_related = ["mechanism", "assignee"]
