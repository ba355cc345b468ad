"""A sync on a real Celery worker on Redis, against the local fake of HubSpot's API: the
worker is killed in the middle of the pages; nothing is written, and the next sync resumes
from the last page the dead one stored instead of pulling everything again."""

from __future__ import annotations

import time

import pytest

from demo.fakes.hubspot import FakeHubSpot
from pipeline.choices import ConnectorAuth, SyncStatus, SyncTrigger
from pipeline.models import Lead, SyncRun
from pipeline.services.sync import connection_save, sync_start
from pipeline.services.systems import system_add
from pipeline.tasks import sync_run_task

QUEUE = "sync-kill-test"


@pytest.fixture
def hubspot():
    with FakeHubSpot() as fake:
        yield fake


def test_a_sync_whose_worker_is_killed_half_way_resumes_from_its_last_page(
    start_celery_worker, celery_on_redis, transactional_db, settings, tmp_path, hubspot
):
    for n in range(250):  # three pages of contacts
        hubspot.add("contacts", {"email": f"p{n}@acme.example", "lifecyclestage": "lead",
                                 "createdate": "2026-11-02T10:00:00.000Z"})  # fmt: skip
    hubspot.delay_next(60, path_contains="/objects/contacts?", skip=2)  # the third page hangs
    settings.MEDIA_ROOT = tmp_path
    system = system_add(by=None, name="HubSpot", role="marketing", vendor="hubspot")
    conn = connection_save(
        system=system, by=None, auth=ConnectorAuth.HUBSPOT_TOKEN, url=hubspot.base,
        token="pat-na1-test",
    )  # fmt: skip
    dedicated = start_celery_worker(
        queues=QUEUE, env={"MEDIA_ROOT": str(tmp_path), "CONNECTOR_TIMEOUT": "120"}
    )
    run = SyncRun.objects.create(connection=conn, trigger=SyncTrigger.BROWSER, full=True)
    sync_run_task.apply_async(args=[run.pk], queue=QUEUE)

    def pulled() -> int:
        run.refresh_from_db()
        return (run.progress.get("lead") or {}).get("pulled", 0)

    dedicated.wait_until(lambda: pulled() == 200, timeout=60, what="two pages of contacts")
    dedicated.kill()

    assert Lead.objects.count() == 0  # nothing half-written
    settings.IMPORT_DEAD_AFTER_SECONDS = 1  # no heartbeat for a second and no lock: dead
    time.sleep(1.5)
    pages_before = hubspot.count("GET", "/objects/contacts?")

    resumed = sync_start(conn=conn, trigger=SyncTrigger.COMMAND, run_now=True)

    run.refresh_from_db()
    assert run.status == SyncStatus.FAILED
    assert "worker running this sync stopped" in run.message
    assert resumed.status == SyncStatus.SUCCEEDED, resumed.message
    assert resumed.resumed_from_id == run.pk
    assert hubspot.count("GET", "/objects/contacts?") - pages_before == 1  # the third page only
    assert Lead.objects.count() == 250
    from revops.celery import app

    with app.connection_for_write() as connection:
        connection.default_channel.client.delete("unacked", "unacked_index")
    app.control.purge()
