"""The owner's word on a number: written by the metric's owner or ops, sanitised Markdown beside
the number, frozen with the published week (a later change is a republish with a reason), in
the API and the digest for red metrics, and a publish-day reminder when it is missing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from revops.permissions import Role
from revops.weeks import IsoWeek
from scorecard.choices import Rag
from scorecard.models import Metric, MetricCommentary, SnapshotValue, WeeklySnapshot
from scorecard.services.catalog import target_set
from scorecard.services.commentary import commentary_set
from scorecard.services.digest import digest_send
from scorecard.services.snapshots import snapshot_publish
from tests.factories import LeadFactory
from tests.scorecard.conftest import W10, d, utc

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(make_user):
    return make_user(Role.MARKETING_LEAD, "mia", email="mia@example.com", first_name="Mia")


@pytest.fixture
def leads(owner):
    """Leads created is owned by Mia and red in W10: 2 leads against a target of 10."""
    metric = Metric.objects.get(key="leads_created")
    metric.owner = owner
    metric.save(update_fields=["owner"])
    target_set(metric=metric, by=None, starts_on=d("2026-01-01"), value=Decimal(10))
    LeadFactory(created_at=utc(2026, 3, 3))
    LeadFactory(created_at=utc(2026, 3, 4))
    return metric


def frozen(key="leads_created") -> SnapshotValue:
    return SnapshotValue.objects.get(week_start=W10.monday, metric__key=key)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_draft_is_frozen_with_the_week_and_changing_it_later_is_a_republish_with_a_reason(
    leads, owner
):
    commentary_set(
        metric=leads, week=W10, by=owner,
        body="Webinar moved to W11. **Fix:** two extra campaigns <script>alert(1)</script> "
        "[here](javascript:alert(1))",
    )  # fmt: skip
    draft = MetricCommentary.objects.get(metric=leads, week_start=W10.monday)
    assert "<strong>Fix:</strong>" in draft.html
    assert "<script" not in draft.html
    assert "javascript:" not in draft.html
    snapshot_publish(week=W10, by=None, send_digest=False)
    value = frozen()
    assert value.rag == Rag.RED
    assert value.commentary == draft.body
    assert value.commentary_by == owner

    # The draft's later edit must say why: the week is published.
    with pytest.raises(ValidationError, match="say why it changes"):
        commentary_set(metric=leads, week=W10, by=owner, body="Rewritten")
    assert frozen().commentary == draft.body
    commentary_set(metric=leads, week=W10, by=owner, body="Rewritten", reason="Root cause found")
    snapshot = WeeklySnapshot.objects.get(week_start=W10.monday)
    assert snapshot.revision == 2
    publication = snapshot.publications.get(revision=2)
    assert publication.reason == "Root cause found"
    assert publication.changes["leads_created"]["commentary"] == "edited"
    assert publication.causes[0]["kind"] == "commentary"
    assert "Mia edited the commentary" in publication.causes[0]["label"]
    assert (frozen().commentary, frozen().value) == ("Rewritten", 2)  # the value is untouched


def test_a_first_commentary_on_a_published_week_adds_a_revision_without_a_reason(leads, owner):
    snapshot_publish(week=W10, by=None, send_digest=False)
    commentary_set(metric=leads, week=W10, by=owner, body="Late, but here")
    snapshot = WeeklySnapshot.objects.get(week_start=W10.monday)
    assert snapshot.revision == 2
    assert snapshot.publications.get(revision=2).reason == "Commentary on Leads created added"
    assert frozen().commentary == "Late, but here"


def test_only_the_owner_or_ops_write_it(leads, make_user, ops_user):
    sales = make_user(Role.SALES_LEAD, "sam")
    with pytest.raises(PermissionDenied):
        commentary_set(metric=leads, week=W10, by=sales, body="Not mine to say")
    url = reverse("scorecard:metric-week-commentary", args=[W10, "leads_created"])
    assert signed_in(sales).post(url, {"body": "x"}).status_code == 403
    assert signed_in(ops_user).post(url, {"body": "Ops' note"}).status_code == 302
    assert MetricCommentary.objects.get(metric=leads).body == "Ops' note"
    # Another metric Mia does not own: she may not write there.
    other = Metric.objects.get(key="mqls")
    with pytest.raises(PermissionDenied):
        commentary_set(metric=other, week=W10, by=leads.owner, body="x")
    assert not MetricCommentary.objects.filter(metric=other).exists()


def test_executives_read_it_beside_the_number_and_in_the_api(leads, owner, exec_user):
    commentary_set(metric=leads, week=W10, by=owner, body="Webinar moved to *W11*")
    snapshot_publish(week=W10, by=None, send_digest=False)
    executive = signed_in(exec_user)
    html = executive.get(reverse("scorecard:week", args=[W10])).text
    row = html[html.index('data-metric="leads_created"') :]
    row = row[: row.index("</li>")]
    assert "Webinar moved to <em>W11</em>" in row
    assert "Owner: Mia" in row
    payload = executive.get(reverse("api:scorecard-week", args=["2026-W10"])).json()
    found = next(
        m for s in payload["sections"] for m in s["metrics"] if m["key"] == "leads_created"
    )
    assert found["owner"] == "mia"
    assert found["commentary"]["markdown"] == "Webinar moved to *W11*"
    assert found["commentary"]["frozen"] is True
    assert "<em>W11</em>" in found["commentary"]["html"]


def test_the_digest_carries_it_for_red_metrics_and_owners_are_reminded_of_the_missing_ones(
    leads, owner, exec_user, make_user
):
    exec_user.email = "eve@example.com"
    exec_user.save()
    mqls = Metric.objects.get(key="mqls")
    mqls.owner = make_user(Role.MARKETING_LEAD, "max", email="max@example.com")
    mqls.save(update_fields=["owner"])
    target_set(metric=mqls, by=None, starts_on=d("2026-01-01"), value=Decimal(5))
    commentary_set(metric=leads, week=W10, by=owner, body="Webinar moved to W11")
    snapshot_publish(week=W10, by=None, send_digest=False)
    assert frozen("mqls").rag == Rag.RED

    mail.outbox.clear()
    assert digest_send(week=W10) == 1
    by_to = {m.to[0]: m for m in mail.outbox}
    assert set(by_to) == {"eve@example.com", "max@example.com"}  # Mia wrote hers
    assert "Mia: Webinar moved to W11" in by_to["eve@example.com"].body
    reminder = by_to["max@example.com"]
    assert "MQLs" in reminder.subject
    assert "/scorecard/2026-W10/mqls/" in reminder.body
    mail.outbox.clear()
    assert digest_send(week=W10) == 0  # once
    assert mail.outbox == []


def test_bad_commentary_gets_a_clear_error_and_no_500(leads, owner):
    client = signed_in(owner)
    url = reverse("scorecard:metric-week-commentary", args=[W10, "leads_created"])
    response = client.post(url, {"body": "x" * 4500}, follow=True)
    assert response.status_code == 200
    assert "Keep it under 4,000 characters" in response.text
    future = IsoWeek.current().shift(3)
    assert (
        client.post(
            reverse("scorecard:metric-week-commentary", args=[future, "leads_created"]),
            {"body": "x"},
        ).status_code
        == 404
    )
    assert not MetricCommentary.objects.exists()
