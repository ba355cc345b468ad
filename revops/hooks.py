"""Extension points that let a higher layer add to a lower layer's page without the import the
layering forbids (revops ← pipeline ← scorecard ← mechanisms).

A page asks `footer_notes("scorecard.week", request)` for the notes other apps want in its
footer; an app registers a source for a page in its AppConfig.ready(). The page never names
the app, and an app that is not installed simply adds nothing."""

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
