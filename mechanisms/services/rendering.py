"""The stored HTML of mechanism Markdown: rendered once when a text is saved, shown from the
store afterwards, rendered again only when the renderer's fingerprint changes.

Pages and the API never render a stored text per request (a part of 20,000 characters can take
half a second; a mechanism has seven). They ask `rendered_markdown_get` for all the texts of a
page at once: one query, and a render only for a text saved before the renderer changed (or
written around the services, as a fixture or an old row may be)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.db.models.functions import Now
from django.utils.safestring import SafeString, mark_safe

from mechanisms.models import RenderedMarkdown
from revops import markdown


def markdown_digest(text: str) -> str:
    # surrogatepass: a lone surrogate (possible in JSON) must hash, not raise.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def rendered_markdown_get(texts: Iterable[str]) -> dict[str, SafeString]:
    """The sanitised HTML of each text, by text. Texts stored under the running renderer's
    fingerprint come from the store; the others are rendered now (each within the render
    budget, else as plain text) and stored, so the next page view finds them."""
    texts = list(texts)
    wanted = {text: markdown_digest(text) for text in texts if text and text.strip()}
    out: dict[str, SafeString] = {text: mark_safe("") for text in texts if text not in wanted}
    stored = dict(
        RenderedMarkdown.objects.filter(
            digest__in=set(wanted.values()), renderer=markdown.FINGERPRINT
        ).values_list("digest", "html")
    )
    fresh: dict[str, RenderedMarkdown] = {}
    for text, digest in wanted.items():
        if digest in stored:
            out[text] = mark_safe(stored[digest])  # noqa: S308 - stored nh3 output
            continue
        rendered = markdown.render_checked(text)
        out[text] = rendered.html
        fresh[digest] = RenderedMarkdown(
            digest=digest,
            renderer=markdown.FINGERPRINT,
            html=str(rendered.html),
            fallback=rendered.fallback,
            rendered_at=Now(),
        )
    if fresh:
        # Two requests may render the same text at once: the later write wins, with equal HTML.
        RenderedMarkdown.objects.bulk_create(
            fresh.values(),
            update_conflicts=True,
            unique_fields=["digest"],
            update_fields=["renderer", "html", "fallback", "rendered_at"],
        )
    return out
