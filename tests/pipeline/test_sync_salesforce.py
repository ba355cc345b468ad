"""Salesforce syncs against a local fake of its APIs (demo/fakes/salesforce.py, HTTPS with a
certificate of its own): a first sync through Bulk API 2.0, a later one through queryAll with
an update and a deletion, a session that expires mid-pagination, the daily allowance running
out, faults that pass, and what "Test connection" says."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from pipeline.choices import ConnectorAuth, SyncStatus, SyncTrigger, Vendor
from pipeline.models import Connection, Deal, DealStageChange, Lead, SourceLead, SyncRun
from pipeline.services.sync import connection_save, connection_test, sync_start
from pipeline.services.systems import system_add

pytestmark = pytest.mark.django_db
LAST_WEEK = datetime.now(UTC) - timedelta(days=7)


@pytest.fixture
def salesforce(settings):
    from demo.fakes.salesforce import FakeSalesforce

    with FakeSalesforce(page_size=3) as fake:
        settings.CONNECTOR_CA_BUNDLE = fake.ca_file
        settings.CONNECTOR_BACKOFF_MS = 10
        settings.CONNECTOR_RETRIES = 2
        settings.CONNECTOR_TIMEOUT = 5
        yield fake


@pytest.fixture
def system(ops_user):
    return system_add(by=ops_user, name="Salesforce", role="sales", vendor=Vendor.SALESFORCE)


def connect(system, fake, ops_user, **changes) -> Connection:
    fields = {
        "auth": ConnectorAuth.SALESFORCE_JWT,
        "url": fake.base,
        "username": fake.username,
        "consumer_key": fake.consumer_key,
        "private_key": fake.private_key,
        **changes,
    }
    return connection_save(system=system, by=ops_user, **fields)


def sync(conn: Connection) -> SyncRun:
    conn.refresh_from_db()
    return sync_start(conn=conn, trigger=SyncTrigger.COMMAND, run_now=True)


def lead(fake, n: int, **fields) -> str:
    return fake.add(
        "Lead",
        {
            "FirstName": f"Lead{n}",
            "LastName": "Test",
            "Email": f"lead{n}@acme.example",
            "Company": "Acme",
            "Status": "Working - Contacted",
            "LeadSource": "Web",
            "OwnerId": "005000000000001AAA",
            "IsConverted": False,
            **fields,
        },
        at=LAST_WEEK,
    )


def test_first_sync_pulls_every_object_through_bulk_api_jobs(salesforce, system, ops_user):
    acme = salesforce.add(
        "Account", {"Name": "Acme", "Website": "https://www.acme.example"}, at=LAST_WEEK
    )
    for n in range(5):
        lead(salesforce, n)
    salesforce.add(
        "Opportunity",
        {
            "Name": "Acme expansion",
            "AccountId": acme,
            "StageName": "Closed Won",
            "Amount": 5000.0,
            "CloseDate": date(2026, 11, 16),
            "LeadSource": "Web",
            "Type": "New Customer",
            "IsClosed": True,
            "IsWon": True,
            "CurrencyIsoCode": "USD",
        },
        at=LAST_WEEK,
    )
    conn = connect(system, salesforce, ops_user)

    run = sync(conn)

    assert run.status == SyncStatus.SUCCEEDED, run.message
    # One Bulk API job per object: Account, Lead, Contact, Opportunity, OpportunityHistory.
    assert salesforce.count("POST", "/jobs/query") == 5
    assert Lead.objects.count() == 5
    assert Lead.objects.get(email="lead3@acme.example").stage == "sal"
    deal = Deal.objects.get()
    assert (deal.stage, deal.amount, deal.close_date) == ("closed_won", 5000, date(2026, 11, 16))
    assert deal.account.domain == "acme.example"
    conn.refresh_from_db()
    assert conn.api_limits["max"] == 15_000
    assert conn.api_limits["used"] > 0


def test_a_later_sync_reads_changes_and_deletions_through_query_all(salesforce, system, ops_user):
    ids = [lead(salesforce, n) for n in range(7)]
    conn = connect(system, salesforce, ops_user)
    assert sync(conn).status == SyncStatus.SUCCEEDED
    soon = datetime.now(UTC) + timedelta(minutes=10)
    salesforce.update("Lead", ids[0], {"Status": "Closed - Not Converted"}, at=soon)
    salesforce.delete("Lead", ids[1], at=soon)

    run = sync(conn)

    assert run.status == SyncStatus.SUCCEEDED, run.message
    assert salesforce.count("GET", "/queryAll") >= 1
    assert run.progress["lead"]["pulled"] == 1
    assert run.progress["lead"]["removed"] == 1
    assert Lead.objects.get(email="lead0@acme.example").stage == "disqualified"
    assert SourceLead.objects.get(external_id=ids[1]).deleted_at is not None
    assert Lead.objects.filter(deleted_at__isnull=True).count() == 6


def opportunity(fake, account: str, stage: str, *, at: datetime, **fields) -> str:
    return fake.add(
        "Opportunity",
        {
            "Name": "Acme platform", "AccountId": account, "StageName": stage,
            "Amount": 20_000.0, "CloseDate": date(2026, 12, 31), "LeadSource": "Web",
            "Type": "New Customer", "IsClosed": False, "IsWon": False,
            "CurrencyIsoCode": "USD", **fields,
        },
        at=at,
    )  # fmt: skip


def test_contacts_sales_created_are_leads_and_converted_ones_are_their_lead(
    salesforce, system, ops_user
):
    acme = salesforce.add("Account", {"Name": "Acme", "Website": "acme.example"}, at=LAST_WEEK)
    by_hand = salesforce.add(
        "Contact",
        {"FirstName": "Ada", "LastName": "Byhand", "Email": "ada@acme.example",
         "AccountId": acme, "LeadSource": "Trade Show", "OwnerId": "005000000000001AAA"},
        at=LAST_WEEK,
    )  # fmt: skip
    converted = salesforce.add(
        "Contact", {"FirstName": "Lead0", "LastName": "Test", "Email": "lead0@acme.example",
                    "AccountId": acme}, at=LAST_WEEK,
    )  # fmt: skip
    lead(salesforce, 0, IsConverted=True, Status="Closed - Converted",
         ConvertedContactId=converted, ConvertedAccountId=acme,
         ConvertedDate=date(2026, 11, 20))  # fmt: skip
    later = lead(salesforce, 1)
    merged_into = salesforce.add(
        "Contact", {"FirstName": "Lead1", "LastName": "Test", "Email": "lead1@acme.example",
                    "AccountId": acme}, at=LAST_WEEK,
    )  # fmt: skip
    conn = connect(system, salesforce, ops_user)

    run = sync(conn)

    assert run.status == SyncStatus.SUCCEEDED, run.message
    # The converted contact is its lead; the contact sales made and the other stand alone.
    assert set(SourceLead.objects.values_list("external_id", flat=True)) == {
        by_hand,
        merged_into,
        later,
        next(iter(salesforce.objects["Lead"])),
    }
    ada = Lead.objects.get(email="ada@acme.example")
    assert (ada.stage, ada.source, ada.account.domain) == ("sql", "Trade Show", "acme.example")
    assert Lead.objects.get(email="lead0@acme.example").stage == "opportunity"

    # Sales convert lead 1 into the contact they already had: that contact is now the lead.
    soon = datetime.now(UTC) + timedelta(minutes=10)
    salesforce.update("Lead", later, {"IsConverted": True, "Status": "Closed - Converted",
                                      "ConvertedContactId": merged_into}, at=soon)  # fmt: skip
    run = sync(conn)

    assert run.status == SyncStatus.SUCCEEDED, run.message
    assert SourceLead.objects.get(external_id=merged_into).deleted_at is not None
    assert SourceLead.objects.get(external_id=later).deleted_at is None
    person = Lead.objects.get(email="lead1@acme.example")
    assert (person.stage, person.deleted_at) == ("opportunity", None)


def test_stage_history_comes_from_opportunity_history_with_its_dates(salesforce, system, ops_user):
    acme = salesforce.add("Account", {"Name": "Acme", "Website": "acme.example"}, at=LAST_WEEK)
    created = LAST_WEEK.replace(microsecond=0)
    opp = opportunity(salesforce, acme, "Prospecting", at=created)
    moved = created + timedelta(days=2)
    salesforce.update("Opportunity", opp, {"StageName": "Needs Analysis"}, at=moved)
    salesforce.update("Opportunity", opp, {"Amount": 25_000.0}, at=moved + timedelta(hours=1))
    conn = connect(system, salesforce, ops_user)

    run = sync(conn)

    assert run.status == SyncStatus.SUCCEEDED, run.message
    deal = Deal.objects.get()
    history = list(deal.stage_changes.order_by("changed_at"))
    assert [(c.from_stage, c.to_stage, c.changed_at) for c in history] == [
        ("", "qualification", created),
        ("qualification", "discovery", moved),  # the amount change is no move of stage
    ]
    assert run.progress["deal_history"]["state"] == "applied"

    # A move the next sync sees is dated when Salesforce says it happened, not when seen.
    proposal = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    salesforce.update("Opportunity", opp, {"StageName": "Proposal/Price Quote"}, at=proposal)
    run = sync(conn)

    assert run.status == SyncStatus.SUCCEEDED, run.message
    latest = deal.stage_changes.order_by("-changed_at").first()
    assert (latest.from_stage, latest.to_stage, latest.changed_at) == (
        "discovery",
        "proposal",
        proposal,
    )
    assert DealStageChange.objects.filter(deal=deal, to_stage="proposal").count() == 1
    assert run.progress["deal_history"]["updated"] == 1  # the move the deals' import saw

    again = sync(conn)  # the same history pulled again adds nothing
    assert again.status == SyncStatus.SUCCEEDED, again.message
    assert deal.stage_changes.count() == 3


def test_a_session_that_expires_mid_pagination_signs_in_again(salesforce, system, ops_user):
    ids = [lead(salesforce, n) for n in range(8)]
    conn = connect(system, salesforce, ops_user)
    assert sync(conn).status == SyncStatus.SUCCEEDED
    soon = datetime.now(UTC) + timedelta(minutes=10)
    for rid in ids:  # three pages of three through nextRecordsUrl
        salesforce.update("Lead", rid, {"Company": "Acme Corp"}, at=soon)
    salesforce.fail_next(
        401,
        path_contains="/query/01g",
        body=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
    )
    tokens_before = salesforce.count("POST", "/services/oauth2/token")

    run = sync(conn)

    assert run.status == SyncStatus.SUCCEEDED, run.message
    assert salesforce.count("POST", "/services/oauth2/token") == tokens_before + 2
    assert set(Lead.objects.values_list("company", flat=True)) == {"Acme Corp"}


def test_the_daily_allowance_running_out_stops_the_sync_and_keeps_the_data(
    salesforce, system, ops_user
):
    lead(salesforce, 1)
    conn = connect(system, salesforce, ops_user)
    assert sync(conn).status == SyncStatus.SUCCEEDED
    cursors = Connection.objects.get(pk=conn.pk).cursors
    salesforce.update("Lead", next(iter(salesforce.objects["Lead"])), {"FirstName": "Changed"},
                      at=datetime.now(UTC) + timedelta(minutes=10))  # fmt: skip
    salesforce.daily_limit = salesforce.used

    run = sync(conn)

    assert run.status == SyncStatus.FAILED
    assert "daily API allowance is used up" in run.message
    assert Lead.objects.get().first_name == "Lead1"
    assert Connection.objects.get(pk=conn.pk).cursors == cursors  # pulls these changes again


def test_a_5xx_is_tried_again(salesforce, system, ops_user):
    lead(salesforce, 1)
    conn = connect(system, salesforce, ops_user)
    salesforce.fail_next(503, path_contains="/jobs/query", count=1)

    run = sync(conn)

    assert run.status == SyncStatus.SUCCEEDED, run.message
    assert Lead.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"consumer_key": "3MVG9wrong"}, "does not know the consumer key"),
        ({"username": "someone@else.example"}, "not pre-authorised"),
    ],
)
def test_test_connection_says_what_did_not_work(salesforce, system, ops_user, change, words):
    conn = connect(system, salesforce, ops_user, **change)

    ok, message = connection_test(conn)

    assert not ok
    assert words in message


def test_test_connection_with_password_and_token(salesforce, system, ops_user):
    conn = connect(
        system,
        salesforce,
        ops_user,
        auth=ConnectorAuth.SALESFORCE_PASSWORD,
        password=salesforce.password,
        security_token=salesforce.security_token,
        private_key="",
    )

    ok, message = connection_test(conn)

    assert ok, message
    assert "14,99" in message or "of today's 15,000 API calls are left" in message
    wrong = connect(system, salesforce, ops_user, auth=ConnectorAuth.SALESFORCE_PASSWORD,
                    password="nope", private_key="")  # fmt: skip
    ok, message = connection_test(wrong)
    assert not ok
    assert "refused the username, password or security token" in message
