"""Issue 12 with a real worker on real Redis: a worker killed mid-import, a newer file applied
meanwhile, and the old task delivered again must not put the old file over the newer one; a
batch whose worker died is marked failed within a minute and can be retried."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from pipeline.choices import BatchStatus
from pipeline.models import ImportBatch, Lead, LeadStageChange, SourceLead
from pipeline.services.import_runs import RUN_LOCK_CLASS
from pipeline.services.imports import import_batch_create, import_batch_run, mapping_for
from pipeline.tasks import import_batch_run_task, import_batches_reap_task
from revops.permissions import Role
from tests.pipeline.importing import crm, csv_text, lead_row
from tests.worker.conftest import TEST_REDIS_URL

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

ROWS = 3_000
QUEUE = "import-stale-test"


def leads_file(status: str) -> bytes:
    return csv_text([lead_row(i, Status=status) for i in range(1, ROWS + 1)]).encode()


def batch_for(status: str, name: str) -> ImportBatch:
    rules, preset = mapping_for(object_type="lead", preset="salesforce-lead")
    return import_batch_create(
        system=crm(), object_type="lead", mapping=rules, preset=preset, apply=True,
        file_name=name, content=SimpleUploadedFile(name, leads_file(status)),
    )  # fmt: skip


def side_connection(autocommit: bool = False) -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"], port=db["PORT"] or None, user=db["USER"], dbname=db["NAME"],
        autocommit=autocommit,
    )  # fmt: skip


def run_lock_held(batch_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = %s AND objid = %s AND objsubid = 2)",
            [RUN_LOCK_CLASS, batch_id],
        )
        return cursor.fetchone()[0]


def waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid())"
        )
        return cursor.fetchone()[0]


def status(batch_id: int) -> str:
    return ImportBatch.objects.values_list("status", flat=True).get(pk=batch_id)


@pytest.fixture
def redis_cleanup(celery_on_redis):
    yield
    # A killed worker's message stays unacknowledged in this Redis database: drop it, so no
    # later worker start delivers it into another test's database.
    from revops.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.client.delete("unacked", "unacked_index")
        for queue in (QUEUE, QUEUE + "-2"):
            conn.default_channel.client.delete(queue)


def publish(task, **options) -> None:
    """Send `task` to this process's test Redis on a connection of its own, whatever pools
    earlier tests of this process left in kombu's process-wide registry."""
    from revops.celery import app

    with app.connection_for_write(TEST_REDIS_URL) as connection:
        task.apply_async(connection=connection, **options)


def kill_mid_import(start_celery_worker, settings) -> tuple[ImportBatch, float]:
    """Start an import of the old file on a worker of its own, hold the source table so the
    import stops half-way while running, and SIGKILL the worker there. Returns the batch and
    when it was killed."""
    dedicated = start_celery_worker(queues=QUEUE)
    settings.MEDIA_ROOT = dedicated.media_root  # where every test worker reads uploads
    old = batch_for("Open - Not Contacted", "monday.csv")  # stage new
    blocker = side_connection()
    blocker.execute("LOCK TABLE pipeline_sourcelead IN ACCESS EXCLUSIVE MODE")
    try:
        publish(import_batch_run_task, args=[old.pk], queue=QUEUE)
        dedicated.wait_until(
            lambda: status(old.pk) == "running" and run_lock_held(old.pk) and waiting_on_a_lock(),
            timeout=90,
            what="the import to be running and stopped at the source table",
        )
        dedicated.kill()
        killed_at = time.monotonic()
        # client_connection_check_interval: the dead worker's backend ends within seconds.
        dedicated.wait_until(lambda: not run_lock_held(old.pk), timeout=30, what="the lock")
    finally:
        blocker.rollback()
        blocker.close()
    assert status(old.pk) == "running"  # nobody has said otherwise yet
    return old, killed_at


def apply_newer_file() -> ImportBatch:
    newer = batch_for("Marketing Qualified", "tuesday.csv")  # stage mql, uploaded later
    newer = import_batch_run(newer.pk)
    assert newer.status == BatchStatus.APPLIED
    assert set(Lead.objects.values_list("stage", flat=True)) == {"mql"}
    return newer


def assert_newer_data_kept(newer: ImportBatch) -> None:
    assert Lead.objects.count() == ROWS
    assert set(Lead.objects.values_list("stage", flat=True)) == {"mql"}
    assert set(SourceLead.objects.values_list("batch_id", flat=True)) == {newer.pk}
    assert set(SourceLead.objects.values_list("stage", flat=True)) == {"mql"}
    # No false regressions from MQL back to new in stage history.
    assert not LeadStageChange.objects.filter(to_stage="new", from_stage="mql").exists()


def test_a_task_redelivered_after_its_worker_was_killed_does_not_apply_over_a_newer_file(
    start_celery_worker, redis_cleanup, settings
):
    old, _ = kill_mid_import(start_celery_worker, settings)
    newer = apply_newer_file()

    # A worker starting with a short visibility timeout takes the dead worker's message back
    # from Redis, as any worker does after the (default one-hour) timeout.
    time.sleep(1.5)
    again = start_celery_worker(queues=QUEUE, env={"CELERY_VISIBILITY_TIMEOUT": "1"})
    # kombu sweeps for unacknowledged tasks about every 100 s (restore interval × throttle).
    again.wait_until(
        lambda: status(old.pk) == BatchStatus.SUPERSEDED, timeout=150, what="the old task to rerun"
    )

    old.refresh_from_db()
    assert old.message == (
        f"Batch #{newer.pk}, uploaded later, was applied first: this older file was not applied "
        "so it cannot overwrite newer data. Upload it again if it really is the newest."
    )
    assert "Task pipeline.import_batch_run[" in again.logs()
    assert_newer_data_kept(newer)


def test_a_dead_worker_is_noticed_within_a_minute_and_a_retry_never_overwrites_newer_data(
    start_celery_worker, worker, redis_cleanup, client_as, settings
):
    old, killed_at = kill_mid_import(start_celery_worker, settings)
    # The beat task, on a worker of its own with a short threshold (60 s by default).
    reaper = start_celery_worker(queues=QUEUE + "-2", env={"IMPORT_DEAD_AFTER_SECONDS": "3"})
    deadline = time.monotonic() + 60
    while status(old.pk) == BatchStatus.RUNNING and time.monotonic() < deadline:
        publish(import_batches_reap_task, queue=QUEUE + "-2")
        time.sleep(2)
    assert status(old.pk) == BatchStatus.FAILED
    assert time.monotonic() - killed_at < 60
    assert "Task pipeline.import_batches_reap[" in reaper.logs()
    old.refresh_from_db()
    assert old.message.startswith("The worker running this import stopped (no sign of life since ")
    assert old.message.endswith("). Nothing was applied. Retry it.")
    assert not SourceLead.objects.exists()

    newer = apply_newer_file()
    ops = client_as(Role.OPS)
    page = ops.get(reverse("pipeline:import-detail", args=[old.pk]))
    assert "Retry</button>" in page.text
    ops.post(reverse("pipeline:import-retry", args=[old.pk]))  # to the shared worker
    worker.wait_until(
        lambda: status(old.pk) == BatchStatus.SUPERSEDED, timeout=60, what="the retried run"
    )
    assert_newer_data_kept(newer)
