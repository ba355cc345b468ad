"""Writes of follows: following and unfollowing, each person's channels, and the alerts.

An alert is recorded before it is sent (`Alert`, unique per person and subject), so a task
that runs twice tells no one twice; a channel that fails is logged and written on the alert,
never raised into what triggered it."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse

from disputes.models import Dispute
from follows.models import Alert, Follow, NotificationSettings
from pipeline.dimensions import UnknownValue, slice_from_query
from revops.crypto import SecretUnreadable, secret_decrypt, secret_encrypt
from revops.permissions import can
from revops.weeks import IsoWeek
from scorecard.models import Metric
from scorecard.selectors import turned_red

log = logging.getLogger(__name__)

SLACK_TIMEOUT_SECONDS = 10


def _require(user: AbstractBaseUser) -> None:
    if not can(user, "follows.use"):
        raise PermissionDenied("Your role cannot follow metrics or disputes.")


@transaction.atomic
def follow_set(
    *, user: AbstractBaseUser, metric: Metric | None = None, dispute: Dispute | None = None,
    following: bool,
) -> bool:  # fmt: skip
    """Follow (or stop following) one metric or one dispute. Idempotent: following twice
    keeps one follow. Returns whether `user` follows it now."""
    _require(user)
    if (metric is None) == (dispute is None):
        raise ValueError("Follow one metric or one dispute.")
    target = {"metric": metric} if metric is not None else {"dispute": dispute}
    if not following:
        Follow.objects.filter(user=user, **target).delete()
        return False
    Follow.objects.get_or_create(user=user, **target)
    return True


def slack_webhook_check(url: str) -> str:
    """A Slack incoming webhook URL as given, or a ValidationError saying what is wrong with
    it. Only the prefixes of SLACK_WEBHOOK_PREFIXES are taken (Slack's own host unless ops set
    others), so the app never posts to an address a user made up."""
    url = url.strip()
    if any(ch.isspace() for ch in url) or len(url) > 500:
        raise ValidationError({"slack_webhook": "That is not a webhook address."})
    if not any(url.startswith(prefix) for prefix in settings.SLACK_WEBHOOK_PREFIXES):
        allowed = " or ".join(settings.SLACK_WEBHOOK_PREFIXES)
        raise ValidationError({"slack_webhook": f"A Slack incoming webhook starts with {allowed}."})
    return url


def settings_get(user: AbstractBaseUser) -> NotificationSettings:
    found = NotificationSettings.objects.filter(user=user).first()
    return found or NotificationSettings(user=user)


@transaction.atomic
def settings_update(
    *, user: AbstractBaseUser, email: bool, slack_webhook: str = "", slack_remove: bool = False,
    digest_scope: str | None = None,
) -> NotificationSettings:  # fmt: skip
    """Set how `user` hears about what they follow. A new webhook replaces the old one (stored
    encrypted); an empty one keeps what is there; `slack_remove` removes it. `digest_scope`
    (an executive's: the query of the slice their weekly digest covers, "" for the company;
    None keeps it) must name values that exist."""
    _require(user)
    row = settings_get(user)
    row.email = email
    if digest_scope is not None:
        try:
            scope = slice_from_query(parse_qsl(digest_scope))
        except UnknownValue as exc:
            raise ValidationError({"digest_scope": str(exc)}) from None
        row.digest_scope = urlencode(scope.query)
    if slack_remove:
        row.slack_webhook, row.slack_hint = "", ""
    elif slack_webhook.strip():
        url = slack_webhook_check(slack_webhook)
        row.slack_webhook = secret_encrypt(url)
        row.slack_hint = "…" + url[-4:]
    row.save()
    return row


# --- Sending --------------------------------------------------------------------------------


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _slack_post(webhook: str, text: str, url: str) -> str:
    """Post `text` (and a link to `url`) to a Slack incoming webhook; "sent", or why not."""
    from slack_sdk.webhook import WebhookClient

    try:
        response = WebhookClient(webhook, timeout=SLACK_TIMEOUT_SECONDS).send(
            text=f"{text} <{url}|Open in RevOps>" if url else text
        )
    except Exception as error:  # network, TLS, timeout: the alert is still recorded
        log.warning("Slack alert not sent: %s", error)
        return f"failed: {type(error).__name__}"
    if response.status_code != 200:
        log.warning("Slack answered %s: %s", response.status_code, response.body)
        return f"failed: Slack answered {response.status_code} {response.body}"[:200]
    return "sent"


def _deliver(user, text: str, url: str, *, email: bool = True) -> dict[str, str]:
    """Send one alert on each of `user`'s channels; what happened on each."""
    chosen = settings_get(user)
    outcome: dict[str, str] = {}
    if email and chosen.email and user.email:
        try:
            send_mail(text[:150], f"{text}\n\n{url}\n", settings.DEFAULT_FROM_EMAIL, [user.email])
            outcome["email"] = "sent"
        except Exception as error:
            log.exception("Alert mail to %s not sent", user.email)
            outcome["email"] = f"failed: {type(error).__name__}"
    if chosen.slack_webhook:
        try:
            webhook = secret_decrypt(chosen.slack_webhook)
        except SecretUnreadable as error:
            outcome["slack"] = f"failed: {error}"
        else:
            outcome["slack"] = _slack_post(webhook, text, url)
    return outcome


def _alert(user, key: str, text: str, url: str, *, email: bool = True) -> bool:
    """Record the alert, then send it; False (and nothing sent) when it was sent before."""
    try:
        with transaction.atomic():
            alert = Alert.objects.create(user=user, key=key, text=text, url=url)
    except IntegrityError:
        return False
    alert.outcome = _deliver(user, text, url, email=email)
    alert.save(update_fields=["outcome"])
    return True


def week_alerts_send(*, week: IsoWeek) -> int:
    """After `week` is published or republished: tell each follower of a metric that turned
    red on it. Only the latest completed week alerts (a backfill of history tells no one).
    Returns the number of alerts sent."""
    if week != IsoWeek.last_completed():
        return 0
    follows = Follow.objects.filter(metric__isnull=False).select_related("user")
    followers: dict[int, list] = {}
    for follow in follows:
        followers.setdefault(follow.metric_id, []).append(follow.user)
    if not followers:
        return 0
    sent = 0
    for red in turned_red(week, metric_ids=followers):
        url = _absolute(reverse("scorecard:metric-week", args=[week, red.metric_key]))
        text = (
            f"{red.name} turned red in {week.label}: {red.value} against a target of "
            f"{red.target} (was {red.was.lower()})."
        )
        for user in followers[red.metric_id]:
            if user.is_active:
                sent += _alert(user, f"red:{red.metric_key}:{week.label}", text, url)
    return sent


def dispute_alerts_send(*, dispute_id: int, key: str, what: str, by_id: int | None) -> int:
    """Tell each follower of a dispute what happened to it, but not who did it. The filer and
    the assignee already get the dispute's own e-mail, so they hear of it on Slack only."""
    dispute = Dispute.objects.filter(pk=dispute_id).first()
    if dispute is None:
        return 0
    users = (
        get_user_model()
        .objects.filter(pk__in=Follow.objects.filter(dispute=dispute).values("user_id"))
        .exclude(pk=by_id)
        .filter(is_active=True)
    )
    actor = get_user_model().objects.filter(pk=by_id).first()
    who = f" by {actor.get_full_name() or actor.username}" if actor else ""
    text = f"Dispute #{dispute.pk} ({dispute.title}) {what}{who}."
    url = _absolute(reverse("disputes:dispute-detail", args=[dispute.pk]))
    told_already = {dispute.filed_by_id, dispute.assignee_id}
    return sum(
        _alert(user, f"dispute:{dispute.pk}:{key}", text, url, email=user.pk not in told_already)
        for user in users
    )


def test_message_send(*, user: AbstractBaseUser) -> dict[str, str]:
    """A test alert on each of `user`'s channels, recorded nowhere; what happened on each."""
    _require(user)
    return _deliver(
        user,
        "A test from RevOps: this is how you will hear about what you follow.",
        _absolute(reverse("follows:settings")),
    )
