"""One ISO week for every app: IsoWeek in Python and week_sql in PostgreSQL cut weeks at the
same company midnight, so a number counted in SQL and the records listed for it agree."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection

from revops.weeks import IsoWeek, week_params, week_sql


def _sql_mondays(values: list, *, is_date: bool) -> list[date]:
    kind = "date" if is_date else "timestamptz"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {week_sql('v', is_date=is_date)} "
            f"FROM unnest(%(values)s::{kind}[]) WITH ORDINALITY AS u(v, n) ORDER BY n",
            {**week_params(), "values": values},
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Europe/Berlin", "Pacific/Kiritimati"])
def test_sql_and_python_put_every_moment_in_the_same_week(settings, zone):
    settings.TIME_ZONE = zone
    # Every half hour of five weeks around the spring daylight-saving changes (US 8 March,
    # Europe 29 March 2026), and a minute either side of each UTC midnight.
    start = datetime(2026, 3, 2, tzinfo=UTC)
    moments = [start + timedelta(minutes=30 * i) for i in range(48 * 35)]
    moments += [start + timedelta(days=d, minutes=m) for d in range(35) for m in (-1, 1)]
    expected = [IsoWeek.containing(m).monday for m in moments]
    assert _sql_mondays(moments, is_date=False) == expected


@pytest.mark.django_db
def test_sql_and_python_put_every_date_in_the_same_week(settings):
    settings.TIME_ZONE = "America/New_York"  # a date has no time zone: it changes nothing
    days = [date(1970, 1, 1) + timedelta(days=i) for i in range(0, 40_000, 13)]
    days += [date(2026, 12, 28) + timedelta(days=i) for i in range(14)]  # 2026-W53
    assert _sql_mondays(days, is_date=True) == [IsoWeek.of(d).monday for d in days]


@pytest.mark.parametrize(
    ("text", "week"),
    [
        ("2026-W46", IsoWeek(2026, 46)),
        ("2026-w46", IsoWeek(2026, 46)),
        (" 2026-W1 ", IsoWeek(2026, 1)),
        ("2026-11-15", IsoWeek(2026, 46)),  # a Sunday: the week it ends
        ("2027-01-01", IsoWeek(2026, 53)),
    ],
)
def test_a_week_typed_as_a_label_or_any_date_in_it_is_read(text, week):
    assert IsoWeek.parse_input(text) == week


@pytest.mark.parametrize("text", ["", "2026-W54", "2025-W53", "W46", "2026-13-01", "soon"])
def test_a_typed_week_that_names_no_week_is_refused_with_a_readable_message(text):
    with pytest.raises(ValueError, match="is not a week: use the form 2026-W46"):
        IsoWeek.parse_input(text)
