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
from revops import hooks
from revops.weeks import IsoWeek, week_range
from scorecard.choices import PublicationSource
from scorecard.compute import Cell, metric_values_compute
from scorecard.formatting import format_plain
from scorecard.models import (
    Metric,
    PendingRestatement,
    SnapshotPublication,
    SnapshotValue,
    WeeklySnapshot,
)
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
    from scorecard.models import MetricCommentary

    said = {
        c.metric_id: c
        for c in MetricCommentary.objects.filter(week_start=week.monday, metric__in=metrics)
    }
    rows = []
    for metric in metrics:
        cell = computed[metric.id][week]
        commentary = said.get(metric.id)
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
                frozen_at=snapshot.published_at,
                commentary=commentary.body if commentary else "",
                commentary_html=commentary.html if commentary else "",
                commentary_by_id=commentary.written_by_id if commentary else None,
            )
        )
    return rows


def slices_freeze(snapshot: WeeklySnapshot, week: IsoWeek) -> int:
    """Freeze the breakdowns of `week` by the standard dimensions (settings.
    SCORECARD_FROZEN_DIMENSIONS) into its snapshot, replacing any frozen before: for each
    dimension, its rows as a breakdown shows them now (the top values, Other and Not set,
    with the field values each stands for) and every metric sliced by it, each against the
    slice's own target. Returns how many values were frozen."""
    from django.conf import settings

    from pipeline.dimensions import BY_KEY, breakdown_slices
    from scorecard.compute import GroupedTotals, metric_dimensions
    from scorecard.models import SnapshotSlice, SnapshotSliceValue

    SnapshotSlice.objects.filter(snapshot=snapshot).delete()
    metrics = list(metric_catalog(active_only=True))
    definitions = definition_current_map()
    frozen = 0
    for key in settings.SCORECARD_FROZEN_DIMENSIONS:
        dimension = BY_KEY.get(key)
        if dimension is None:
            continue
        sliced = [m for m in metrics if dimension in metric_dimensions(definitions[m.id])]
        if not sliced:
            continue
        grouped = GroupedTotals(dimension)
        for position, part in enumerate(breakdown_slices(dimension)):
            row = part.filters[-1]
            frozen_slice = SnapshotSlice.objects.create(
                snapshot=snapshot, week_start=week.monday, dimension=key, label=row.label[:100],
                keys=list(row.keys), negate=row.negate, rest=row.rest, position=position,
            )  # fmt: skip
            targets = TargetBook.load(part.target_key)
            computed = metric_values_compute(
                weeks=[week],
                definitions=[definitions[m.id] for m in sliced],
                catalog=definitions,
                targets=targets,
                slice=part,
                grouped=grouped,
            )
            values = []
            for metric in sliced:
                cell = computed[metric.id][week]
                target = targets.for_week(metric.id, week, additive=metric.additive)
                values.append(
                    SnapshotSliceValue(
                        slice=frozen_slice,
                        metric=metric,
                        definition=definitions[metric.id],
                        week_start=week.monday,
                        value=cell.value,
                        numerator=cell.numerator,
                        denominator=cell.denominator,
                        target=target,
                        note=cell.note[:200],
                        rag=rag_status(
                            cell.value,
                            target,
                            up_is_good=metric.up_is_good,
                            green_pct=metric.green_pct,
                            red_pct=metric.red_pct,
                        ),
                    )  # fmt: skip
                )
            SnapshotSliceValue.objects.bulk_create(values)
            frozen += len(values)
    return frozen


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
    expected: str = "",
    only: set[str] | None = None,
    causes: list[dict] | None = None,
) -> WeeklySnapshot:
    """Freeze `week`'s values of every metric on the scorecard, computed now with each metric's
    current definition, target and thresholds.

    A week still in progress cannot be published. A published week changes only through
    `republish=True` with a reason; the new revision records what changed. The first
    publication of a week sends the executives' digest once the transaction commits.

    A republish changes only the cells whose live value, target, status or definition now
    differ from the frozen ones (or, with `only`, those of these metric keys), and records the
    causes (scorecard/restatements.py); `expected` is the fingerprint of the preview it
    confirms."""
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

    if existing:
        publication = _restate(
            existing, week, by=by, reason=reason, source=source, expected=expected, only=only,
            causes=causes,
        )  # fmt: skip
        # The slices are frozen again with the republish: it is the stated reason's occasion.
        slices_freeze(publication.snapshot, week)
        _warm_on_commit(week)
        _published_on_commit(week)
        return publication.snapshot

    metrics, definitions, targets, computed = _compute([week])
    now = timezone.now()
    snapshot = WeeklySnapshot.objects.create(
        week_start=week.monday, source=source, published_at=now, published_by=by
    )
    SnapshotValue.objects.bulk_create(
        _values(snapshot, week, metrics, computed, definitions, targets)
    )
    slices_freeze(snapshot, week)
    SnapshotPublication.objects.create(
        snapshot=snapshot,
        revision=snapshot.revision,
        source=source,
        published_at=now,
        published_by=by,
        reason=reason,
    )
    if send_digest:
        from scorecard.tasks import digest_send_task

        label = week.label
        transaction.on_commit(lambda: digest_send_task.delay(label))
    _warm_on_commit(week)
    _published_on_commit(week)
    return snapshot


def _restate(
    snapshot: WeeklySnapshot,
    week: IsoWeek,
    *,
    by: AbstractBaseUser | None,
    reason: str,
    source: str,
    expected: str = "",
    only: set[str] | None = None,
    causes: list[dict] | None = None,
) -> SnapshotPublication:
    """Republish a published week (under the publish lock): recompute it now, change the
    frozen cells that differ (all of them, or those of the metric keys in `only`), and record
    the new revision with the reason, each change and its causes (found since the last
    publication unless given). `expected` is the fingerprint of the preview the person
    confirmed: when what a republish would change has moved since, nothing changes."""
    from scorecard import restatements

    snapshot = WeeklySnapshot.objects.select_for_update().get(pk=snapshot.pk)
    _, live = restatements.live_cells([week])
    frozen = list(snapshot.values.select_related("metric"))
    changes = restatements.differences(snapshot, live[week], frozen)
    if expected and restatements.fingerprint(snapshot, changes) != expected:
        raise ValidationError(
            f"What republishing {week.label} changes has moved since the preview (new data, a "
            "correction or another republish). Nothing was changed; look at the preview again."
        )
    if only is not None:
        changes = [c for c in changes if c.key in only]
    if causes is None:
        since = restatements.frozen_since(snapshot, frozen, changes)
        causes = restatements.causes_since(week, since, changes)
    by_metric = {v.metric.key: v for v in frozen}
    stamp = timezone.now()
    updated, added, removed = [], [], []
    for change in changes:
        if change.kind == restatements.REMOVED:
            removed.append(by_metric[change.key].pk)
            continue
        now = change.live_cell
        row = by_metric.get(change.key) or SnapshotValue(
            snapshot=snapshot, metric=now.metric, week_start=week.monday
        )
        row.definition = now.definition
        row.value, row.target, row.rag = now.value, now.target, now.rag
        row.numerator, row.denominator = now.cell.numerator, now.cell.denominator
        row.note = now.cell.note[:200]
        row.frozen_at = stamp
        (added if row.pk is None else updated).append(row)
    SnapshotValue.objects.filter(pk__in=removed).delete()
    SnapshotValue.objects.bulk_create(added)
    SnapshotValue.objects.bulk_update(
        updated,
        ["definition", "value", "target", "rag", "numerator", "denominator", "note", "frozen_at"],
    )
    left = [
        c.key
        for c in restatements.differences(snapshot, live[week], frozen)
        if c.kind == restatements.CHANGED
        and c.value_moved
        and c.key not in {x.key for x in changes}
    ]
    if left:
        PendingRestatement.objects.update_or_create(
            week_start=week.monday, defaults={"metrics": left, "checked_at": timezone.now()}
        )
    else:
        PendingRestatement.objects.filter(week_start=week.monday).delete()
    now = stamp
    snapshot.revision += 1
    snapshot.source = source
    snapshot.published_at = now
    snapshot.published_by = by
    snapshot.save(update_fields=["revision", "source", "published_at", "published_by"])
    return SnapshotPublication.objects.create(
        snapshot=snapshot,
        revision=snapshot.revision,
        source=source,
        published_at=now,
        published_by=by,
        reason=reason,
        changes={c.key: c.record() for c in changes},
        causes=causes,
    )


def _published_on_commit(week: IsoWeek) -> None:
    """Tell the apps that listen (follows: alerts on metrics that turned red) once the
    publication commits."""
    label = week.label
    transaction.on_commit(lambda: hooks.emit("scorecard.week_published", week_label=label))


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
def snapshot_commentary_restate(
    *, week: IsoWeek, metric: Metric, body: str, html: str, by: AbstractBaseUser, reason: str
) -> SnapshotPublication | None:
    """A commentary written for a published week republishes its cell's commentary, and only
    that: a new revision naming who wrote it, with `reason` (required to change or remove
    commentary that was frozen). Nothing happens for a week not published, or when the frozen
    commentary says the same already."""
    _lock()
    snapshot = WeeklySnapshot.objects.select_for_update().filter(week_start=week.monday).first()
    if snapshot is None:
        return None
    value = snapshot.values.filter(metric=metric).first()
    if value is None or value.commentary == body:
        return None
    if value.commentary and not reason:
        raise ValidationError(
            {
                "reason": f"{week.label} is published with this commentary: say why it changes; "
                "the reason is recorded with a new revision."
            }  # fmt: skip
        )
    verb = "removed" if not body else ("edited" if value.commentary else "added")
    who = by.get_full_name() or by.get_username()
    value.commentary, value.commentary_html, value.commentary_by = body, html, by if body else None
    value.save(update_fields=["commentary", "commentary_html", "commentary_by"])
    now = timezone.now()
    snapshot.revision += 1
    snapshot.published_at, snapshot.published_by = now, by
    snapshot.save(update_fields=["revision", "published_at", "published_by"])
    return SnapshotPublication.objects.create(
        snapshot=snapshot,
        revision=snapshot.revision,
        source=PublicationSource.MANUAL,
        published_at=now,
        published_by=by,
        reason=reason or f"Commentary on {metric.name} {verb}",
        changes={
            metric.key: {
                "old": format_plain(value.value),
                "new": format_plain(value.value),
                "commentary": verb,
            }
        },  # fmt: skip
        causes=[
            {
                "kind": "commentary",
                "label": f"{who} {verb} the commentary on {metric.name}",
                "url": "",
                "metrics": [metric.key],
            }
        ],  # fmt: skip
    )


@transaction.atomic
def snapshots_restate_correction(
    *,
    before: dict,
    by: AbstractBaseUser | None,
    reason: str,
    cause: dict,
    correction: dict | None = None,
    source: str = PublicationSource.DISPUTE,
) -> list[IsoWeek]:
    """After a correction of the data: republish, with `reason`, exactly the cells of
    published weeks that the correction moved, i.e. whose live value or target differs from
    `before` (restatements.published_live, taken just before the correction). Everything else
    that moved since a week's publication (a later import, say) stays pending. Each revision
    names `cause` for the cells it moved; a moved cell whose frozen value had also drifted
    before the correction names the drift's causes too (not `correction`, what was done for
    `cause`, again). Returns the republished weeks."""
    from scorecard import restatements

    if not reason.strip():
        raise ValidationError("Say why the weeks are being republished; the reason is recorded.")
    _lock()
    after = restatements.live_cells(sorted(before))[1]
    republished = []
    for week, keys in sorted(restatements.correction_moves(before, after).items()):
        snapshot = WeeklySnapshot.objects.get(week_start=week.monday)
        frozen = list(snapshot.values.select_related("metric"))
        changes = [
            c for c in restatements.differences(snapshot, after[week], frozen)
            if c.key in keys and c.kind == restatements.CHANGED
            and (c.value_moved or c.frozen_target != c.live_target)
        ]  # fmt: skip
        if not changes:  # the correction moved them back to what was frozen
            continue
        frozen_value = {v.metric_id: v.value for v in frozen}
        drifted = [
            c for c in changes
            if frozen_value[c.live_cell.metric.id] != before[week][c.live_cell.metric.id].value
        ]  # fmt: skip
        causes = [{**cause, "metrics": sorted(c.key for c in changes)}]
        causes += [
            x for x in restatements.causes_since(
                week, restatements.frozen_since(snapshot, frozen, drifted), drifted,
                ignore=correction,
            )
            if x["kind"] != "other"
        ]  # fmt: skip
        snapshot_publish(
            week=week, by=by, reason=reason, republish=True, source=source,
            only={c.key for c in changes}, causes=causes,
        )  # fmt: skip
        republished.append(week)
    return republished


@transaction.atomic
def snapshots_restate_pending(
    *, by: AbstractBaseUser | None, reason: str, expected: dict[str, str]
) -> list[IsoWeek]:
    """Ops republish, in bulk with one reason, the published weeks whose frozen values differ
    from the live ones: `expected` maps each week's label to the fingerprint of the preview
    they saw. A week whose changes moved since is refused (nothing changes); the causes of
    each are recorded. Returns the republished weeks."""
    reason = reason.strip()
    if not reason:
        raise ValidationError("Say why the weeks are being republished; the reason is recorded.")
    if not expected:
        raise ValidationError("Choose at least one week to republish.")
    weeks = []
    for label in sorted(expected):
        try:
            weeks.append(IsoWeek.parse(label))
        except ValueError:
            raise ValidationError(f"{label!r} is not a week.") from None
    published = set(
        WeeklySnapshot.objects.filter(week_start__in=[w.monday for w in weeks]).values_list(
            "week_start", flat=True
        )
    )
    for week in weeks:
        if week.monday not in published:
            raise ValidationError(f"{week.label} is not published; there is nothing to restate.")
        snapshot_publish(
            week=week, by=by, reason=reason, republish=True, expected=expected[week.label]
        )
    return weeks


@transaction.atomic
def restatements_check(found=None) -> list:
    """Compare every published week of the last two years with its live values and keep the
    list of pending restatements (PendingRestatement) to what differs now. Returns the weeks
    found (restatements.WeekRestatement, newest first); `found` is such a list computed
    already, when the caller has one."""
    from scorecard import restatements

    if found is None:
        found = restatements.pending_compute()
    now = timezone.now()
    PendingRestatement.objects.exclude(week_start__in=[w.week.monday for w in found]).delete()
    for pending in found:
        PendingRestatement.objects.update_or_create(
            week_start=pending.week.monday,
            defaults={"metrics": [c.key for c in pending.moved], "checked_at": now},
        )
    return found
