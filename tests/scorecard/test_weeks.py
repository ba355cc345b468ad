"""ISO weeks are cut at Monday 00:00 in the company's time zone, not in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from revops.weeks import IsoWeek, month_bounds, quarter_bounds, week_range
from scorecard.drilldown import drilldown_for
from tests.factories import LeadFactory
from tests.scorecard.conftest import W10, compute, d, utc

NEW_YORK = ZoneInfo("America/New_York")


def test_a_week_is_named_and_parsed_like_2026_w46():
    week = IsoWeek.parse("2026-W46")
    assert (week.monday, week.sunday, week.label) == (d("2026-11-09"), d("2026-11-15"), "2026-W46")
    assert IsoWeek.of(d("2026-11-15")) == week
    assert week.shift(1) == IsoWeek(2026, 47)
    assert IsoWeek(2026, 53 - 1).shift(1) == IsoWeek(2026, 53)  # 2026 has 53 ISO weeks
    assert IsoWeek(2026, 53).shift(1) == IsoWeek(2027, 1)


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("2026-W54", "2026 has no week 54"),
        ("2025-W53", "2025 has no week 53"),
        ("2026-W00", "2026 has no week 0"),
        ("0001-W01", "weeks run from 1970 to 2999"),
        ("2026-46", "not an ISO week"),
        ("W46", "not an ISO week"),
        ("", "not an ISO week"),
    ],
)
def test_a_label_that_names_no_week_is_refused_with_a_reason(label, message):
    with pytest.raises(ValueError, match=message):
        IsoWeek.parse(label)


def test_week_bounds_are_company_midnights_across_a_daylight_saving_change(company_tz):
    # US clocks went forward on Sunday 8 March 2026, inside 2026-W10.
    assert W10.start == datetime(2026, 3, 2, tzinfo=NEW_YORK)
    assert W10.start.astimezone(UTC) == utc(2026, 3, 2, 5)  # EST, UTC−5
    assert W10.end.astimezone(UTC) == utc(2026, 3, 9, 4)  # EDT, UTC−4
    assert IsoWeek.containing(utc(2026, 3, 2, 4, 59)) == IsoWeek(2026, 9)  # Sunday 23:59 there
    assert IsoWeek.containing(utc(2026, 3, 2, 5, 0)) == W10


@pytest.mark.django_db
def test_sunday_2359_and_monday_0000_in_new_york_fall_in_different_weeks(company_tz):
    sunday_before = LeadFactory(created_at=datetime(2026, 3, 1, 23, 59, tzinfo=NEW_YORK))
    monday = LeadFactory(created_at=datetime(2026, 3, 2, 0, 0, tzinfo=NEW_YORK))
    last_sunday = LeadFactory(created_at=datetime(2026, 3, 8, 23, 59, tzinfo=NEW_YORK))
    next_monday = LeadFactory(created_at=datetime(2026, 3, 9, 0, 0, tzinfo=NEW_YORK))
    # In UTC the first two are both Monday 2 March; in New York they are a week apart.
    assert sunday_before.created_at.astimezone(UTC).date() == d("2026-03-02")
    assert compute(IsoWeek(2026, 9), "leads_created")["leads_created"].value == 1
    assert compute(W10, "leads_created")["leads_created"].value == 2  # Monday, last Sunday
    assert compute(IsoWeek(2026, 11), "leads_created")["leads_created"].value == 1
    records = drilldown_for("leads_created", W10, None).queryset
    assert set(records.values_list("id", flat=True)) == {monday.id, last_sunday.id}
    assert next_monday.id not in set(
        drilldown_for("leads_created", IsoWeek(2026, 9), None).queryset.values_list("id", flat=True)
    )


@pytest.mark.django_db
def test_the_same_leads_count_differently_when_the_company_is_in_utc():
    LeadFactory(created_at=datetime(2026, 1, 5, 12, 0, tzinfo=NEW_YORK))  # the data starts W02
    LeadFactory(created_at=datetime(2026, 3, 1, 23, 59, tzinfo=NEW_YORK))  # Monday 04:59 UTC
    LeadFactory(created_at=datetime(2026, 3, 2, 0, 0, tzinfo=NEW_YORK))
    assert compute(W10, "leads_created")["leads_created"].value == 2
    assert compute(IsoWeek(2026, 9), "leads_created")["leads_created"].value == 0


def test_week_range_and_calendar_periods():
    weeks = week_range(IsoWeek(2025, 52), IsoWeek(2026, 2))
    assert [w.label for w in weeks] == ["2025-W52", "2026-W01", "2026-W02"]
    assert quarter_bounds(d("2026-03-08")) == (d("2026-01-01"), d("2026-04-01"))
    assert quarter_bounds(d("2026-11-15")) == (d("2026-10-01"), d("2027-01-01"))
    assert month_bounds(d("2026-12-31")) == (d("2026-12-01"), d("2027-01-01"))


def test_a_week_in_progress_is_not_complete():
    assert not W10.is_complete(now=utc(2026, 3, 8, 23, 59))
    assert W10.is_complete(now=utc(2026, 3, 9, 0, 0))
