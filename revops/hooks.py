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

from django.http import HttpRequest


@dataclass(frozen=True)
class FooterNote:
    """One line in a page's footer, e.g. “2 mechanisms are overdue for inspection”."""

    text: str
    url: str = ""
    tone: str = ""  # "", "warning" or "good": how the line is coloured


FooterSource = Callable[[HttpRequest], FooterNote | None]

_FOOTER_SOURCES: dict[str, list[FooterSource]] = defaultdict(list)


def register_footer_note(page: str, source: FooterSource) -> None:
    """Add `source` to `page`'s footer. Registering the same source twice adds it once."""
    if source not in _FOOTER_SOURCES[page]:
        _FOOTER_SOURCES[page].append(source)


def footer_notes(page: str, request: HttpRequest) -> list[FooterNote]:
    """The notes every registered source has for this request (a source may have none)."""
    notes = []
    for source in _FOOTER_SOURCES.get(page, []):
        note = source(request)
        if note is not None:
            notes.append(note)
    return notes


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
