"""Reads of disputes: the list every role may read, the open ones behind a week's numbers, the
counts the scorecard's footer shows, and the SLA."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from disputes.choices import UNRESOLVED
from disputes.models import DEFAULT_SLA_BUSINESS_DAYS, Dispute, DisputeSettings
from revops.weeks import IsoWeek, company_tz


def dispute_list() -> QuerySet[Dispute]:
    """Every dispute, newest first, with what the list shows; filter with DisputeFilter."""
    return Dispute.objects.select_related("metric", "filed_by", "assignee").order_by(
        "-filed_at", "-id"
    )


def dispute_get(pk: int) -> Dispute | None:
    return (
        Dispute.objects.select_related("metric", "filed_by", "assignee", "discrepancy")
        .filter(pk=pk)
        .first()
    )


def unresolved_for_week(week: IsoWeek, keys: frozenset[str]) -> dict[str, list[int]]:
    """Ids of the unresolved disputes of each metric in `keys` for `week` (one query)."""
    rows = (
        Dispute.objects.filter(
            status__in=UNRESOLVED, week_start=week.monday, metric__key__in=list(keys)
        )
        .order_by("id")
        .values_list("metric__key", "id")
    )
    found: dict[str, list[int]] = {}
    for key, pk in rows:
        found.setdefault(key, []).append(pk)
    return found


@dataclass(frozen=True)
class DisputeCounts:
    unresolved: int
    overdue: int


def dispute_counts(*, now: datetime | None = None) -> DisputeCounts:
    """How many disputes wait for ops, and how many of them are past their due time (one
    query, in SQL of its own: the scorecard's footer asks on every view)."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*), count(*) FILTER (WHERE due_at < %s) FROM {Dispute._meta.db_table}"
            " WHERE status = ANY(%s)",
            [now, [status.value for status in UNRESOLVED]],
        )
        unresolved, overdue = cursor.fetchone()
    return DisputeCounts(unresolved, overdue)


def response_business_days() -> int:
    """The response SLA ops set, in business days (the default until they set one)."""
    row = DisputeSettings.objects.filter(pk=1).values_list("response_business_days", flat=True)
    return next(iter(row), DEFAULT_SLA_BUSINESS_DAYS)


def due_after(start: datetime, business_days: int) -> datetime:
    """`business_days` working days (Monday to Friday, in the company's time zone) after
    `start`, at the same time of day. Filed on a Saturday, the count starts on Monday."""
    local = start.astimezone(company_tz())
    day = local
    left = business_days
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def attachment_rows(dispute: Dispute) -> Iterator[list[str]]:
    """The rows of a dispute's CSV attachment as the filer sent them (checked at filing: UTF-8,
    strictly parsed, at most 5 MB). Served through `revops.csv`, which neutralises formulas."""
    with dispute.attachment.open("rb") as stored:
        text = stored.read().decode("utf-8-sig")
    yield from csv.reader(io.StringIO(text), strict=True)
