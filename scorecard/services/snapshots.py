"""Publishing weeks: freezing a week's values into a snapshot, republishing one on purpose,
the Monday schedule and the backfill of history.

Every path that writes snapshots takes the same transaction-scoped advisory lock, so the
schedule, a button press and a backfill never interleave; the lock is released with the
transaction, even when the process dies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from pipeline.models import ArrChange, Deal, Lead
from revops.weeks import IsoWeek, week_range
from scorecard.choices import PublicationSource
from scorecard.compute import Cell, metric_values_compute
from scorecard.formatting import format_plain
from scorecard.models import Metric, SnapshotPublication, SnapshotValue, WeeklySnapshot
from scorecard.selectors import definition_current_map, metric_catalog
from scorecard.targets import TargetBook, rag_status

# A company's whole history (fifty years), published in passes of five years.
BACKFILL_MAX_WEEKS = 2600
BACKFILL_PASS_WEEKS = 260

# pg_advisory_xact_lock key: "scorecard publish" as a number nobody else uses.
_PUBLISH_LOCK = 5_205_001


def _lock() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PUBLISH_LOCK])


def _values(
    snapshot: WeeklySnapshot,
    week: IsoWeek,
    metrics: list[Metric],
    computed: dict[int, dict[IsoWeek, Cell]],
    definitions: dict,
    targets: TargetBook,
) -> list[SnapshotValue]:
    rows = []
    for metric in metrics:
        cell = computed[metric.id][week]
        target = targets.for_week(metric.id, week, additive=metric.additive)
        rows.append(
            SnapshotValue(
                snapshot=snapshot,
                metric=metric,
                definition=definitions[metric.id],
                week_start=week.monday,
                value=cell.value,
                numerator=cell.numerator,
                denominator=cell.denominator,
                target=target,
                rag=rag_status(
                    cell.value,
                    target,
                    up_is_good=metric.up_is_good,
                    green_pct=metric.green_pct,
                    red_pct=metric.red_pct,
                ),
                note=cell.note[:200],
            )
        )
    return rows


def _compute(weeks: list[IsoWeek]):
    metrics = list(metric_catalog(active_only=True))
    definitions = definition_current_map()
    targets = TargetBook.load()
    computed = metric_values_compute(
        weeks=weeks,
        definitions=[definitions[m.id] for m in metrics],
        catalog=definitions,
        targets=targets,
    )
    return metrics, definitions, targets, computed


@transaction.atomic
def snapshot_publish(
    *,
    week: IsoWeek,
    by: AbstractBaseUser | None,
    source: str = PublicationSource.MANUAL,
    reason: str = "",
    republish: bool = False,
    send_digest: bool = True,
) -> WeeklySnapshot:
    """Freeze `week`'s values of every metric on the scorecard, computed now with each metric's
    current definition, target and thresholds.

    A week still in progress cannot be published. A published week changes only through
    `republish=True` with a reason; the new revision records what changed. The first
    publication of a week sends the executives' digest once the transaction commits."""
    if not week.is_complete():
        raise ValidationError(
            f"{week.label} is still in progress; it can be published from "
            f"{week.end:%A %-d %B %H:%M} ({week.end.tzname()})."
        )
    reason = reason.strip()
    _lock()
    existing = WeeklySnapshot.objects.filter(week_start=week.monday).first()
    if existing and not republish:
        raise ValidationError(
            f"{week.label} is already published (revision {existing.revision}). Republish it "
            "on purpose, with a reason, to change it."
        )
    if existing and not reason:
        raise ValidationError("Say why the week is being republished; the reason is recorded.")

    metrics, definitions, targets, computed = _compute([week])
    now = timezone.now()
    changes: dict[str, dict[str, str]] = {}
    if existing:
        old = dict(existing.values.values_list("metric__key", "value"))
        snapshot = existing
        snapshot.revision += 1
        snapshot.source = source
        snapshot.published_at = now
        snapshot.published_by = by
        snapshot.save(update_fields=["revision", "source", "published_at", "published_by"])
        snapshot.values.all().delete()
    else:
        old = {}
        snapshot = WeeklySnapshot.objects.create(
            week_start=week.monday, source=source, published_at=now, published_by=by
        )
    rows = _values(snapshot, week, metrics, computed, definitions, targets)
    SnapshotValue.objects.bulk_create(rows)
    if existing:
        for row in rows:
            before = old.pop(row.metric.key, None)
            if before != row.value:
                changes[row.metric.key] = {
                    "old": format_plain(before),
                    "new": format_plain(row.value),
                }
        for key, before in old.items():  # metrics taken off the scorecard since
            changes[key] = {"old": format_plain(before), "new": ""}
    SnapshotPublication.objects.create(
        snapshot=snapshot,
        revision=snapshot.revision,
        source=source,
        published_at=now,
        published_by=by,
        reason=reason,
        changes=changes,
    )
    if send_digest and not existing:
        from scorecard.tasks import digest_send_task

        label = week.label
        transaction.on_commit(lambda: digest_send_task.delay(label))
    _warm_on_commit(week)
    return snapshot


def _warm_on_commit(week: IsoWeek) -> None:
    """Once the publication is committed, render the week's page and JSON into the shared
    cache (scorecard/rendering.py), so the first reader in every worker is served from it."""
    from scorecard.tasks import week_warm_task

    label = week.label
    transaction.on_commit(lambda: week_warm_task.delay(label))


def snapshot_publish_due(*, now=None) -> WeeklySnapshot | None:
    """The Monday schedule: publish the week that just ended unless someone already has.
    Running it twice publishes once."""
    week = IsoWeek.containing(now or timezone.now()).shift(-1)
    if WeeklySnapshot.objects.filter(week_start=week.monday).exists():
        return None
    try:
        return snapshot_publish(week=week, by=None, source=PublicationSource.SCHEDULE)
    except ValidationError:
        # Published by someone else between our check and our lock: nothing left to do.
        if WeeklySnapshot.objects.filter(week_start=week.monday).exists():
            return None
        raise


@dataclass(frozen=True)
class BackfillResult:
    published: list[IsoWeek]
    skipped: list[IsoWeek]  # already published: left exactly as they were


@transaction.atomic
def scorecard_backfill(*, weeks: int, by: AbstractBaseUser | None = None) -> BackfillResult:
    """Publish the `weeks` completed weeks up to last week that have no snapshot yet, computed
    together, a few years at a time, in passes over the golden records. Published weeks are
    never touched; sends no digests."""
    if not 1 <= weeks <= BACKFILL_MAX_WEEKS:
        raise ValidationError(f"Backfill between 1 and {BACKFILL_MAX_WEEKS} weeks.")
    last = IsoWeek.last_completed()
    span = week_range(last.shift(-(weeks - 1)), last)
    _lock()
    published = set(
        WeeklySnapshot.objects.filter(
            week_start__gte=span[0].monday, week_start__lte=span[-1].monday
        ).values_list("week_start", flat=True)
    )
    todo = [w for w in span if w.monday not in published]
    skipped = [w for w in span if w.monday in published]
    now = timezone.now()
    # A pass's arrays grow with the square of its weeks (the MQL cohort): five years at most.
    for start in range(0, len(todo), BACKFILL_PASS_WEEKS):
        _backfill_pass(todo[start : start + BACKFILL_PASS_WEEKS], by, now)
    if todo:
        _warm_on_commit(IsoWeek.last_completed())
    return BackfillResult(todo, skipped)


def _backfill_pass(todo: list[IsoWeek], by: AbstractBaseUser | None, now) -> None:
    metrics, definitions, targets, computed = _compute(todo)
    snapshots = WeeklySnapshot.objects.bulk_create(
        WeeklySnapshot(
            week_start=w.monday,
            source=PublicationSource.BACKFILL,
            published_at=now,
            published_by=by,
        )
        for w in todo
    )
    values = []
    for week, snapshot in zip(todo, snapshots, strict=True):
        values.extend(_values(snapshot, week, metrics, computed, definitions, targets))
    SnapshotValue.objects.bulk_create(values, batch_size=5000)
    SnapshotPublication.objects.bulk_create(
        SnapshotPublication(
            snapshot=snapshot,
            revision=1,
            source=PublicationSource.BACKFILL,
            published_at=now,
            published_by=by,
            reason="Backfill of history",
        )
        for snapshot in snapshots
    )


def backfill_weeks_since(since: date) -> int:
    """The completed weeks from the week of `since` to last week, for `--since`."""
    last = IsoWeek.last_completed()
    first = IsoWeek.of(since)
    if first > last:
        raise ValidationError(f"{since:%-d %B %Y} is not before last week: nothing to backfill.")
    weeks = (last.monday - first.monday).days // 7 + 1
    if weeks > BACKFILL_MAX_WEEKS:
        raise ValidationError(
            f"{since:%-d %B %Y} is {weeks} weeks back; a backfill reaches back at most "
            f"{BACKFILL_MAX_WEEKS}."
        )
    return weeks


def backfill_weeks_all() -> int:
    """The completed weeks from the oldest golden record's date to last week, for `--all`."""
    oldest = [
        Lead.objects.aggregate(d=Min("created_at"))["d"],
        Deal.objects.aggregate(d=Min("created_at"))["d"],
    ]
    days = [timezone.localtime(x).date() for x in oldest if x is not None]
    first_arr = ArrChange.objects.aggregate(d=Min("effective_date"))["d"]
    if first_arr is not None:
        days.append(first_arr)
    if not days:
        return 1
    return backfill_weeks_since(min(min(days), IsoWeek.last_completed().monday))


@transaction.atomic
def snapshots_republish_changed(
    *, by: AbstractBaseUser | None, reason: str, weeks: int = 104
) -> list[IsoWeek]:
    """After a correction of the data: recompute every published week of the last `weeks` in
    one pass and republish, with `reason`, each week where a metric it froze now has another
    value. Weeks whose values did not move keep their revision. Returns the republished weeks."""
    if not reason.strip():
        raise ValidationError("Say why the weeks are being republished; the reason is recorded.")
    last = IsoWeek.last_completed()
    first = last.shift(-(weeks - 1))
    _lock()
    published = sorted(
        WeeklySnapshot.objects.filter(
            week_start__gte=first.monday, week_start__lte=last.monday
        ).values_list("week_start", flat=True)
    )
    if not published:
        return []
    span = [IsoWeek.of(monday) for monday in published]
    metrics, _, _, computed = _compute(span)
    stored = {
        (metric_id, monday): value
        for metric_id, monday, value in SnapshotValue.objects.filter(
            week_start__in=published
        ).values_list("metric_id", "week_start", "value")
    }
    changed = [
        week
        for week in span
        if any(
            (m.id, week.monday) in stored
            and computed[m.id][week].value != stored[(m.id, week.monday)]
            for m in metrics
        )
    ]
    for week in changed:
        snapshot_publish(week=week, by=by, reason=reason, republish=True)
    return changed
