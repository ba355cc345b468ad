"""Faults: the job queue unreachable or hung, a worker's child killed mid-task, a message
delivered twice, and the database dropping the app's connections under it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from pipeline.choices import BatchStatus
from pipeline.models import Discrepancy, ImportBatch, ReconciliationRun, SourceLead
from pipeline.selectors import reconciliation_run_current
from pipeline.services import reconciliation
from pipeline.services.imports import import_batch_create, mapping_for
from pipeline.tasks import import_batch_run_task, reconciliation_run_task
from revops.db import advisory_lock_held
from revops.permissions import Role
from revops.services import api_token_create
from tests.pipeline.importing import crm, csv_text, lead_row
from tests.worker.conftest import ROOT, _point_app_at, worker_database_url
from tests.worker.test_reconciliation_worker import (
    _database_connection,
    make_data,
    run_status,
)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
LOCK = reconciliation.LOCK_NAME


@contextmanager
def black_hole() -> Iterator[str]:
    """A Redis address that accepts connections and never answers (a hung server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        server.close()


@contextmanager
def broker(kind: str) -> Iterator[None]:
    """Point this process's Celery app at a broker that is down ("refused") or hung."""
    if kind == "refused":
        _point_app_at("redis://127.0.0.1:1/0")  # nothing listens on port 1
        try:
            yield
        finally:
            _point_app_at(None)
        return
    with black_hole() as url:
        _point_app_at(url)
        try:
            yield
        finally:
            _point_app_at(None)


@pytest.mark.parametrize("kind", ["refused", "hung"])
def test_starting_a_run_while_the_queue_is_down_says_so_and_changes_nothing(kind, client_as):
    make_data()
    good = reconciliation.reconciliation_run_now(trigger="command", weeks=4)
    discrepancies = set(Discrepancy.objects.values_list("pk", "last_seen_run_id"))
    ops = client_as(Role.OPS)

    with broker(kind):
        started = time.monotonic()
        page = ops.post(reverse("pipeline:reconciliation-run-start"), {"weeks": 4}, follow=True)
        took = time.monotonic() - started
        assert ops.get(reverse("home")).status_code == 200  # the web keeps serving

    assert page.status_code == 200
    assert "Could not reach the task queue, so nothing ran" in page.text
    assert took < 15, f"a {kind} queue held the request {took:.1f} s"
    run = ReconciliationRun.objects.latest("id")
    assert run.status == "failed"
    assert reconciliation_run_current() == good
    assert set(Discrepancy.objects.values_list("pk", "last_seen_run_id")) == discrepancies
    # Nothing is left half-started: the next run is not told one is already going.
    assert reconciliation.reconciliation_run_active() is None


def upload(client, content: str):
    return client.post(
        reverse("pipeline:import-new"),
        {
            "system": crm().pk,
            "object_type": "lead",
            "preset": "salesforce-lead",
            "file": SimpleUploadedFile("leads.csv", content.encode(), content_type="text/csv"),
        },
        follow=True,
    )


@pytest.mark.parametrize("kind", ["refused", "hung"])
def test_an_import_while_the_queue_is_down_says_so_and_imports_nothing(kind, client_as):
    ops = client_as(Role.OPS)
    with broker(kind):
        page = upload(ops, csv_text([lead_row(1), lead_row(2)]))
        assert ops.get(reverse("home")).status_code == 200

    assert "The import could not be queued" in page.text
    assert ImportBatch.objects.get().status == BatchStatus.FAILED
    assert not SourceLead.objects.exists()


def test_confirming_while_the_queue_is_down_keeps_the_checked_file_to_confirm_again(client_as):
    ops = client_as(Role.OPS)
    upload(ops, csv_text([lead_row(1), lead_row(2)]))  # checked in-process: no Redis here
    batch = ImportBatch.objects.get()
    assert batch.status == BatchStatus.PENDING

    with broker("refused"):
        page = ops.post(reverse("pipeline:import-confirm", args=[batch.pk]), follow=True)
    assert "Applying could not be queued" in page.text
    assert "Confirm and apply 2 rows" in page.text
    assert not SourceLead.objects.exists()

    ops.post(reverse("pipeline:import-confirm", args=[batch.pk]))  # the queue is back
    batch.refresh_from_db()
    assert (batch.status, batch.message) == (BatchStatus.APPLIED, "")
    assert SourceLead.objects.count() == 2


def test_a_task_lost_with_its_worker_child_is_redelivered_and_completes(
    start_celery_worker, celery_on_redis
):
    make_data()
    good = reconciliation.reconciliation_run_now(trigger="command", weeks=4)
    dedicated = start_celery_worker(queues="reconciliation-redeliver-test", pool="prefork")
    blocker = _database_connection()
    # Hold the discrepancy table so the run stops half-way: compared, but not yet written.
    blocker.execute("LOCK TABLE pipeline_discrepancy IN ACCESS EXCLUSIVE MODE")
    try:
        run = ReconciliationRun.objects.create(trigger="api", weeks=4)
        reconciliation_run_task.apply_async(args=[run.pk], queue="reconciliation-redeliver-test")
        dedicated.wait_until(
            lambda: (
                run_status(run.pk) == "running" and advisory_lock_held(reconciliation.LOCK_NAME)
            ),
            what="the run to hold the lock",
        )
        first_child = dedicated.kill_child()
        # The worker rejects the lost task back onto the queue and a new child takes it up.
        dedicated.wait_until(
            lambda: ReconciliationRun.objects.get(pk=run.pk).attempts == 2,
            what="the task to be delivered again",
        )
        assert first_child not in dedicated.children()
    finally:
        blocker.rollback()
        blocker.close()

    dedicated.wait_until(lambda: run_status(run.pk) == "completed", what="the rerun to finish")
    assert "WorkerLostError" in dedicated.logs()
    assert reconciliation_run_current().pk == run.pk != good.pk
    assert set(Discrepancy.objects.values_list("last_seen_run_id", flat=True)) == {run.pk}


def test_a_message_delivered_twice_does_the_work_once(worker):
    make_data()
    before = worker.logs()
    leads_before = SourceLead.objects.filter(system=crm()).count()
    run = ReconciliationRun.objects.create(trigger="api", weeks=4)
    reconciliation_run_task.delay(run.pk)
    reconciliation_run_task.delay(run.pk)  # as Redis does after a visibility timeout
    rules, preset = mapping_for(object_type="lead", preset="salesforce-lead")
    content = csv_text([lead_row(1), lead_row(2)]).encode()
    batch = import_batch_create(
        system=crm(), object_type="lead", mapping=rules, preset=preset, apply=True,
        file_name="leads.csv", content=SimpleUploadedFile("leads.csv", content),
    )  # fmt: skip
    import_batch_run_task.delay(batch.pk)
    import_batch_run_task.delay(batch.pk)

    def finished(task: str) -> int:
        return worker.logs()[len(before) :].count(f"Task {task}[") // 2  # received, succeeded

    worker.wait_until(
        lambda: (
            finished("pipeline.import_batch_run") == 2
            and finished("pipeline.reconciliation_run") == 2
        ),
        what="both deliveries of both tasks",
    )
    run.refresh_from_db()
    batch.refresh_from_db()
    assert (run.status, run.attempts) == ("completed", 1)
    assert (batch.status, batch.rows_created) == (BatchStatus.APPLIED, 2)
    assert SourceLead.objects.filter(system=crm()).count() == leads_before + 2
    assert ReconciliationRun.objects.count() == 1


def test_requests_succeed_right_after_the_database_drops_the_apps_connections(ops_user):
    """What a PostgreSQL restart does to a running app: every connection it holds is closed by
    the server. gunicorn keeps its connections (CONN_MAX_AGE); CONN_HEALTH_CHECKS must notice
    the dead one before the request uses it."""
    _, key = api_token_create(by=ops_user, name="probe")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "DEBUG": "1",
        "CONN_MAX_AGE": "600",
        "DJANGO_SETTINGS_MODULE": "revops.settings",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "revops.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", "1", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def get(path: str) -> tuple[int, bytes]:
        request = Request(base + path, headers={"Authorization": f"Token {key}"})
        try:
            with urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except HTTPError as exc:
            return exc.code, exc.read()

    api = reverse("api:reconciliation-run-list")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                get("/healthz")
                break
            except URLError:
                if time.monotonic() > deadline or server.poll() is not None:
                    server.kill()
                    pytest.fail(f"gunicorn did not start:\n{server.stdout.read()}")
                time.sleep(0.2)
        assert get(api)[0] == 200
        with _database_connection() as admin:
            admin.autocommit = True
            dropped = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND pid <> %s AND backend_type = 'client backend'",
                [connection.connection.info.backend_pid],
            ).fetchone()[0]
        assert dropped >= 1  # gunicorn's connection, kept between requests

        assert get("/healthz") == (200, b'{"status": "ok"}')
        assert get(api)[0] == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)
