"""Record pages and field authority: the golden record beside each system's version."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from pipeline.models import FieldAuthority, Lead
from pipeline.services.authority import field_authority_set
from revops.permissions import Role
from tests.pipeline.importing import csv_text, lead_row, marketing, run_import

pytestmark = pytest.mark.django_db

HUBSPOT = [
    "Record ID",
    "Email",
    "First Name",
    "Last Name",
    "Lifecycle Stage",
    "Original Source",
    "Create Date",
    "Became a Marketing Qualified Lead Date",
    "Became a Sales Qualified Lead Date",
    "Associated Company",
]


@pytest.fixture
def lead_in_two_systems(tmp_path):
    run_import(tmp_path, csv_text([lead_row(1, Email="ana@acme.com", LeadSource="Outbound")]))
    hubspot = {
        "Record ID": "77",
        "Email": "Ana@Acme.com",
        "First Name": "Ana",
        "Last Name": "Smith",
        "Lifecycle Stage": "Lead",
        "Original Source": "Webinar",
        "Create Date": "2026-03-02 10:14",
        "Became a Marketing Qualified Lead Date": "",
        "Became a Sales Qualified Lead Date": "",
        "Associated Company": "Acme",
    }
    run_import(
        tmp_path,
        csv_text([hubspot], header=HUBSPOT),
        system=marketing(),
        preset="hubspot-contact",
        name="hs.csv",
    )
    return Lead.objects.get()


def test_a_lead_page_shows_each_systems_version_with_differences_marked(
    client_as, lead_in_two_systems
):
    page = client_as(Role.SALES_LEAD).get(
        reverse("pipeline:lead-detail", args=[lead_in_two_systems.pk])
    )
    assert page.status_code == 200
    rows = {row.name: row for row in page.context["versions"].rows}
    assert rows["source"].values == ["Outbound", "Webinar"]
    assert rows["source"].differs is True
    assert rows["first_name"].differs is False
    assert '<tr class="differs">' in page.text


def test_ops_change_field_authority_and_the_golden_record_follows(
    client_as, lead_in_two_systems, django_capture_on_commit_callbacks
):
    assert lead_in_two_systems.source == "Outbound"  # no rule: the CRM first
    client = client_as(Role.OPS)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("pipeline:authority"),
            {
                "object_type": "lead",
                "lead-source": str(marketing().pk),
            },
        )
    assert response.status_code == 302
    assert FieldAuthority.objects.get(field="source").system == marketing()
    lead_in_two_systems.refresh_from_db()
    assert lead_in_two_systems.source == "Webinar"


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.SALES_LEAD, Role.MARKETING_LEAD])
def test_other_roles_read_the_rules_but_cannot_change_them(client_as, role, lead_in_two_systems):
    client = client_as(role)
    page = client.get(reverse("pipeline:authority"))
    assert page.status_code == 200
    assert "<select" not in page.text
    response = client.post(
        reverse("pipeline:authority"), {"object_type": "lead", "lead-source": str(marketing().pk)}
    )
    assert response.status_code == 403
    assert not FieldAuthority.objects.exists()


def test_account_and_deal_pages_open(client_as, tmp_path):
    from tests.pipeline.test_imports import PRESET_FILES

    for key, (object_type, system, rows) in PRESET_FILES.items():
        run_import(
            tmp_path,
            csv_text(rows),
            system=system(),
            object_type=object_type,
            preset=key,
            name=f"{key}.csv",
        )
    from pipeline.models import Account, Deal

    client = client_as(Role.EXECUTIVE)
    account = client.get(reverse("pipeline:account-detail", args=[Account.objects.get().pk]))
    assert "Acme Corp" in account.text
    deal = client.get(reverse("pipeline:deal-detail", args=[Deal.objects.get().pk]))
    # HubSpot says 45,000 and names no owner; both map the stage to negotiation.
    assert rows_differing(deal) == {"amount", "owner"}


def rows_differing(response) -> set[str]:
    return {row.name for row in response.context["versions"].rows if row.differs}


def test_an_authority_rule_rebuilds_the_golden_records_before_it_returns(
    lead_in_two_systems, ops_user
):
    changed = field_authority_set(
        object_type="lead", rules={"source": marketing(), "stage": None}, by=ops_user
    )
    assert changed == ["source"]  # "stage" had no rule to remove
    lead_in_two_systems.refresh_from_db()
    assert lead_in_two_systems.source == "Webinar"
    assert FieldAuthority.objects.get().updated_by == ops_user
    assert field_authority_set(object_type="lead", rules={"source": marketing()}, by=ops_user) == []

    assert field_authority_set(object_type="lead", rules={"source": None}, by=ops_user) == [
        "source"
    ]
    assert not FieldAuthority.objects.exists()
    lead_in_two_systems.refresh_from_db()
    assert lead_in_two_systems.source == "Outbound"  # back to the CRM first


def test_an_authority_rule_for_a_field_no_rule_decides_is_refused(lead_in_two_systems, ops_user):
    with pytest.raises(ValidationError, match="'email' is not a field of a lead"):
        field_authority_set(object_type="lead", rules={"email": marketing()}, by=ops_user)
    with pytest.raises(ValidationError, match="no field authority rules"):
        field_authority_set(object_type="golden", rules={}, by=ops_user)
    assert not FieldAuthority.objects.exists()
