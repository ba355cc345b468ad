"""Breadcrumbs end where the user is: the last crumb is the current page's name, not a link
and not a separator left hanging."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
CRUMBS = re.compile(r'<(nav|p) class="(?:sc-)?(?:bread)?crumbs"[^>]*>(.*?)</\1>', re.S)
PAGES = sorted(
    path for path in TEMPLATES.rglob("*.html") if CRUMBS.search(path.read_text(encoding="utf-8"))
)


def test_the_check_finds_the_breadcrumbs():
    assert len(PAGES) > 20


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_breadcrumbs_end_with_the_current_page(path):
    for _, inner in CRUMBS.findall(path.read_text(encoding="utf-8")):
        # The tail after the last separator, template tags aside: the current page's name.
        tail = re.sub(r"{%.*?%}", "", inner.rsplit("›", 1)[-1]).strip()
        assert tail, f"ends with a separator: {inner!r}"
        assert not tail.endswith("</a>"), f"ends with a link: {inner!r}"
