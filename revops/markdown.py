"""Markdown wherever users write it (mechanisms, metric commentary, disputes): stored as the
author typed it (`source_normalise`: line endings and NUL bytes only), sanitised whenever it
is shown.

Two layers, because a Markdown renderer left to itself passes `<script>`, `onerror=` and
`javascript:` links straight through (measured on Python-Markdown, not assumed):

- `source_clean` runs before every render (and on the way out of the API, for clients that
  render the source themselves). Raw HTML is not part of our Markdown: the `<` that opens a tag
  is written as `&lt;`, so every Markdown renderer shows it as text; a link or image whose
  destination has a scheme other than http, https or mailto (after decoding entities, as
  renderers do) points at `#` instead. Code spans and fenced code blocks are left as typed:
  their content is text to every renderer. It is not applied to what is stored, so the edit
  form shows the author's words (`<script>` stays `<script>`, not `&lt;script>`).
- `render` turns Markdown into HTML and cleans it with nh3 against an explicit allow-list of
  tags, attributes and URL schemes. This is the boundary: every page, preview and API field
  that shows HTML goes through it, whatever is stored.

The renderer is markdown-it-py (CommonMark, raw HTML off, plus tables and strikethrough): its
time grows linearly with the text. Python-Markdown took 57 s for `"[" * 20_000`, inside the
20,000-character limit of one part, on every view (issue 17); `make bench-markdown` times the
pathological shapes at growing sizes.

Pages do not render per request: the services render each text once when it is saved and store
the HTML with the renderer's `FINGERPRINT` (mechanisms/services/rendering.py); a page shows the
stored HTML and renders again only a text whose stored fingerprint is not the running one (the
allow-lists, the markdown-it configuration or a library changed). One render is capped twice: the
text after cleaning may not exceed `MAX_CHARS`, and the parser checks a deadline of
`RENDER_BUDGET_S` as it goes. A text over either is shown as escaped plain text in a `<pre>`,
with a line saying why (`render_checked(...).fallback`).
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import time
from dataclasses import dataclass
from importlib.metadata import version

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6",
        "strong", "em", "b", "i", "del", "s", "sup", "sub", "code", "pre", "blockquote",
        "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
MAX_CHARS = 20_000
# The longest one render may take. markdown-it-py renders the worst shapes we know at 20,000
# characters in about 0.5 s on this project's machines; a render past the budget stops and the
# text is shown as plain text instead.
RENDER_BUDGET_S = 1.0
LINK_REL = "noopener noreferrer nofollow"

logger = logging.getLogger(__name__)

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[^\n]*\n.*?^ {0,3}\1[`~]*[ \t]*$", re.M | re.S)
_BACKTICKS = re.compile(r"`+")
# An autolink the renderer may keep, or the `<` that opens raw HTML (a tag, a closing tag,
# a comment, a declaration or a processing instruction).
_ANGLE = re.compile(
    r"<(?P<auto>(?:https?://|mailto:)[^\s<>]*|[^\s<>@/]+@[^\s<>@]+\.[^\s<>@]+)>"
    r"|<(?=[A-Za-z/!?])"
)
# Inline link or image destinations: `](dest` and reference definitions: `[label]: dest`.
# A destination may hold balanced parentheses: [x](javascript:alert(1)) is one destination.
_INLINE_DEST = re.compile(r"(\]\(\s*)(<[^>\n]*>|(?:[^\s()]|\([^\s()]*\))+)")
_REFERENCE_DEST = re.compile(r"^( {0,3}\[[^\]\n]+\]:[ \t]*)(<[^>\n]*>|\S+)", re.M)
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):", re.I)
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")


def _unsafe_destination(dest: str) -> bool:
    """Would a browser, after the renderer decodes entities, follow `dest` to a scheme that is
    not http, https or mailto? (`java&#115;cript:`, ` javascript:`, `JAVASCRIPT:` all do.)"""
    url = html.unescape(html.unescape(dest.strip("<>")))
    url = _INVISIBLE.sub("", url)
    match = _SCHEME.match(url)
    return match is not None and match.group(1).lower() not in URL_SCHEMES


def _clean_destinations(text: str) -> str:
    def fix(match: re.Match) -> str:
        dest = match.group(2)
        return match.group(1) + ("#" if _unsafe_destination(dest) else dest)

    return _REFERENCE_DEST.sub(fix, _INLINE_DEST.sub(fix, text))


def _escape_raw_html(text: str) -> str:
    def fix(match: re.Match) -> str:
        if match.group("auto") is not None:
            return match.group(0)
        return "&lt;"

    return _ANGLE.sub(fix, text)


def _clean_prose(text: str) -> str:
    """Clean text that is not a fenced code block, leaving its code spans as typed."""
    out: list[str] = []
    pos = 0
    search_from = 0
    while True:
        opening = _BACKTICKS.search(text, search_from)
        if opening is None:
            break
        run = opening.group(0)
        # A code span closes with a run of exactly as many backticks (CommonMark).
        closing = re.compile(rf"(?<!`){run}(?!`)").search(text, opening.end())
        if closing is None:
            search_from = opening.end()
            continue
        out.append(_escape_raw_html(_clean_destinations(text[pos : opening.start()])))
        out.append(text[opening.start() : closing.end()])
        pos = search_from = closing.end()
    out.append(_escape_raw_html(_clean_destinations(text[pos:])))
    return "".join(out)


def source_normalise(text: str) -> str:
    """Markdown as typed, to store: line endings made `\\n`, NUL bytes (which PostgreSQL text
    refuses) removed. Nothing else changes; rendering sanitises."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def source_clean(text: str) -> str:
    """Markdown as typed, less raw HTML and unsafe links; line endings made `\\n`."""
    text = source_normalise(text)
    out: list[str] = []
    pos = 0
    for fence in _FENCE.finditer(text):
        out.append(_clean_prose(text[pos : fence.start()]))
        out.append(fence.group(0))
        pos = fence.end()
    out.append(_clean_prose(text[pos:]))
    return "".join(out)


def sanitise_html(fragment: str) -> str:
    """HTML cut down to the allow-list: no scripts, styles, event handlers, SVG, iframes or
    forms, and links only to http, https and mailto (opened without the page's referrer)."""
    return nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )


class RenderTooSlow(Exception):
    """The render passed its deadline."""


def _check_deadline(env: dict) -> None:
    if time.monotonic() > env["deadline"]:
        raise RenderTooSlow


def _inline_deadline(state, silent: bool) -> bool:
    # First of the inline rules: markdown-it calls it at every position it tries (and again
    # inside link labels, where the nesting work is), so a slow text stops within a few steps.
    _check_deadline(state.env)
    return False


def _block_deadline(state, start_line: int, end_line: int, silent: bool) -> bool:
    _check_deadline(state.env)
    return False


_MD_PRESET = "commonmark"
_MD_OPTIONS = {"html": False}
_MD_EXTRAS = ("table", "strikethrough")
_MD = MarkdownIt(_MD_PRESET, dict(_MD_OPTIONS)).enable(list(_MD_EXTRAS))
_MD.inline.ruler.before("text", "deadline", _inline_deadline)
_MD.block.ruler.before("table", "deadline", _block_deadline)
_ALIGN = re.compile(r"^text-align:(left|right|center)$")

# Bump when the code between markdown-it and nh3 changes what it produces (the `align` rewrite).
_RENDER_CODE_REVISION = 1


def _fingerprint() -> str:
    """What the stored HTML depends on, hashed: the allow-lists, the parser's configuration and
    rules, the budget and the libraries' versions. Stored HTML with another fingerprint is
    rendered again when it is next shown."""
    parts = (
        sorted(ALLOWED_TAGS),
        sorted((tag, sorted(attrs)) for tag, attrs in ALLOWED_ATTRIBUTES.items()),
        sorted(URL_SCHEMES),
        LINK_REL,
        _MD_PRESET,
        sorted(_MD_OPTIONS.items()),
        _MD.get_active_rules(),
        MAX_CHARS,
        RENDER_BUDGET_S,
        _RENDER_CODE_REVISION,
        version("markdown-it-py"),
        version("nh3"),
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


FINGERPRINT = _fingerprint()


def _markdown_html(text: str, deadline: float) -> str:
    env = {"deadline": deadline}
    tokens = _MD.parse(text, env)
    for token in tokens:
        # Column alignment as the `align` attribute the allow-list keeps, not a style.
        if token.type in ("th_open", "td_open") and token.attrs.get("style"):
            match = _ALIGN.match(str(token.attrs.pop("style")))
            if match:
                token.attrs["align"] = match.group(1)
    return _MD.renderer.render(tokens, _MD.options, env).rstrip("\n")


@dataclass(frozen=True)
class Rendered:
    """The HTML of one text, and whether it is the plain-text fallback."""

    html: SafeString
    fallback: bool = False


def _plain(text: str, why: str) -> Rendered:
    note = f'<p class="mx-markdown-fallback">{html.escape(why)} It is shown as plain text.</p>'
    return Rendered(mark_safe(f"{note}<pre>{html.escape(text)}</pre>"), fallback=True)  # noqa: S308


def render_checked(text: str, *, budget: float | None = None) -> Rendered:
    """Markdown → sanitised HTML in at most about `budget` seconds, or the text escaped in a
    `<pre>` with a line saying why (too long after cleaning, or too slow to format)."""
    if not text or not text.strip():
        return Rendered(mark_safe(""))
    budget = RENDER_BUDGET_S if budget is None else budget
    started = time.monotonic()
    cleaned = source_clean(text)
    if len(cleaned) > MAX_CHARS:
        return _plain(cleaned, f"This text is over {MAX_CHARS:,} characters to format.")
    try:
        produced = _markdown_html(cleaned, started + budget)
        result = sanitise_html(produced)
    except RenderTooSlow:
        result = None
    if result is None or time.monotonic() - started > budget:
        logger.warning("markdown render passed its %.1f s budget (%d chars)", budget, len(text))
        return _plain(cleaned, f"Formatting this text took longer than {budget:g} s.")
    return Rendered(mark_safe(result))  # noqa: S308 - nh3 output, allow-list only


def render(text: str, *, budget: float | None = None) -> SafeString:
    """Markdown → sanitised HTML, safe to put in a page as it is (see `render_checked`)."""
    return render_checked(text, budget=budget).html
