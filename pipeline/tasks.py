"""Celery tasks of the pipeline: thin wrappers that call services. Task names are explicit so
that the beat schedule stored in the database keeps working when code moves."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.exceptions import ValidationError

logger = logging.getLogger(__name__)


@shared_task(name="pipeline.import_batch_run", acks_late=True)
def import_batch_run_task(batch_id: int) -> None:
    # Imported here: services import this module to enqueue, so a top-level import would loop.
    from pipeline.services.imports import import_batch_run

    import_batch_run(batch_id)  # claims the batch; a redelivered task finds it done


@shared_task(name="pipeline.import_batches_reap", acks_late=True)
def import_batches_reap_task() -> int:
    """Every minute (django-celery-beat): mark failed the imports whose worker died."""
    from pipeline.services.import_runs import import_batches_reap
    from pipeline.services.sync import syncs_reap

    return len(import_batches_reap()) + len(syncs_reap())


@shared_task(name="pipeline.reconciliation_run", acks_late=True)
def reconciliation_run_task(run_id: int) -> str:
    """Execute a run queued from the browser or the API."""
    from pipeline.services import reconciliation  # in-body: services import this module

    return reconciliation.reconciliation_execute(run_id=run_id).status


@shared_task(name="pipeline.sync_run", acks_late=True)
def sync_run_task(run_id: int) -> str:
    """Pull a connection's records from its API (queued from the browser or the command)."""
    from pipeline.services.sync import sync_execute

    return sync_execute(run_id).status


@shared_task(name="pipeline.syncs_nightly", acks_late=True)
def syncs_nightly_task() -> int:
    """The scheduled syncs (django-celery-beat, 01:30 by default): each nightly connection, one
    after another. Returns how many ran."""
    from pipeline.services.sync import syncs_nightly

    return len(syncs_nightly())


# A scheduled reconciliation waits this long at most for the night's syncs to end, looking
# every SYNC_POLL_SECONDS.
SYNC_WAIT_SECONDS = 3 * 3600
SYNC_POLL_SECONDS = 2


@shared_task(name="pipeline.reconciliation_nightly", acks_late=True)
def reconciliation_nightly_task(weeks: int = 104) -> str:
    """The scheduled run (django-celery-beat, 02:00 by default), once the night's syncs have
    ended (or after SYNC_WAIT_SECONDS, reconciling what is there)."""
    import time

    from pipeline.choices import ReconciliationTrigger
    from pipeline.services import reconciliation
    from pipeline.services.sync import syncs_active

    deadline = time.monotonic() + SYNC_WAIT_SECONDS
    while syncs_active() and time.monotonic() < deadline:
        time.sleep(SYNC_POLL_SECONDS)

    try:
        run = reconciliation.reconciliation_run_now(
            trigger=ReconciliationTrigger.SCHEDULE, weeks=weeks
        )
    except ValidationError as exc:  # no pair of systems yet: nothing to compare, say why
        logger.info("Scheduled reconciliation did not run: %s", " ".join(exc.messages))
        return "not run: " + " ".join(exc.messages)
    return run.status
