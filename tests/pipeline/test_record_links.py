"""Every record links: ops give each source system a record URL (`https://…/{id}`), and a
record page links each system's version to the record in that system, says which import and
row it came from, and reads labels, not codes."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.urls import reverse

from pipeline.choices import DealStage, SystemRole
from pipeline.models import ImportBatch, SourceSystem
from pipeline.services.systems import system_add, system_update
from revops.permissions import Role
from tests.factories import (
    DealFactory,
    LeadFactory,
    SourceDealFactory,
    SourceLeadFactory,
    SourceSystemFactory,
)

pytestmark = pytest.mark.django_db

SF = "https://acme.my.salesforce.com/{id}"


def _update(system: SourceSystem, template: str) -> SourceSystem:
    return system_update(
        by=None,
        system=system,
        name=system.name,
        role=system.role,
        vendor=system.vendor,
        record_url_template=template,
    )


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("ftp://files.acme.com/{id}", "starts with https:// or http://"),
        ("javascript:alert(1)//{id}", "starts with https:// or http://"),
        ("acme.my.salesforce.com/{id}", "starts with https:// or http://"),
        ("https://acme.my.salesforce.com/", "Put {id} where the record's id goes"),
        ("https://{id}.salesforce.com/", "not in its host"),
        ("https://acme .salesforce.com/{id}", "is not a web address"),
        ("HTTPS://acme.my.salesforce.com/{id}", "starts with https:// or http://"),
        ("https://[acme/{id}", "starts with https:// or http://"),
        ("https://acme.my.salesforce.com/{id}\x00", "is not a web address"),
        ("https://acme.my.salesforce.com/\n{id}", "is not a web address"),
        ("https://" + "a" * 500 + ".com/{id}", "at most 500 characters"),
    ],
)
def test_a_record_url_that_is_not_an_http_address_with_id_is_refused(template, says):
    system = SourceSystemFactory(name="Salesforce", slug="salesforce")
    with pytest.raises(ValidationError, match=says.replace("(", r"\(")):
        _update(system, template)
    system.refresh_from_db()
    assert system.record_url_template == ""


def test_a_record_url_is_stored_stripped_and_blank_clears_it():
    system = system_add(by=None, name="Salesforce", role=SystemRole.SALES, vendor="salesforce",
                        record_url_template=f"  {SF} ")  # fmt: skip
    assert system.record_url_template == SF
    assert _update(system, "http://crm.local/records?id={id}").record_url_template == (
        "http://crm.local/records?id={id}"
    )
    assert _update(system, "").record_url_template == ""


@pytest.mark.parametrize(
    "template",
    [
        SF,
        "http://crm.local/records?id={id}",
        "https://10.0.0.7:8443/r/{id}/view",
        "https://app.hubspot.com/contacts/123/record/0-1/{id}",
        "https://crm.example.com/#/lead/{id}",
    ],
)
def test_a_record_url_the_service_accepts_the_database_accepts_too(template):
    system = SourceSystemFactory(name="Salesforce", slug="salesforce")
    assert _update(system, template).record_url_template == template
    system.refresh_from_db()
    assert system.record_url_template == template


def test_the_database_refuses_a_record_url_without_id_or_http():
    system = SourceSystemFactory(name="Salesforce", slug="salesforce")
    for bad in ("javascript:alert(1){id}", "https://acme.my.salesforce.com/", "https://{id}/x"):
        with pytest.raises(IntegrityError), transaction.atomic():
            SourceSystem.objects.filter(pk=system.pk).update(record_url_template=bad)


def test_the_id_is_url_quoted_into_the_record_url():
    system = SourceSystemFactory(name="Salesforce", slug="salesforce", record_url_template=SF)
    assert (
        system.record_url("006A/1 ?#&x") == "https://acme.my.salesforce.com/006A%2F1%20%3F%23%26x"
    )
    assert SourceSystemFactory(name="Other", slug="other").record_url("006A") == ""


def test_ops_set_a_systems_record_url_in_its_edit_form(client_as):
    system = SourceSystemFactory(name="Salesforce", slug="salesforce", vendor="salesforce")
    client = client_as(Role.OPS)
    page = client.get(reverse("pipeline:system-list"))
    assert f'name="edit-{system.pk}-record_url_template"' in page.text

    def edit(template: str):
        return client.post(
            reverse("pipeline:system-edit", args=["salesforce"]),
            {
                f"edit-{system.pk}-name": "Salesforce",
                f"edit-{system.pk}-vendor": "salesforce",
                f"edit-{system.pk}-role": "sales",
                f"edit-{system.pk}-record_url_template": template,
            },
        )

    refused = edit("javascript:alert(document.cookie)//{id}")
    assert refused.status_code == 400
    assert "starts with https:// or http://" in refused.text
    system.refresh_from_db()
    assert system.record_url_template == ""

    assert edit(SF).status_code == 302
    system.refresh_from_db()
    assert system.record_url_template == SF
    assert f'value="{SF}"' in client.get(reverse("pipeline:system-list")).text


def test_ops_give_a_new_system_its_record_url_when_adding_it(client_as):
    response = client_as(Role.OPS).post(
        reverse("pipeline:system-list"),
        {"name": "Salesforce", "vendor": "salesforce", "role": "sales", "record_url_template": SF},
    )
    assert response.status_code == 302
    assert SourceSystem.objects.get().record_url_template == SF


def test_other_roles_cannot_set_a_record_url(client_as):
    system = SourceSystemFactory(name="Salesforce", slug="salesforce")
    response = client_as(Role.SALES_LEAD).post(
        reverse("pipeline:system-edit", args=["salesforce"]),
        {f"edit-{system.pk}-name": "Salesforce", f"edit-{system.pk}-vendor": "salesforce",
         f"edit-{system.pk}-role": "sales", f"edit-{system.pk}-record_url_template": SF},
    )  # fmt: skip
    assert response.status_code == 403
    system.refresh_from_db()
    assert system.record_url_template == ""


@pytest.fixture
def deal_in_two_systems():
    sf = SourceSystemFactory(
        name="Salesforce", slug="salesforce", role=SystemRole.SALES, record_url_template=SF
    )
    hs = SourceSystemFactory(name="HubSpot", slug="hubspot", role=SystemRole.MARKETING)
    batch = ImportBatch.objects.create(system=sf, object_type="deal", status="applied")
    deal = DealFactory(name="Big", stage=DealStage.CLOSED_LOST, amount=Decimal("24100"))
    SourceDealFactory(system=sf, deal=deal, external_id="006A/1", stage=DealStage.CLOSED_LOST,
                      amount=Decimal("24100"), batch=batch, batch_row=2375)  # fmt: skip
    SourceDealFactory(system=hs, deal=deal, external_id="h-9", stage=DealStage.NEGOTIATION,
                      amount=Decimal("1200"), currency="EUR")  # fmt: skip
    return deal, batch


def test_a_record_page_links_each_systems_version_to_the_record_there(
    client_as, deal_in_two_systems
):
    deal, batch = deal_in_two_systems
    page = client_as(Role.OPS).get(reverse("pipeline:deal-detail", args=[deal.pk]))
    assert (
        '<a class="record-link" href="https://acme.my.salesforce.com/006A%2F1" target="_blank" '
        'rel="noopener noreferrer" title="Open in Salesforce">#006A/1</a>'
    ) in page.text
    assert "#h-9" in page.text  # HubSpot has no record URL: its id, not a link
    assert 'href="https://acme.my.salesforce.com/h-9"' not in page.text
    # Provenance as a sentence, linked to the import for those who may open imports.
    import_url = reverse("pipeline:import-detail", args=[batch.pk])
    assert f'<a href="{import_url}">Import #{batch.pk}</a>, row 2,375' in page.text


def test_provenance_reads_without_a_link_for_those_who_may_not_open_imports(
    client_as, deal_in_two_systems
):
    deal, batch = deal_in_two_systems
    page = client_as(Role.EXECUTIVE).get(reverse("pipeline:deal-detail", args=[deal.pk]))
    assert f"Import #{batch.pk}, row 2,375" in page.text
    assert reverse("pipeline:import-detail", args=[batch.pk]) not in page.text


def test_a_record_page_reads_labels_not_codes_and_money_the_one_way(client_as, deal_in_two_systems):
    deal, _ = deal_in_two_systems
    page = client_as(Role.SALES_LEAD).get(reverse("pipeline:deal-detail", args=[deal.pk]))
    rows = {row.name: row for row in page.context["versions"].rows}
    assert (rows["stage"].golden_text, rows["stage"].texts) == (
        "Closed lost",
        ["Closed lost", "Negotiation"],
    )
    assert rows["stage"].values == ["closed_lost", "negotiation"]  # the codes stay underneath
    assert rows["amount"].texts == ["$24,100", "EUR 1,200"]
    assert rows["deal_type"].golden_text == "New business"
    assert "closed_lost" not in page.text.replace("stage-closed_lost", "")


def test_a_lead_page_reads_its_stage_by_label(client_as):
    system = SourceSystemFactory(name="HubSpot", slug="hubspot", role=SystemRole.MARKETING)
    lead = LeadFactory(email="ana@x.com", stage="new")
    SourceLeadFactory(system=system, lead=lead, email="ana@x.com", stage="mql")
    page = client_as(Role.MARKETING_LEAD).get(reverse("pipeline:lead-detail", args=[lead.pk]))
    rows = {row.name: row for row in page.context["versions"].rows}
    assert (rows["stage"].golden_text, rows["stage"].texts) == ("New", ["MQL"])


def test_the_api_gives_each_systems_record_url(client_as):
    SourceSystemFactory(name="Salesforce", slug="salesforce", record_url_template=SF)
    systems = client_as(Role.EXECUTIVE).get("/api/v1/systems/").json()
    rows = systems["results"] if isinstance(systems, dict) else systems
    assert [(s["slug"], s["record_url_template"]) for s in rows] == [("salesforce", SF)]


def test_system_add_on_the_command_line_takes_a_record_url():
    call_command("system_add", "--name", "Salesforce", "--vendor", "salesforce", "--role",
                 "sales", "--record-url", SF, stdout=io.StringIO())  # fmt: skip
    assert SourceSystem.objects.get().record_url_template == SF
    with pytest.raises(CommandError, match="Put {id} where the record's id goes"):
        call_command("system_add", "--name", "HubSpot", "--vendor", "hubspot", "--role",
                     "marketing", "--record-url", "https://app.hubspot.com/",
                     stdout=io.StringIO())  # fmt: skip
