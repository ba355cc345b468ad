"""A published week changes only by a republish that shows first what it will change and why;
late data leaves a restatement pending, which ops see listed and republish in bulk, and which
the executives' page and the digest name."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from revops.permissions import Role
from revops.weeks import IsoWeek
from scorecard import restatements
from scorecard.models import PendingRestatement, SnapshotValue, WeeklySnapshot
from scorecard.services.catalog import target_set
from scorecard.services.digest import digest_send
from scorecard.services.snapshots import restatements_check, snapshot_publish
from tests.factories import LeadFactory
from tests.scorecard.conftest import W10, d, utc

pytestmark = pytest.mark.django_db

W09 = IsoWeek(2026, 9)


def frozen(week: IsoWeek, key: str) -> Decimal | None:
    return SnapshotValue.objects.get(week_start=week.monday, metric__key=key).value


@pytest.fixture
def w09_w10(ops_user):
    """W09: one lead; W10: two leads, one an MQL. Both published."""
    LeadFactory(created_at=utc(2026, 2, 24))
    LeadFactory(created_at=utc(2026, 3, 3), mql_at=utc(2026, 3, 4))
    LeadFactory(created_at=utc(2026, 3, 5))
    for week in (W09, W10):
        snapshot_publish(week=week, by=ops_user, send_digest=False)


@pytest.fixture
def ops(ops_user):
    client = Client()
    client.force_login(ops_user)
    return client


def page_text(client, week: IsoWeek) -> str:
    html = client.get(reverse("scorecard:week", args=[week])).text
    return html[html.index('<main class="page">') : html.index("</main>")]


def test_the_preview_lists_exactly_what_the_confirm_changes(w09_w10, ops_user, ops):
    LeadFactory(created_at=utc(2026, 3, 6), mql_at=utc(2026, 3, 6))  # late-arriving
    target_set(
        metric=WeeklySnapshot.objects.get(week_start=W10.monday).values.get(
            metric__key="mqls").metric,
        by=ops_user, starts_on=d("2026-01-01"), value=Decimal(4),
    )  # fmt: skip
    preview = restatements.week_restatement(W10)
    shown = {c.key: (c.frozen, c.live, c.frozen_target, c.live_target) for c in preview.changes}
    assert shown["leads_created"] == (2, 3, None, None)
    assert shown["mqls"] == (1, 2, None, 4)
    assert all(c.kind == restatements.CHANGED for c in preview.changes)
    causes = {x["kind"]: x for x in preview.causes}
    assert "mqls" in causes["target"]["metrics"]
    # The leads were written without an import: nothing recorded explains them, and it says so.
    assert "leads_created" in causes["other"]["metrics"]

    page = page_text(ops, W10)
    assert 'data-testid="republish-preview"' in page
    assert preview.fingerprint in page
    response = ops.post(
        reverse("scorecard:week-publish", args=[W10]),
        {"republish": "1", "reason": "Late MQL", "expected": preview.fingerprint},
    )
    assert response.status_code == 302
    snapshot = WeeklySnapshot.objects.get(week_start=W10.monday)
    assert snapshot.revision == 2
    publication = snapshot.publications.get(revision=2)
    assert set(publication.changes) == set(shown)
    assert publication.changes["mqls"] == {
        "old": "1", "new": "2", "target_old": "", "target_new": "4",
    }  # fmt: skip
    assert {x["kind"] for x in publication.causes} == set(causes)
    assert (frozen(W10, "leads_created"), frozen(W10, "mqls")) == (3, 2)
    assert restatements.week_restatement(W10).changes == []
    assert frozen(W09, "leads_created") == 1  # another week: untouched
    assert "nothing to republish" in page_text(ops, W10)


def test_a_confirm_after_the_numbers_moved_again_changes_nothing(w09_w10, ops_user):
    LeadFactory(created_at=utc(2026, 3, 6))
    seen = restatements.week_restatement(W10).fingerprint
    LeadFactory(created_at=utc(2026, 3, 7))  # arrives while the person reads the preview
    with pytest.raises(ValidationError, match="moved since the preview"):
        snapshot_publish(week=W10, by=ops_user, republish=True, reason="late", expected=seen)
    assert WeeklySnapshot.objects.get(week_start=W10.monday).revision == 1
    assert frozen(W10, "leads_created") == 2


def test_late_data_leaves_a_restatement_pending_until_ops_republish_in_bulk(
    w09_w10, make_user, ops, django_capture_on_commit_callbacks
):
    executive = Client()
    executive.force_login(make_user(Role.EXECUTIVE, email="eve@example.com"))
    assert "Restatement pending" not in page_text(executive, W10)
    LeadFactory(created_at=utc(2026, 2, 25))
    LeadFactory(created_at=utc(2026, 3, 4))
    LeadFactory(created_at=utc(2026, 3, 4))

    found = restatements_check()  # the hourly check
    assert [r.week for r in found] == [W10, W09]
    assert dict(PendingRestatement.objects.values_list("week_start", "metrics"))[W10.monday] == [
        "leads_created"
    ]
    # Executives keep the frozen number and are told a restatement is pending.
    page = page_text(executive, W10)
    assert "Restatement pending: 1 value changed since publication" in page
    assert frozen(W10, "leads_created") == 2

    listing = ops.get(reverse("scorecard:restatements"))
    assert listing.status_code == 200
    html = listing.text
    assert 'data-week="2026-W10"' in html
    assert 'data-week="2026-W09"' in html
    assert "+2 (+100.0%)" in html  # W10's leads created, 2 → 4
    fingerprints = {r.week.label: r.fingerprint for r in found}
    with django_capture_on_commit_callbacks(execute=True):
        response = ops.post(
            reverse("scorecard:restatements"),
            {
                "week": ["2026-W09", "2026-W10"],
                "expected-2026-W09": fingerprints["2026-W09"],
                "expected-2026-W10": fingerprints["2026-W10"],
                "reason": "Late Salesforce sync",
            },
        )
    assert response.status_code == 302
    assert (frozen(W09, "leads_created"), frozen(W10, "leads_created")) == (2, 4)
    assert not PendingRestatement.objects.exists()
    assert restatements.pending_compute() == []
    assert "Restatement pending" not in page_text(executive, W10)
    assert "no restatement is pending" in ops.get(reverse("scorecard:restatements")).text

    # The next digest names both restatements.
    mail.outbox.clear()
    week = IsoWeek(2026, 11)
    snapshot_publish(week=week, by=None, send_digest=False)
    digest_send(week=week)
    body = mail.outbox[0].body
    assert "RESTATED SINCE THE LAST DIGEST" in body
    assert "2026-W09, revision 2: Late Salesforce sync" in body
    assert "2026-W10, revision 2: Late Salesforce sync" in body
    assert "leads_created: 2 → 4" in body


def test_a_bulk_republish_without_a_reason_or_with_a_stale_week_changes_nothing(w09_w10, ops):
    LeadFactory(created_at=utc(2026, 3, 4))
    found = {r.week.label: r.fingerprint for r in restatements_check()}
    response = ops.post(
        reverse("scorecard:restatements"),
        {"week": ["2026-W10"], "expected-2026-W10": found["2026-W10"], "reason": " "},
        follow=True,
    )
    assert "Say why" in response.text
    LeadFactory(created_at=utc(2026, 3, 4))
    response = ops.post(
        reverse("scorecard:restatements"),
        {"week": ["2026-W10"], "expected-2026-W10": found["2026-W10"], "reason": "late"},
        follow=True,
    )
    assert "moved since the preview" in response.text
    assert WeeklySnapshot.objects.get(week_start=W10.monday).revision == 1
    response = ops.post(
        reverse("scorecard:restatements"),
        {"week": ["2026-W99", "x"], "reason": "late"},
        follow=True,
    )
    assert response.status_code == 200
    assert "is not a week" in response.text


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.SALES_LEAD, Role.MARKETING_LEAD])
def test_only_ops_see_and_republish_pending_restatements(w09_w10, client_as, role):
    client = client_as(role)
    assert client.get(reverse("scorecard:restatements")).status_code == 403
    assert client.post(reverse("scorecard:restatements"), {"reason": "x"}).status_code == 403


def test_the_api_previews_a_restatement_and_republishes_exactly_it(w09_w10, ops_user, exec_user):
    LeadFactory(created_at=utc(2026, 3, 6))
    client = APIClient()
    client.force_authenticate(ops_user)
    url = reverse("api:scorecard-week-restatement", args=["2026-W10"])
    preview = client.get(url).json()
    assert preview["revision"] == 1
    assert [(c["metric"], c["frozen"], c["live"]) for c in preview["changes"]] == [
        ("leads_created", "2", "3")
    ]
    assert preview["causes"][0]["metrics"] == ["leads_created"]
    publish = reverse("api:scorecard-week-publish", args=["2026-W10"])
    stale = client.post(
        publish, {"republish": True, "reason": "late", "expected": "0" * 32}, format="json"
    )
    assert stale.status_code == 400
    done = client.post(
        publish,
        {"republish": True, "reason": "late", "expected": preview["fingerprint"]},
        format="json",
    )
    assert (done.status_code, done.json()["revision"]) == (200, 2)
    assert client.get(url).json()["changes"] == []
    assert (
        client.get(reverse("api:scorecard-week-restatement", args=["2026-W11"])).status_code == 404
    )
    executive = APIClient()
    executive.force_authenticate(exec_user)
    assert executive.get(url).status_code == 403


def test_the_restatement_check_runs_hourly_as_a_real_task():
    from django_celery_beat.models import PeriodicTask

    from revops.celery import app as celery_app

    task = PeriodicTask.objects.get(task="scorecard.tasks.restatements_check_task")
    assert (task.crontab.minute, task.crontab.hour, task.enabled) == ("15", "*", True)
    celery_app.loader.import_default_modules()
    assert task.task in celery_app.tasks
