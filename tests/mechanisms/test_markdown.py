"""Markdown is cleaned when saved and sanitised whenever it is shown: no script survives."""

from __future__ import annotations

import time

import pytest

from bench.markdown_shapes import SHAPES
from revops.markdown import MAX_CHARS, render, sanitise_html, source_clean

# Payloads people paste to see what a page does with them.
SCRIPT = "<script>alert('x')</script>"
JS_LINK = "[click me](javascript:alert(1))"
ENCODED_JS_LINK = "[click me](java&#115;cript:alert(1))"
ANGLE_JS_LINK = "[click me](<javascript:alert(1)>)"
REFERENCE_JS_LINK = "[click me][r]\n\n[r]: javascript:alert(1)"
ONERROR = '<img src="x" onerror="alert(1)">'
SVG_ONLOAD = '<svg onload="alert(1)"><circle r="4"/></svg>'
SVG_SCRIPT = "<svg><script>alert(1)</script></svg>"
SVG_DATA_IMAGE = "![pic](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)"
DATA_LINK = "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)"
IFRAME = '<iframe src="https://evil.example"></iframe>'
STYLE = "<style>body{display:none}</style>"


def test_a_script_tag_is_shown_as_text_not_run():
    html = render(SCRIPT)
    assert "<script" not in html
    assert "&lt;script&gt;" in html  # the reader sees what was typed
    assert "<script" not in source_clean(SCRIPT)


@pytest.mark.parametrize("payload", [JS_LINK, ENCODED_JS_LINK, ANGLE_JS_LINK, REFERENCE_JS_LINK])
def test_a_javascript_link_keeps_its_text_and_loses_its_target(payload):
    html = render(payload)
    assert "javascript" not in html.lower()
    assert "click me" in html
    assert "javascript" not in source_clean(payload).lower()


def test_an_onerror_attribute_never_reaches_an_element():
    html = render(ONERROR)
    assert "<img" not in html
    assert "onerror=" not in html.replace("&quot;", '"').split("&lt;img")[0]
    assert "<img" not in source_clean(ONERROR)


@pytest.mark.parametrize("payload", [SVG_ONLOAD, SVG_SCRIPT, SVG_DATA_IMAGE])
def test_svg_payloads_are_neutralised(payload):
    html = render(payload)
    assert "<svg" not in html
    assert "<script" not in html
    assert "data:" not in html
    assert "<svg" not in source_clean(payload)


@pytest.mark.parametrize("payload", [DATA_LINK, IFRAME, STYLE])
def test_data_links_iframes_and_styles_are_neutralised(payload):
    html = render(payload)
    assert "<iframe" not in html
    assert "<style" not in html
    assert "data:" not in html


def test_html_that_skips_markdown_is_still_cut_to_the_allow_list():
    # Whatever produced the HTML (a future renderer, an old row), the sanitiser is the boundary.
    cleaned = sanitise_html(
        '<p onclick="x()">hi <a href="javascript:alert(1)">a</a> <img src=x onerror=y>'
        '<a href="https://example.com">ok</a></p><script>z()</script>'
    )
    assert cleaned == (
        '<p>hi <a rel="noopener noreferrer nofollow">a</a> '
        '<a href="https://example.com" rel="noopener noreferrer nofollow">ok</a></p>'
    )


def test_ordinary_markdown_renders_as_a_writer_expects():
    text = (
        "**Speed** beats *perfect*.\n\n"
        "- one\n- two\n\n"
        "| a | b |\n|:--|--:|\n| 1 | 2 |\n\n"
        "[scorecard](/scorecard/) · [mail](mailto:ops@example.com) · <https://example.com>\n\n"
        "Speed to lead < 1 hour & rising"
    )
    html = render(text)
    assert "<strong>Speed</strong> beats <em>perfect</em>" in html
    assert "<li>one</li>" in html
    assert '<td align="right">2</td>' in html
    assert '<a href="/scorecard/" rel="noopener noreferrer nofollow">scorecard</a>' in html
    assert 'href="mailto:ops@example.com"' in html
    assert 'href="https://example.com"' in html
    assert "Speed to lead &lt; 1 hour &amp; rising" in html


def test_saving_keeps_what_was_typed_apart_from_raw_html_and_unsafe_links():
    typed = (
        "Speed < 1 hour, R&D's view.\r\n\r\n`<code>` stays\r\n\r\n"
        "```\n<script>in a fence</script>\n```\n"
        "[wiki](https://en.wikipedia.org/wiki/Lead_(sales)) and <b>bold</b>"
    )
    assert source_clean(typed) == (
        "Speed < 1 hour, R&D's view.\n\n`<code>` stays\n\n"
        "```\n<script>in a fence</script>\n```\n"
        "[wiki](https://en.wikipedia.org/wiki/Lead_(sales)) and &lt;b>bold&lt;/b>"
    )


def test_code_shows_markup_as_text():
    html = render("`<script>` and\n\n```\n<img onerror=x>\n```")
    assert "<code>&lt;script&gt;</code>" in html
    assert "&lt;img onerror=x&gt;" in html
    assert "<img" not in html


def test_an_unclosed_fence_is_not_a_hiding_place():
    assert "<script" not in source_clean("```\n<script>alert(1)</script>")
    assert "<script" not in render("```\n<script>alert(1)</script>")


def test_empty_text_renders_nothing():
    assert render("") == ""
    assert render("   \n ") == ""


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_pathological_markdown_renders_in_linear_time(shape):
    # Python-Markdown took 18.8 s for "[" * 10_000 and 57 s at 20,000 (issue 17).
    text = SHAPES[shape](MAX_CHARS)
    start = time.perf_counter()
    render(text)
    assert time.perf_counter() - start < 2.0
