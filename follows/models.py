"""Who follows what, how each person hears about it, and the alerts already sent."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now


class Follow(models.Model):
    """A person following one metric (alerted when it turns red on the latest published week)
    or one dispute (alerted at each step and comment). Exactly one of `metric` and `dispute`
    is set; a person follows a thing once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    metric = models.ForeignKey(
        "scorecard.Metric", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    dispute = models.ForeignKey(
        "disputes.Dispute", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(metric__isnull=False, dispute__isnull=True)
                | Q(metric__isnull=True, dispute__isnull=False),
                name="follows_follow_one_target",
            ),
            models.UniqueConstraint(
                fields=["user", "metric"],
                condition=Q(metric__isnull=False),
                name="follows_follow_metric_once",
            ),
            models.UniqueConstraint(
                fields=["user", "dispute"],
                condition=Q(dispute__isnull=False),
                name="follows_follow_dispute_once",
            ),
        ]
        indexes = [
            models.Index(fields=["metric"], name="follows_follow_metric_idx"),
            models.Index(fields=["dispute"], name="follows_follow_dispute_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} follows {'metric' if self.metric_id else 'dispute'} " + str(
            self.metric_id or self.dispute_id
        )


class NotificationSettings(models.Model):
    """How one person hears about what they follow: e-mail (on unless they turn it off) and a
    Slack incoming webhook of their own or of a channel. The webhook is a secret: stored
    encrypted (revops/crypto.py), never shown again; `slack_hint` (its last characters) lets
    them recognise it. Keyed by the user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    email = models.BooleanField(default=True)
    slack_webhook = models.TextField(blank=True, help_text="Encrypted; empty when none is set.")
    slack_hint = models.CharField(max_length=12, blank=True)
    digest_scope = models.CharField(
        max_length=500,
        blank=True,
        help_text="The slice an executive's weekly digest covers, as the scorecard's query "
        "(region=EMEA&team=Enterprise); empty for the whole company.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Notification settings of {self.user_id}"


class Alert(models.Model):
    """An alert sent to one person, keyed by what it is about (`key`: "red:mqls:2026-W48",
    "dispute:7:step:31"), so that a publish repeated, a task retried or a step replayed never
    tells anyone twice. `outcome` says per channel whether it went."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    text = models.TextField()
    url = models.CharField(max_length=500, blank=True)
    outcome = models.JSONField(default=dict)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="follows_alert_once"),
        ]

    def __str__(self) -> str:
        return f"Alert {self.key} to {self.user_id}"
