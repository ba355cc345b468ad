"""Shapes of the mechanisms API. Markdown fields go out as `{"markdown": …, "html": …}`: the
source cleaned of raw HTML and unsafe links, and the sanitised HTML to show, read from the store
(the view puts every text's HTML in the context as `html`, fetched at once). Numbers are
strings, as DRF writes decimals."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from mechanisms.choices import PART_FIELDS, Cadence, Direction, GoalKind, Status, Team
from mechanisms.models import MAX_TAGS, MAX_TENETS, Action, Link, LogEntry, Mechanism
from mechanisms.selectors import GoalStatus
from mechanisms.services.rendering import rendered_markdown_get
from mechanisms.versions import Snapshot
from revops import markdown
from revops.api import SlugRelatedField
from scorecard.formatting import format_plain
from scorecard.models import Metric


def markdown_out(text: str, context: dict) -> dict[str, str]:
    """A text as source and stored HTML. A text the view did not fetch (one entry just
    created) is fetched on its own."""
    stored = context.get("html") or {}
    html = stored[text] if text in stored else rendered_markdown_get([text])[text]
    return {"markdown": markdown.source_clean(text), "html": str(html)}


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


def goal_out(status: GoalStatus | None, goal) -> dict:
    out = {
        "kind": goal.kind,
        "statement": goal.statement,
        "metric": goal.metric.key,
        "direction": goal.direction,
        "baseline": format_plain(goal.baseline) or None,
        "baseline_on": goal.baseline_on.isoformat() if goal.baseline_on else None,
        "target": format_plain(goal.target),
        "due_on": goal.due_on.isoformat(),
    }
    if status is not None:
        out["health"] = status.health
        out["health_reason"] = status.reason
        out["latest"] = (
            {"week": status.latest_week.label, "value": format_plain(status.latest_value)}
            if status.latest_week
            else None
        )
        out["weeks"] = [
            {"week": p.label, "value": format_plain(p.value) or None} for p in status.points
        ]
    return out


class MechanismSerializer(serializers.ModelSerializer):
    """A mechanism as the list shows it; the detail adds its parts and links."""

    owner = serializers.SerializerMethodField()
    updated_by = serializers.SerializerMethodField()
    goals = serializers.SerializerMethodField()
    open_actions = serializers.IntegerField(read_only=True)
    overdue_actions = serializers.IntegerField(read_only=True)
    inspection_overdue = serializers.SerializerMethodField()

    class Meta:
        model = Mechanism
        fields = [
            "slug",
            "name",
            "summary",
            "status",
            "team",
            "owner",
            "tags",
            "tenets",
            "cadence",
            "last_inspected_on",
            "next_inspection_on",
            "inspection_overdue",
            "open_actions",
            "overdue_actions",
            "goals",
            "version",
            "created_at",
            "updated_at",
            "updated_by",
        ]

    def get_owner(self, mechanism: Mechanism) -> str | None:
        return _username(mechanism.owner)

    def get_updated_by(self, mechanism: Mechanism) -> str | None:
        return _username(mechanism.updated_by)

    def get_goals(self, mechanism: Mechanism) -> list[dict]:
        statuses = self.context.get("statuses", {})
        return [goal_out(statuses.get(g.id), g) for g in mechanism.goals.all()]

    def get_inspection_overdue(self, mechanism: Mechanism) -> bool:
        return mechanism.is_overdue(self.context["today"])


class MechanismDetailSerializer(MechanismSerializer):
    parts = serializers.SerializerMethodField()
    inputs_from = serializers.SerializerMethodField()
    outputs_to = serializers.SerializerMethodField()

    class Meta(MechanismSerializer.Meta):
        fields = [*MechanismSerializer.Meta.fields, "parts", "inputs_from", "outputs_to"]

    def get_parts(self, mechanism: Mechanism) -> dict:
        return {part: markdown_out(getattr(mechanism, part), self.context) for part in PART_FIELDS}

    def get_inputs_from(self, mechanism: Mechanism) -> list[dict]:
        return [
            {"id": ln.id, "mechanism": ln.source.slug, "label": ln.label}
            for ln in mechanism.incoming.select_related("source").order_by("source__name")
        ]

    def get_outputs_to(self, mechanism: Mechanism) -> list[dict]:
        return [
            {"id": ln.id, "mechanism": ln.target.slug, "label": ln.label}
            for ln in mechanism.outgoing.select_related("target").order_by("target__name")
        ]


class GoalInputSerializer(serializers.Serializer):
    statement = serializers.CharField(max_length=200)
    metric = SlugRelatedField(slug_field="key", queryset=Metric.objects.all())
    direction = serializers.ChoiceField(choices=Direction.choices, required=False)
    target = serializers.DecimalField(max_digits=19, decimal_places=4)
    due_on = serializers.DateField()
    baseline = serializers.DecimalField(
        max_digits=19, decimal_places=4, required=False, allow_null=True
    )
    baseline_on = serializers.DateField(required=False, allow_null=True)


class GoalsInputSerializer(serializers.Serializer):
    sla = GoalInputSerializer(required=False, allow_null=True)
    smart = GoalInputSerializer(required=False, allow_null=True)


class MechanismInputSerializer(serializers.Serializer):
    """Create (all but `name` optional) or update (everything optional but `version`: what is
    left out keeps its value; a goal set to null is removed)."""

    version = serializers.IntegerField(required=False, min_value=1)
    name = serializers.CharField(max_length=120)
    summary = serializers.CharField(max_length=280, required=False, allow_blank=True)
    owner = SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        allow_null=True,
    )
    team = serializers.ChoiceField(choices=Team.choices, required=False)
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    cadence = serializers.ChoiceField(choices=Cadence.choices, required=False)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=MAX_TAGS
    )
    tenets = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=MAX_TENETS
    )
    goals = GoalsInputSerializer(required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for part in PART_FIELDS:
            self.fields[part] = serializers.CharField(
                required=False,
                allow_blank=True,
                trim_whitespace=False,
                max_length=markdown.MAX_CHARS,
            )


class VersionSerializer(serializers.Serializer):
    """One saved version: who, when, what changed; `document` on the detail only."""

    def to_representation(self, snapshot: Snapshot) -> dict:
        out = {
            "number": snapshot.number,
            "saved_at": snapshot.saved_at.isoformat(),
            "saved_by": _username(snapshot.saved_by),
            "comment": snapshot.comment,
        }
        if self.context.get("document"):
            fields = snapshot.fields
            out["document"] = {
                "name": fields.get("name"),
                "summary": fields.get("summary", ""),
                "status": fields.get("status"),
                "team": fields.get("team"),
                "cadence": fields.get("cadence"),
                "owner": self.context["users"].get(fields.get("owner_id")),
                "tags": fields.get("tags") or [],
                "tenets": fields.get("tenets") or [],
                "parts": {p: markdown_out(fields.get(p) or "", self.context) for p in PART_FIELDS},
                "goals": {
                    kind: (
                        {
                            "statement": g.get("statement"),
                            "metric": self.context["metrics"].get(g.get("metric_id")),
                            "direction": g.get("direction"),
                            "baseline": format_plain(g.get("baseline")) or None,
                            "baseline_on": str(g["baseline_on"]) if g.get("baseline_on") else None,
                            "target": format_plain(g.get("target")),
                            "due_on": str(g.get("due_on")),
                        }
                        if (g := snapshot.goals.get(kind))
                        else None
                    )
                    for kind in GoalKind.values
                },
            }
        return out


class RestoreInputSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, help_text="The version you are replacing.")


class LinkSerializer(serializers.ModelSerializer):
    source = SlugRelatedField(slug_field="slug", queryset=Mechanism.objects.all())
    target = SlugRelatedField(slug_field="slug", queryset=Mechanism.objects.all())
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = Link
        fields = ["id", "source", "target", "label", "created_at", "created_by"]
        read_only_fields = ["id", "created_at", "created_by"]
        validators = []  # uniqueness and self-links are the service's to refuse, with words

    def get_created_by(self, link: Link) -> str | None:
        return _username(link.created_by)


class LogEntrySerializer(serializers.ModelSerializer):
    mechanism = SlugRelatedField(slug_field="slug", read_only=True)
    inspected_by = serializers.SerializerMethodField()
    found = serializers.SerializerMethodField()
    changed = serializers.SerializerMethodField()

    class Meta:
        model = LogEntry
        fields = [
            "id",
            "mechanism",
            "inspected_on",
            "inspected_by",
            "found",
            "changed",
            "created_at",
        ]

    def get_inspected_by(self, entry: LogEntry) -> str | None:
        return _username(entry.inspected_by)

    def get_found(self, entry: LogEntry) -> dict:
        return markdown_out(entry.found, self.context)

    def get_changed(self, entry: LogEntry) -> dict:
        return markdown_out(entry.changed, self.context)


class LogEntryInputSerializer(serializers.Serializer):
    mechanism = SlugRelatedField(slug_field="slug", queryset=Mechanism.objects.all())
    inspected_on = serializers.DateField()
    inspected_by = SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        allow_null=True,
    )
    found = serializers.CharField(max_length=markdown.MAX_CHARS, trim_whitespace=False)
    changed = serializers.CharField(
        max_length=markdown.MAX_CHARS, required=False, allow_blank=True, trim_whitespace=False
    )


class ActionSerializer(serializers.ModelSerializer):
    mechanism = SlugRelatedField(slug_field="slug", read_only=True)
    assignee = serializers.SerializerMethodField()
    done_by = serializers.SerializerMethodField()

    class Meta:
        model = Action
        fields = ["id", "mechanism", "title", "assignee", "due_on", "done", "done_at", "done_by"]

    def get_assignee(self, action: Action) -> str | None:
        return _username(action.assignee)

    def get_done_by(self, action: Action) -> str | None:
        return _username(action.done_by)
