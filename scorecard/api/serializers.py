"""Shapes of the scorecard API. Numbers are strings, as DRF writes decimals, so that money
keeps its cents exactly."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from revops.weeks import IsoWeek
from scorecard.models import (
    Metric,
    MetricDefinition,
    MetricTarget,
    SnapshotSliceValue,
    SnapshotValue,
)


class MetricTargetSerializer(serializers.ModelSerializer):
    class Meta:
        model = MetricTarget
        fields = ["starts_on", "period", "value"]


class MetricSerializer(serializers.ModelSerializer):
    current_version = serializers.SerializerMethodField()
    targets = MetricTargetSerializer(many=True, read_only=True)

    class Meta:
        model = Metric
        fields = [
            "key",
            "name",
            "team",
            "unit",
            "up_is_good",
            "additive",
            "kind",
            "definition",
            "green_pct",
            "red_pct",
            "position",
            "is_active",
            "current_version",
            "targets",
        ]

    def get_current_version(self, metric: Metric) -> int | None:
        return self.context["current_versions"].get(metric.id)


class MetricDefinitionSerializer(serializers.ModelSerializer):
    metric = serializers.CharField(source="metric.key")
    left = serializers.CharField(source="left.key", default=None, allow_null=True)
    right = serializers.CharField(source="right.key", default=None, allow_null=True)
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    computed_as = serializers.CharField(
        read_only=True,
        help_text="How a built-in version is computed, generated from its declaration; empty "
        "for formulas and series.",
    )

    class Meta:
        model = MetricDefinition
        fields = [
            "metric",
            "version",
            "builtin",
            "computed_as",
            "window_weeks",
            "operator",
            "left",
            "right",
            "factor",
            "definition",
            "note",
            "created_at",
            "created_by",
        ]


class WeeklyValueSerializer(serializers.ModelSerializer):
    metric = serializers.CharField(source="metric.key")
    week = serializers.SerializerMethodField()
    definition_version = serializers.IntegerField(source="definition.version")

    class Meta:
        model = SnapshotValue
        fields = [
            "metric",
            "week",
            "value",
            "numerator",
            "denominator",
            "target",
            "rag",
            "note",
            "definition_version",
        ]

    def get_week(self, row: SnapshotValue) -> str:
        return IsoWeek.of(row.week_start).label


class WeeklySliceValueSerializer(WeeklyValueSerializer):
    """A value publication froze for one slice: the company's fields and the slice's row as
    its breakdown showed it (`{"region": "EMEA"}`)."""

    slice = serializers.SerializerMethodField()

    class Meta(WeeklyValueSerializer.Meta):
        model = SnapshotSliceValue
        fields = [*WeeklyValueSerializer.Meta.fields, "slice"]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_slice(self, row: SnapshotSliceValue) -> dict[str, str]:
        return {row.slice.dimension: row.slice.label}


class PublishInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    republish = serializers.BooleanField(required=False, default=False)
    expected = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="The `fingerprint` of the restatement preview this republish confirms: when "
        "what it would change has moved since, nothing changes (400).",
    )


class RestatementChangeSerializer(serializers.Serializer):
    metric = serializers.CharField()
    kind = serializers.ChoiceField(choices=["changed", "added", "removed"])
    frozen = serializers.CharField(allow_blank=True)
    live = serializers.CharField(allow_blank=True)
    frozen_target = serializers.CharField(allow_blank=True)
    live_target = serializers.CharField(allow_blank=True)
    definition_changed = serializers.BooleanField()
    summary = serializers.CharField()


class RestatementCauseSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    url = serializers.CharField(allow_blank=True)
    metrics = serializers.ListField(child=serializers.CharField())


class RestatementSerializer(serializers.Serializer):
    week = serializers.CharField()
    revision = serializers.IntegerField()
    fingerprint = serializers.CharField()
    changes = RestatementChangeSerializer(many=True)
    causes = RestatementCauseSerializer(many=True)


# --- Documentation of the week payload (views build it as a dict, for speed) -----------------


class BridgeMarkSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=["explained", "variance"])
    label = serializers.CharField()
    detail = serializers.CharField()
    url = serializers.CharField(allow_null=True)


class TrustSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=[
            "reconciled", "explained", "variance", "disputed", "not_reconciled", "unconverted",
        ]
    )  # fmt: skip
    label = serializers.CharField()
    detail = serializers.CharField()
    url = serializers.CharField(allow_null=True)
    also = BridgeMarkSerializer(
        allow_null=True,
        help_text="A disputed number that also differs between the systems: its bridge mark.",
    )


class MetricLinksSerializer(serializers.Serializer):
    page = serializers.CharField()
    records = serializers.CharField()
    definition = serializers.CharField()


class CommentarySerializer(serializers.Serializer):
    markdown = serializers.CharField()
    html = serializers.CharField(help_text="Sanitised HTML.")
    by = serializers.CharField()
    frozen = serializers.BooleanField(
        help_text="Frozen with the published week; false for a draft of a week not published."
    )


class WeekMetricSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    team = serializers.CharField()
    unit = serializers.CharField()
    up_is_good = serializers.BooleanField()
    value = serializers.CharField(allow_null=True, help_text="Plain decimal text.")
    display = serializers.CharField()
    target = serializers.CharField(allow_null=True)
    rag = serializers.CharField(allow_null=True)
    status = serializers.CharField(
        help_text="The status in words; says why there is none (no data, no target, a week in "
        "progress not judged yet)."
    )
    on_pace_for = serializers.CharField(
        allow_null=True,
        help_text="The week in progress: the value at the end of the week at this rate.",
    )
    previous = serializers.CharField(allow_null=True)
    change = serializers.CharField(allow_null=True)
    numerator = serializers.CharField(allow_null=True)
    denominator = serializers.CharField(allow_null=True)
    note = serializers.CharField(allow_blank=True)
    definition_version = serializers.IntegerField(allow_null=True)
    live = serializers.BooleanField()
    trust = TrustSerializer(allow_null=True)
    owner = serializers.CharField(allow_null=True, help_text="The metric owner's username.")
    commentary = CommentarySerializer(allow_null=True)
    links = MetricLinksSerializer()


class WeekSectionSerializer(serializers.Serializer):
    team = serializers.CharField()
    label = serializers.CharField()
    metrics = WeekMetricSerializer(many=True)


class WeekSerializer(serializers.Serializer):
    week = serializers.CharField(help_text="ISO week, e.g. 2026-W46.")
    slice = serializers.DictField(
        child=serializers.CharField(),
        allow_null=True,
        help_text="The slice asked for (?region=EMEA&team=Enterprise: any of region, country, "
        "team, manager, office, owner, segment, industry, product, channel), its values "
        "computed live against the slice's own targets; null for the company.",
    )
    start = serializers.DateField()
    end = serializers.DateField()
    status = serializers.ChoiceField(choices=["published", "live"])
    in_progress = serializers.BooleanField()
    revision = serializers.IntegerField(allow_null=True)
    published_at = serializers.DateTimeField(allow_null=True)
    published_by = serializers.CharField(allow_null=True)
    rag_counts = serializers.DictField(child=serializers.IntegerField())
    restatement_pending = serializers.ListField(
        child=serializers.CharField(),
        help_text="A published week: the metric keys whose live value now differs from the "
        "frozen one (a restatement is pending; the values here stay the frozen ones).",
    )
    top_line = WeekMetricSerializer(many=True)
    sections = WeekSectionSerializer(many=True)
