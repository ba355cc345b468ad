"""HubSpot syncs against a local fake of its CRM API (demo/fakes/hubspot.py): a first sync,
an incremental one with an update and an archive, a 429 in the middle of the pages, an expired
token, and a sync that died half-way resumed from its cursor."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.choices import ConnectorAuth, SyncStatus, SyncTrigger, Vendor
from pipeline.models import Account, Connection, Deal, Lead, SourceLead, SyncRun
from pipeline.services.sync import connection_save, connection_test, sync_start
from pipeline.services.systems import system_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def system(ops_user):
    return system_add(by=ops_user, name="HubSpot", role="marketing", vendor=Vendor.HUBSPOT)


def connect(system, fake, ops_user, token="pat-na1-test") -> Connection:
    return connection_save(
        system=system, by=ops_user, auth=ConnectorAuth.HUBSPOT_TOKEN, url=fake.base, token=token
    )


def sync(conn: Connection) -> SyncRun:
    conn.refresh_from_db()
    return sync_start(conn=conn, trigger=SyncTrigger.COMMAND, run_now=True)


YESTERDAY = datetime.now(UTC) - timedelta(days=1)


def contact(fake, n: int, company: str = "", **props) -> str:
    """A contact last changed yesterday: a sync today pulls it again only if it changes."""
    return fake.add(
        "contacts",
        {
            "email": f"lead{n}@acme.example",
            "firstname": f"Lead{n}",
            "lastname": "Test",
            "lifecyclestage": "marketingqualifiedlead",
            "createdate": "2026-10-05T09:00:00.000Z",
            "hs_lifecyclestage_marketingqualifiedlead_date": "2026-10-06T09:00:00.000Z",
            "hs_analytics_source": "ORGANIC_SEARCH",
            "associatedcompanyid": company,
            **props,
        },
        at=YESTERDAY,
    )


def test_first_sync_pulls_every_record_into_the_golden_records(hubspot, system, ops_user):
    acme = hubspot.add("companies", {"name": "Acme", "domain": "acme.example"})
    for n in range(3):
        contact(hubspot, n, acme)
    hubspot.add(
        "deals",
        {
            "dealname": "Acme renewal",
            "dealstage": "closedwon",
            "amount": "1200.50",
            "closedate": "2026-11-02T00:00:00.000Z",
            "createdate": "2026-10-10T00:00:00.000Z",
            "dealtype": "newbusiness",
            "pipeline": "default",
        },
        associations={"companies": [acme]},
    )
    conn = connect(system, hubspot, ops_user)

    run = sync(conn)

    assert run.status == SyncStatus.SUCCEEDED, run.message
    assert run.full
    assert Lead.objects.filter(deleted_at__isnull=True).count() == 3
    lead = Lead.objects.get(email="lead0@acme.example")
    assert lead.stage == "mql"
    assert lead.mql_at == datetime(2026, 10, 6, 9, tzinfo=UTC)
    assert lead.account.name == "Acme"
    deal = Deal.objects.get()
    assert (deal.name, deal.stage, str(deal.amount)) == (
        "Acme renewal",
        "closed_won",
        "1200.500000",
    )
    assert deal.account == Account.objects.get(domain="acme.example")
    assert run.progress["lead"]["created"] == 3
    assert run.progress["deal"]["created"] == 1
    assert run.api_calls >= 3
    conn.refresh_from_db()
    assert set(conn.cursors) == {"account", "lead", "deal"}
    assert conn.last_synced_at == run.started_at


def test_a_later_sync_pulls_only_what_changed_and_the_archived(hubspot, system, ops_user):
    ids = [contact(hubspot, n) for n in range(4)]
    conn = connect(system, hubspot, ops_user)
    assert sync(conn).status == SyncStatus.SUCCEEDED
    later = datetime.now(UTC) + timedelta(minutes=10)
    hubspot.update("contacts", ids[1], {"lifecyclestage": "salesqualifiedlead",
                                        "hs_lifecyclestage_salesqualifiedlead_date":
                                        "2026-11-20T10:00:00.000Z"}, at=later)  # fmt: skip
    hubspot.archive("contacts", ids[2], at=later)
    searches_before = hubspot.count("POST", "/contacts/search")

    run = sync(conn)

    assert run.status == SyncStatus.SUCCEEDED, run.message
    assert not run.full
    assert hubspot.count("POST", "/contacts/search") > searches_before
    assert run.progress["lead"]["pulled"] == 1
    assert run.progress["lead"]["removed"] == 1
    assert Lead.objects.get(email="lead1@acme.example").stage == "sql"
    gone = SourceLead.objects.get(external_id=ids[2])
    assert gone.deleted_at is not None
    assert Lead.objects.get(email="lead2@acme.example").deleted_at is not None
    assert Lead.objects.filter(deleted_at__isnull=True).count() == 3


def test_many_records_changed_at_once_come_in_once_each_past_the_search_cap(
    hubspot, system, ops_user
):
    ids = [contact(hubspot, n) for n in range(450)]
    conn = connect(system, hubspot, ops_user)
    assert sync(conn).status == SyncStatus.SUCCEEDED
    at_once = datetime.now(UTC) + timedelta(minutes=10)  # a workflow touches them all
    for rid in ids:
        hubspot.update("contacts", rid, {"lifecyclestage": "salesqualifiedlead"}, at=at_once)
    hubspot.search_cap = 200  # HubSpot's is 10,000: no paging by offset gets past it

    run = sync(conn)

    assert run.status == SyncStatus.SUCCEEDED, run.message
    assert run.progress["lead"]["pulled"] == 450
    assert run.progress["lead"]["updated"] == 450
    assert set(Lead.objects.values_list("stage", flat=True)) == {"sql"}


def test_a_429_in_the_middle_of_the_pages_waits_and_goes_on(hubspot, system, ops_user):
    for n in range(230):  # three pages of 100
        contact(hubspot, n)
    hubspot.fail_next(429, retry_after="1", path_contains="/objects/contacts?", skip=1)
    conn = connect(system, hubspot, ops_user)

    run = sync(conn)

    assert run.status == SyncStatus.SUCCEEDED, run.message
    assert Lead.objects.count() == 230
    assert hubspot.count("GET", "/objects/contacts?") == 4  # three pages, one of them twice


def test_the_sync_paces_itself_within_the_ten_second_limit(hubspot, system, ops_user):
    hubspot.enforce_limits = True
    hubspot.ten_secondly_max, hubspot.interval_seconds = 2, 0.5
    acme = hubspot.add("companies", {"name": "Acme", "domain": "acme.example"})
    for n in range(3):
        contact(hubspot, n, acme)
    conn = connect(system, hubspot, ops_user)
    started = time.monotonic()

    run = sync(conn)

    assert run.status == SyncStatus.SUCCEEDED, run.message
    assert hubspot.calls > 2  # more calls than one window allows …
    assert hubspot.refused == []  # … and HubSpot never had to refuse one
    assert time.monotonic() - started >= 0.5
    assert Lead.objects.count() == 3


def test_an_expired_token_fails_the_sync_asks_to_reconnect_and_keeps_the_data(
    hubspot, system, ops_user
):
    contact(hubspot, 1)
    conn = connect(system, hubspot, ops_user)
    assert sync(conn).status == SyncStatus.SUCCEEDED
    hubspot.update("contacts", next(iter(hubspot.records["contacts"])), {"firstname": "New"},
                   at=datetime.now(UTC) + timedelta(minutes=10))  # fmt: skip
    hubspot.expired.add("pat-na1-test")

    run = sync(conn)

    assert run.status == SyncStatus.FAILED
    assert "expired" in run.message
    assert "Reconnect" in run.message
    conn.refresh_from_db()
    assert conn.last_test_ok is False
    assert Lead.objects.get().first_name == "Lead1"  # the last good data stays

    hubspot.tokens["pat-na1-new"] = hubspot.tokens["pat-na1-test"]
    connect(system, hubspot, ops_user, token="pat-na1-new")
    assert sync(conn).status == SyncStatus.SUCCEEDED
    assert Lead.objects.get().first_name == "New"


def test_a_sync_that_died_half_way_resumes_from_its_cursor(hubspot, system, ops_user, settings):
    for n in range(250):
        contact(hubspot, n)
    settings.CONNECTOR_RETRIES = 1
    hubspot.fail_next(503, count=2, path_contains="/objects/contacts?", skip=2)
    conn = connect(system, hubspot, ops_user)

    failed = sync(conn)

    assert failed.status == SyncStatus.FAILED
    assert "kept failing" in failed.message
    assert failed.progress["lead"]["state"] == "pulling"
    assert failed.progress["lead"]["pulled"] == 200
    assert Lead.objects.count() == 0  # nothing half-written
    pages_before = hubspot.count("GET", "/objects/contacts?")

    resumed = sync(conn)

    assert resumed.status == SyncStatus.SUCCEEDED, resumed.message
    assert resumed.resumed_from == failed
    assert hubspot.count("GET", "/objects/contacts?") - pages_before == 1  # only the last page
    assert Lead.objects.count() == 250


def test_test_connection_names_the_missing_scope(hubspot, system, ops_user):
    hubspot.tokens["pat-contacts-only"] = {"crm.objects.contacts.read"}
    conn = connect(system, hubspot, ops_user, token="pat-contacts-only")

    ok, message = connection_test(conn)

    assert not ok
    assert "crm.objects.companies.read" in message
    conn = connect(system, hubspot, ops_user)
    ok, message = connection_test(conn)
    assert ok
    assert "reads companies, contacts, deals" in message


@pytest.mark.django_db(transaction=True)
def test_the_scheduled_reconciliation_waits_for_the_nights_syncs(hubspot, ops_user):
    import threading
    import time

    from pipeline.tasks import reconciliation_nightly_task

    system = system_add(by=ops_user, name="HubSpot", role="marketing", vendor=Vendor.HUBSPOT)
    conn = connect(system, hubspot, ops_user)
    running = SyncRun.objects.create(connection=conn, trigger=SyncTrigger.SCHEDULE,
                                     status=SyncStatus.RUNNING)  # fmt: skip
    outcome = []

    def scheduled() -> None:
        from django.db import connection

        outcome.append(reconciliation_nightly_task())
        connection.close()

    waiting = threading.Thread(target=scheduled)
    waiting.start()
    time.sleep(3)
    assert waiting.is_alive()
    assert outcome == []

    SyncRun.objects.filter(pk=running.pk).update(status=SyncStatus.SUCCEEDED)
    waiting.join(timeout=15)

    assert not waiting.is_alive()
    assert len(outcome) == 1
    assert outcome[0].startswith("not run:")  # then it ran: one system, nothing to compare
