"""The batch's life: created from a file (or a draft to map), queued, run under its lock,
checked and, when asked, applied in one transaction; rejected or failed with nothing written."""

from __future__ import annotations

import logging
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import connection, transaction
from django.db.models import Count, Max
from django.utils import timezone

from pipeline.choices import ApplyMode, BatchStatus, ExportKind
from pipeline.models import (
    SOURCE_MODELS,
    ImportBatch,
    ImportHeldRow,
    ImportPreset,
    ImportRowError,
    SourceSystem,
)
from pipeline.presets import (
    BUILTIN_PRESETS,
    Mapping,
    builtin_preset,
    mapping_from_dict,
)
from pipeline.services import picklists
from pipeline.services.deletions import (
    deletions_absent_count,
    deletions_mark_absent,
    deletions_mark_listed,
    deletions_restored_count,
)
from pipeline.services.findings import (
    findings_clear,
    findings_collect,
)
from pipeline.services.identity import (
    WRITE_LOCK,
    golden_refresh_dependents,
    golden_resolve_pending,
)
from pipeline.services.import_runs import import_batch_run_lock, import_batch_supersede_if_newer
from pipeline.services.imports.base import STORED_ERRORS_MAX, ImportRejected, Progress, RowError
from pipeline.services.imports.checks import (
    collect_errors,
    hold_rows,
    nul_findings,
    preview_first_rows,
    python_checks,
)
from pipeline.services.imports.normalise_sql import normalise
from pipeline.services.imports.reading import (
    check_columns,
    copy_raw,
    human_size,
    max_file_bytes,
    sniff_file,
    spelled_as_file,
    vendor_check,
)
from pipeline.services.imports.staging import check_id_systems, stage_pending
from pipeline.services.presets import import_preset_save
from revops.db import SideChannel
from revops.laps import lap, laps_recording

logger = logging.getLogger(__name__)
IMPORT_WORK_MEM = "256MB"  # per sort or hash of the import's session, one import at a time


def mapping_for(
    *, object_type: str, preset: str | None = None, mapping: dict | None = None
) -> tuple[Mapping, str]:
    """The mapping an import uses: a built-in preset by key, a saved preset by name, or a
    mapping given whole. Returns (mapping, preset name or '')."""
    if (preset is None) == (mapping is None):
        raise ValidationError("Give either a preset or a mapping.")
    if mapping is not None:
        return mapping_from_dict(mapping, object_type=object_type), ""
    if preset in BUILTIN_PRESETS:
        result = builtin_preset(preset)
    else:
        saved = ImportPreset.objects.filter(name=preset).first()
        if saved is None:
            known = [*BUILTIN_PRESETS, *ImportPreset.objects.values_list("name", flat=True)]
            raise ValidationError(f"No preset {preset!r}. Presets: {', '.join(known)}.")
        result = mapping_from_dict(saved.mapping)
    if result.object_type != object_type:
        raise ValidationError(f"Preset {preset!r} reads {result.object_type}s, not {object_type}s.")
    return result, preset


def _size_check(size: int | None) -> None:
    if size is not None and size > max_file_bytes():
        raise ValidationError(
            f"The file is {human_size(size)}; the limit is {human_size(max_file_bytes())}."
        )


def system_check(system: SourceSystem) -> None:
    if system.retired_at is not None:
        raise ValidationError(
            f"{system.name} is retired: it takes no new imports. Bring it back on the Systems "
            "page first."
        )


def _file_name(file_name: str, path: Path | None = None) -> str:
    """The name a batch shows for its file: as the user named it, without folders."""
    return Path(file_name or (path.name if path else "upload.csv")).name[:255]


@transaction.atomic
def import_batch_create(
    *,
    system: SourceSystem,
    object_type: str,
    mapping: Mapping,
    preset: str = "",
    by: AbstractBaseUser | None = None,
    apply: bool = False,
    file_name: str = "",
    content=None,
    path: Path | None = None,
    apply_mode: str = ApplyMode.WHOLE,
    export_kind: str = ExportKind.DELTA,
    deletions_confirmed: bool = False,
    deleted_ids: list[str] | None = None,
    sync_run=None,
) -> ImportBatch:
    """Create a batch, queued for checking (and applying, when `apply`). An upload (`content`,
    a file-like object) is stored with the batch so a worker can read it; a `path` on this
    machine (the command line) is read where it is. Refuses a file over the size limit.
    A full export (`export_kind`) marks the system's records it does not hold deleted;
    `deletions_confirmed` lets it apply even when that is more than half of them.
    `deleted_ids` (an API sync) are the ids the source reported deleted, marked deleted when
    the batch applies; `sync_run` is the sync the batch belongs to."""
    system_check(system)
    size = getattr(content, "size", None) if content is not None else path.stat().st_size
    _size_check(size)
    batch = ImportBatch(
        system=system,
        object_type=object_type,
        preset=preset,
        mapping=mapping.to_dict(),
        created_by=by,
        apply_requested=apply,
        apply_mode=apply_mode,
        status=BatchStatus.QUEUED,
        file_name=_file_name(file_name, path),
        export_kind=ExportKind(export_kind),
        deleted_ids=list(deleted_ids or []),
        sync_run=sync_run,
    )
    if deletions_confirmed:
        batch.confirmed_by = by
        batch.confirmed_at = timezone.now()
    if content is None and not apply:
        # Checked now, applied on confirmation later, perhaps by a worker elsewhere: keep a copy.
        with open(path, "rb") as local:
            batch.file.save(batch.file_name, File(local), save=False)
    elif content is not None:
        batch.file.save(batch.file_name, File(content), save=False)
    batch.file_size = batch.file.size if batch.file else (size or 0)
    batch.save()
    return batch


@transaction.atomic
def import_batch_draft_create(
    *,
    system: SourceSystem,
    object_type: str,
    by: AbstractBaseUser | None,
    file_name: str,
    content,
    apply_mode: str = ApplyMode.WHOLE,
    export_kind: str = ExportKind.DELTA,
) -> ImportBatch:
    """Store an upload that no preset reads yet, as a draft without a mapping: the mapping page
    builds one from the file's header (`import_batch_draft_map`). Refuses a file over the size
    limit, as every import does."""
    system_check(system)
    _size_check(getattr(content, "size", None))
    batch = ImportBatch(
        system=system,
        object_type=object_type,
        file_name=_file_name(file_name),
        created_by=by,
        status=BatchStatus.DRAFT,
        apply_mode=apply_mode,
        export_kind=ExportKind(export_kind),
    )
    batch.file.save(batch.file_name, File(content), save=False)
    batch.file_size = batch.file.size
    batch.save()
    return batch


def import_batch_draft_header(*, batch: ImportBatch) -> list[str]:
    """The header of a draft's file, for its mapping page. A file that cannot be read as CSV
    rejects the draft, and ValidationError says why."""
    try:
        return sniff_file(Path(batch.file.path)).header
    except ImportRejected as exc:
        # One compare-and-swap statement: a draft mapped meanwhile in another tab stays queued.
        ImportBatch.objects.filter(pk=batch.pk, status=BatchStatus.DRAFT).update(
            status=BatchStatus.REJECTED,
            message=f"{exc.message} Nothing was imported.",
            finished_at=timezone.now(),
        )
        batch.refresh_from_db()
        raise ValidationError(exc.message) from None


@transaction.atomic
def import_batch_draft_map(
    *,
    batch: ImportBatch,
    preset_name: str,
    mapping: Mapping,
    by: AbstractBaseUser | None,
    mapping_data: dict | None = None,
) -> ImportPreset:
    """Save the mapping built for a draft's file as a preset, and queue the draft to be checked
    with it. `mapping_data`, when given, is what the preset stores (an extension of a built-in
    preset keeps only its overrides). A draft mapped meanwhile (another tab) keeps that mapping;
    the preset is saved all the same. Raises ValidationError as `import_preset_save` does."""
    preset = import_preset_save(
        name=preset_name,
        mapping=mapping_data or mapping.to_dict(),
        object_type=batch.object_type,
        by=by,
    )
    claimed = ImportBatch.objects.filter(pk=batch.pk, status=BatchStatus.DRAFT).update(
        mapping=mapping_from_dict(preset.mapping).to_dict(),
        preset=preset.name,
        status=BatchStatus.QUEUED,
    )
    batch.refresh_from_db()
    if claimed:
        import_batch_enqueue(batch)
    return preset


def import_batch_enqueue(batch: ImportBatch, *, confirming: bool = False) -> None:
    """Run the batch on a worker once the surrounding transaction commits (in-process when
    there is no Redis). If the broker cannot take it, the batch says so and stays unwritten:
    failed, or (`confirming` a checked batch) back to awaiting confirmation."""
    from pipeline.tasks import import_batch_run_task

    def send() -> None:
        try:
            import_batch_run_task.delay(batch.id)
        except Exception as exc:  # kombu raises assorted errors when Redis is away
            if import_batch_run_task.app.conf.task_always_eager:
                raise  # run in-process: an error of the import itself, not of a queue
            logger.warning("could not queue import batch %s: %s", batch.id, exc)
            queued = ImportBatch.objects.filter(pk=batch.pk, status=BatchStatus.QUEUED)
            if confirming:
                # A checked file stays checked, to be confirmed again later.
                queued.update(
                    status=BatchStatus.PENDING,
                    apply_requested=False,
                    confirmed_by=None,
                    confirmed_at=None,
                    progress=100,
                    phase="checked",
                    message="Applying could not be queued (the job queue is unreachable). "
                    "Nothing was imported; confirm again in a few minutes.",
                )
                return
            queued.update(
                status=BatchStatus.FAILED,
                finished_at=timezone.now(),
                message="The import could not be queued (the job queue is unreachable). "
                "Nothing was imported; try again in a few minutes.",
            )

    transaction.on_commit(send)


@transaction.atomic
def import_batch_confirm(*, batch: ImportBatch, by: AbstractBaseUser | None) -> ImportBatch:
    """Apply a checked batch, recording who confirmed it and when. Only a batch awaiting
    confirmation can be confirmed."""
    claimed = ImportBatch.objects.filter(pk=batch.pk, status=BatchStatus.PENDING).update(
        status=BatchStatus.QUEUED,
        apply_requested=True,
        progress=0,
        phase="",
        message="",
        confirmed_by=by,
        confirmed_at=timezone.now(),
    )
    if not claimed:
        batch.refresh_from_db()
        raise ValidationError(
            f"Batch #{batch.pk} is {batch.get_status_display().lower()}; only a checked batch "
            "awaiting confirmation can be applied."
        )
    batch.refresh_from_db()
    import_batch_enqueue(batch, confirming=True)
    return batch


def import_batch_run(
    batch_id: int, *, path: Path | None = None, progress: Progress | None = None
) -> ImportBatch:
    """Check the batch's file and, if asked, apply it. Safe to call twice for one batch (a
    redelivered task): a batch that already finished, or that a live run holds, is returned as
    it is; one still marked running by a dead worker runs again, and ends superseded if a newer
    file has been applied since (see import_runs)."""
    # A message redelivered after its worker died finds the batch running and the dead
    # connection's lock perhaps not yet freed: wait a few seconds for it.
    redelivered = ImportBatch.objects.filter(pk=batch_id, status=BatchStatus.RUNNING).exists()
    with import_batch_run_lock(batch_id, wait=5 if redelivered else 0) as acquired:
        if not acquired:
            return ImportBatch.objects.select_related("system").get(pk=batch_id)
        return _run_locked(batch_id, path=path, progress=progress)


def _run_locked(batch_id: int, *, path: Path | None, progress: Progress | None) -> ImportBatch:
    # Holding the run lock: a batch still marked running was left by a dead worker.
    claimed = ImportBatch.objects.filter(
        pk=batch_id, status__in=[BatchStatus.QUEUED, BatchStatus.RUNNING]
    ).update(
        status=BatchStatus.RUNNING,
        started_at=timezone.now(),
        progress=0,
        heartbeat_at=timezone.now(),
    )
    batch = ImportBatch.objects.select_related("system").get(pk=batch_id)
    if not claimed:
        return batch
    if batch.apply_requested and import_batch_supersede_if_newer(batch):
        return batch  # a stale file: not even read again
    if path is None and not batch.file:
        batch.status, batch.finished_at = BatchStatus.FAILED, timezone.now()
        batch.message = "The file of this batch was not kept; import it again."
        batch.save(update_fields=["status", "message", "finished_at"])
        return batch
    path = path or Path(batch.file.path)

    side = SideChannel()

    def report(phase: str, pct: int) -> None:
        # Through a second connection: the main one may be mid-COPY or inside the import's
        # transaction, and the browser's progress bar must see the figure now.
        batch.phase, batch.progress, batch.heartbeat_at = phase, min(pct, 100), timezone.now()
        side.execute(
            "UPDATE pipeline_importbatch SET phase = %s, progress = %s, heartbeat_at = now() "
            "WHERE id = %s AND status = %s",
            [batch.phase, batch.progress, batch.pk, BatchStatus.RUNNING],
        )
        if progress:
            progress(phase, batch.progress)

    ImportRowError.objects.filter(batch=batch).delete()
    ImportHeldRow.objects.filter(batch=batch).delete()
    batch.rows_held = 0
    findings_clear(batch)
    with connection.cursor() as cursor:
        # The import's sorts and hashes (distinct keys, golden rows per key) run over every
        # row of the file: in memory, not spilled to disk at the stock 4 MB.
        cursor.execute("SELECT set_config('work_mem', %s, false)", [IMPORT_WORK_MEM])
    try:
        with laps_recording() as laps:
            _run(batch, path, report)
            lap("commit")
        ImportBatch.objects.filter(pk=batch.pk).update(phases=laps.seconds)
    except ImportRejected as exc:
        _finish_rejected(batch, exc.message, exc.errors)
    except Exception as exc:
        logger.exception("import batch %s failed", batch.pk)
        batch.status = BatchStatus.FAILED
        batch.message = f"The import failed and wrote nothing: {type(exc).__name__}: {exc}"[:2000]
        batch.finished_at = timezone.now()
        batch.save(update_fields=["status", "message", "finished_at"])
    finally:
        side.close()
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS _raw, _norm, _checked, _pending, _held")
            cursor.execute("RESET work_mem")
    batch.refresh_from_db()
    return batch


def _run(batch: ImportBatch, path: Path, report) -> None:
    mapping = mapping_from_dict(batch.mapping)
    check_id_systems(mapping)
    report("reading", 0)
    fmt = sniff_file(path)
    lap("sniff")
    vendor_check(batch, fmt.header)
    mapping = spelled_as_file(mapping, fmt.header)
    positions, unknown = check_columns(mapping, fmt.header)
    batch.file_sha256, batch.file_size, batch.unknown_columns = fmt.sha256, fmt.size, unknown
    batch.save(update_fields=["file_sha256", "file_size", "unknown_columns"])
    if batch.apply_requested and not batch.deleted_ids and _same_as_last_applied(batch):
        return
    rows = copy_raw(path, fmt, report, list(positions.values()))
    lap("copy")
    if rows == 0 and not batch.deleted_ids:  # a sync may bring only deletions
        raise ImportRejected("The file has a header but no rows.")
    batch.rows_total = rows
    report("checking", 60)
    cols = normalise(mapping, positions, nul=bool(fmt.nul_bytes))
    lap("normalise")
    python_checks(mapping, cols)
    lap("python checks")
    errors_total = collect_errors(batch, cols)
    lap("errors")
    batch.preview = preview_first_rows(cols)
    batch.preview["values"] = picklists.values_found(cols)
    holding = (
        errors_total and batch.apply_mode == ApplyMode.VALID_ROWS and batch.rows_rejected < rows
    )
    if holding:
        batch.errors_total = errors_total
        hold_rows(batch, cols, fmt)
    elif errors_total:
        batch.errors_total = errors_total
        batch.status = BatchStatus.REJECTED
        batch.message = (
            f"{batch.rows_rejected:,} of {rows:,} rows have problems ({errors_total:,} in all). "
            "Nothing was imported: fix the file and upload it again."
        )
        batch.finished_at = timezone.now()
        batch.save()
        return
    findings_collect(batch, cols)
    if fmt.nul_bytes:
        nul_findings(batch, fmt, cols)
    picklists.unknown_values_blank(cols)
    lap("check")
    if batch.export_kind == ExportKind.FULL and _deletions_held(batch):
        return
    if not batch.apply_requested:
        batch.status = BatchStatus.PENDING
        batch.progress, batch.phase = 100, "checked"
        batch.message = _held_message(batch, applied=False)
        batch.save()
        return
    report("storing", 75)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
        if import_batch_supersede_if_newer(batch):  # under the lock: no newer batch can commit
            return
        created, updated = stage_pending(batch, cols)
        lap("stage")
        restored = deletions_restored_count(batch=batch) if updated else 0
        if created or updated:
            golden_resolve_pending(object_type=batch.object_type, batch_id=batch.id)
            golden_refresh_dependents(object_type=batch.object_type)
            lap("dependents")
        if batch.export_kind == ExportKind.FULL:
            batch.rows_deleted = deletions_mark_absent(batch=batch)
            lap("deletions")
        if batch.deleted_ids:
            batch.rows_deleted += deletions_mark_listed(batch=batch)
            lap("deletions")
        batch.rows_created, batch.rows_updated = created, updated - restored
        batch.rows_restored = restored
        batch.rows_unchanged = rows - batch.rows_held - created - updated
        batch.status = BatchStatus.APPLIED
        batch.progress, batch.phase = 100, "applied"
        batch.finished_at = timezone.now()
        batch.message = _held_message(batch, applied=True)
        batch.save()


def _held_message(batch: ImportBatch, *, applied: bool) -> str:
    if not batch.rows_held:
        return ""
    valid = batch.rows_total - batch.rows_held
    return (
        f"{valid:,} {'applied' if applied else 'will apply'}, {batch.rows_held:,} held: "
        f"{'the held rows were' if applied else 'rows with problems are'} not imported. "
        "Download them with their problems, fix them and import that file again."
    )


def _deletions_held(batch: ImportBatch) -> bool:
    """Count what a full export would mark deleted (shown on a checked batch as
    `rows_deleted`). One that would delete more than half the system's live records applies
    only once someone confirmed it: unconfirmed, it waits checked (or, when its file was not
    kept, is refused) and this returns True."""
    absent = deletions_absent_count(batch=batch)
    batch.rows_deleted = absent.absent
    if not (batch.apply_requested and batch.confirmed_at is None and absent.needs_confirmation):
        return False
    noun = batch.get_object_type_display().lower()
    would = (
        f"This full export does not hold {absent.absent:,} of the {absent.live:,} {noun} "
        f"records {batch.system.name} has ({absent.percent}%): applying it would mark them "
        "deleted."
    )
    batch.progress, batch.phase = 100, "checked"
    if batch.file:
        batch.status, batch.apply_requested = BatchStatus.PENDING, False
        batch.message = (
            f"{would} Nothing was applied. If the export is complete, confirm to apply it."
        )
    else:
        batch.status, batch.finished_at = BatchStatus.REJECTED, timezone.now()
        batch.message = (
            f"{would} Nothing was imported. If the export is complete, import it again with "
            "the deletions confirmed (import_records --confirm-deletions)."
        )
    batch.save()
    return True


def _same_as_last_applied(batch: ImportBatch) -> bool:
    """A file byte for byte the one last applied for this system and object, read with the
    same mapping, changes nothing: say so without checking and comparing every row again."""
    last = (
        ImportBatch.objects.filter(
            system=batch.system, object_type=batch.object_type, status=BatchStatus.APPLIED
        )
        .exclude(pk=batch.pk)
        .order_by("-finished_at", "-id")
        .first()
    )
    if last is None or last.file_sha256 != batch.file_sha256 or last.mapping != batch.mapping:
        return False
    if batch.export_kind == ExportKind.FULL and last.export_kind != ExportKind.FULL:
        return False  # the same rows, but now they say what else is gone
    # And the rows it wrote are still there, untouched since (nothing else writes source rows,
    # but a restore or a hand-made fix could have).
    model = SOURCE_MODELS[batch.object_type]
    stored = model.objects.filter(system=batch.system).aggregate(
        rows=Count("id"), changed=Max("updated_at")
    )
    if stored["rows"] < last.rows_total or (
        stored["changed"] is not None and stored["changed"] > last.finished_at
    ):
        return False
    batch.rows_total = batch.rows_unchanged = last.rows_total
    batch.rows_created = batch.rows_updated = 0
    batch.preview = last.preview
    batch.status, batch.progress, batch.phase = BatchStatus.APPLIED, 100, "applied"
    batch.message = (
        f"Identical to import #{last.pk}, the last one applied for these records: nothing changed."
    )
    batch.finished_at = timezone.now()
    batch.save()
    return True


def _finish_rejected(batch: ImportBatch, message: str, errors: list[RowError]) -> None:
    ImportRowError.objects.bulk_create(
        ImportRowError(
            batch=batch,
            row=e.row,
            column=e.column,
            field=e.field,
            value=e.value[:200],
            message=e.message,
        )
        for e in errors[:STORED_ERRORS_MAX]
    )
    batch.status = BatchStatus.REJECTED
    batch.errors_total = len(errors)
    batch.rows_rejected = len({e.row for e in errors if e.row})
    batch.message = f"{message} Nothing was imported."
    batch.finished_at = timezone.now()
    batch.save()
