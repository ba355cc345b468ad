"""Template helpers available in every template (registered as a builtin in settings)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django import template
from django.utils import timezone

from revops.currencies import money_format
from revops.permissions import can as _can
from revops.weeks import IsoWeek

register = template.Library()


@register.filter
def can(user: Any, action: str) -> bool:
    """`{% if user|can:"records.view" %}`: the same answer views and the API get."""
    return _can(user, action)


@register.filter
def cell(value: Any) -> str:
    """A record's value as a table shows it: dates as 2026-07-01, times as 2026-07-01 12:37 in
    the company's time zone, blanks as a dash."""
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return str(value)


@register.filter
def money(value: Any, code: str | None = None) -> str:
    """`{{ deal.amount|money:deal.currency }}`: an amount the one way every page writes it,
    `$52,600` in the company currency and `EUR 1,200` in another (revops.currencies)."""
    return money_format(value, code)


@register.filter
def converted(record: Any, attr: str = "amount_at_close") -> str:
    """Beside an amount in another currency, what it is in the company currency (`≈ $1,204`),
    or that it has no exchange rate yet; nothing for an amount already in it."""
    from django.conf import settings

    if getattr(record, "currency", settings.COMPANY_CURRENCY) == settings.COMPANY_CURRENCY:
        return ""
    value = getattr(record, attr, None)
    return "no exchange rate yet" if value is None else f"≈ {money(value)}"


@register.filter
def week_label(day: date | None) -> str:
    """`{{ monday|week_label }}` → 2026-W04: the one way a week is written (revops.weeks), not
    Django's `date:"o-\\WW"`, whose week number has no leading zero (2026-W4)."""
    return IsoWeek.of(day).label if day else ""
