"""A metric's records, on the page and as CSV: every row opens its record, the export can be
matched back to every system, and amounts read the one way every page writes them."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pipeline.choices import ArrChangeKind, DealStage, SystemRole
from revops.permissions import Role
from tests.factories import (
    AccountFactory,
    ArrChangeFactory,
    DealFactory,
    LeadFactory,
    SourceAccountFactory,
    SourceDealFactory,
    SourceLeadFactory,
    SourceSystemFactory,
)
from tests.scorecard.conftest import W10, d, utc

pytestmark = pytest.mark.django_db


def _csv(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def systems():
    return {
        "sf": SourceSystemFactory(name="Salesforce", slug="salesforce", role=SystemRole.SALES),
        "hs": SourceSystemFactory(name="HubSpot", slug="hubspot", role=SystemRole.MARKETING),
        "gs": SourceSystemFactory(
            name="Gainsight", slug="gainsight", role=SystemRole.CUSTOMER_SUCCESS
        ),
    }


@pytest.fixture
def deals(systems):
    """Two deals created in 2026-W10: one lost in dollars held by two systems (twice by one
    of them), one in euros without an exchange rate held by the CRM only."""
    lost = DealFactory(
        name="Lost one",
        stage=DealStage.CLOSED_LOST,
        amount=Decimal("13600.50"),
        created_at=utc(2026, 3, 3),
        close_date=d("2026-03-05"),
    )
    euro = DealFactory(
        name="Euro one", amount=Decimal("1200"), currency="EUR", created_at=utc(2026, 3, 4)
    )
    SourceDealFactory(system=systems["sf"], deal=lost, external_id="006A/1")
    SourceDealFactory(system=systems["hs"], deal=lost, external_id="h-9")
    SourceDealFactory(system=systems["hs"], deal=lost, external_id="h-2")
    SourceDealFactory(system=systems["sf"], deal=euro, external_id="006B")
    # Gainsight holds accounts only: no column of deal ids for it.
    SourceAccountFactory(system=systems["gs"], account=AccountFactory())
    return {"lost": lost, "euro": euro}


def _export(client, key: str = "pipeline_created"):
    return client.get(reverse("scorecard:metric-records", args=[W10, key]), {"format": "csv"})


def test_the_records_csv_starts_with_the_golden_id_then_each_systems_ids(deals, client_as):
    rows = _csv(_export(client_as(Role.SALES_LEAD)))
    assert list(rows[0])[:4] == ["Id", "HubSpot id", "Salesforce id", "Deal"]
    by_name = {r["Deal"]: r for r in rows}
    lost, euro = by_name["Lost one"], by_name["Euro one"]
    assert lost["Id"] == str(deals["lost"].pk)
    assert lost["Salesforce id"] == "006A/1"
    assert lost["HubSpot id"] == "h-2; h-9"  # a duplicate in one system: both of its ids
    assert (euro["Id"], euro["Salesforce id"], euro["HubSpot id"]) == (
        str(deals["euro"].pk),
        "006B",
        "",
    )


def test_the_records_csv_writes_stage_labels_and_amounts_beside_their_currency(deals, client_as):
    by_name = {r["Deal"]: r for r in _csv(_export(client_as(Role.EXECUTIVE)))}
    lost, euro = by_name["Lost one"], by_name["Euro one"]
    assert lost["Stage"] == "Closed lost"
    assert euro["Stage"] == "Qualification"
    # Amounts stay numbers a spreadsheet sums; their currency is the next column, or the
    # header of a converted one.
    assert (lost["Amount"], lost["Currency"], lost["Amount in USD"]) == (
        "13600.5",
        "USD",
        "13600.5",
    )
    assert (euro["Amount"], euro["Currency"], euro["Amount in USD"]) == ("1200", "EUR", "")


def test_the_records_csv_of_leads_carries_each_systems_lead_ids(systems, client_as):
    lead = LeadFactory(email="ana@x.com", stage="mql", created_at=utc(2026, 3, 3))
    SourceLeadFactory(system=systems["hs"], lead=lead, email="ana@x.com", external_id="901")
    rows = _csv(_export(client_as(Role.MARKETING_LEAD), "leads_created"))
    assert [(r["Id"], r["HubSpot id"], r["Email"], r["Stage"]) for r in rows] == [
        (str(lead.pk), "901", "ana@x.com", "MQL")
    ]
    assert "Salesforce id" not in rows[0]  # Salesforce holds no lead


def test_the_records_csv_costs_the_same_queries_for_two_records_or_twelve(
    deals, systems, client_as
):
    client = client_as(Role.OPS)

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            rows = _csv(_export(client))
        return len(captured.captured_queries), len(rows)

    queries()  # the first request of a session reads more (its user, the catalog)
    few, two = queries()
    for n in range(10):
        deal = DealFactory(created_at=utc(2026, 3, 5), amount=Decimal(100 + n))
        SourceDealFactory(system=systems["sf"], deal=deal)
        SourceDealFactory(system=systems["hs"], deal=deal)
    many, twelve = queries()
    assert (two, twelve) == (2, 12)
    assert many == few


def test_each_record_on_the_records_page_links_to_its_record(deals, client_as):
    page = client_as(Role.EXECUTIVE).get(
        reverse("scorecard:metric-records", args=[W10, "pipeline_created"])
    )
    urls = {r["cells"][0]["text"]: r["url"] for r in page.context["rows"]}
    assert urls == {
        "Lost one": reverse("pipeline:deal-detail", args=[deals["lost"].pk]),
        "Euro one": reverse("pipeline:deal-detail", args=[deals["euro"].pk]),
    }
    assert f'<a class="record-link" href="{urls["Lost one"]}">Lost one</a>' in page.text


def test_the_records_page_writes_amounts_and_the_total_as_every_page_does(deals, client_as):
    page = client_as(Role.EXECUTIVE).get(
        reverse("scorecard:metric-records", args=[W10, "pipeline_created"])
    )
    cells = {r["cells"][0]["text"]: [c["text"] for c in r["cells"]] for r in page.context["rows"]}
    assert "$13,601" in cells["Lost one"]  # whole units, rounded half up
    assert "EUR 1,200" in cells["Euro one"]  # another currency: its code
    assert "<strong>Total $13,601</strong>" in page.text  # the euro deal has no rate yet


def test_account_records_link_to_the_account(client_as):
    account = AccountFactory(name="Acme")
    ArrChangeFactory(
        account=account, kind=ArrChangeKind.NEW, amount=5000, effective_date=d("2025-01-01")
    )
    page = client_as(Role.EXECUTIVE).get(reverse("scorecard:metric-records", args=[W10, "arr"]))
    assert [r["url"] for r in page.context["rows"]] == [
        reverse("pipeline:account-detail", args=[account.pk])
    ]
    assert "<strong>Total $5,000</strong>" in page.text


def test_the_records_csv_of_accounts_carries_each_systems_account_ids(systems, client_as):
    account = AccountFactory(name="Acme", health="good")
    SourceAccountFactory(system=systems["gs"], account=account, external_id="GS-1")
    ArrChangeFactory(
        account=account, kind=ArrChangeKind.NEW, amount=5000, effective_date=d("2025-01-01")
    )
    rows = _csv(_export(client_as(Role.EXECUTIVE), "arr"))
    assert [(r["Id"], r["Gainsight id"], r["Account"], r["Health"]) for r in rows] == [
        (str(account.pk), "GS-1", "Acme", "Good")
    ]
    assert rows[0]["ARR at week's end (USD)"] == "5000"


def test_a_record_without_a_first_column_is_still_named_on_its_link(client_as):
    lead = LeadFactory(email="", email_key="hubspot:1", created_at=utc(2026, 3, 3))
    page = client_as(Role.EXECUTIVE).get(
        reverse("scorecard:metric-records", args=[W10, "leads_created"])
    )
    [row] = page.context["rows"]
    assert row["cells"][0]["text"] == f"Lead #{lead.pk}"
    assert row["url"] == reverse("pipeline:lead-detail", args=[lead.pk])
