"""Following a metric in Chromium, choosing Slack, and hearing when it turns red: by e-mail
(Django's test outbox) and on a local receiver that speaks Slack's incoming-webhook API."""

from __future__ import annotations

import importlib
import io

import pytest
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from playwright.sync_api import expect

from revops.weeks import IsoWeek
from scorecard.models import SnapshotValue, WeeklySnapshot
from scorecard.services.snapshots import snapshot_publish
from tests.browser.conftest import sign_in

standard_metrics = importlib.import_module("scorecard.migrations.0002_standard_metrics")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_an_executive_follows_a_metric_adds_slack_and_hears_when_it_turns_red(
    live_server, page, screenshot, slack
):
    standard_metrics.create_catalog(django_apps, None)
    out = io.StringIO()
    call_command("seed_demo", scale=0.02, stdout=out)
    call_command("scorecard_demo", scale=0.02, weeks=3, stdout=out)
    week = IsoWeek.last_completed()
    red = SnapshotValue.objects.filter(week_start=week.monday, rag="red").first()
    metric = red.metric
    SnapshotValue.objects.filter(metric=metric, week_start=week.shift(-1).monday).update(
        rag="green"
    )

    sign_in(page, live_server.url, "exec", "revops-demo")
    page.goto(f"{live_server.url}/scorecard/{week.label}/{metric.key}/")
    page.get_by_role("button", name="Follow").click()
    expect(page.get_by_role("button", name="✓ Following")).to_be_visible()
    expect(page.get_by_text(f"You follow {metric.name}")).to_be_visible()

    page.goto(f"{live_server.url}/")
    follows = page.get_by_test_id("home-follows")
    expect(follows.get_by_role("link", name=metric.name)).to_be_visible()
    follows.get_by_role("link", name="What you follow and how you hear about it").click()
    expect(page.get_by_test_id("followed-metrics").locator("tbody tr")).to_have_count(1)
    page.fill("#id_slack_webhook", slack.webhook())
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("slack-set")).to_have_text("A webhook is set (…tXYZ)")
    assert slack.webhook() not in page.content()
    screenshot(page, "follows-settings")

    # Ops publish the week (afresh): the followed metric is red, and was green the week before.
    mail.outbox.clear()
    WeeklySnapshot.objects.filter(week_start=week.monday).delete()
    ops = get_user_model().objects.get(username="ops")
    snapshot_publish(week=week, by=ops, send_digest=False)

    executive = get_user_model().objects.get(username="exec")
    alerts = [m for m in mail.outbox if m.to == [executive.email]]
    subjects = [m.subject.split(":")[0] for m in alerts]
    assert subjects == [f"{metric.name} turned red in {week.label}"]
    assert len(slack.messages) == 1
    assert f"/scorecard/{week.label}/{metric.key}/" in slack.messages[0]["text"]
    page.reload()
    expect(page.locator("#alerts + ul li")).to_have_count(1)
    expect(page.locator("#alerts + ul li")).to_contain_text("email: sent · slack: sent")
