"""When a mechanism's next inspection falls due. Pure date arithmetic."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from mechanisms.choices import Cadence

_MONTHS = {Cadence.MONTHLY: 1, Cadence.QUARTERLY: 3}


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it is shorter (31 Jan + 1
    month = 28 or 29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_inspection(after: date, cadence: str) -> date:
    """The inspection due one cadence after `after` (the last inspection, or the day the
    mechanism started being inspected)."""
    if cadence == Cadence.WEEKLY:
        return after + timedelta(days=7)
    return add_months(after, _MONTHS[Cadence(cadence)])
