"""ISO weeks in the company's time zone (settings.TIME_ZONE).

A week runs from Monday 00:00 to the next Monday 00:00 in that zone, so a lead created at
Sunday 23:59 in New York belongs to the week before one created at Monday 00:00 there, even
though both are Monday in UTC. Weeks are named like 2026-W46 and stored by their Monday.

IsoWeek cuts weeks in Python; week_sql cuts them the same way inside a query. Every app uses
these two, so a number counted in SQL and the records listed for it always agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

_LABEL = re.compile(r"^(\d{4})-W(\d{2})$")
# Far enough either way for any business history, and far from the ends of the calendar, so
# that a trend reaching back two years from any week stays a valid date.
FIRST_YEAR, LAST_YEAR = 1970, 2999


def company_tz() -> ZoneInfo:
    """The company's time zone; never the per-request active one."""
    return ZoneInfo(settings.TIME_ZONE)


@dataclass(frozen=True, order=True)
class IsoWeek:
    year: int
    week: int

    def __post_init__(self) -> None:
        # date.fromisocalendar rejects week 53 of a year that has 52, and week 0.
        date.fromisocalendar(self.year, self.week, 1)

    @classmethod
    def parse(cls, label: str) -> IsoWeek:
        """`2026-W46` → IsoWeek; ValueError with a readable message on anything else."""
        match = _LABEL.match(label.strip())
        if not match:
            raise ValueError(f"{label!r} is not an ISO week; write it like 2026-W46")
        if not FIRST_YEAR <= int(match[1]) <= LAST_YEAR:
            raise ValueError(f"{label!r}: weeks run from {FIRST_YEAR} to {LAST_YEAR}")
        try:
            return cls(int(match[1]), int(match[2]))
        except ValueError:
            raise ValueError(f"{label!r}: {match[1]} has no week {int(match[2])}") from None

    @classmethod
    def parse_input(cls, text: str) -> IsoWeek:
        """A week as people type it: `2026-W46` in any case (what an <input type=week>
        sends), or any date in it (`2026-11-12`). ValueError with a readable message."""
        text = (text or "").strip()
        try:
            if "W" in text.upper():
                year, _, week = text.upper().partition("-W")
                return cls(int(year), int(week))
            return cls.of(date.fromisoformat(text))
        except ValueError:
            raise ValueError(f"{text!r} is not a week: use the form 2026-W46") from None

    @classmethod
    def of(cls, day: date) -> IsoWeek:
        year, week, _ = day.isocalendar()
        return cls(year, week)

    @classmethod
    def containing(cls, moment: datetime) -> IsoWeek:
        return cls.of(moment.astimezone(company_tz()).date())

    @classmethod
    def current(cls) -> IsoWeek:
        return cls.containing(timezone.now())

    @classmethod
    def last_completed(cls) -> IsoWeek:
        """The week that ended most recently: the one the Monday meeting discusses."""
        return cls.current().shift(-1)

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def start(self) -> datetime:
        """Monday 00:00 in the company's time zone."""
        return datetime.combine(self.monday, time.min, tzinfo=company_tz())

    @property
    def end(self) -> datetime:
        """The next Monday 00:00 in the company's time zone (exclusive)."""
        return datetime.combine(self.monday + timedelta(days=7), time.min, tzinfo=company_tz())

    def shift(self, weeks: int) -> IsoWeek:
        return IsoWeek.of(self.monday + timedelta(weeks=weeks))

    def is_complete(self, now: datetime | None = None) -> bool:
        return (now or timezone.now()) >= self.end

    def __str__(self) -> str:
        return self.label


# date_bin's origin: a Monday, so 7-day bins from it are ISO weeks.
_MONDAY = "TIMESTAMP '2000-01-03'"


def week_sql(expr: str, *, is_date: bool = False) -> str:
    """SQL for the Monday (a date) of the ISO week `expr` falls in, as IsoWeek cuts it.

    A timestamptz is read as wall-clock time in the company's time zone, from the statement's
    named parameter %(tz)s (see week_params); a date (is_date=True) has no time zone. Binning
    wall-clock time by 7 days from a Monday is exact across daylight-saving changes, and
    cheaper than date_trunc('week', ...), which gives the same Monday."""
    if is_date:
        return f"date_bin('7 days', ({expr})::timestamp, {_MONDAY})::date"
    return f"date_bin('7 days', ({expr}) AT TIME ZONE %(tz)s, {_MONDAY})::date"


def week_params() -> dict[str, str]:
    """The parameters week_sql's SQL reads: the company's time zone, never the active one."""
    return {"tz": settings.TIME_ZONE}


def week_range(first: IsoWeek, last: IsoWeek) -> list[IsoWeek]:
    """Every week from `first` to `last`, both included."""
    count = (last.monday - first.monday).days // 7 + 1
    return [first.shift(i) for i in range(max(count, 0))]


def quarter_bounds(day: date) -> tuple[date, date]:
    """First day of `day`'s calendar quarter and first day of the next one."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    end = date(day.year + (first_month + 3 > 12), (first_month + 2) % 12 + 1, 1)
    return start, end


def month_bounds(day: date) -> tuple[date, date]:
    start = day.replace(day=1)
    end = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return start, end
