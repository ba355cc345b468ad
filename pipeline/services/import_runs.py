"""The life of an import's run: who may apply, whether its worker is still alive, and retrying
one whose worker died.

- A run holds a session-level advisory lock keyed by its batch (`import_batch_run_lock`) from
  before it claims the batch until its outcome is stored. The lock lives with the connection,
  so a worker killed mid-import loses it within a second or two (client_connection_check_interval)
  even in the middle of a long statement, while a run busy for minutes in one statement keeps
  it: a better sign of life than `heartbeat_at`, which moves only on progress steps.
- A batch applies only if no batch of the same system and object uploaded after it has been
  applied (`import_batch_supersede_if_newer`); otherwise it ends superseded, applying nothing.
  The importer checks it under WRITE_LOCK inside the apply transaction, so two batches cannot
  race past the check.
- `import_batches_reap` marks failed a running batch whose lock nobody holds and whose
  heartbeat is old (beat, every minute; and lazily when the batch pages are read).

Redelivery, reaper and retry: a message redelivered for a batch still marked running takes the
lock (its dead owner's is gone) and runs the file again, and the supersede check stops it from
writing over newer data. A batch the reaper marked failed stays failed when its old message
comes back: only `import_batch_retry` queues it again, and any message then runs it once.
"""

from __future__ import annotations

import contextlib
import logging

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from pipeline.choices import BatchStatus
from pipeline.models import ImportBatch
from revops.db import advisory_lock

logger = logging.getLogger(__name__)

# pg_advisory_lock(RUN_LOCK_CLASS, batch id): the two-key form, so pg_locks shows the batch id
# as objid and the reaper can join it in SQL (objsubid 2). Distinct from identity.WRITE_LOCK
# (one key).
RUN_LOCK_CLASS = 7_303_002


def import_batch_run_lock(
    batch_id: int, *, wait: float = 0
) -> contextlib.AbstractContextManager[bool]:
    """Hold the batch's run lock on Django's connection for the block, waiting at most `wait`
    seconds. Yields False when another session holds it (a live run of the same batch). A
    killed worker's backend notices within a second, even mid-statement, rolls back and frees
    the lock, rather than holding it until the statement ends. No statement time limit: an
    import of a large file may run long."""
    return advisory_lock((RUN_LOCK_CLASS, batch_id), statement_timeout=None, wait=wait)


def import_batch_newer_applied(batch: ImportBatch) -> ImportBatch | None:
    """The latest-uploaded applied batch of the same system and object uploaded after `batch`
    (by created_at, then id: one transaction's batches share a created_at), if any."""
    return (
        ImportBatch.objects.filter(
            system_id=batch.system_id, object_type=batch.object_type, status=BatchStatus.APPLIED
        )
        .filter(
            Q(created_at__gt=batch.created_at) | Q(created_at=batch.created_at, pk__gt=batch.pk)
        )
        .order_by("-created_at", "-pk")
        .first()
    )


def superseded_message(newer: ImportBatch) -> str:
    return (
        f"Batch #{newer.pk}, uploaded later, was applied first: this older file was not applied "
        "so it cannot overwrite newer data. Upload it again if it really is the newest."
    )


def import_batch_supersede_if_newer(batch: ImportBatch) -> bool:
    """End `batch` superseded, applying nothing, when a newer file of the same system and object
    has been applied. The importer calls it under WRITE_LOCK inside the apply transaction, so
    no newer batch can commit between this check and the write."""
    newer = import_batch_newer_applied(batch)
    if newer is None:
        return False
    batch.status, batch.phase = BatchStatus.SUPERSEDED, "superseded"
    batch.rows_created = batch.rows_updated = batch.rows_unchanged = 0
    batch.message = superseded_message(newer)
    batch.finished_at = timezone.now()
    batch.save()
    return True


_REAP_SQL = """
UPDATE pipeline_importbatch b
SET status = %(failed)s,
    finished_at = now(),
    message = 'The worker running this import stopped (no sign of life since '
        || to_char(coalesce(b.heartbeat_at, b.started_at, b.created_at) AT TIME ZONE %(tz)s,
                   CASE WHEN (coalesce(b.heartbeat_at, b.started_at, b.created_at)
                              AT TIME ZONE %(tz)s)::date = (now() AT TIME ZONE %(tz)s)::date
                        THEN 'HH24:MI' ELSE 'YYYY-MM-DD HH24:MI' END)
        || '). Nothing was applied. '
        || CASE WHEN b.file <> '' THEN 'Retry it.' ELSE 'Import the file again.' END
WHERE b.status = %(running)s
  AND coalesce(b.heartbeat_at, b.started_at, b.created_at)
      < now() - make_interval(secs => %(after)s)
  AND NOT EXISTS (
      SELECT 1 FROM pg_locks l
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid = %(lock_class)s AND l.objid = b.id)
RETURNING b.id
"""


def import_batches_reap() -> list[int]:
    """Mark failed every running batch whose worker died: no session holds its run lock and
    it showed no sign of life for IMPORT_DEAD_AFTER_SECONDS. One statement: a run that takes its
    lock meanwhile is either seen holding it or, reaped first, finds the batch failed and leaves
    it. Returns the ids it marked."""
    with connection.cursor() as cursor:
        cursor.execute(
            _REAP_SQL,
            {
                "failed": BatchStatus.FAILED,
                "running": BatchStatus.RUNNING,
                "tz": settings.TIME_ZONE,
                "after": settings.IMPORT_DEAD_AFTER_SECONDS,
                "lock_class": RUN_LOCK_CLASS,
            },
        )
        return [row[0] for row in cursor.fetchall()]


@transaction.atomic
def import_batch_retry(*, batch: ImportBatch, by: AbstractBaseUser | None) -> ImportBatch:
    """Queue a failed batch to run its file again (checked again; applied if it was to apply,
    and superseded instead if a newer file has been applied meanwhile). Refuses a batch that did
    not fail or whose file was not kept."""
    if batch.status == BatchStatus.FAILED and not batch.file:
        raise ValidationError(
            f"Batch #{batch.pk} kept no copy of its file (it was read from the command line's "
            "disk): import the file again."
        )
    claimed = ImportBatch.objects.filter(pk=batch.pk, status=BatchStatus.FAILED).update(
        status=BatchStatus.QUEUED,
        progress=0,
        phase="",
        message="",
        started_at=None,
        heartbeat_at=None,
        finished_at=None,
    )
    batch.refresh_from_db()
    if not claimed:
        raise ValidationError(
            f"Batch #{batch.pk} is {batch.get_status_display().lower()}; only a failed batch "
            "can be retried."
        )
    from pipeline.services.imports import import_batch_enqueue  # the importer imports this module

    logger.info("import batch %s retried by %s", batch.pk, getattr(by, "username", "the system"))
    import_batch_enqueue(batch)
    return batch
