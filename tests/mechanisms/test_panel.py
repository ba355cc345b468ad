"""The inspection panel: a goal's metric, week by week, straight from the scorecard, and whether
the goal is on track."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from mechanisms.choices import Direction, GoalKind, Health
from mechanisms.models import Goal
from mechanisms.selectors import goal_status
from mechanisms.services.mechanisms import GoalData
from revops.permissions import Role
from revops.weeks import IsoWeek
from scorecard.selectors import WeekCell
from scorecard.services.snapshots import snapshot_publish
from tests.factories import LeadFactory
from tests.mechanisms.conftest import metric

pytestmark = pytest.mark.django_db

W1, W2, W3 = IsoWeek(2026, 1), IsoWeek(2026, 2), IsoWeek(2026, 3)


def cells(goal: Goal, *values: Decimal | None) -> dict:
    weeks = [W1, W2, W3][: len(values)]
    return {
        (goal.metric_id, w.monday): WeekCell(v, None, "none")
        for w, v in zip(weeks, values, strict=True)
    }


def speed_goal(**fields) -> Goal:
    """Speed to lead at or below 1 hour by 31 March 2026, from 7 hours on 1 January."""
    values = {
        "kind": GoalKind.SMART,
        "statement": "Under 1 hour",
        "metric": metric("speed_to_lead"),
        "direction": Direction.AT_MOST,
        "target": Decimal(1),
        "due_on": date(2026, 3, 31),
        "baseline": Decimal(7),
        "baseline_on": date(2026, 1, 1),
        **fields,
    }
    return Goal(id=1, **values)


def test_a_goal_whose_latest_value_meets_the_target_is_on_track():
    goal = speed_goal()
    status = goal_status(goal, cells(goal, Decimal(3), Decimal("0.8")), [W1, W2], date(2026, 1, 20))
    assert status.health == Health.ON_TRACK
    assert (status.latest_week, status.latest_value) == (W2, Decimal("0.8"))
    assert status.reason == "0.8 hours in 2026-W02 meets the target (at or below 1.0 hours)."


def test_a_goal_ahead_of_the_path_from_baseline_to_target_is_on_track():
    goal = speed_goal()
    # W03 ends Sunday 18 January: 17 of the 89 days from 1 January to 31 March have passed,
    # so the path stands at 7 − 6 × 17/89 = 5.854 hours; 5.5 hours is ahead of it.
    status = goal_status(
        goal, cells(goal, Decimal(7), Decimal(6), Decimal("5.5")), [W1, W2, W3], date(2026, 1, 20)
    )
    assert status.health == Health.ON_TRACK
    assert status.planned.quantize(Decimal("0.001")) == Decimal("5.854")
    assert "ahead of the path to the target: 5.9 hours planned by then" in status.reason


def test_a_goal_better_than_its_baseline_but_behind_the_path_is_at_risk():
    goal = speed_goal()
    status = goal_status(goal, cells(goal, Decimal(7), Decimal("6.5")), [W1, W2], date(2026, 1, 20))
    # W02 ends 11 January: the path stands at 7 − 6 × 10/89 = 6.326 hours; 6.5 is behind it.
    assert status.health == Health.AT_RISK
    assert status.reason.startswith("6.5 hours in 2026-W02 is better than the baseline (7.0")


def test_a_goal_no_better_than_its_baseline_is_off_track():
    goal = speed_goal()
    status = goal_status(goal, cells(goal, Decimal(8)), [W1], date(2026, 1, 10))
    assert status.health == Health.OFF_TRACK


def test_a_goal_past_its_due_date_without_meeting_the_target_is_off_track():
    goal = speed_goal(due_on=date(2026, 1, 15), baseline=None, baseline_on=None)
    status = goal_status(goal, cells(goal, Decimal(2)), [W1], date(2026, 1, 20))
    assert status.health == Health.OFF_TRACK
    assert status.reason.startswith("Missed: due 15 Jan 2026")


def test_without_a_baseline_a_goal_short_of_target_before_its_due_date_is_at_risk():
    goal = speed_goal(baseline=None, baseline_on=None)
    status = goal_status(goal, cells(goal, Decimal(2)), [W1], date(2026, 1, 10))
    assert status.health == Health.AT_RISK


def test_weeks_without_a_value_are_skipped_and_no_value_at_all_is_no_data():
    goal = speed_goal()
    status = goal_status(goal, cells(goal, Decimal("0.5"), None), [W1, W2], date(2026, 1, 20))
    assert (status.latest_week, status.health) == (W1, Health.ON_TRACK)
    empty = goal_status(goal, cells(goal, None, None), [W1, W2], date(2026, 1, 20))
    assert empty.health == Health.NO_DATA
    assert empty.reason == "Speed to lead has no value in the last 2 weeks."


def test_an_at_least_goal_is_met_from_above():
    goal = speed_goal(
        metric=metric("leads_created"), direction=Direction.AT_LEAST, target=Decimal(10),
        baseline=Decimal(4),
    )  # fmt: skip
    assert goal_status(goal, cells(goal, Decimal(10)), [W1], date(2026, 1, 9)).health == (
        Health.ON_TRACK
    )
    assert goal_status(goal, cells(goal, Decimal(3)), [W1], date(2026, 1, 9)).health == (
        Health.OFF_TRACK
    )


def panel_values(html: str, kind: str) -> dict[str, str]:
    """Week → value as the panel's table of the goal of `kind` shows it."""
    article = html[html.index(f'data-goal="{kind}"') :]
    article = article[: article.index("</article>")]
    return dict(
        re.findall(r'data-week="([^"]+)">.*?<td class="num mx-value">([^<]*)</td>', article)
    )


def test_the_panel_shows_the_scorecards_weekly_values_for_a_hand_built_week(
    make_mechanism, client_as, ops_user
):
    last = IsoWeek.last_completed()
    # Leads created: 3 two weeks back, none the week before, 5 last week.
    for week, count in ((last.shift(-2), 3), (last.shift(-1), 0), (last, 5)):
        for i in range(count):
            LeadFactory(created_at=week.start + timedelta(days=1, hours=i))
    goal = GoalData(
        statement="At least 4 new leads a week",
        metric=metric("leads_created"),
        direction=Direction.AT_LEAST,
        target=Decimal(4),
        due_on=last.sunday + timedelta(days=60),
    )
    mechanism = make_mechanism(goals={GoalKind.SLA: goal, GoalKind.SMART: None})
    page = client_as(Role.EXECUTIVE).get(
        reverse("mechanisms:mechanism-detail", args=[mechanism.slug])
    )
    values = panel_values(page.text, "sla")
    assert values[last.label] == "5"
    assert values[last.shift(-1).label] == "0"
    assert values[last.shift(-2).label] == "3"
    assert values[last.shift(-3).label] == "—"  # before the first lead: no data, not zero
    assert len(values) == 13
    assert "5 in " + last.label + " meets the target (at or above 4)." in page.text

    # A published week is what the scorecard shows, and so what the panel shows: a lead
    # imported after publishing does not change it.
    snapshot_publish(week=last, by=ops_user)
    LeadFactory(created_at=last.start + timedelta(hours=2))
    again = client_as(Role.SALES_LEAD).get(
        reverse("mechanisms:mechanism-detail", args=[mechanism.slug])
    )
    assert panel_values(again.text, "sla")[last.label] == "5"


def test_the_panel_judges_a_goal_off_track_on_the_hand_built_week(make_mechanism, client_as):
    last = IsoWeek.last_completed()
    LeadFactory(created_at=last.start + timedelta(days=2))
    goal = GoalData(
        statement="At least 4 new leads a week",
        metric=metric("leads_created"),
        direction=Direction.AT_LEAST,
        target=Decimal(4),
        due_on=last.sunday + timedelta(days=70),
        baseline=Decimal(2),
        baseline_on=last.monday - timedelta(days=70),
    )
    mechanism = make_mechanism(goals={GoalKind.SLA: None, GoalKind.SMART: goal})
    html = (
        client_as(Role.EXECUTIVE)
        .get(reverse("mechanisms:mechanism-detail", args=[mechanism.slug]))
        .text
    )
    assert panel_values(html, "smart")[last.label] == "1"
    # 1 lead is below the baseline of 2: off track.
    assert 'mx-goal mx-goal-off_track" data-goal="smart"' in html
