"""List pages are keyset pages: walking Next then Previous visits every row once in the list's
order, ties and missing values included, and no cursor a user can type breaks the page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pipeline import views as pipeline_views
from revops import lists
from revops.permissions import Role
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


@pytest.fixture
def deals():
    """Eleven deals: three share one creation time, two have none (they sort last)."""
    made = [DealFactory(created_at=MONDAY + timedelta(days=day)) for day in range(6)]
    made += [DealFactory(created_at=MONDAY + timedelta(days=2)) for _ in range(3)]
    made += [DealFactory(created_at=None) for _ in range(2)]
    return made


def _expected(deals):
    dated = sorted((d for d in deals if d.created_at), key=lambda d: (d.created_at, d.id))
    undated = sorted((d for d in deals if not d.created_at), key=lambda d: d.id, reverse=True)
    return [d.key for d in reversed(dated)] + [d.key for d in undated]


def _link(html: str, rel: str) -> str | None:
    found = re.search(rf'href="\?([^"]*)" rel="{rel}"', html)
    return unescape(found.group(1)) if found else None


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(pipeline_views, "PAGE_SIZE", 4)


def test_next_then_previous_walks_every_deal_once_in_order(client_as, deals, small_pages):
    client = client_as(Role.SALES_LEAD)
    url = reverse("pipeline:deal-list")
    pages, query = [], ""
    while True:
        response = client.get(f"{url}?{query}")
        assert response.status_code == 200
        pages.append([deal.key for deal in response.context["page"]])
        query = _link(response.text, "next")
        if query is None:
            break
    assert [key for page in pages for key in page] == _expected(deals)
    assert [len(page) for page in pages] == [4, 4, 3]
    assert "11 records" in response.text
    assert _link(client.get(url).text, "prev") is None  # the first page has no Previous

    back = []
    query = _link(response.text, "prev")
    while query is not None:
        response = client.get(f"{url}?{query}")
        back.insert(0, [deal.key for deal in response.context["page"]])
        query = _link(response.text, "prev")
    assert back == pages[:-1]


def test_the_filter_stays_on_the_pager_links(client_as, deals, small_pages):
    DealFactory(created_at=MONDAY, stage="closed_won")
    client = client_as(Role.SALES_LEAD)
    first = client.get(reverse("pipeline:deal-list"), {"stage": "qualification"})
    following = _link(first.text, "next")
    assert following.startswith("stage=qualification&after=")
    second = client.get(f"{reverse('pipeline:deal-list')}?{following}")
    keys = [d.key for d in first.context["page"]] + [d.key for d in second.context["page"]]
    assert keys == _expected(deals)[:8]


def test_a_deep_page_reads_by_key_not_by_offset(client_as, deals, small_pages):
    client = client_as(Role.SALES_LEAD)
    second = _link(client.get(reverse("pipeline:deal-list")).text, "next")
    with CaptureQueriesContext(connection) as queries:
        client.get(f"{reverse('pipeline:deal-list')}?{second}")
    rows = [q["sql"] for q in queries if 'FROM "pipeline_deal"' in q["sql"]]
    assert rows
    assert not any(" OFFSET " in sql for sql in rows)


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "W10",  # []
        "WyJ4Il0",  # ["x"]
        "WzEsMiwzXQ",  # [1, 2, 3]
        "WyIyMDI2LTEzLTQwIiwgMV0",  # ["2026-13-40", 1]
        "WyJcdTAwMDAiLCAxXQ",  # ["\u0000", 1]
        "W3siYSI6IDF9LCAxXQ",  # [{"a": 1}, 1]
        "A" * 5000,
    ],
)
def test_a_cursor_the_list_did_not_give_out_shows_the_first_page(
    client_as, deals, small_pages, cursor
):
    client = client_as(Role.SALES_LEAD)
    first = client.get(reverse("pipeline:deal-list"))
    for name in ("after", "before"):
        response = client.get(reverse("pipeline:deal-list"), {name: cursor})
        assert response.status_code == 200
        assert list(response.context["page"]) == list(first.context["page"])


def test_a_cursor_past_the_end_offers_the_first_page(client_as, deals, small_pages):
    client = client_as(Role.SALES_LEAD)
    url = reverse("pipeline:deal-list")
    following = _link(client.get(url).text, "next")
    type(deals[0]).objects.all().delete()  # the rows went while the page was open
    response = client.get(f"{url}?{following}")
    assert response.status_code == 200
    assert list(response.context["page"]) == []
    assert 'href="?">First page</a>' in response.text


def test_an_old_numbered_link_still_opens_its_page(client_as, deals, small_pages):
    response = client_as(Role.SALES_LEAD).get(reverse("pipeline:deal-list"), {"page": "2"})
    assert [d.key for d in response.context["page"]] == _expected(deals)[4:8]
    assert "page 2 of 3" in response.text


def test_a_long_list_is_counted_up_to_the_cap(client_as, deals, monkeypatch):
    monkeypatch.setattr(lists, "COUNT_CAP", 5)
    response = client_as(Role.SALES_LEAD).get(reverse("pipeline:deal-list"))
    assert "5+ records" in response.text
