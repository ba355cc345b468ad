"""Admin for ops staff to inspect the scorecard's tables. Read-only: the catalog changes through
its pages (which version definitions and validate formulas), weeks through publishing."""

from __future__ import annotations

from django.contrib import admin

from pipeline.admin import ReadOnlyAdmin
from scorecard import models


@admin.register(models.Metric)
class MetricAdmin(ReadOnlyAdmin):
    list_display = ["key", "name", "team", "unit", "kind", "up_is_good", "is_active", "position"]
    list_filter = ["team", "kind", "is_active"]
    search_fields = ["key", "name"]


@admin.register(models.MetricDefinition)
class MetricDefinitionAdmin(ReadOnlyAdmin):
    list_display = ["metric", "version", "builtin", "window_weeks", "operator", "created_at"]
    list_filter = ["operator"]
    search_fields = ["metric__key"]
    list_select_related = ["metric"]


@admin.register(models.MetricTarget)
class MetricTargetAdmin(ReadOnlyAdmin):
    list_display = ["metric", "starts_on", "period", "value", "created_by"]
    list_filter = ["period"]
    list_select_related = ["metric", "created_by"]


@admin.register(models.WeeklySnapshot)
class WeeklySnapshotAdmin(ReadOnlyAdmin):
    list_display = ["week_start", "revision", "source", "published_at", "published_by"]
    list_filter = ["source"]
    date_hierarchy = "week_start"
    list_select_related = ["published_by"]


@admin.register(models.SnapshotValue)
class SnapshotValueAdmin(ReadOnlyAdmin):
    list_display = ["week_start", "metric", "value", "target", "rag", "definition"]
    list_filter = ["rag", "metric"]
    list_select_related = ["metric", "definition"]


@admin.register(models.SnapshotPublication)
class SnapshotPublicationAdmin(ReadOnlyAdmin):
    list_display = ["snapshot", "revision", "source", "published_at", "published_by", "reason"]
    list_filter = ["source"]
    list_select_related = ["snapshot", "published_by"]


@admin.register(models.SeriesImport)
class SeriesImportAdmin(ReadOnlyAdmin):
    list_display = ["metric", "file_name", "rows_created", "rows_updated", "created_at"]
    list_select_related = ["metric"]
