"""Serializers of the disputes API: output shapes, and one input serializer per operation."""

from __future__ import annotations

from rest_framework import serializers

from disputes.choices import CorrectionKind
from disputes.models import Dispute, DisputeComment, DisputeSettings, DisputeTransition
from pipeline.models import OVERRIDABLE_TYPES
from revops.weeks import IsoWeek


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class DisputeSerializer(serializers.ModelSerializer):
    metric = serializers.SlugRelatedField(slug_field="key", read_only=True, allow_null=True)
    week = serializers.SerializerMethodField()
    filed_by = UserRefSerializer(read_only=True)
    assignee = UserRefSerializer(read_only=True, allow_null=True)
    overdue = serializers.SerializerMethodField()
    has_attachment = serializers.SerializerMethodField()

    class Meta:
        model = Dispute
        fields = [
            "id", "subject", "title", "team", "metric", "week", "discrepancy", "object_type",
            "record_key", "shown_value", "claimed_value", "claimed_number", "explanation",
            "status", "filed_by", "assignee", "filed_at", "due_at", "overdue", "resolved_at",
            "resolution", "correction_kind", "correction", "republished_weeks", "has_attachment",
        ]  # fmt: skip

    def get_week(self, obj: Dispute) -> str | None:
        if obj.week_start is None:
            return None
        return IsoWeek.of(obj.week_start).label

    def get_overdue(self, obj: Dispute) -> bool:
        return obj.is_overdue()

    def get_has_attachment(self, obj: Dispute) -> bool:
        return bool(obj.attachment)


class DisputeDetailSerializer(DisputeSerializer):
    evidence = serializers.JSONField(read_only=True)

    class Meta(DisputeSerializer.Meta):
        fields = [*DisputeSerializer.Meta.fields, "evidence"]


class DisputeInputSerializer(serializers.Serializer):
    """Name the subject one way: `metric` + `week`; `object_type` + `record`; or
    `discrepancy`. Send as multipart to attach a CSV."""

    metric = serializers.CharField(required=False, allow_blank=True)
    week = serializers.CharField(required=False, allow_blank=True, help_text="e.g. 2026-W46")
    object_type = serializers.CharField(
        required=False, allow_blank=True, help_text=f"One of {', '.join(OVERRIDABLE_TYPES)}"
    )
    record = serializers.IntegerField(required=False, min_value=1)
    discrepancy = serializers.IntegerField(required=False, min_value=1)
    claimed_value = serializers.CharField(max_length=100)
    explanation = serializers.CharField(max_length=10_000)
    attachment = serializers.FileField(required=False)


class CommentSerializer(serializers.ModelSerializer):
    author = UserRefSerializer(read_only=True)

    class Meta:
        model = DisputeComment
        fields = ["id", "author", "body", "created_at"]


class CommentInputSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10_000)


class TransitionSerializer(serializers.ModelSerializer):
    by = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = DisputeTransition
        fields = ["id", "from_status", "to_status", "by", "at", "note"]


class ReviewInputSerializer(serializers.Serializer):
    assignee = serializers.IntegerField(required=False, help_text="An ops user's id")
    note = serializers.CharField(required=False, allow_blank=True, default="")


class AssignInputSerializer(serializers.Serializer):
    assignee = serializers.IntegerField(help_text="An ops user's id")


class CorrectionInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=CorrectionKind.choices, default=CorrectionKind.NONE)
    object_type = serializers.CharField(required=False, allow_blank=True, default="")
    field = serializers.CharField(required=False, allow_blank=True, default="")
    system = serializers.CharField(required=False, allow_blank=True, default="")
    record_key = serializers.CharField(required=False, allow_blank=True, default="")
    value = serializers.CharField(required=False, allow_blank=True, allow_null=True, default=None)
    alias_email = serializers.CharField(required=False, allow_blank=True, default="")
    canonical_email = serializers.CharField(required=False, allow_blank=True, default="")


class AcceptInputSerializer(serializers.Serializer):
    resolution = serializers.CharField(help_text="What was corrected")
    correction = CorrectionInputSerializer(required=False)


class RejectInputSerializer(serializers.Serializer):
    reason = serializers.CharField()


class WithdrawInputSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class SettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = DisputeSettings
        fields = ["response_business_days", "updated_at"]
        read_only_fields = ["updated_at"]
        # Null until ops first change the SLA (the default has no row).
        # A PUT names the SLA; the model's default is for the row, not for a request.
        extra_kwargs = {
            "response_business_days": {"required": True},
            "updated_at": {"allow_null": True},
        }
