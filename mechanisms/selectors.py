"""Reads of mechanisms: lists with their counts, goal health from the scorecard, overdue
inspections, each person's actions and the map.

Goal values come straight from the scorecard's selectors (published weeks where there are
any, live values otherwise), never recomputed here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from mechanisms.choices import HEALTH_RANK, Direction, Health, Status
from mechanisms.models import Action, Goal, Link, LogEntry, Mechanism
from revops.hooks import FooterQuery, footer_values
from revops.weeks import IsoWeek
from scorecard import selectors as scorecard_selectors
from scorecard.charts import TrendPoint
from scorecard.choices import Rag
from scorecard.formatting import format_value
from scorecard.models import Metric

GOAL_WEEKS = 13


def mechanism_list(*, today: date | None = None) -> QuerySet[Mechanism]:
    """Mechanisms with their owner, goals (and the goals' metrics) and counts of open and
    overdue actions, in name order."""
    today = today or timezone.localdate()
    return (
        Mechanism.objects.select_related("owner")
        .prefetch_related(Prefetch("goals", queryset=Goal.objects.select_related("metric")))
        .annotate(
            open_actions=Count("actions", filter=Q(actions__done=False)),
            overdue_actions=Count(
                "actions", filter=Q(actions__done=False, actions__due_on__lt=today)
            ),
        )
        .order_by("name", "id")
    )


def mechanism_get(slug: str) -> Mechanism | None:
    return mechanism_list().filter(slug=slug).first()


def overdue_inspection_query(*, today: date | None = None) -> FooterQuery:
    """Active mechanisms whose next inspection date has passed, as one SQL expression (an
    indexed count): the scorecard's footer reads it in the query the page runs anyway."""
    return FooterQuery(
        f"(SELECT count(*) FROM {Mechanism._meta.db_table}"
        " WHERE status = %(status)s AND next_inspection_on < %(today)s)",
        {"status": Status.ACTIVE.value, "today": today or timezone.localdate()},
    )


def overdue_inspection_count(*, today: date | None = None) -> int:
    """Active mechanisms whose next inspection date has passed."""
    return footer_values([overdue_inspection_query(today=today)])[0]


def assignable_users() -> QuerySet:
    """People who can own a mechanism or be given an action: active users with a role."""
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__isnull=False)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def action_list_for(user, *, show: str = "open") -> QuerySet[Action]:
    """A person's actions across all mechanisms: open ones by due date (overdue first), or
    done ones newest first, or all."""
    actions = Action.objects.filter(assignee=user).select_related("mechanism", "done_by")
    if show == "done":
        return actions.filter(done=True).order_by("-done_at", "-id")
    if show == "all":
        return actions.order_by("done", "due_on", "id")
    return actions.filter(done=False).order_by("due_on", "id")


def action_counts_for(user, *, today: date | None = None) -> dict[str, int]:
    today = today or timezone.localdate()
    return Action.objects.filter(assignee=user, done=False).aggregate(
        open=Count("id"), overdue=Count("id", filter=Q(due_on__lt=today))
    )


def log_for(mechanism: Mechanism) -> QuerySet[LogEntry]:
    return mechanism.log.select_related("inspected_by", "created_by").order_by(
        "-inspected_on", "-id"
    )


# --- Goals against the scorecard --------------------------------------------------------------


@dataclass
class GoalStatus:
    """Where a goal stands on the scorecard's recent weekly values."""

    goal: Goal
    health: str
    reason: str
    points: list[TrendPoint] = field(default_factory=list)  # oldest first, with the goal target
    latest_week: IsoWeek | None = None
    latest_value: Decimal | None = None
    planned: Decimal | None = None

    @property
    def health_label(self) -> str:
        return Health(self.health).label

    def show(self, value: Decimal | None) -> str:
        return format_value(value, self.goal.metric.unit)

    @property
    def latest_display(self) -> str:
        return self.show(self.latest_value)

    @property
    def target_display(self) -> str:
        return self.show(self.goal.target)

    @property
    def baseline_display(self) -> str:
        return self.show(self.goal.baseline)

    @property
    def rows(self) -> list[dict]:
        """The weekly values newest first, as the panel's table shows them."""
        return [
            {
                "week": p.label,
                "monday": p.monday,
                "value": self.show(p.value),
                "rag": p.rag,
                "met": p.value is not None and self.goal.is_met_by(p.value),
                "path": self.show(p.target) if self.goal.baseline is not None else "",
                "has_value": p.value is not None,
            }
            for p in reversed(self.points)
        ]


def _planned(goal: Goal, on: date) -> Decimal | None:
    """Where a straight path from the baseline to the target stands on `on`."""
    if goal.baseline is None or goal.baseline_on is None:
        return None
    span = (goal.due_on - goal.baseline_on).days
    if span <= 0:
        return goal.target
    share = Decimal(min(max((on - goal.baseline_on).days, 0), span)) / Decimal(span)
    return goal.baseline + (goal.target - goal.baseline) * share


def _better_or_equal(goal: Goal, value: Decimal, than: Decimal) -> bool:
    return value <= than if goal.direction == Direction.AT_MOST else value >= than


def _week_rag(goal: Goal, value: Decimal | None, path: Decimal | None) -> str:
    """A week's colour against the goal: green when it meets the target or keeps to the path,
    amber when it is only better than the baseline, red otherwise."""
    if value is None:
        return Rag.NONE
    if goal.is_met_by(value) or (path is not None and _better_or_equal(goal, value, path)):
        return Rag.GREEN
    if (
        goal.baseline is not None
        and value != goal.baseline
        and _better_or_equal(goal, value, goal.baseline)
    ):
        return Rag.AMBER
    return Rag.RED


def goal_status(goal: Goal, cells: dict, weeks: Sequence[IsoWeek], today: date) -> GoalStatus:
    """Judge a goal on the latest week with a value:
    - on track: the value meets the target, or is at least as good as the straight path from
      the baseline to the target says it should be by that week;
    - at risk: better than the baseline but behind that path (or, with no baseline, not yet
      at the target before the due date);
    - off track: the due date has passed without meeting the target, or the value is no
      better than the baseline;
    - no data: the metric has no value in the weeks shown."""
    points = []
    for week in weeks:
        cell = cells.get((goal.metric_id, week.monday))
        value = cell.value if cell else None
        path = _planned(goal, week.sunday)
        points.append(
            TrendPoint(
                week.label,
                week.monday,
                value,
                goal.target if path is None else path,
                _week_rag(goal, value, path),
            )
        )
    latest = next(((w, p.value) for w, p in zip(reversed(weeks), reversed(points), strict=True)
                   if p.value is not None), None)  # fmt: skip
    status = GoalStatus(goal=goal, health=Health.NO_DATA, reason="", points=points)
    if latest is None:
        status.reason = f"{goal.metric.name} has no value in the last {len(weeks)} weeks."
        return status
    week, value = latest
    status.latest_week, status.latest_value = week, value
    shown = f"{status.show(value)} in {week.label}"
    target = f"{goal.get_direction_display()} {status.target_display}"
    if goal.is_met_by(value):
        status.health = Health.ON_TRACK
        status.reason = f"{shown} meets the target ({target})."
        return status
    if today > goal.due_on:
        status.health = Health.OFF_TRACK
        status.reason = (
            f"Missed: due {goal.due_on:%-d %b %Y}, and {shown} is short of the target ({target})."
        )
        return status
    planned = _planned(goal, week.sunday)
    status.planned = planned
    if planned is None:
        status.health = Health.AT_RISK
        status.reason = f"{shown}: not yet at the target ({target}), due {goal.due_on:%-d %b %Y}."
        return status
    if _better_or_equal(goal, value, planned):
        status.health = Health.ON_TRACK
        status.reason = (
            f"{shown} is ahead of the path to the target: {status.show(planned)} planned by "
            f"then, {target} by {goal.due_on:%-d %b %Y}."
        )
    elif (
        goal.baseline is not None
        and value != goal.baseline
        and _better_or_equal(goal, value, goal.baseline)
    ):
        status.health = Health.AT_RISK
        status.reason = (
            f"{shown} is better than the baseline ({status.baseline_display}) but behind the "
            f"path to the target: {status.show(planned)} planned by then."
        )
    else:
        status.health = Health.OFF_TRACK
        status.reason = (
            f"{shown} is no better than the baseline ({status.baseline_display}); "
            f"{status.show(planned)} was planned by then."
        )
    return status


def goal_statuses(
    goals: Iterable[Goal], *, week: IsoWeek | None = None, weeks: int = GOAL_WEEKS
) -> dict[int, GoalStatus]:
    """Each goal's status over the `weeks` weeks ending with `week` (the last completed week
    by default), read from the scorecard in one call for all their metrics."""
    goals = list(goals)
    if not goals:
        return {}
    last = week or IsoWeek.last_completed()
    span = [last.shift(-i) for i in range(weeks - 1, -1, -1)]
    metrics: dict[int, Metric] = {g.metric_id: g.metric for g in goals}
    cells = scorecard_selectors.week_cells(list(metrics.values()), span)
    today = timezone.localdate()
    return {g.id: goal_status(g, cells, span, today) for g in goals}


def worst_health(statuses: Iterable[GoalStatus]) -> str | None:
    """The health that speaks for a mechanism: its worst goal's (None without goals)."""
    ranked = sorted((s.health for s in statuses), key=lambda h: HEALTH_RANK[h], reverse=True)
    return ranked[0] if ranked else None


# --- The map ----------------------------------------------------------------------------------


def map_data(*, include_retired: bool = False) -> tuple[list[Mechanism], list[Link]]:
    """The mechanisms on the map (retired ones only when asked) and the links between them."""
    # Oldest first: when links form a loop, the mechanism written first starts the drawing.
    mechanisms = list(mechanism_list().order_by("created_at", "id"))
    if not include_retired:
        mechanisms = [m for m in mechanisms if m.status != Status.RETIRED]
    ids = {m.id for m in mechanisms}
    links = [
        link
        for link in Link.objects.order_by("source__name", "target__name")
        if link.source_id in ids and link.target_id in ids
    ]
    return mechanisms, links
