"""Reconciliation runs on a real Celery worker consuming from real Redis: started from the API
and by the nightly task, and killed half-way without harm."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from pipeline.choices import SystemRole
from pipeline.models import Discrepancy, ReconciliationRun
from pipeline.selectors import reconciliation_run_current
from pipeline.services import reconciliation
from pipeline.services.identity import golden_resolve
from pipeline.tasks import reconciliation_nightly_task, reconciliation_run_task
from revops.db import advisory_lock_held
from revops.permissions import Role
from revops.weeks import IsoWeek
from tests.factories import SourceLeadFactory, SourceSystemFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

W = IsoWeek.of(timezone.localdate()).monday - timedelta(weeks=2)
MQL = datetime(W.year, W.month, W.day, 10, tzinfo=UTC) + timedelta(days=1)
LOCK = reconciliation.LOCK_NAME


def make_data() -> None:
    mkt = SourceSystemFactory(slug="hubspot", name="HubSpot", role=SystemRole.MARKETING)
    crm = SourceSystemFactory(slug="salesforce", name="Salesforce", role=SystemRole.SALES)
    SourceLeadFactory(system=mkt, email="a@acme.com", email_key="a@acme.com", owner="Ann")
    SourceLeadFactory(system=crm, email="a@acme.com", email_key="a@acme.com", owner="Bo")
    SourceLeadFactory(system=mkt, email="b@acme.com", email_key="b@acme.com", mql_at=MQL)
    golden_resolve()


def run_status(run_id: int) -> str:
    return ReconciliationRun.objects.values_list("status", flat=True).get(pk=run_id)


def test_a_worker_on_redis_executes_a_run_started_through_the_api(worker, client_as):
    make_data()
    response = client_as(Role.OPS).post(
        reverse("api:reconciliation-run-start"), {"weeks": 4}, content_type="application/json"
    )
    assert response.status_code == 202
    run_id = response.json()["id"]
    # Queued in Redis, not run in this process.
    assert response.json()["status"] == "queued"

    worker.wait_until(lambda: run_status(run_id) == "completed", what="the run to complete")

    run = ReconciliationRun.objects.get(pk=run_id)
    assert run.counts == {"lead.mismatch.owner": 1, "lead.missing_in_sales": 1}
    assert "pipeline.reconciliation_run[" in worker.logs()


def test_the_nightly_task_runs_on_the_worker(worker):
    make_data()
    reconciliation_nightly_task.delay(weeks=2)

    run = worker.wait_until(
        lambda: ReconciliationRun.objects.filter(trigger="schedule", status="completed").first(),
        what="the scheduled run",
    )
    assert (run.weeks, run.started_by, run.open_count) == (2, None, 2)


def _database_connection() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"], port=db["PORT"] or None, user=db["USER"], dbname=db["NAME"]
    )


def test_a_worker_killed_half_way_frees_the_lock_in_seconds_and_changes_nothing(
    start_celery_worker, celery_on_redis, transactional_db
):
    make_data()
    good = reconciliation.reconciliation_run_now(trigger="command", weeks=4)
    assert good.status == "completed"
    dedicated = start_celery_worker(queues="reconciliation-kill-test")
    blocker = _database_connection()
    # Hold the discrepancy table so the run stops half-way: compared, but not yet written.
    blocker.execute("LOCK TABLE pipeline_discrepancy IN ACCESS EXCLUSIVE MODE")
    try:
        run = ReconciliationRun.objects.create(trigger="api")
        reconciliation_run_task.apply_async(args=[run.pk], queue="reconciliation-kill-test")
        dedicated.wait_until(
            lambda: (
                run_status(run.pk) == "running" and advisory_lock_held(reconciliation.LOCK_NAME)
            ),
            what="the run to hold the lock",
        )
        time.sleep(0.5)

        dedicated.kill()
        killed_at = time.monotonic()
        dedicated.wait_until(
            lambda: not advisory_lock_held(LOCK),
            timeout=10,
            what="the lock to be freed",
        )
        freed_after = time.monotonic() - killed_at
    finally:
        blocker.rollback()
        blocker.close()

    # client_connection_check_interval is 1 s: the dead worker's statement ends that fast.
    assert freed_after < 5
    assert run_status(run.pk) == "running"  # nobody could say otherwise
    assert reconciliation.reconciliation_run_active() is None  # but it no longer counts
    assert reconciliation_run_current() == good
    assert set(Discrepancy.objects.values_list("last_seen_run_id", flat=True)) == {good.pk}

    after = reconciliation.reconciliation_run_now(trigger="command", weeks=4)

    assert after.status == "completed"
    assert run_status(run.pk) == "failed"
    assert reconciliation_run_current() == after
    # Clear the killed run's unacknowledged message from this Redis database.
    from revops.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.client.delete("unacked", "unacked_index")
    app.control.purge()
