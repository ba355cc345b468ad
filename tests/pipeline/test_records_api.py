"""The records API: golden records with the source versions behind them, and the source
records themselves, for every role; filtered as on the pages, paged by cursor, read-only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from pipeline.choices import LeadStage, SystemRole
from pipeline.models import Lead
from pipeline.services.identity import golden_resolve
from revops.permissions import Role
from tests.factories import SourceLeadFactory, SourceSystemFactory

pytestmark = pytest.mark.django_db

MQL = datetime(2026, 3, 3, 9, tzinfo=UTC)


@pytest.fixture
def two_systems():
    mkt = SourceSystemFactory(slug="hubspot", name="HubSpot", role=SystemRole.MARKETING)
    crm = SourceSystemFactory(slug="salesforce", name="Salesforce", role=SystemRole.SALES)
    SourceLeadFactory(system=mkt, email="ana@acme.com", email_key="ana@acme.com", mql_at=MQL,
                      stage=LeadStage.MQL, owner="Ann")  # fmt: skip
    SourceLeadFactory(system=crm, email="Ana@Acme.com", email_key="ana@acme.com", owner="Bo")
    for i in range(3):
        SourceLeadFactory(system=crm, email=f"p{i}@beta.io", email_key=f"p{i}@beta.io")
    golden_resolve()
    return mkt, crm


@pytest.mark.parametrize("role", list(Role))
def test_every_role_reads_golden_leads_filtered_as_on_the_page(role, client_as, two_systems):
    client = client_as(role)
    response = client.get(reverse("api:lead-list"), {"q": "acme"})
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["email"].lower() for r in rows] == ["ana@acme.com"]
    assert {"stage", "mql_at", "sql_at", "converted_at", "owner", "account"} <= set(rows[0])
    assert len(client.get(reverse("api:lead-list"), {"q": "beta.io"}).json()["results"]) == 3


def test_a_lead_shows_each_systems_version_of_it(client_as, two_systems):
    lead = Lead.objects.get(email_key="ana@acme.com")
    body = client_as(Role.SALES_LEAD).get(reverse("api:lead-detail", args=[lead.pk])).json()
    assert sorted((s["system"], s["owner"]) for s in body["sources"]) == [
        ("hubspot", "Ann"),
        ("salesforce", "Bo"),
    ]
    assert body["sources"][0]["lead"] == lead.pk


def test_lists_page_by_cursor_in_a_constant_number_of_queries(
    client_as, two_systems, django_assert_max_num_queries
):
    client = client_as(Role.EXECUTIVE)
    seen = []
    url = reverse("api:source-lead-list") + "?page_size=2"
    with django_assert_max_num_queries(8):  # session, user, roles, page: not one per row
        page = client.get(url).json()
    seen += [r["id"] for r in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [r["id"] for r in page["results"]]
    assert len(seen) == len(set(seen)) == 5


def test_source_records_filter_by_system_and_golden_record(client_as, two_systems):
    lead = Lead.objects.get(email_key="ana@acme.com")
    client = client_as(Role.MARKETING_LEAD)
    crm_rows = client.get(reverse("api:source-lead-list"), {"system": "salesforce"}).json()
    assert len(crm_rows["results"]) == 4
    mine = client.get(reverse("api:source-lead-list"), {"lead": lead.pk}).json()["results"]
    assert {r["system"] for r in mine} == {"hubspot", "salesforce"}


def test_systems_and_field_authority_are_listed(client_as, two_systems):
    client = client_as(Role.EXECUTIVE)
    systems = client.get(reverse("api:system-list")).json()["results"]
    assert {(s["slug"], s["role"]) for s in systems} == {
        ("hubspot", "marketing"),
        ("salesforce", "sales"),
    }
    assert client.get(reverse("api:field-authority-list")).status_code == 200


def test_records_are_read_only_and_closed_to_strangers(client, client_as, two_systems):
    assert client.get(reverse("api:lead-list")).status_code == 401
    assert client_as(None).get(reverse("api:lead-list")).status_code == 403
    ops = client_as(Role.OPS)
    assert ops.post(reverse("api:lead-list"), {"email": "x@y.z"}).status_code == 405
    lead = Lead.objects.first()
    assert ops.delete(reverse("api:lead-detail", args=[lead.pk])).status_code == 405
    assert ops.get(reverse("api:lead-list"), {"stage": "nonsense"}).status_code == 400


@pytest.mark.parametrize(
    ("value", "count"),
    [
        ("2000-01-01T00:00:00+01:00", 5),  # every record was updated after 2000
        ("9999-12-31T10:00:00-01:00", 0),  # still a real instant
        ("2000-01-01T00:00:00+19:29", 5),  # an offset PostgreSQL itself would refuse
    ],
)
def test_updated_after_takes_any_iso_instant_and_compares_it_in_utc(
    client_as, two_systems, value, count
):
    response = client_as(Role.OPS).get(reverse("api:source-lead-list"), {"updated_after": value})
    assert response.status_code == 200
    assert len(response.json()["results"]) == count


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:00:00-05:00",  # past the year 9999 once in UTC
        "yesterday",
    ],
)
def test_an_instant_the_database_cannot_hold_is_a_400_naming_the_filter(
    client_as, two_systems, value
):
    response = client_as(Role.OPS).get(reverse("api:source-lead-list"), {"updated_after": value})
    assert response.status_code == 400
    assert "updated_after" in response.json()
