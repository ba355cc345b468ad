"""Helpers for the scorecard tests: compute metrics the way the scorecard does."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from revops.weeks import IsoWeek
from scorecard.compute import Cell, metric_values_compute
from scorecard.selectors import definition_current_map

# The week most tests look at: Monday 2 March to Sunday 8 March 2026.
W10 = IsoWeek(2026, 10)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def compute(week: IsoWeek, *keys: str) -> dict[str, Cell]:
    """The named metrics' cells for `week`, computed with their current definitions."""
    current = definition_current_map()
    by_key = {d.metric.key: d for d in current.values()}
    result = metric_values_compute(
        weeks=[week], definitions=[by_key[k] for k in keys], catalog=current
    )
    return {k: result[by_key[k].metric_id][week] for k in keys}


@pytest.fixture
def company_tz(settings):
    """Run a test in New York time; weeks are then cut at New York midnight."""
    settings.TIME_ZONE = "America/New_York"
    return settings.TIME_ZONE


def d(text: str) -> date:
    return date.fromisoformat(text)
