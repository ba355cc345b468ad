"""The week in progress, on pace: a count or an amount is judged against its target prorated
to the share of the week elapsed, so a Tuesday is never red for being a Tuesday."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from revops.permissions import Role
from revops.weeks import IsoWeek, company_tz
from scorecard.choices import Pacing, Rag
from scorecard.compute import Cell
from scorecard.models import Metric
from scorecard.selectors import live_cell, scorecard_week
from scorecard.services.catalog import target_set
from scorecard.targets import TargetBook, pace_for, week_elapsed_share
from tests.factories import LeadFactory
from tests.scorecard.conftest import W10, d

UP = {"up_is_good": True, "green_pct": Decimal(100), "red_pct": Decimal(90)}


def at(day: int, hour: int = 0) -> datetime:
    """`day` days after W10's Monday at `hour`, company time."""
    return datetime.combine(W10.monday + timedelta(days=day), time(hour), tzinfo=company_tz())


@pytest.mark.parametrize(
    ("day", "business", "calendar"),
    [
        (0, "0", "0"),  # Monday midnight: nothing elapsed
        (1, "0.2", "0.1429"),  # Tuesday midnight: Monday done
        (2, "0.4", "0.2857"),  # Wednesday
        (3, "0.6", "0.4286"),  # Thursday
        (4, "0.8", "0.5714"),  # Friday
        (5, "1", "0.7143"),  # Saturday: every business day done
        (6, "1", "0.8571"),  # Sunday
    ],
)
def test_the_share_of_the_week_elapsed_on_each_weekday(day, business, calendar):
    assert week_elapsed_share(W10, Pacing.BUSINESS_DAYS, at(day)) == Decimal(business)
    share = week_elapsed_share(W10, Pacing.CALENDAR_DAYS, at(day))
    assert share.quantize(Decimal("0.0001")) == Decimal(calendar)


def test_hours_of_a_day_count_as_part_of_it():
    # Tuesday noon: one and a half business days of five.
    assert week_elapsed_share(W10, Pacing.BUSINESS_DAYS, at(1, 12)) == Decimal("0.3")


@pytest.mark.parametrize(
    ("day", "value", "rag", "projected"),
    [
        (1, "50", Rag.GREEN, "250"),  # Tuesday: 50 of a prorated 50
        (2, "95", Rag.AMBER, "237.5"),  # Wednesday: 95 of 100 is 95%
        (2, "37", Rag.RED, "92.5"),  # behind pace is still red, on pace it is not
        (3, "150", Rag.GREEN, "250"),  # Thursday: 150 of 150
        (4, "200", Rag.GREEN, "250"),  # Friday
        (6, "250", Rag.GREEN, "250"),  # the weekend: the business days are all done
    ],
)
def test_a_count_is_judged_against_its_target_prorated_to_the_day(day, value, rag, projected):
    pace = pace_for(
        Decimal(value), Decimal(250), week=W10, pacing=Pacing.BUSINESS_DAYS, now=at(day), **UP
    )
    assert (pace.rag, pace.projected) == (rag, Decimal(projected))


def test_monday_is_too_early_and_a_complete_only_metric_waits_for_the_week_to_end():
    early = pace_for(
        Decimal(3), Decimal(250), week=W10, pacing=Pacing.BUSINESS_DAYS, now=at(0, 15), **UP
    )
    assert (early.rag, early.projected, early.status) == (Rag.NONE, None, "Too early to judge")
    waits = pace_for(Decimal(200), Decimal(250), week=W10, pacing=Pacing.COMPLETE, now=at(4), **UP)
    assert (waits.rag, waits.projected, waits.status) == (
        Rag.NONE,
        None,
        "Judged when the week ends",
    )


@pytest.mark.django_db
def test_the_live_cell_of_the_week_in_progress_is_on_pace_and_a_finished_week_is_not():
    leads = Metric.objects.get(key="leads_created")
    target_set(metric=leads, by=None, starts_on=d("2026-01-01"), value=Decimal(250))
    book = TargetBook.load()
    wednesday = live_cell(leads, W10, Cell(Decimal(100)), book, 1, now=at(2))
    assert (wednesday.rag, wednesday.pace, wednesday.rag_label) == (
        Rag.GREEN,
        Decimal(250),
        "On target",
    )
    # The same 100 once the week is over is judged against the whole 250.
    after = live_cell(leads, W10, Cell(Decimal(100)), book, 1, now=at(8))
    assert (after.rag, after.pace) == (Rag.RED, None)
    # A rate is judged as it stands, whatever the day.
    rate = Metric.objects.get(key="win_rate")
    target_set(metric=rate, by=None, starts_on=d("2026-01-01"), value=Decimal(20))
    assert live_cell(rate, W10, Cell(Decimal(10)), TargetBook.load(), 1, now=at(2)).rag == Rag.RED


@pytest.mark.django_db
def test_the_week_in_progress_page_says_on_pace_or_waits_and_is_never_red_for_the_day(client_as):
    week = IsoWeek.current()
    leads = Metric.objects.get(key="leads_created")
    LeadFactory(created_at=datetime.combine(week.monday, time(9), tzinfo=company_tz()))
    target_set(metric=leads, by=None, starts_on=week.monday - timedelta(days=70),
               value=Decimal(1))  # fmt: skip
    client = client_as(Role.EXECUTIVE)
    page = client.get(reverse("scorecard:week", args=[week]))
    row = next(r for r in scorecard_week(week).rows if r.metric.key == "leads_created")
    # One lead against a target of one: never red, whatever the day is.
    assert row.cell.rag != Rag.RED
    if row.cell.pace is not None:
        assert f"on pace for {row.pace_display} of 1" in page.text
    leads.pacing = Pacing.COMPLETE
    leads.save(update_fields=["pacing"])
    page = client.get(reverse("scorecard:metric-week", args=[week, "leads_created"]))
    assert "Judged when the week ends" in page.text


@pytest.mark.django_db
def test_a_week_before_the_data_says_no_data_not_zero_against_a_target(client_as):
    LeadFactory(created_at=at(1, 10))  # the data starts in W10
    leads = Metric.objects.get(key="leads_created")
    target_set(metric=leads, by=None, starts_on=d("2026-01-01"), value=Decimal(4))
    client = client_as(Role.EXECUTIVE)
    before = W10.shift(-2)
    page = client.get(reverse("scorecard:metric-week", args=[before, "leads_created"]))
    assert page.context["cell"].value is None
    assert "No data" in page.text
    assert "Off target" not in page.text
    api = client.get(reverse("api:scorecard-week", args=[before.label])).json()
    row = next(m for s in api["sections"] for m in s["metrics"] if m["key"] == "leads_created")
    assert (row["value"], row["rag"], row["status"]) == (None, "none", "No data")
    # W10 itself has its lead.
    page = client.get(reverse("scorecard:metric-week", args=[W10, "leads_created"]))
    assert page.context["cell"].value == 1
