"""The weekly email digest to executives: the top line and what turned red."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from revops.permissions import Role
from revops.weeks import IsoWeek
from scorecard.choices import Rag
from scorecard.models import WeeklySnapshot
from scorecard.selectors import MetricRow, ScorecardWeek, scorecard_week


@dataclass
class Digest:
    subject: str
    text: str
    html: str
    turned_red: list[MetricRow]
    still_red: list[MetricRow]


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def digest_build(week: IsoWeek) -> Digest:
    """The digest of `week` as the scorecard shows it: red metrics split into those that turned
    red this week (not red the week before) and those still red."""
    card: ScorecardWeek = scorecard_week(week, trend_weeks=2)
    red = [row for row in card.rows if row.rag == Rag.RED]
    turned_red = [row for row in red if not (row.previous and row.previous.rag == Rag.RED)]
    still_red = [row for row in red if row not in turned_red]
    counts = card.rag_counts
    subject = f"Scorecard {week.label}: " + (
        f"{len(turned_red)} turned red, {counts[Rag.RED]} red in all"
        if counts[Rag.RED]
        else "nothing is red"
    )
    context = {
        "card": card,
        "turned_red": turned_red,
        "still_red": still_red,
        "week_url": _absolute(reverse("scorecard:week", args=[week])),
        "site_url": settings.SITE_URL,
    }
    return Digest(
        subject=subject,
        text=render_to_string("emails/scorecard_digest.txt", context),
        html=render_to_string("emails/scorecard_digest.html", context),
        turned_red=turned_red,
        still_red=still_red,
    )


def digest_recipients() -> list[str]:
    """Active executives with an email address."""
    User = get_user_model()
    return sorted(
        set(
            User.objects.filter(is_active=True, groups__name=Role.EXECUTIVE)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )


def digest_send(*, week: IsoWeek) -> int:
    """Email the digest of a published week to every executive, once: the snapshot is marked
    sent in the same transaction (compare-and-swap), so a second run sends nothing and a
    failed send leaves it unsent for a retry. Returns the number of emails sent."""
    with transaction.atomic():
        claimed = WeeklySnapshot.objects.filter(
            week_start=week.monday, digest_sent_at__isnull=True
        ).update(digest_sent_at=timezone.now())
        if claimed != 1:
            return 0
        recipients = digest_recipients()
        if not recipients:
            return 0
        digest = digest_build(week)
        messages = []
        for address in recipients:
            message = EmailMultiAlternatives(
                digest.subject, digest.text, settings.DEFAULT_FROM_EMAIL, [address]
            )
            message.attach_alternative(digest.html, "text/html")
            messages.append(message)
        from django.core.mail import get_connection

        with get_connection() as mail:
            mail.send_messages(messages)
        return len(messages)
