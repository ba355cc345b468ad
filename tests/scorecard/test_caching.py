"""Published weeks are served from a cache, and nothing they show can go stale there."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from revops.permissions import Role
from revops.weeks import IsoWeek
from scorecard import trust
from scorecard.choices import MetricKind
from scorecard.models import Metric
from scorecard.services.catalog import metric_create
from scorecard.services.snapshots import scorecard_backfill, snapshot_publish
from scorecard.trust import DISPUTED, TrustMark
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

LAST = IsoWeek.last_completed()


@pytest.fixture
def reader(client_as):
    scorecard_backfill(weeks=13)
    return client_as(Role.EXECUTIVE)


def page_html(client) -> str:
    """The scorecard part of the page (the header's sign-out form carries a fresh token)."""
    html = client.get(reverse("scorecard:week", args=[LAST])).text
    return html[html.index('<main class="page">') : html.index("</main>")]


def test_a_second_look_at_a_published_week_reads_no_values(reader, django_assert_num_queries):
    url = reverse("scorecard:week", args=[LAST])
    reader.get(url)
    # Session, user and roles (without Redis: with it, all three come from the cache), and
    # one stamp query that reads what every trust mark depends on and the footer's two counts
    # (mechanisms overdue for inspection, open and overdue disputes). The page is the one
    # this process served a moment ago (no read of the database cache). No value, no mark,
    # no template is computed.
    with django_assert_num_queries(4):
        assert reader.get(url).status_code == 200


def test_a_republished_week_is_shown_at_once(reader, ops_user):
    assert 'data-metric="leads_created"' in page_html(reader)
    before = page_html(reader)
    LeadFactory(created_at=LAST.start)
    assert page_html(reader) == before  # still the published value
    snapshot_publish(week=LAST, by=ops_user, republish=True, reason="late import")
    after = page_html(reader)
    assert after != before
    assert "revision 2" in after


def test_an_edited_metric_name_is_shown_at_once(reader):
    assert "Leads created" in page_html(reader)
    Metric.objects.filter(key="leads_created").update(name="New leads")
    metric = Metric.objects.get(key="leads_created")
    metric.save()  # the edit page saves through the service, which bumps updated_at
    assert "New leads" in page_html(reader)


def test_a_new_trust_mark_is_shown_at_once(reader, monkeypatch):
    assert 'class="trust trust-disputed" href' not in page_html(reader)

    def disputes(week, keys):
        return {"mqls": TrustMark(DISPUTED, "Disputed", "Dispute #9 is open", "/disputes/9/")}

    monkeypatch.setattr(trust, "TRUST_SOURCES", [disputes, *trust.TRUST_SOURCES])
    assert 'href="/disputes/9/"' in page_html(reader)


def test_a_week_with_live_values_is_not_cached(reader):
    metric_create(
        by=None, key="webinars", name="Webinars held", team="marketing", unit="count",
        up_is_good=True, kind=MetricKind.SERIES, definition="Webinars held in the week.",
    )  # fmt: skip
    url = reverse("scorecard:week", args=[LAST])
    reader.get(url)
    with CaptureQueriesContext(connection) as queries:
        page = reader.get(url)
    assert "Webinars held" in page.text
    assert len(queries) > 8  # read the values and computed the live one again


def test_ops_see_the_publish_form_which_is_never_cached(reader, client_as):
    reader.get(reverse("scorecard:week", args=[LAST]))
    ops = client_as(Role.OPS).get(reverse("scorecard:week", args=[LAST]))
    assert "Republish" in ops.text
    assert "csrfmiddlewaretoken" in ops.text
    assert "Republish" not in page_html(reader)


def test_the_json_week_follows_a_republish(reader, ops_user):
    url = reverse("api:scorecard-week", args=[LAST.label])
    assert reader.get(url).json()["revision"] == 1
    snapshot_publish(week=LAST, by=ops_user, republish=True, reason="recount")
    assert reader.get(url).json()["revision"] == 2
