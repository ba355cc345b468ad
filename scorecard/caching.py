"""Serving published weeks from a cache every worker shares.

A published week does not change unless it is republished, so what its scorecard shows is
kept under a stamp of everything it depends on (selectors.scorecard_week_stamp: the revision
of each published week of its trend, the catalog as last edited, what the trust marks read
and the current week), and by the version of the code (revops/build.py). A republish, an
edited metric, a new trust mark or a deployment gives a new stamp, so nothing stale is
served; live weeks have no stamp and are never cached.

The cache is the `scorecard` alias: Redis when REDIS_URL is set, else a table in the
database (revops_cache), so every gunicorn worker reads what one of them (or the warming task
that runs after a publish) rendered. What is kept is rendered output: the page without its
per-user parts (the navigation and user menu, the footer's notes), which are put into their
slots on each request (each process keeps them per reader, as they do not depend on the
week), and the JSON payload as bytes. Each process also keeps the entries it
last used (keyed the same way, so never stale), and most requests read nothing from the
cache but the session and the user. The stamp is also the ETag's base: a
client that sends it back gets a 304 without a body."""

from __future__ import annotations

import contextlib
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from django.core.cache import caches
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_cache_control

from revops.build import build_version
from revops.permissions import user_roles
from revops.weeks import IsoWeek
from scorecard import selectors

T = TypeVar("T")

CACHE_ALIAS = "scorecard"
# Entries are keyed by the stamp, so they never go stale; the timeout only bounds how long
# the cache keeps a stamp that nothing asks for any more.
WEEK_CACHE_SECONDS = 7 * 24 * 3600

# What this process last read from the shared cache or rendered into it, by the same keys.
# A key carries the stamp and the code's version, so an entry can never be stale: on most
# requests the page is here, which spares a Redis read and unpickling it.
_LOCAL: OrderedDict[Hashable, object] = OrderedDict()
LOCAL_ENTRIES = 64

# Where the per-user parts go in a cached page (templates/base.html, scorecard_week.html).
TOPBAR_SLOT = "<!--topbar-user-->"
FOOTER_SLOT = "<!--footer-notes-->"


def week_cache():
    return caches[CACHE_ALIAS]


def week_stamp(week: IsoWeek, trend_weeks: int) -> str | None:
    """The week's stamp, with the version of the code that renders it: a deployment renders
    again rather than serve what older templates made (and its ETags change with it)."""
    return week_stamp_and(week, trend_weeks)[0]


def week_stamp_and(
    week: IsoWeek, trend_weeks: int, also: Sequence[tuple[str, dict]] = ()
) -> tuple[str | None, list]:
    """The week's stamp and the values of the expressions `also`, read in the same query."""
    stamp, values = selectors.scorecard_week_stamp_and(week, trend_weeks=trend_weeks, also=also)
    return (None if stamp is None else f"{build_version()}-{stamp}"), values


def week_cached(
    namespace: str,
    week: IsoWeek,
    trend_weeks: int,
    build: Callable[[], tuple[T, bool]],
    *,
    stamp: str | None | bool = False,
    variant: str = "",
) -> tuple[T, bool]:
    """`build()` returns (value, cacheable); the value is served from the cache for as long as
    the week's stamp holds. A value with live cells in it (a metric added after publication)
    says it is not cacheable. Returns the value and whether it is the cached (or cacheable)
    one: only such a value may carry an ETag. Pass `stamp` when the caller has it already."""
    if stamp is False:
        stamp = week_stamp(week, trend_weeks)
    if stamp is None:
        return build()[0], False
    key = f"scorecard:{namespace}:{variant}:{stamp}"
    if (local := _LOCAL.get(key)) is not None:
        with contextlib.suppress(KeyError):  # another thread may just have dropped it
            _LOCAL.move_to_end(key)
        return local, True
    cached = week_cache().get(key)
    if cached is not None:
        _remember(key, cached)
        return cached, True
    value, cacheable = build()
    if cacheable:
        week_cache().set(key, value, WEEK_CACHE_SECONDS)
        _remember(key, value)
    return value, cacheable


def process_cached(key: Hashable, build: Callable[[], T]) -> T:
    """`build()`, kept by this process under `key` (which must name everything the value
    depends on, so that it never goes stale) beside the pages it served."""
    if (local := _LOCAL.get(key)) is not None:
        with contextlib.suppress(KeyError):
            _LOCAL.move_to_end(key)
        return local
    value = build()
    _remember(key, value)
    return value


def reader_identity(user) -> tuple:
    """What of the reader a page shows (their name, their roles: the menu they get), so
    that equal identities see the same page."""
    return (
        user.pk,
        user.get_full_name(),
        user.username,
        user.is_superuser,
        tuple(sorted(role.value for role in user_roles(user))),
    )


def _remember(key: Hashable, value: object) -> None:
    _LOCAL[key] = value
    with contextlib.suppress(KeyError):
        while len(_LOCAL) > LOCAL_ENTRIES:
            _LOCAL.popitem(last=False)


def etag_for(stamp: str, *parts: object) -> str:
    """A weak ETag for a response built from the cached `stamp` and the per-request `parts`
    (who is asking, the footer's notes): equal when the response would say the same."""
    digest = hashlib.sha256(repr((stamp, parts)).encode()).hexdigest()[:32]
    return f'W/"{digest}"'


def not_modified(request: HttpRequest, etag: str) -> HttpResponse | None:
    """A 304 when the client already holds this ETag."""
    sent = request.headers.get("If-None-Match", "")
    if sent and (sent.strip() == "*" or etag in (tag.strip() for tag in sent.split(","))):
        return revalidated(HttpResponseNotModified(), etag)
    return None


def revalidated(response: HttpResponse, etag: str) -> HttpResponse:
    """The response carries its ETag and may be kept by the user's browser, never by a shared
    cache, and checked on each use (revops.middleware.PrivateCacheMiddleware leaves a response
    with an ETag `private, no-cache` instead of `no-store`)."""
    response["ETag"] = etag
    patch_cache_control(response, private=True, no_cache=True)
    return response
