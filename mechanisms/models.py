"""Mechanisms: the company's documented, inspected revenue processes, their goals on scorecard
metrics, the links between them, their inspection log and their actions.

A mechanism's document (its seven parts, owner, team, status, tags, tenets, cadence and its two
goals) is versioned with django-reversion: every save through `services.mechanism_*` is a
revision. Links, log entries and actions are rows of their own with who and when, not part of
the document's versions."""

from __future__ import annotations

from datetime import date

import reversion
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower, Now

from mechanisms.choices import Cadence, Direction, GoalKind, Status, Team
from scorecard.models import Metric

MAX_TAGS = 12
MAX_TENETS = 10


def _markdown(label: str) -> models.TextField:
    return models.TextField(label, blank=True)


def _amount(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=20, decimal_places=4, **kwargs)


@reversion.register(
    follow=("goals",), exclude=("updated_at", "last_inspected_on", "next_inspection_on")
)
class Mechanism(models.Model):
    """One documented business process, e.g. Lead Routing. Keyed by `slug`, set from the name at
    creation and never changed (links and bookmarks keep working after a rename).

    The seven parts are Markdown, stored as the writer typed them less any raw HTML or unsafe
    link (see revops/markdown.py) and shown only after sanitising. `version` counts saves
    and is the optimistic lock: a save must name the version it started from.
    `next_inspection_on` follows from the last inspection and the cadence; the services keep it
    up to date so that overdue mechanisms are one indexed query."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    summary = models.CharField(
        max_length=280, blank=True, help_text="One sentence: what it does and for whom."
    )
    challenge = _markdown("business challenge")
    outputs = _markdown("outputs")
    tool = _markdown("tool")
    adoption = _markdown("adoption")
    inspection = _markdown("inspection")
    inputs = _markdown("inputs")
    iteration = _markdown("iteration")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_mechanisms",
    )
    team = models.CharField(max_length=20, choices=Team.choices, default=Team.REVOPS)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    tenets = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    cadence = models.CharField(max_length=10, choices=Cadence.choices, default=Cadence.MONTHLY)
    last_inspected_on = models.DateField(null=True, blank=True)
    next_inspection_on = models.DateField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="mechanisms_mechanism_name_unique"),
            models.CheckConstraint(
                condition=~Q(name=""), name="mechanisms_mechanism_name_not_blank"
            ),
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="mechanisms_mechanism_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(team__in=Team.values), name="mechanisms_mechanism_team_valid"
            ),
            models.CheckConstraint(
                condition=Q(cadence__in=Cadence.values), name="mechanisms_mechanism_cadence_valid"
            ),
            models.CheckConstraint(
                condition=Q(version__gte=1), name="mechanisms_mechanism_version_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_inspection_on"], name="mechanisms_due_idx"),
            GinIndex(fields=["tags"], name="mechanisms_tags_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def is_overdue(self, today: date) -> bool:
        return (
            self.status == Status.ACTIVE
            and self.next_inspection_on is not None
            and self.next_inspection_on < today
        )


@reversion.register()
class Goal(models.Model):
    """A measured goal of a mechanism: its SLA or its SMART goal, on one scorecard metric. Keyed
    by (mechanism, kind). The goal is met when the metric's weekly value is on the good side of
    `target` (`direction`); `baseline` is where the metric stood on `baseline_on`, so progress
    can be judged against a straight path from there to the target on `due_on`."""

    mechanism = models.ForeignKey(Mechanism, on_delete=models.CASCADE, related_name="goals")
    kind = models.CharField(max_length=5, choices=GoalKind.choices)
    statement = models.CharField(
        max_length=200, help_text="In one line, e.g. “Speed to lead under 1 hour by 30 June”."
    )
    metric = models.ForeignKey(Metric, on_delete=models.PROTECT, related_name="+")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    baseline = _amount(null=True, blank=True)
    baseline_on = models.DateField(null=True, blank=True)
    target = _amount()
    due_on = models.DateField()

    class Meta:
        ordering = ["mechanism", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["mechanism", "kind"], name="mechanisms_goal_kind_once"),
            models.CheckConstraint(
                condition=Q(kind__in=GoalKind.values), name="mechanisms_goal_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(direction__in=Direction.values),
                name="mechanisms_goal_direction_valid",
            ),
            models.CheckConstraint(
                condition=Q(baseline_on__isnull=True) | Q(baseline_on__lte=F("due_on")),
                name="mechanisms_goal_baseline_before_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.statement}"

    def is_met_by(self, value) -> bool:
        if self.direction == Direction.AT_MOST:
            return value <= self.target
        return value >= self.target


class Link(models.Model):
    """The output of `source` is an input of `target` (Lead Capture → Lead Routing). Keyed by
    (source, target); a mechanism never links to itself. Cycles are allowed: a closed loop may
    feed an earlier step."""

    source = models.ForeignKey(Mechanism, on_delete=models.CASCADE, related_name="outgoing")
    target = models.ForeignKey(Mechanism, on_delete=models.CASCADE, related_name="incoming")
    label = models.CharField(
        max_length=80, blank=True, help_text="What flows along the link, e.g. “new leads”."
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["source", "target"]
        constraints = [
            models.UniqueConstraint(fields=["source", "target"], name="mechanisms_link_unique"),
            models.CheckConstraint(
                condition=~Q(source=F("target")), name="mechanisms_link_not_to_itself"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} → {self.target}"


class LogEntry(models.Model):
    """One inspection of a mechanism: when, who, what was found and what was changed because of
    it (the iteration). The newest `inspected_on` sets the mechanism's next inspection."""

    mechanism = models.ForeignKey(Mechanism, on_delete=models.CASCADE, related_name="log")
    inspected_on = models.DateField()
    inspected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    found = models.TextField("what was found")
    changed = models.TextField("what was changed", blank=True)
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["mechanism", "-inspected_on", "-id"]
        verbose_name_plural = "log entries"
        indexes = [
            models.Index(fields=["mechanism", "-inspected_on"], name="mechanisms_log_recent_idx")
        ]

    def __str__(self) -> str:
        return f"{self.mechanism} inspected {self.inspected_on}"


class Action(models.Model):
    """One actionable step of a mechanism, for one person, by a date. Open until ticked off;
    overdue when open past `due_on`."""

    mechanism = models.ForeignKey(Mechanism, on_delete=models.CASCADE, related_name="actions")
    title = models.CharField(max_length=200)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="mechanism_actions"
    )
    due_on = models.DateField()
    done = models.BooleanField(default=False)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["done", "due_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(title=""), name="mechanisms_action_title_not_blank"
            ),
            models.CheckConstraint(
                condition=Q(done=False, done_at__isnull=True) | Q(done=True, done_at__isnull=False),
                name="mechanisms_action_done_has_time",
            ),
        ]
        indexes = [
            models.Index(
                fields=["assignee", "due_on"],
                condition=Q(done=False),
                name="mechanisms_action_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def is_overdue(self, today: date) -> bool:
        return not self.done and self.due_on < today


class RenderedMarkdown(models.Model):
    """The sanitised HTML of one Markdown text (a mechanism part, a log entry's finding or a
    version's part), rendered once. Keyed by `digest`, the SHA-256 of the text: equal texts
    share a row, whichever mechanism, entry or version holds them. `renderer` is the fingerprint
    of the renderer that made `html` (revops.markdown.FINGERPRINT): a row with another
    fingerprint is rendered again when next shown. `fallback` marks a text too long or too slow
    to format, stored as escaped plain text. A cache of what the texts say: deleting rows loses
    nothing but the time to render them again."""

    digest = models.CharField(max_length=64, primary_key=True)
    renderer = models.CharField(max_length=32)
    html = models.TextField()
    fallback = models.BooleanField(default=False)
    rendered_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name_plural = "rendered Markdown"

    def __str__(self) -> str:
        return f"{self.digest[:12]} ({self.renderer})"
