"""The pathological-Markdown and hostile-CSV corpora (tests/fuzz/corpora.py).

Markdown: every shape, at a small size and at the limit of one part, renders within the render
budget (plus the slack of a cooperative deadline) and comes out cut to the allow-list.
CSV: every hostile file goes through the importer as the command line runs it (checked and
applied) and ends as a batch with a message — rejected, or applied — never as a crash."""

from __future__ import annotations

import time
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from pipeline.choices import BatchStatus
from revops import markdown
from tests.fuzz.corpora import HOSTILE_CSVS, MARKDOWN_SHAPES, XSS
from tests.pipeline.importing import run_import

pytestmark = pytest.mark.fuzz

SLACK_S = 0.75  # the deadline is checked between parser steps; one step can overrun it


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


def assert_sanitised(html: str) -> None:
    parser = _Elements()
    parser.feed(html)
    for tag, attrs in parser.elements:
        if tag == "p" and attrs == {"class": "mx-markdown-fallback"}:
            continue  # the line that says a text is shown as plain text
        assert tag in markdown.ALLOWED_TAGS, tag
        allowed = markdown.ALLOWED_ATTRIBUTES.get(tag, set()) | ({"rel"} if tag == "a" else set())
        assert set(attrs) <= allowed, (tag, attrs)
        if "href" in attrs:
            scheme = urlsplit(attrs["href"] or "").scheme.lower()
            assert scheme in markdown.URL_SCHEMES | {""}, attrs["href"]


@pytest.mark.parametrize("size", [2_500, markdown.MAX_CHARS])
@pytest.mark.parametrize("shape", sorted(MARKDOWN_SHAPES))
def test_pathological_markdown_renders_in_bounded_time_and_sanitised(shape, size):
    text = MARKDOWN_SHAPES[shape](size)
    start = time.perf_counter()
    result = markdown.render_checked(text)
    assert time.perf_counter() - start < markdown.RENDER_BUDGET_S + SLACK_S
    assert_sanitised(result.html)


@pytest.mark.parametrize("payload", XSS)
def test_xss_payloads_inside_pathological_markdown_are_sanitised(payload):
    text = ("[" * 3_000) + payload + ("*_" * 2_000) + payload
    assert_sanitised(markdown.render_checked(text).html)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(HOSTILE_CSVS))
def test_a_hostile_csv_ends_as_a_batch_with_a_message_never_a_crash(name, tmp_path):
    batch = run_import(tmp_path, HOSTILE_CSVS[name])

    assert batch.status in (BatchStatus.APPLIED, BatchStatus.REJECTED), (
        batch.status,
        batch.message,
    )
    if batch.status == BatchStatus.REJECTED:
        assert batch.message.strip()
        assert "Traceback" not in batch.message
