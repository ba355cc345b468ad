"""Reads of disputes: the list every role may read, the open ones behind a week's numbers, the
counts the scorecard's footer shows, and the SLA."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from disputes.choices import UNRESOLVED, DisputeSubject
from disputes.evidence import plain
from disputes.models import DEFAULT_SLA_BUSINESS_DAYS, Dispute, DisputeComment, DisputeSettings
from pipeline.presets import FIELDS, field_info
from pipeline.services.corrections import golden_get
from revops import markdown
from revops.hooks import FooterQuery, footer_values
from revops.weeks import IsoWeek, company_tz
from scorecard import selectors as scorecard_selectors
from scorecard.formatting import format_value


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


def dispute_open_on(
    *,
    metric_id: int | None = None,
    week_start=None,
    object_type: str = "",
    record_key: str = "",
    discrepancy_id: int | None = None,
) -> Dispute | None:
    """The oldest unresolved dispute of the same number (metric and week), record or
    discrepancy, if there is one: filing a second one is better done as a comment on it."""
    found = Dispute.objects.filter(status__in=UNRESOLVED)
    if metric_id is not None:
        found = found.filter(
            subject=DisputeSubject.METRIC, metric_id=metric_id, week_start=week_start
        )
    elif discrepancy_id is not None:
        found = found.filter(subject=DisputeSubject.DISCREPANCY, discrepancy_id=discrepancy_id)
    elif object_type and record_key:
        found = found.filter(
            subject=DisputeSubject.RECORD, object_type=object_type, record_key=record_key
        )
    else:
        return None
    return found.select_related("filed_by").order_by("filed_at", "id").first()


def dispute_comments(dispute: Dispute) -> list[DisputeComment]:
    """The thread in order, each comment with its Markdown rendered and sanitised as `html`."""
    comments = list(dispute.comments.select_related("author").order_by("created_at", "id"))
    for comment in comments:
        comment.html = markdown.render(comment.body)
    return comments


@dataclass(frozen=True)
class ValueNow:
    """What a corrected number or field reads today, beside what the filer saw."""

    what: str
    value: str
    was: str
    where: str = ""  # "published, revision 2" or "live"


def dispute_value_now(dispute: Dispute) -> ValueNow | None:
    """After a dispute is accepted: the disputed number as the scorecard shows it now, or, for a
    record corrected by hand, the corrected field as the golden record holds it now."""
    if dispute.subject == DisputeSubject.METRIC and dispute.metric and dispute.week_start:
        week = IsoWeek.of(dispute.week_start)
        cell = scorecard_selectors.metric_week_cell(dispute.metric, week)
        snapshot = scorecard_selectors.snapshot_get(week)
        where = f"published, revision {snapshot.revision}" if snapshot and not cell.live else "live"
        return ValueNow(
            what=f"{dispute.metric.name}, {week.label}",
            value=format_value(cell.value, dispute.metric.unit),
            was=dispute.shown_value,
            where=where,
        )
    correction = dispute.correction or {}
    object_type = correction.get("object_type", "")
    key, field = correction.get("record_key", ""), correction.get("field", "")
    if object_type in FIELDS and key and field in {f.name for f in FIELDS[object_type]}:
        golden = golden_get(object_type, key)
        if golden is None:
            return None
        label = field_info(object_type, field).label
        value = plain(getattr(golden, field, None)) or "—"
        return ValueNow(what=f"{label} of {golden}", value=value, was="")
    return None


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


def dispute_counts_query(*, now: datetime | None = None) -> FooterQuery:
    """How many disputes wait for ops and how many of them are past their due time, as one
    SQL expression (a two-element JSON array): the scorecard's footer reads it in the query
    the page runs anyway."""
    return FooterQuery(
        f"(SELECT json_build_array(count(*), count(*) FILTER (WHERE due_at < %(now)s))"
        f" FROM {Dispute._meta.db_table} WHERE status = ANY(%(statuses)s))",
        {"now": now or timezone.now(), "statuses": [status.value for status in UNRESOLVED]},
    )


def dispute_counts(*, now: datetime | None = None) -> DisputeCounts:
    """How many disputes wait for ops, and how many of them are past their due time."""
    return DisputeCounts(*footer_values([dispute_counts_query(now=now)])[0])


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
