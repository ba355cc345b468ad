"""API shapes for the pipeline: output serializers, and input serializers that check what a
caller sent before a service acts on it."""

from __future__ import annotations

import json

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from pipeline.charts import step_label
from pipeline.choices import ApplyMode, ExportKind, FindingKind, ObjectType
from pipeline.models import (
    BridgeStep,
    Discrepancy,
    ExchangeRate,
    ImportBatch,
    ImportRowError,
    ReconciledMetricWeek,
    ReconciliationRun,
    SourceSystem,
)
from pipeline.services.reconciliation import DEFAULT_WEEKS, MAX_WEEKS
from revops.api import SlugRelatedField
from revops.weeks import IsoWeek


class ImportBatchSerializer(serializers.ModelSerializer):
    system = SlugRelatedField(slug_field="slug", read_only=True)
    created_by = SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    confirmed_by = SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    url = serializers.HyperlinkedIdentityField(view_name="api:import-detail")
    errors_url = serializers.HyperlinkedIdentityField(view_name="api:import-errors")
    values = serializers.SerializerMethodField(
        help_text="Per choice field: the file's values [value, rows, ours or null if unmapped]."
    )
    warnings = serializers.SerializerMethodField(
        help_text="File-wide findings, e.g. a header that looks like another vendor's export."
    )

    class Meta:
        model = ImportBatch
        fields = [
            "id",
            "url",
            "system",
            "object_type",
            "file_name",
            "file_size",
            "file_sha256",
            "preset",
            "mapping",
            "status",
            "phase",
            "progress",
            "apply_requested",
            "created_by",
            "created_at",
            "confirmed_by",
            "confirmed_at",
            "started_at",
            "finished_at",
            "rows_total",
            "rows_created",
            "rows_updated",
            "rows_unchanged",
            "rows_rejected",
            "export_kind",
            "rows_deleted",
            "rows_restored",
            "errors_total",
            "apply_mode",
            "rows_held",
            "findings",
            "unknown_columns",
            "values",
            "message",
            "warnings",
            "errors_url",
        ]
        read_only_fields = fields

    def get_values(self, batch: ImportBatch) -> list:
        return (batch.preview or {}).get("values", [])

    def get_warnings(self, batch: ImportBatch) -> list[str]:
        if FindingKind.OTHER_VENDOR not in (batch.findings or {}):
            return []  # no query for the many batches without one
        return list(batch.row_findings.filter(row__isnull=True).values_list("message", flat=True))


class ImportRowErrorSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportRowError
        fields = ["id", "row", "column", "field", "value", "message"]
        read_only_fields = fields


class ImportCreateSerializer(serializers.Serializer):
    system = SlugRelatedField(slug_field="slug", queryset=SourceSystem.objects.all())
    object_type = serializers.ChoiceField(choices=ObjectType.choices)
    file = serializers.FileField()
    preset = serializers.CharField(required=False)
    mapping = serializers.JSONField(
        required=False, help_text="A mapping object (or its JSON text), instead of a preset."
    )
    apply = serializers.BooleanField(
        default=True, help_text="Apply when the check passes; false: check only, then confirm."
    )
    apply_mode = serializers.ChoiceField(
        choices=ApplyMode.choices,
        default=ApplyMode.WHOLE,
        help_text="whole: refuse the file if any row is wrong; valid_rows: apply the valid rows "
        "and hold the rest (listed at errors_url).",
    )
    export_kind = serializers.ChoiceField(
        choices=ExportKind.choices,
        default=ExportKind.DELTA,
        help_text="full: the file holds every record of the system, and those it does not "
        "hold are marked deleted (more than half of them waits for a confirm); delta: "
        "changed records only.",
    )

    def validate_mapping(self, value):
        if isinstance(value, str):  # multipart forms send JSON as text
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise serializers.ValidationError(f"Not valid JSON: {exc}") from None
        return value

    def validate(self, data):
        if ("preset" in data) == ("mapping" in data):
            raise serializers.ValidationError("Give either a preset or a mapping.")
        return data


class PresetSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField(read_only=True)
    builtin = serializers.BooleanField(read_only=True)
    object_type = serializers.ChoiceField(choices=ObjectType.choices, read_only=True)
    mapping = serializers.JSONField()


class RunSerializer(serializers.ModelSerializer):
    started_by = serializers.SerializerMethodField()
    marketing_system = SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    sales_system = SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = ReconciliationRun
        fields = [
            "id",
            "status",
            "trigger",
            "started_by",
            "weeks",
            "created_at",
            "started_at",
            "finished_at",
            "marketing_system",
            "sales_system",
            "first_week",
            "last_week",
            "compared",
            "counts",
            "open_count",
            "new_count",
            "resolved_count",
            "message",
        ]

    def get_started_by(self, run: ReconciliationRun) -> str | None:
        return run.started_by.get_username() if run.started_by_id else None


class RunStartInputSerializer(serializers.Serializer):
    weeks = serializers.IntegerField(min_value=1, max_value=MAX_WEEKS, default=DEFAULT_WEEKS)


@extend_schema_field(OpenApiTypes.STR)
class SystemSlugField(serializers.Field):
    """A source system as its slug, read from the row's id through one map of every system's
    slug per response (a page of discrepancies names three systems a row: joining them cost
    four model instances a row)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def get_attribute(self, instance):
        return getattr(instance, f"{self.source}_id")

    def to_representation(self, value):
        slugs = self.context.get("system_slugs")
        if slugs is None or value not in slugs:
            slugs = self.context["system_slugs"] = dict(
                SourceSystem.objects.values_list("id", "slug")
            )
        return slugs.get(value)


class DiscrepancySerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    system = SystemSlugField(allow_null=True)
    left_system = SystemSlugField()
    right_system = SystemSlugField()

    class Meta:
        model = Discrepancy
        fields = [
            "id",
            "fingerprint",
            "status",
            "object_type",
            "kind",
            "field",
            "golden_key",
            "label",
            "system",
            "left_system",
            "left_record_id",
            "left_value",
            "right_system",
            "right_record_id",
            "right_value",
            "week_start",
            "other_week_start",
            "first_seen_run",
            "first_seen_at",
            "last_seen_run",
            "last_seen_at",
            "resolved_run",
            "resolved_at",
        ]

    def get_status(self, discrepancy: Discrepancy) -> str:
        return "open" if discrepancy.is_open else "resolved"


class BridgeStepSerializer(serializers.ModelSerializer):
    label = serializers.SerializerMethodField()

    class Meta:
        model = BridgeStep
        fields = ["position", "reason", "field", "label", "value", "records"]

    def get_label(self, step: BridgeStep) -> str:
        run = self.context["run_by_id"][step.metric_week.run_id]
        return step_label(
            step.reason,
            step.field,
            marketing=run.marketing_system.name if run.marketing_system else "marketing",
            sales=run.sales_system.name if run.sales_system else "sales",
        )


class BridgeSerializer(serializers.ModelSerializer):
    """A metric's week: marketing's value, the steps, the unexplained rest, sales' value."""

    metric = serializers.CharField(source="metric_key")
    week = serializers.SerializerMethodField()
    difference = serializers.DecimalField(max_digits=18, decimal_places=2, read_only=True)
    steps = BridgeStepSerializer(many=True, read_only=True)

    class Meta:
        model = ReconciledMetricWeek
        fields = [
            "run",
            "metric",
            "week",
            "week_start",
            "marketing_value",
            "steps",
            "unexplained",
            "sales_value",
            "difference",
            "golden_value",
        ]

    def get_week(self, row: ReconciledMetricWeek) -> str:
        return IsoWeek.of(row.week_start).label


class ExchangeRateSerializer(serializers.ModelSerializer):
    rate = serializers.DecimalField(max_digits=24, decimal_places=10, read_only=True)
    updated_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = ExchangeRate
        fields = ["id", "currency", "valid_from", "rate", "updated_at", "updated_by"]


class ExchangeRateInputSerializer(serializers.Serializer):
    """A rate to set: the service checks the code (ISO 4217, not the company currency) and
    the rate (above 0, at most 10 decimal places)."""

    currency = serializers.CharField(max_length=40)
    valid_from = serializers.DateField()
    rate = serializers.DecimalField(max_digits=24, decimal_places=10, min_value=0)


class ExchangeRateChangeSerializer(serializers.Serializer):
    rate = serializers.DecimalField(max_digits=24, decimal_places=10, min_value=0)
