"""Forms of the mechanism pages. They read and check what a person typed; the services decide
and save."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from mechanisms.choices import PARTS, Cadence, Direction, GoalKind, Status, Team
from mechanisms.models import Mechanism
from mechanisms.selectors import assignable_users
from mechanisms.services.mechanisms import GoalData, MechanismData
from revops import markdown
from scorecard.formatting import format_plain
from scorecard.models import Metric


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.username


class MetricChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Metric) -> str:
        return f"{obj.name} ({obj.get_team_display()})"


GOAL_FIELDS = ("statement", "metric", "direction", "target", "baseline", "baseline_on", "due_on")
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class MechanismForm(forms.Form):
    """The whole document of a mechanism, with the version the editor started from."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    name = forms.CharField(max_length=120)
    summary = forms.CharField(
        max_length=280,
        required=False,
        help_text="One sentence: what it does and for whom. Shown on the list and the map.",
    )
    owner = UserChoiceField(queryset=None, required=False, empty_label="— nobody yet —")
    team = forms.ChoiceField(choices=Team.choices)
    status = forms.ChoiceField(
        choices=Status.choices,
        help_text="Only active mechanisms are inspected, so only they can be overdue.",
    )
    cadence = forms.ChoiceField(
        label="Inspection cadence",
        choices=Cadence.choices,
        help_text="The next inspection is due one cadence after the last one.",
    )
    tags = forms.CharField(
        required=False, max_length=600, help_text="Comma-separated, e.g. “lead-flow, sla”."
    )
    tenets = forms.CharField(
        required=False,
        max_length=2500,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="The team's guiding principles for this mechanism, one per line.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = assignable_users()
        for name, label, questions in PARTS:
            self.fields[name] = forms.CharField(
                label=label,
                required=False,
                max_length=markdown.MAX_CHARS,
                strip=False,
                help_text=questions,
                widget=forms.Textarea(attrs={"rows": 6, "data-markdown": name}),
            )
        metrics = Metric.objects.order_by("team", "position", "name")
        for kind in GoalKind.values:
            prefix = f"{kind}_"
            self.fields[prefix + "statement"] = forms.CharField(
                label="Goal", max_length=200, required=False
            )
            self.fields[prefix + "metric"] = MetricChoiceField(
                queryset=metrics,
                to_field_name="key",
                required=False,
                label="Scorecard metric",
                empty_label="— choose a metric —",
            )
            self.fields[prefix + "direction"] = forms.ChoiceField(
                choices=[("", "— as the metric says —"), *Direction.choices],
                label="Good is",
                required=False,
                help_text="Left as it is: at or above for metrics where up is good.",
            )
            self.fields[prefix + "target"] = forms.DecimalField(
                max_digits=19, decimal_places=4, required=False, label="Target"
            )
            self.fields[prefix + "baseline"] = forms.DecimalField(
                max_digits=19, decimal_places=4, required=False, label="Baseline"
            )
            self.fields[prefix + "baseline_on"] = forms.DateField(
                required=False, label="Baseline measured on", widget=DATE_INPUT
            )
            self.fields[prefix + "due_on"] = forms.DateField(
                required=False, label="Due", widget=DATE_INPUT
            )

    @classmethod
    def initial_for(cls, mechanism: Mechanism) -> dict:
        initial = {
            "version": mechanism.version,
            "name": mechanism.name,
            "summary": mechanism.summary,
            "owner": mechanism.owner_id,
            "team": mechanism.team,
            "status": mechanism.status,
            "cadence": mechanism.cadence,
            "tags": ", ".join(mechanism.tags),
            "tenets": "\n".join(mechanism.tenets),
        }
        for name, _, _ in PARTS:
            initial[name] = getattr(mechanism, name)
        for goal in mechanism.goals.select_related("metric"):
            prefix = f"{goal.kind}_"
            initial.update(
                {
                    prefix + "statement": goal.statement,
                    prefix + "metric": goal.metric.key,
                    prefix + "direction": goal.direction,
                    prefix + "target": _plain(goal.target),
                    prefix + "baseline": _plain(goal.baseline),
                    prefix + "baseline_on": goal.baseline_on,
                    prefix + "due_on": goal.due_on,
                }
            )
        return initial

    def goal_groups(self) -> list[tuple[str, str, list]]:
        """(kind, label, bound fields) for the template."""
        return [
            (kind, GoalKind(kind).label, [self[f"{kind}_{name}"] for name in GOAL_FIELDS])
            for kind in GoalKind.values
        ]

    def part_fields(self) -> list:
        return [self[name] for name, _, _ in PARTS]

    def clean(self) -> dict:
        data = super().clean()
        for kind in GoalKind.values:
            values = {name: data.get(f"{kind}_{name}") for name in GOAL_FIELDS}
            given = {k: v for k, v in values.items() if v not in (None, "") and k != "direction"}
            if not given:
                continue  # no goal of this kind
            label = GoalKind(kind).label
            for name in ("statement", "metric", "target", "due_on"):
                if values[name] in (None, ""):
                    field = f"{kind}_{name}"
                    if field not in self.errors:
                        self.add_error(field, f"The {label} needs this.")
            if not values["direction"] and values["metric"] is not None:
                data[f"{kind}_direction"] = (
                    Direction.AT_LEAST if values["metric"].up_is_good else Direction.AT_MOST
                )
            if values["baseline"] is not None and values["baseline_on"] is None:
                self.add_error(f"{kind}_baseline_on", "Say when the baseline was measured.")
            if (
                values["baseline_on"] is not None
                and values["due_on"] is not None
                and values["baseline_on"] > values["due_on"]
            ):
                self.add_error(f"{kind}_baseline_on", "The baseline is measured before it's due.")
        return data

    def to_data(self) -> MechanismData:
        data = self.cleaned_data
        goals: dict[str, GoalData | None] = {}
        for kind in GoalKind.values:
            metric = data.get(f"{kind}_metric")
            if metric is None and not data.get(f"{kind}_statement"):
                goals[kind] = None
                continue
            goals[kind] = GoalData(
                statement=data[f"{kind}_statement"],
                metric=metric,
                direction=data[f"{kind}_direction"],
                target=data[f"{kind}_target"],
                due_on=data[f"{kind}_due_on"],
                baseline=data.get(f"{kind}_baseline"),
                baseline_on=data.get(f"{kind}_baseline_on"),
            )
        return MechanismData(
            name=data["name"],
            summary=data.get("summary", ""),
            **{name: data.get(name, "") for name, _, _ in PARTS},
            owner=data.get("owner"),
            team=data["team"],
            status=data["status"],
            cadence=data["cadence"],
            tags=data.get("tags", ""),
            tenets=data.get("tenets", ""),
            goals=goals,
        )

    def add_service_errors(self, exc: ValidationError) -> None:
        """Put a service's refusal next to the field it is about."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for key, errors in exc.error_dict.items():
            field = key if key in self.fields else None
            if key.endswith("_goal") and f"{key[:-5]}_statement" in self.fields:
                field = f"{key[:-5]}_statement"
            self.add_error(field, errors)


def _plain(value: Decimal | None) -> str:
    return format_plain(value)


class LinkForm(forms.Form):
    """Link this mechanism to another, either way round."""

    FEEDS, FED_BY = "feeds", "fed_by"
    direction = forms.ChoiceField(
        choices=[(FEEDS, "Its output feeds"), (FED_BY, "Its input comes from")],
        label="Direction",
    )
    other = forms.ModelChoiceField(
        queryset=Mechanism.objects.order_by("name"),
        to_field_name="slug",
        label="Mechanism",
        empty_label="— choose —",
    )
    label = forms.CharField(
        max_length=80, required=False, label="What flows", help_text="e.g. “routed leads”"
    )


class LogEntryForm(forms.Form):
    inspected_on = forms.DateField(label="Inspected on", widget=DATE_INPUT)
    inspected_by = UserChoiceField(
        queryset=None, label="Inspected by", required=False, empty_label="— me —"
    )
    found = forms.CharField(
        label="What was found",
        widget=forms.Textarea(attrs={"rows": 3, "data-markdown": "found"}),
        max_length=markdown.MAX_CHARS,
        strip=False,
    )
    changed = forms.CharField(
        label="What was changed",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "data-markdown": "changed"}),
        max_length=markdown.MAX_CHARS,
        strip=False,
        help_text="The iteration: what you changed because of what you found.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["inspected_by"].queryset = assignable_users()
        self.fields["inspected_on"].initial = timezone.localdate


class ActionForm(forms.Form):
    title = forms.CharField(max_length=200, label="Action")
    assignee = UserChoiceField(queryset=None, label="Assignee", empty_label="— choose —")
    due_on = forms.DateField(label="Due", widget=DATE_INPUT)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignable_users()


class PreviewForm(forms.Form):
    text = forms.CharField(required=False, strip=False, max_length=markdown.MAX_CHARS)
