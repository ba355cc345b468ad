"""The weekly email digest to executives: the top line and what turned red."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from pipeline.dimensions import COMPANY, Slice, UnknownValue, slice_from_query
from revops.permissions import Role
from revops.weeks import IsoWeek
from scorecard.choices import Rag
from scorecard.models import SnapshotPublication, WeeklySnapshot
from scorecard.selectors import MetricRow, RedSlice, ScorecardWeek, red_slices, scorecard_week


@dataclass
class Digest:
    subject: str
    text: str
    html: str
    turned_red: list[MetricRow]
    still_red: list[MetricRow]
    restated: list[SnapshotPublication]
    red_slices: list[RedSlice] = field(default_factory=list)


def restatements_since(since: datetime | None, *, before: datetime | None = None) -> list:
    """The republications of published weeks made since `since` (the last digest; the last
    seven days when none was ever sent), oldest week first."""
    before = before or timezone.now()
    since = since or before - timedelta(days=7)
    return list(
        SnapshotPublication.objects.filter(
            revision__gt=1, published_at__gt=since, published_at__lte=before
        )
        .select_related("snapshot", "published_by")
        .order_by("snapshot__week_start", "revision")
    )


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _slice_url(week: IsoWeek, key: str, part: Slice) -> str:
    """The metric's week page for one breakdown row: the row's slice, or (Other, Not set,
    which no address names) the breakdown itself."""
    base = reverse("scorecard:metric-week", args=[week, key])
    last = part.filters[-1]
    query = {**part.query, "by": last.dimension.key} if last.rest else part.query
    return _absolute(base + "?" + urlencode(query))


def digest_build(week: IsoWeek, *, since: datetime | None = None, scope: Slice = COMPANY) -> Digest:
    """The digest of `week` as the scorecard shows it for `scope` (the company, or the slice
    an executive chose, judged against its own quotas): red metrics split into those that
    turned red this week (not red the week before) and those still red; for the company, the
    slices of its breakdowns by the standard dimensions that are red against their own quotas
    (a team missing its bookings quota); and the restatements of published weeks made since
    the last digest (`since`)."""
    card: ScorecardWeek = scorecard_week(week, trend_weeks=2, slice=scope)
    red = [row for row in card.rows if row.rag == Rag.RED]
    turned_red = [row for row in red if not (row.previous and row.previous.rag == Rag.RED)]
    still_red = [row for row in red if row not in turned_red]
    # A narrower scope is judged against its own quota; the slices within it have none.
    slices = [] if scope else red_slices(week)
    counts = card.rag_counts
    subject = (
        f"Scorecard {week.label}"
        + (f" · {scope.label}" if scope else "")
        + ": "
        + (
            f"{len(turned_red)} turned red, {counts[Rag.RED]} red in all"
            if counts[Rag.RED]
            else "nothing is red"
        )
    )
    query = "?" + urlencode(scope.query) if scope else ""
    context = {
        "card": card,
        "scope": scope,
        "query": query,
        "turned_red": turned_red,
        "still_red": still_red,
        "red_slices": [
            {
                "label": part.label,
                "rows": [
                    {"row": row, "url": _slice_url(week, row.metric.key, part.slice)}
                    for row in part.rows
                ],
            }
            for part in slices
        ],
        "week_url": _absolute(reverse("scorecard:week", args=[week]) + query),
        "site_url": settings.SITE_URL,
        "restated": [
            {"publication": p, "week": IsoWeek.of(p.snapshot.week_start)}
            for p in restatements_since(since)
        ],
    }
    return Digest(
        subject=subject,
        text=render_to_string("emails/scorecard_digest.txt", context),
        html=render_to_string("emails/scorecard_digest.html", context),
        turned_red=turned_red,
        still_red=still_red,
        restated=[item["publication"] for item in context["restated"]],
        red_slices=slices,
    )


def scope_of(query: str) -> Slice:
    """The slice a saved digest scope names; the company when it names none any more (a team
    since removed): the executive still gets a digest."""
    try:
        return slice_from_query(parse_qsl(query))
    except UnknownValue:
        return COMPANY


def digest_recipients() -> list[tuple[str, str]]:
    """Active executives with an email address, each with the scope of their digest (the
    query of a slice, or "" for the company)."""
    from follows.models import NotificationSettings

    User = get_user_model()
    people = (
        User.objects.filter(is_active=True, groups__name=Role.EXECUTIVE)
        .exclude(email="")
        .values_list("pk", "email")
    )
    scopes = dict(
        NotificationSettings.objects.exclude(digest_scope="").values_list("user_id", "digest_scope")
    )
    found: dict[str, str] = {}
    for pk, email in people:
        found.setdefault(email, scopes.get(pk, ""))
    return sorted(found.items())


def commentary_reminders(week: IsoWeek) -> list[EmailMultiAlternatives]:
    """Publish day: to each metric owner with an email address, one message naming their
    metrics that are red in the published week and have no commentary, each with its link."""
    from scorecard.models import SnapshotValue

    red = (
        SnapshotValue.objects.filter(week_start=week.monday, rag=Rag.RED, commentary="")
        .exclude(metric__owner=None)
        .exclude(metric__owner__email="")
        .filter(metric__owner__is_active=True)
        .select_related("metric__owner")
        .order_by("metric__owner_id", "metric__position")
    )
    by_owner: dict[int, list] = {}
    for value in red:
        by_owner.setdefault(value.metric.owner_id, []).append(value)
    messages = []
    for values in by_owner.values():
        owner = values[0].metric.owner
        lines = [
            f"- {v.metric.name}: "
            + _absolute(reverse("scorecard:metric-week", args=[week, v.metric.key]))
            for v in values
        ]
        names = ", ".join(v.metric.name for v in values)
        messages.append(
            EmailMultiAlternatives(
                f"Scorecard {week.label}: {names} red, without your commentary",
                f"Scorecard {week.label} is published. You own these red metrics; executives "
                "will read why they moved and what is being done if you write it:\n\n"
                + "\n".join(lines)
                + "\n",
                settings.DEFAULT_FROM_EMAIL,
                [owner.email],
            )
        )
    return messages


def digest_send(*, week: IsoWeek) -> int:
    """Email the digest of a published week to every executive, and each metric owner a
    reminder for their red metrics without commentary, once: the snapshot is marked sent in
    the same transaction (compare-and-swap), so a second run sends nothing and a failed send
    leaves it unsent for a retry. Returns the number of digests sent."""
    with transaction.atomic():
        since = WeeklySnapshot.objects.exclude(week_start=week.monday).aggregate(
            last=Max("digest_sent_at")
        )["last"]
        claimed = WeeklySnapshot.objects.filter(
            week_start=week.monday, digest_sent_at__isnull=True
        ).update(digest_sent_at=timezone.now())
        if claimed != 1:
            return 0
        # The reminders ride on the digest's claim: sent once, on the day the week is published.
        reminders = commentary_reminders(week)
        recipients = digest_recipients()
        messages = []
        digests: dict[Slice, Digest] = {}  # one build per scope
        for address, query in recipients:
            scope = scope_of(query)
            if scope not in digests:
                digests[scope] = digest_build(week, since=since, scope=scope)
            digest = digests[scope]
            message = EmailMultiAlternatives(
                digest.subject, digest.text, settings.DEFAULT_FROM_EMAIL, [address]
            )
            message.attach_alternative(digest.html, "text/html")
            messages.append(message)
        if not messages and not reminders:
            return 0
        from django.core.mail import get_connection

        with get_connection() as mail:
            mail.send_messages(messages + reminders)
        return len(messages)
