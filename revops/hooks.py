"""Extension points that let a higher layer add to a lower layer's page without the import the
layering forbids (revops ← pipeline ← scorecard ← mechanisms).

A page asks `footer_notes("scorecard.week", request)` for the notes other apps want in its
footer; an app registers a source for a page in its AppConfig.ready(). The page never names
the app, and an app that is not installed simply adds nothing. Events work the same way: a
service emits what happened and the apps above it listen."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from django.http import HttpRequest


@dataclass(frozen=True)
class FooterNote:
    """One line in a page's footer, e.g. “2 mechanisms are overdue for inspection”."""

    text: str
    url: str = ""
    tone: str = ""  # "", "warning" or "good": how the line is coloured


FooterSource = Callable[..., FooterNote | None]


class FooterQuery(NamedTuple):
    """What a footer source reads, as one SQL expression (a scalar subquery) with its named
    parameters, so that a page fetches every source's value in one round trip (the published
    scorecard adds them to the one query it runs per request)."""

    sql: str
    params: dict


_FOOTER_SOURCES: dict[str, list[FooterSource]] = defaultdict(list)
_FOOTER_QUERIES: dict[FooterSource, Callable[[], FooterQuery]] = {}


def register_footer_note(
    page: str, source: FooterSource, *, query: Callable[[], FooterQuery] | None = None
) -> None:
    """Add `source` to `page`'s footer. Registering the same source twice adds it once. A
    source registered with a `query` (called per request: its parameters may say "now") is
    called as `source(request, value)` with that expression's value; one without, as
    `source(request)`."""
    if source not in _FOOTER_SOURCES[page]:
        _FOOTER_SOURCES[page].append(source)
    if query is not None:
        _FOOTER_QUERIES[source] = query


def footer_queries(page: str) -> list[FooterQuery]:
    """The queries of `page`'s sources that have one, in the order footer_notes wants their
    values."""
    return [_FOOTER_QUERIES[s]() for s in _FOOTER_SOURCES.get(page, []) if s in _FOOTER_QUERIES]


def footer_notes(page: str, request: HttpRequest, values: list | None = None) -> list[FooterNote]:
    """The notes every registered source has for this request (a source may have none).
    `values` are what footer_queries(page) returned when the page ran them in its own query;
    without them they are fetched here, all in one query."""
    sources = _FOOTER_SOURCES.get(page, [])
    if values is None:
        values = footer_values(footer_queries(page))
    answers = iter(values)
    notes = []
    for source in sources:
        note = source(request, next(answers)) if source in _FOOTER_QUERIES else source(request)
        if note is not None:
            notes.append(note)
    return notes


def footer_values(queries: list[FooterQuery]) -> list:
    if not queries:
        return []
    from revops.db import prepared_cursor, sql_columns

    columns, params = sql_columns(queries, prefix="f")
    with prepared_cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)}", params)
        return list(cursor.fetchone())


# --- Events ---------------------------------------------------------------------------------
# A lower layer says what happened ("scorecard.week_published", "disputes.changed") and the
# apps above it that care register a listener in their AppConfig.ready(). Emit once the change
# has committed (transaction.on_commit), so a rolled-back step tells no one.

Listener = Callable[..., None]

_LISTENERS: dict[str, list[Listener]] = defaultdict(list)


def register_listener(event: str, listener: Listener) -> None:
    """Call `listener(**payload)` whenever `event` is emitted. Registering twice adds once."""
    if listener not in _LISTENERS[event]:
        _LISTENERS[event].append(listener)


def emit(event: str, **payload) -> None:
    """Tell every listener of `event`. A listener should only enqueue work (a task), so that
    what emitted is never slowed or failed by what listens."""
    for listener in _LISTENERS.get(event, []):
        listener(**payload)
