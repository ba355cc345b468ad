"""Serving published weeks from a cache.

A published week does not change unless it is republished, so what its scorecard shows is
kept (per process) under a stamp of everything it depends on: the revision of each published
week of its trend, the catalog as last edited, the trust marks and the current week. A
republish, an edited metric or a new trust mark gives a new stamp, so nothing stale is served;
live weeks have no stamp and are never cached."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache

from revops.weeks import IsoWeek
from scorecard import selectors

T = TypeVar("T")

WEEK_CACHE_SECONDS = 600


def week_cached(
    namespace: str, week: IsoWeek, trend_weeks: int, build: Callable[[], tuple[T, bool]]
) -> T:
    """`build()` returns (value, cacheable); the value is served from the cache for as long as
    the week's stamp holds. A value with live cells in it (a metric added after publication)
    says it is not cacheable."""
    stamp = selectors.scorecard_week_stamp(week, trend_weeks=trend_weeks)
    key = f"scorecard:{namespace}:{stamp}"
    if stamp is not None:
        cached = cache.get(key)
        if cached is not None:
            return cached
    value, cacheable = build()
    if stamp is not None and cacheable:
        cache.set(key, value, WEEK_CACHE_SECONDS)
    return value
