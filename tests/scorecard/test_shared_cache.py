"""The published scorecard under load: one rendering shared by every worker, warmed when the
week is published, revalidated with an ETag, with each reader's own navigation put in, and a
stamp that follows every trust mark without computing them."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from disputes.services.disputes import dispute_file, dispute_withdraw, subject_metric
from pipeline.choices import DealStage
from revops.permissions import Role
from revops.weeks import IsoWeek
from scorecard import selectors
from scorecard.caching import week_cache, week_stamp
from scorecard.services.snapshots import scorecard_backfill, snapshot_publish
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db

LAST = IsoWeek.last_completed()
PAGE = reverse("scorecard:week", args=[LAST])
JSON = reverse("api:scorecard-week", args=[LAST.label])
PRINT = reverse("scorecard:week-print", args=[LAST])


@pytest.fixture
def published(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        scorecard_backfill(weeks=13)


def stamp() -> str | None:
    return selectors.scorecard_week_stamp(LAST)


def test_the_first_reader_after_a_publish_reads_no_value_and_renders_no_card(
    published, client_as, django_assert_num_queries
):
    # The publish's warming task rendered the page into the shared cache: a reader who has
    # never opened it (in production: in another worker) reads no value, no trust mark.
    reader = client_as(Role.EXECUTIVE)
    with CaptureQueriesContext(connection) as first:
        page = reader.get(PAGE)
    assert page.status_code == 200
    assert 'data-metric="leads_created"' in page.text
    read = " ".join(q["sql"] for q in first.captured_queries)
    for computing in ("scorecard_snapshotvalue", "pipeline_lead", "date_bin(", "reconciledmetric"):
        assert computing not in read
    # Coming back: session, user, roles, and the stamp with the footer's counts in the same
    # query; the page is the one this process kept when it served it.
    with django_assert_num_queries(4):
        assert reader.get(PAGE).status_code == 200


def test_the_warming_after_a_republish_leaves_the_new_revision_in_the_cache(
    published, ops_user, django_capture_on_commit_callbacks
):
    week_cache().clear()
    with django_capture_on_commit_callbacks(execute=True):
        snapshot_publish(week=LAST, by=ops_user, republish=True, reason="late import")
    shell = week_cache().get(f"scorecard:week-page::{week_stamp(LAST, selectors.TREND_WEEKS)}")
    assert shell is not None
    assert "revision 2" in shell


def test_a_reader_coming_back_after_a_republish_is_served_without_rendering_anything(
    published, client_as, ops_user, django_capture_on_commit_callbacks
):
    reader = client_as(Role.EXECUTIVE)
    before = reader.get(PAGE)
    with django_capture_on_commit_callbacks(execute=True):
        snapshot_publish(week=LAST, by=ops_user, republish=True, reason="late import")
    after = reader.get(PAGE)
    assert "revision 2" not in before.text
    assert "revision 2" in after.text
    # The warming task rendered the new page; this reader's menu and footer were kept from
    # before: the first request after a publish renders no template at all.
    assert [t.name for t in after.templates] == []


@pytest.mark.parametrize("url", [PAGE, JSON, PRINT])
def test_a_client_holding_the_current_version_gets_a_304_until_a_republish(
    published, client_as, ops_user, url
):
    reader = client_as(Role.EXECUTIVE)
    first = reader.get(url)
    etag = first["ETag"]
    assert etag.startswith('W/"')
    # The reader's browser may keep it, no shared cache may, and it asks each time.
    control = first["Cache-Control"]
    assert "private" in control
    assert "no-cache" in control
    assert "no-store" not in control

    again = reader.get(url, headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag

    snapshot_publish(week=LAST, by=ops_user, republish=True, reason="recount")
    after = reader.get(url, headers={"if-none-match": etag})
    assert after.status_code == 200
    assert after["ETag"] != etag


@pytest.mark.parametrize("url", [PAGE, JSON])
def test_a_deployment_renders_again_rather_than_serve_what_older_code_rendered(
    published, client_as, monkeypatch, url
):
    def reads_values(response_of) -> tuple:
        with CaptureQueriesContext(connection) as queries:
            response = response_of()
        sql = " ".join(q["sql"] for q in queries.captured_queries)
        return response, "scorecard_snapshotvalue" in sql

    reader = client_as(Role.EXECUTIVE)
    etag = reader.get(url)["ETag"]
    again, rendered = reads_values(lambda: reader.get(url))
    assert not rendered  # served from the shared cache
    # The same data, served by a new version of the code and templates.
    monkeypatch.setattr("scorecard.caching.build_version", lambda: "a-new-deployment")
    after, rendered = reads_values(lambda: reader.get(url, headers={"if-none-match": etag}))
    assert after.status_code == 200  # not a 304 for what the old code rendered
    assert rendered  # rendered by the new code, not read from what the old one cached
    assert after["ETag"] != etag
    assert reader.get(url, headers={"if-none-match": after["ETag"]}).status_code == 304


def test_pages_without_a_version_stay_out_of_every_cache(published, client_as):
    response = client_as(Role.EXECUTIVE).get(reverse("scorecard:metric-catalog"))
    assert "no-store" in response["Cache-Control"]
    assert not response.has_header("ETag")


def test_each_reader_sees_their_own_menu_and_a_sign_out_that_works(published, make_user):
    ada = make_user(Role.EXECUTIVE, "ada", first_name="Ada", last_name="Lovelace")
    bo = make_user(Role.SALES_LEAD, "bo", first_name="Bo", last_name="Diddley")
    pages = {}
    for user in (ada, bo, ada):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        html = client.get(PAGE).text
        pages.setdefault(user.username, []).append(html)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        assert client.post(reverse("logout"), {"csrfmiddlewaretoken": token}).status_code == 302
        assert client.get(PAGE).status_code == 302  # signed out: to the sign-in page
    assert "Ada Lovelace" in pages["ada"][0]
    assert "Bo Diddley" not in pages["ada"][0]
    assert "Bo Diddley" in pages["bo"][0]
    assert "Ada Lovelace" not in pages["bo"][0]
    assert 'data-role="Sales lead"' in pages["bo"][0]
    # The same reader twice: the same page but for the sign-out form's fresh token.
    strip = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
    assert strip.sub("", pages["ada"][0]) == strip.sub("", pages["ada"][1])


@pytest.mark.parametrize("cached_seconds", [0, 300])
def test_a_reader_whose_role_is_taken_away_or_who_is_deactivated_is_refused_at_once(
    published, make_user, settings, cached_seconds
):
    # With Redis the signed-in user is read from the cache (revops/auth.py): a change made
    # in the app drops the cached copy, so it applies on the next request all the same.
    settings.USER_CACHE_SECONDS = cached_seconds
    user = make_user(Role.EXECUTIVE, "eve")
    client = Client()
    client.force_login(user)
    assert client.get(PAGE).status_code == 200
    assert client.get(PAGE).status_code == 200  # now from the cache, where there is one
    user.groups.remove(Group.objects.get(name=Role.EXECUTIVE.value))
    assert client.get(PAGE).status_code == 403
    user.groups.add(Group.objects.get(name=Role.EXECUTIVE.value))
    assert client.get(PAGE).status_code == 200
    Group.objects.get(name=Role.EXECUTIVE.value).user_set.remove(user)
    assert client.get(PAGE).status_code == 403
    Group.objects.get(name=Role.EXECUTIVE.value).user_set.add(user)
    assert client.get(PAGE).status_code == 200
    user.is_active = False
    user.save()
    assert client.get(PAGE).status_code == 302  # signed out


def test_a_dispute_filed_and_resolved_shows_on_the_cached_page_at_once(published, sales_lead):
    reader = Client()
    reader.force_login(sales_lead)
    before = stamp()
    assert 'class="trust trust-disputed" href' not in reader.get(PAGE).text
    dispute = dispute_file(
        by=sales_lead,
        subject=subject_metric(metric_key="mqls", week_label=LAST.label),
        claimed_value="12",
        explanation="Two webinars are missing.",
    )
    assert stamp() != before
    assert f'href="/disputes/{dispute.pk}/"' in reader.get(PAGE).text
    dispute_withdraw(dispute=dispute, by=sales_lead, note="Found them.")
    assert stamp() == before  # the marks read what they read before: the same page again
    assert f'href="/disputes/{dispute.pk}/"' not in reader.get(PAGE).text


def test_a_deal_without_an_exchange_rate_changes_the_stamp_and_rates_change_it_back(published):
    before = stamp()
    DealFactory(stage=DealStage.CLOSED_WON, currency="MXN", close_date=LAST.monday)
    unconverted = stamp()
    assert unconverted != before
    DealFactory(stage=DealStage.CLOSED_WON, currency="USD", close_date=LAST.monday)
    assert stamp() == unconverted  # a converted deal is no evidence for a trust mark


def test_past_the_fingerprint_limit_the_stamp_follows_the_marks_themselves(published, monkeypatch):
    from scorecard import trust

    monkeypatch.setattr(trust, "VERSION_ROW_LIMIT", 2)
    sql = trust.unconverted_version_sql("pipeline_deal", "amount_at_close IS NULL")
    monkeypatch.setattr(trust.currency_marks, "version", (sql, {}))
    in_week = {"stage": DealStage.CLOSED_WON, "currency": "MXN", "close_date": LAST.monday}
    DealFactory.create_batch(3, **in_week)
    over_the_limit = stamp()
    # A deal no metric of the week reads: the marks, so the stamp, stay as they were (a
    # fingerprint of the rows would have changed).
    long_ago = {"close_date": LAST.monday.replace(year=2023)}
    DealFactory(**{**in_week, **long_ago}, created_at=LAST.start.replace(year=2023))
    assert stamp() == over_the_limit
    DealFactory(**in_week)  # one more deal left out of the week's bookings: a new mark
    assert stamp() != over_the_limit
