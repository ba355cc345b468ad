"""Stale retries (issue 12) without a worker: an older file never applies over a newer one,
a batch whose worker died is marked failed with a Retry, and a retried or redelivered batch
runs once and never over newer data."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from pipeline.choices import BatchStatus
from pipeline.models import ImportBatch, Lead, LeadStageChange, SourceLead
from pipeline.services.import_runs import RUN_LOCK_CLASS, import_batches_reap
from pipeline.services.imports import (
    WRITE_LOCK,
    import_batch_confirm,
    import_batch_create,
    import_batch_run,
    mapping_for,
)
from revops.permissions import Role
from tests.pipeline.importing import crm, csv_text, lead_row

pytestmark = pytest.mark.django_db

OLD_STATUS = "Open - Not Contacted"  # stage new
NEW_STATUS = "Marketing Qualified"  # stage mql


def leads_file(status: str, n: int = 3) -> bytes:
    return csv_text([lead_row(i, Status=status) for i in range(1, n + 1)]).encode()


def batch_for(content: bytes, *, apply: bool = True, name: str = "leads.csv") -> ImportBatch:
    """A batch as the browser or the API makes it: the upload is kept with the batch."""
    rules, preset = mapping_for(object_type="lead", preset="salesforce-lead")
    return import_batch_create(
        system=crm(),
        object_type="lead",
        mapping=rules,
        preset=preset,
        apply=apply,
        file_name=name,
        content=SimpleUploadedFile(name, content),
    )


def stages() -> set[str]:
    return set(Lead.objects.values_list("stage", flat=True))


def regressions() -> int:
    """Stage history entries that go from MQL back to new, as the stale retry wrote."""
    return LeadStageChange.objects.filter(from_stage="mql", to_stage="new").count()


def uploaded(batch: ImportBatch, ago: timedelta) -> None:
    ImportBatch.objects.filter(pk=batch.pk).update(created_at=timezone.now() - ago)


# --- Superseded -----------------------------------------------------------------------------


def test_an_older_file_run_after_a_newer_one_applied_is_superseded_and_changes_nothing():
    older = batch_for(leads_file(OLD_STATUS), name="monday.csv")
    newer = batch_for(leads_file(NEW_STATUS), name="tuesday.csv")
    uploaded(older, timedelta(hours=2))
    uploaded(newer, timedelta(hours=1))
    assert import_batch_run(newer.pk).status == BatchStatus.APPLIED

    older = import_batch_run(older.pk)  # the stale retry, an hour late

    assert older.status == BatchStatus.SUPERSEDED
    assert older.message == (
        f"Batch #{newer.pk}, uploaded later, was applied first: this older file was not applied "
        "so it cannot overwrite newer data. Upload it again if it really is the newest."
    )
    assert older.rows_created == older.rows_updated == 0
    assert stages() == {"mql"}
    assert regressions() == 0
    assert set(SourceLead.objects.values_list("batch_id", flat=True)) == {newer.pk}


def test_upload_time_decides_not_the_order_the_batches_were_created_in():
    # A batch created later may carry an earlier upload time (created_at is the upload's).
    newer = batch_for(leads_file(NEW_STATUS))
    older = batch_for(leads_file(OLD_STATUS))
    uploaded(newer, timedelta(minutes=5))
    uploaded(older, timedelta(minutes=30))
    import_batch_run(newer.pk)
    assert import_batch_run(older.pk).status == BatchStatus.SUPERSEDED
    assert stages() == {"mql"}


def test_files_applied_in_upload_order_all_apply():
    first = batch_for(leads_file(OLD_STATUS))
    second = batch_for(leads_file(NEW_STATUS))
    assert import_batch_run(first.pk).status == BatchStatus.APPLIED
    assert import_batch_run(second.pk).status == BatchStatus.APPLIED
    assert stages() == {"mql"}


def test_a_newer_file_of_another_system_does_not_supersede():
    from pipeline.models import SourceSystem

    other = SourceSystem.objects.create(slug="other-crm", name="Other CRM", role="sales")
    older = batch_for(leads_file(OLD_STATUS))
    rules, preset = mapping_for(object_type="lead", preset="salesforce-lead")
    elsewhere = import_batch_create(
        system=other, object_type="lead", mapping=rules, preset=preset, apply=True,
        file_name="x.csv", content=SimpleUploadedFile("x.csv", leads_file(NEW_STATUS)),
    )  # fmt: skip
    assert import_batch_run(elsewhere.pk).status == BatchStatus.APPLIED
    assert import_batch_run(older.pk).status == BatchStatus.APPLIED


def test_a_checked_older_file_confirmed_after_a_newer_one_applied_is_superseded(
    client_as, django_capture_on_commit_callbacks
):
    checked = batch_for(leads_file(OLD_STATUS), apply=False)
    assert import_batch_run(checked.pk).status == BatchStatus.PENDING
    newer = batch_for(leads_file(NEW_STATUS))
    import_batch_run(newer.pk)

    ops = client_as(Role.OPS)
    page = ops.get(reverse("pipeline:import-detail", args=[checked.pk]))
    assert f"import #{newer.pk}</a>, has been applied: confirming this older one" in page.text

    with django_capture_on_commit_callbacks(execute=True):
        import_batch_confirm(batch=checked, by=None)
    checked.refresh_from_db()
    assert checked.status == BatchStatus.SUPERSEDED
    assert f"Batch #{newer.pk}, uploaded later" in checked.message
    assert stages() == {"mql"}
    page = ops.get(reverse("pipeline:import-detail", args=[checked.pk]))
    assert "Superseded (nothing applied)" in page.text
    assert "Retry</button>" not in page.text


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_newer_file_applied_while_an_older_one_waits_for_the_import_lock_wins():
    """The race the lock closes: the older batch passed every early check, then a newer one
    committed while the older waited to write. The check under the lock still sees it."""
    older = batch_for(leads_file(OLD_STATUS))
    newer = batch_for(leads_file(NEW_STATUS))
    import_batch_run(newer.pk)
    # Undo the newer batch's outcome: a rival import that will commit it while holding the lock.
    ImportBatch.objects.filter(pk=newer.pk).update(status=BatchStatus.RUNNING)
    db = connection.settings_dict
    rival = psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"])
    rival.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
    rival.execute(
        "UPDATE pipeline_importbatch SET status = 'applied' WHERE id = %s", [newer.pk]
    )  # not committed: the older batch's early check cannot see it
    outcome: dict = {}

    def run_older() -> None:
        try:
            outcome["batch"] = import_batch_run(older.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=run_older)
    thread.start()
    deadline = time.monotonic() + 60
    waiting = False
    while time.monotonic() < deadline and not waiting:
        waiting = rival.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
            "AND NOT granted AND objid = %s)",
            [WRITE_LOCK],
        ).fetchone()[0]
        time.sleep(0.1)
    assert waiting, "the older batch never reached the import lock"
    rival.commit()
    rival.close()
    thread.join(timeout=60)

    assert outcome["batch"].status == BatchStatus.SUPERSEDED
    assert f"Batch #{newer.pk}" in outcome["batch"].message
    assert stages() == {"mql"}
    assert regressions() == 0


def test_the_api_lists_superseded_batches_by_their_status(client_as):
    older = batch_for(leads_file(OLD_STATUS))
    newer = batch_for(leads_file(NEW_STATUS))
    import_batch_run(newer.pk)
    import_batch_run(older.pk)
    api = client_as(Role.OPS)
    listed = api.get(reverse("api:import-list"), {"status": "superseded"}).json()["results"]
    assert [(b["id"], b["status"]) for b in listed] == [(older.pk, "superseded")]
    assert "uploaded later, was applied first" in listed[0]["message"]
    page = api.get(reverse("pipeline:import-list"))
    assert "status-superseded" in page.text


# --- Dead workers ---------------------------------------------------------------------------


def running(batch: ImportBatch, *, silent_for: timedelta) -> ImportBatch:
    """The batch as a killed worker left it: running, 75% stored, no sign of life since."""
    last = timezone.now() - silent_for
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.RUNNING, phase="storing", progress=75, started_at=last, heartbeat_at=last
    )
    batch.refresh_from_db()
    return batch


def side_connection() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"], autocommit=True
    )


def test_a_running_batch_whose_worker_died_is_marked_failed_naming_its_last_sign_of_life():
    batch = running(batch_for(leads_file(OLD_STATUS)), silent_for=timedelta(seconds=90))
    assert import_batches_reap() == [batch.pk]
    batch.refresh_from_db()
    since = timezone.localtime(batch.heartbeat_at).strftime("%H:%M")
    assert batch.status == BatchStatus.FAILED
    assert batch.message == (
        f"The worker running this import stopped (no sign of life since {since}). "
        "Nothing was applied. Retry it."
    )
    assert batch.finished_at is not None


def test_a_run_that_holds_its_lock_is_alive_however_long_its_statement_takes():
    batch = running(batch_for(leads_file(OLD_STATUS)), silent_for=timedelta(minutes=10))
    with side_connection() as worker:
        worker.execute("SELECT pg_advisory_lock(%s, %s)", [RUN_LOCK_CLASS, batch.pk])
        assert import_batches_reap() == []
    batch.refresh_from_db()
    assert batch.status == BatchStatus.RUNNING


def test_a_run_that_reported_progress_recently_is_left_running(settings):
    settings.IMPORT_DEAD_AFTER_SECONDS = 60
    batch = running(batch_for(leads_file(OLD_STATUS)), silent_for=timedelta(seconds=20))
    assert import_batches_reap() == []
    batch.refresh_from_db()
    assert batch.status == BatchStatus.RUNNING


def test_a_dead_run_without_its_file_says_to_import_it_again(tmp_path: Path):
    path = tmp_path / "leads.csv"
    path.write_bytes(leads_file(OLD_STATUS))
    rules, preset = mapping_for(object_type="lead", preset="salesforce-lead")
    batch = import_batch_create(
        system=crm(), object_type="lead", mapping=rules, preset=preset, apply=True, path=path
    )  # the command line reads the file where it is and keeps no copy
    running(batch, silent_for=timedelta(minutes=5))
    import_batches_reap()
    batch.refresh_from_db()
    assert batch.message.endswith("Nothing was applied. Import the file again.")


def test_the_batch_page_shows_a_dead_run_failed_with_a_retry_button_for_ops(client_as):
    batch = running(batch_for(leads_file(OLD_STATUS)), silent_for=timedelta(minutes=2))
    page = client_as(Role.OPS).get(reverse("pipeline:import-detail", args=[batch.pk]))
    assert "Failed (nothing applied)" in page.text
    assert "The worker running this import stopped" in page.text
    assert "Retry</button>" in page.text
    exec_page = client_as(Role.EXECUTIVE).get(reverse("pipeline:import-list"))
    assert exec_page.status_code == 403  # imports are ops' pages


def test_the_batch_list_and_the_api_show_a_dead_run_failed(client_as):
    batch = running(batch_for(leads_file(OLD_STATUS)), silent_for=timedelta(minutes=2))
    ops = client_as(Role.OPS)
    assert "status-failed" in ops.get(reverse("pipeline:import-list")).text
    ImportBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.RUNNING)
    body = ops.get(reverse("api:import-detail", args=[batch.pk])).json()
    assert body["status"] == "failed"
    assert body["message"].startswith("The worker running this import stopped (no sign of life")


# --- Retry and redelivery -------------------------------------------------------------------


def test_retry_runs_the_same_file_again(client_as, django_capture_on_commit_callbacks):
    batch = running(batch_for(leads_file(NEW_STATUS)), silent_for=timedelta(minutes=2))
    import_batches_reap()
    ops = client_as(Role.OPS)
    with django_capture_on_commit_callbacks(execute=True):
        page = ops.post(reverse("pipeline:import-retry", args=[batch.pk]), follow=True)
    assert f"Import #{batch.pk} is queued to run its file again." in page.text
    batch.refresh_from_db()
    assert (batch.status, batch.rows_created, batch.message) == (BatchStatus.APPLIED, 3, "")
    assert stages() == {"mql"}


def test_retry_after_a_newer_file_applied_ends_superseded(
    client_as, django_capture_on_commit_callbacks
):
    stale = running(batch_for(leads_file(OLD_STATUS)), silent_for=timedelta(minutes=2))
    import_batches_reap()
    newer = batch_for(leads_file(NEW_STATUS))
    import_batch_run(newer.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(Role.OPS).post(reverse("api:import-retry", args=[stale.pk]))
    assert response.status_code == 202
    stale.refresh_from_db()
    assert stale.status == BatchStatus.SUPERSEDED
    assert stages() == {"mql"}
    assert regressions() == 0


def test_only_a_failed_batch_can_be_retried(client_as):
    batch = batch_for(leads_file(OLD_STATUS))
    import_batch_run(batch.pk)
    ops = client_as(Role.OPS)
    page = ops.post(reverse("pipeline:import-retry", args=[batch.pk]), follow=True)
    assert "only a failed batch can be retried" in page.text
    response = ops.post(reverse("api:import-retry", args=[batch.pk]))
    assert response.status_code == 400
    assert "only a failed batch can be retried" in str(response.json())
    assert ops.post(reverse("api:import-retry", args=[999_999])).status_code == 404


def test_a_failed_batch_without_its_file_cannot_be_retried(client_as, tmp_path: Path):
    path = tmp_path / "leads.csv"
    path.write_bytes(leads_file(OLD_STATUS))
    rules, preset = mapping_for(object_type="lead", preset="salesforce-lead")
    batch = import_batch_create(
        system=crm(), object_type="lead", mapping=rules, preset=preset, apply=True, path=path
    )
    running(batch, silent_for=timedelta(minutes=5))
    ops = client_as(Role.OPS)
    page = ops.get(reverse("pipeline:import-detail", args=[batch.pk]))
    assert "Retry</button>" not in page.text
    response = ops.post(reverse("api:import-retry", args=[batch.pk]))
    assert response.status_code == 400
    assert "import the file again" in str(response.json())


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.SALES_LEAD, Role.MARKETING_LEAD, None])
def test_only_ops_may_retry(role, client_as):
    batch = running(batch_for(leads_file(OLD_STATUS)), silent_for=timedelta(minutes=2))
    import_batches_reap()
    client = client_as(role)
    page = client.post(reverse("pipeline:import-retry", args=[batch.pk]))
    api = client.post(reverse("api:import-retry", args=[batch.pk]))
    assert (page.status_code, api.status_code) == (403, 403)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.FAILED


def test_a_redelivered_message_for_a_batch_the_reaper_failed_does_nothing():
    batch = running(batch_for(leads_file(OLD_STATUS)), silent_for=timedelta(minutes=2))
    import_batches_reap()
    assert import_batch_run(batch.pk).status == BatchStatus.FAILED
    assert not SourceLead.objects.exists()


def test_a_redelivered_message_for_a_batch_left_running_by_a_dead_worker_runs_it():
    batch = running(batch_for(leads_file(OLD_STATUS)), silent_for=timedelta(seconds=5))
    batch = import_batch_run(batch.pk)
    assert (batch.status, batch.rows_created) == (BatchStatus.APPLIED, 3)


def test_a_second_delivery_while_a_live_run_holds_the_batch_leaves_it_alone():
    batch = running(batch_for(leads_file(OLD_STATUS)), silent_for=timedelta(seconds=1))
    with side_connection() as live_worker:
        live_worker.execute("SELECT pg_advisory_lock(%s, %s)", [RUN_LOCK_CLASS, batch.pk])
        again = import_batch_run(batch.pk)
    assert (again.status, again.progress) == (BatchStatus.RUNNING, 75)
    assert not SourceLead.objects.exists()


def test_the_reaper_runs_every_minute_on_beat():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.select_related("interval").get(task="pipeline.import_batches_reap")
    assert (task.interval.every, task.interval.period, task.enabled) == (1, "minutes", True)
