"""Template helpers of the scorecard pages."""

from __future__ import annotations

from datetime import date

from django import template

from revops.weeks import IsoWeek

register = template.Library()


@register.filter
def week_label(day: date | None) -> str:
    """`{{ monday|week_label }}` → 2026-W46."""
    return IsoWeek.of(day).label if day else ""
