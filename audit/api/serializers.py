from __future__ import annotations

from rest_framework import serializers

from audit import selectors


class ChangeSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The column, e.g. `status` or `system_id`.")
    label = serializers.CharField()
    before = serializers.JSONField(allow_null=True, help_text="Null on a created row.")
    after = serializers.JSONField(allow_null=True, help_text="Null on a deleted row.")


class AuditEventSerializer(serializers.Serializer):
    id = serializers.CharField(help_text='The event, e.g. "audit.MechanismEvent:12".')
    created_at = serializers.DateTimeField()
    operation = serializers.ChoiceField(choices=list(selectors.OPERATIONS))
    table = serializers.CharField(help_text='The tracked table, e.g. "pipeline.importbatch".')
    object_id = serializers.CharField(allow_null=True)
    object_repr = serializers.CharField()
    user = serializers.CharField(
        source="username", allow_null=True, help_text="Null for a command, task or migration."
    )
    source = serializers.CharField(
        allow_null=True, help_text='What made a change without a user, e.g. "task:…".'
    )
    url = serializers.CharField(allow_null=True, help_text="The request that made the change.")
    after_only = serializers.BooleanField(
        help_text="An update whose earlier state was not recorded: `before` is null."
    )
    changes = ChangeSerializer(many=True)
