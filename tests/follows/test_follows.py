"""Following a metric or a dispute, and hearing about it: by e-mail and on a Slack incoming
webhook (a local receiver that speaks Slack's webhook API), once per thing that happened."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from disputes.models import Dispute
from disputes.services.disputes import dispute_comment_add
from follows import services
from follows.models import Alert, Follow, NotificationSettings
from revops.permissions import Role
from revops.weeks import IsoWeek
from scorecard.models import Metric, SnapshotValue, WeeklySnapshot
from scorecard.services.snapshots import snapshot_publish
from tests.demo_data import seed_small_demo

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    seed_small_demo(reconcile=False)


def user(username: str):
    return get_user_model().objects.get(username=username)


def a_red_metric(week: IsoWeek) -> Metric:
    """A metric red on `week` as published, made not red the week before."""
    red = SnapshotValue.objects.filter(week_start=week.monday, rag="red").first()
    assert red is not None, "the demo has a red metric on its last week"
    SnapshotValue.objects.filter(metric=red.metric, week_start=week.shift(-1).monday).update(
        rag="green"
    )
    return red.metric


def publish_again(week: IsoWeek, captured) -> None:
    """Publish `week` afresh (its snapshot gone), running what waits for the commit."""
    WeeklySnapshot.objects.filter(week_start=week.monday).delete()
    with captured(execute=True):
        snapshot_publish(week=week, by=user("ops"), send_digest=False)


def test_a_followed_metric_that_turns_red_on_publish_alerts_by_email_and_slack(
    client, demo, slack, django_capture_on_commit_callbacks
):
    week = IsoWeek.last_completed()
    metric = a_red_metric(week)
    reader = user("exec")
    client.force_login(reader)
    page = reverse("scorecard:metric-week", args=[week, metric.key])
    followed = client.post(reverse("follows:metric", args=[metric.key]), {"next": page})
    assert followed.url == page
    saved = client.post(
        reverse("follows:settings"), {"email": "on", "slack_webhook": slack.webhook()}
    )
    assert saved.status_code == 302
    mail.outbox.clear()

    publish_again(week, django_capture_on_commit_callbacks)

    alerts = [m for m in mail.outbox if m.to == [reader.email]]
    assert len(alerts) == 1
    assert alerts[0].subject.startswith(f"{metric.name} turned red in {week.label}")
    assert page in alerts[0].body
    assert len(slack.messages) == 1
    assert slack.messages[0]["text"].startswith(f"{metric.name} turned red in {week.label}")
    assert slack.paths == ["/services/T000/B000/secretXYZ"]
    alert = Alert.objects.get(user=reader)
    assert alert.outcome == {"email": "sent", "slack": "sent"}

    # Published again (a retried task, a second publish): nobody hears twice.
    publish_again(week, django_capture_on_commit_callbacks)
    assert len([m for m in mail.outbox if m.to == [reader.email]]) == 1
    assert len(slack.messages) == 1


def test_only_followers_hear_and_only_of_metrics_that_turned_red(demo, slack):
    week = IsoWeek.last_completed()
    metric = a_red_metric(week)
    services.follow_set(user=user("exec"), metric=metric, following=True)
    green = SnapshotValue.objects.filter(week_start=week.monday).exclude(rag="red").first()
    services.follow_set(user=user("sales"), metric=green.metric, following=True)
    mail.outbox.clear()
    assert services.week_alerts_send(week=week) == 1
    assert [m.to for m in mail.outbox] == [[user("exec").email]]
    # A week that is not the latest (a backfill of history) alerts no one.
    assert services.week_alerts_send(week=week.shift(-1)) == 0


def test_a_follower_hears_of_each_step_and_comment_but_not_of_their_own(
    demo, django_capture_on_commit_callbacks
):
    dispute = Dispute.objects.filter(status="open").first()
    follower, ops = user("exec"), user("ops")
    services.follow_set(user=follower, dispute=dispute, following=True)
    services.follow_set(user=ops, dispute=dispute, following=True)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        dispute_comment_add(dispute=dispute, by=ops, body="Looking at the scoring log now.")
    to_follower = [m for m in mail.outbox if m.to == [follower.email]]
    assert len(to_follower) == 1
    assert f"Dispute #{dispute.pk}" in to_follower[0].subject
    assert "has a new comment by" in to_follower[0].subject
    assert not Alert.objects.filter(user=ops).exists()  # who wrote it is not told


def test_the_webhook_is_stored_encrypted_and_never_shown_again(client_as, slack):
    client = client_as(Role.SALES_LEAD)
    url = slack.webhook("T1/B1/abcdefgh1234")
    client.post(reverse("follows:settings"), {"email": "on", "slack_webhook": url})
    row = NotificationSettings.objects.get()
    assert "abcdefgh1234" not in row.slack_webhook
    assert row.slack_hint == "…1234"
    page = client.get(reverse("follows:settings")).text
    assert url not in page
    assert "A webhook is set (…1234)" in page
    # Saving without a new one keeps it; asking to remove it removes it.
    client.post(reverse("follows:settings"), {"email": ""})
    assert NotificationSettings.objects.get().slack_webhook == row.slack_webhook
    assert NotificationSettings.objects.get().email is False
    client.post(reverse("follows:settings"), {"email": "on", "slack_remove": "on"})
    assert NotificationSettings.objects.get().slack_webhook == ""


def test_a_webhook_that_is_not_slacks_is_refused_and_the_form_keeps_the_rest(client_as, slack):
    client = client_as(Role.MARKETING_LEAD)
    refused = client.post(
        reverse("follows:settings"),
        {"email": "", "slack_webhook": "http://169.254.169.254/latest/meta-data"},
    )
    assert refused.status_code == 400
    assert f"A Slack incoming webhook starts with {slack.base}" in refused.text
    assert 'id="id_email" checked' not in refused.text  # what they chose is kept: off
    assert not NotificationSettings.objects.exists()


def test_a_removed_slack_webhook_is_reported_and_the_email_still_goes(client, make_user, slack):
    client.force_login(make_user(Role.EXECUTIVE, "erin", email="erin@example.com"))
    client.post(reverse("follows:settings"), {"email": "on", "slack_webhook": slack.webhook()})
    slack.answer = (404, "no_service")
    done = client.post(reverse("follows:test"), follow=True)
    assert "E-mail: test sent." in done.text
    assert "Slack: not sent (Slack answered 404 no_service)." in done.text
    slack.answer = (200, "ok")
    again = client.post(reverse("follows:test"), follow=True)
    assert "Slack: test sent." in again.text
    assert slack.messages[0]["text"].startswith("A test from RevOps")


def test_following_twice_keeps_one_and_unfollowing_removes_it(client_as):
    client = client_as(Role.SALES_LEAD)
    metric = Metric.objects.get(key="mqls")
    url = reverse("follows:metric", args=["mqls"])
    client.post(url)
    client.post(url)
    assert Follow.objects.filter(metric=metric).count() == 1
    page = client.get(reverse("scorecard:metric-week", args=[IsoWeek.last_completed(), "mqls"]))
    assert "✓ Following" in page.text
    client.post(url, {"follow": "0", "next": "https://evil.example/"})
    assert not Follow.objects.filter(metric=metric).exists()
    assert client.post(reverse("follows:metric", args=["no_such_metric"])).status_code == 404
    assert client.post(reverse("follows:dispute", args=[999999])).status_code == 404


def test_an_outside_next_is_not_followed(client_as):
    client = client_as(Role.OPS)
    done = client.post(reverse("follows:metric", args=["mqls"]), {"next": "https://evil.example/"})
    assert done.url == reverse("follows:settings")
