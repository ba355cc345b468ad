"""Identity without email: leads keyed by id (or phone) when they have no email, placeholder
emails that never merge people, deals naming another system's lead, accounts without a
website keyed by name."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from pipeline.choices import FindingKind, SystemRole
from pipeline.models import (
    Account,
    Deal,
    ImportPreset,
    Lead,
    PlaceholderEmail,
    SourceLead,
    SourceSystem,
)
from pipeline.services.placeholders import placeholder_add, placeholder_remove
from revops.permissions import Role
from tests.pipeline.importing import crm, csv_text, lead_row, marketing, run_import
from tests.scorecard.conftest import W10, compute

pytestmark = pytest.mark.django_db

# The public Olist "marketing funnel" shape: qualified leads keyed by id, no email.
MQL_HEADER = ["mql_id", "first_contact_date", "landing_page_id", "origin"]
MQL_MAPPING = {
    "object": "lead",
    "fields": {
        "external_id": "mql_id",
        "created_at": "first_contact_date",
        "mql_at": "first_contact_date",
        "source": "origin",
        "stage": {"default": "mql"},
    },
    "ignore": ["landing_page_id"],
}


def mql_file(*ids: str) -> str:
    rows = [
        {
            "mql_id": mql,
            "first_contact_date": "2026-03-02",
            "landing_page_id": "88740e65d5d6b056e0cda098e1ea6313",
            "origin": "organic_search",
        }
        for mql in ids
    ]
    return csv_text(rows, header=MQL_HEADER)


def olist() -> SourceSystem:
    return SourceSystem.objects.create(
        name="Olist marketing", slug="olist-marketing", role=SystemRole.MARKETING
    )


def test_a_marketing_file_keyed_by_mql_id_without_email_imports(tmp_path):
    batch = run_import(
        tmp_path,
        mql_file("dac32acd4db4c29c230538b72f8dd87d", "8c18d1de7f67e60dbd64e3c07d7e9d5d"),
        system=olist(),
        mapping=MQL_MAPPING,
    )
    assert batch.status == "applied", batch.message
    assert batch.rows_created == 2
    # Two people without an email are two leads, each keyed by its id in the system.
    assert sorted(Lead.objects.values_list("email_key", "stage", "source")) == [
        ("olist-marketing:8c18d1de7f67e60dbd64e3c07d7e9d5d", "mql", "organic_search"),
        ("olist-marketing:dac32acd4db4c29c230538b72f8dd87d", "mql", "organic_search"),
    ]


def test_leads_without_email_in_two_systems_do_not_match_each_other(tmp_path):
    header = ["Id", "Email", "CreatedDate"]
    mapping = {
        "object": "lead",
        "fields": {"external_id": "Id", "email": "Email", "created_at": "CreatedDate"},
    }
    rows = [{"Id": "1", "Email": "", "CreatedDate": "2026-03-02"}]
    run_import(tmp_path, csv_text(rows, header), system=crm(), mapping=mapping)
    run_import(tmp_path, csv_text(rows, header), system=marketing(), mapping=mapping)
    assert Lead.objects.count() == 2
    # A lead with an email still merges across systems by it.
    rows = [{"Id": "2", "Email": "Ana@Acme.com", "CreatedDate": "2026-03-02"}]
    run_import(tmp_path, csv_text(rows, header), system=crm(), mapping=mapping)
    run_import(tmp_path, csv_text(rows, header), system=marketing(), mapping=mapping)
    assert Lead.objects.filter(email_key="ana@acme.com").get().source_records.count() == 2


def test_seven_placeholder_leads_stay_seven_leads_and_the_import_counts_them(tmp_path):
    rows = [lead_row(i, Email="a@a.com") for i in range(1, 8)]
    rows.append(lead_row(8, Email="NoEmail@example.org"))
    rows.append(lead_row(9, Email="real@acme.com"))
    batch = run_import(tmp_path, csv_text(rows))
    assert batch.status == "applied", batch.message
    assert Lead.objects.filter(email="a@a.com").count() == 7
    assert Lead.objects.count() == 9
    assert batch.findings == {FindingKind.PLACEHOLDER_EMAIL: 8}
    found = batch.row_findings.filter(kind=FindingKind.PLACEHOLDER_EMAIL).order_by("row")
    assert [(f.row, f.column, f.value) for f in found][-1] == (9, "Email", "NoEmail@example.org")


def test_adding_a_placeholder_splits_the_lead_it_merged_and_removing_it_merges_again(tmp_path):
    run_import(tmp_path, csv_text([lead_row(1, Email="x@x.com"), lead_row(2, Email="x@x.com")]))
    assert Lead.objects.count() == 1
    item = placeholder_add(by=None, pattern=" X@X.COM ")
    assert item.pattern == "x@x.com"
    assert Lead.objects.count() == 2
    assert set(SourceLead.objects.values_list("lead_id", flat=True)) == set(
        Lead.objects.values_list("id", flat=True)
    )
    placeholder_remove(by=None, item=item)
    assert list(Lead.objects.values_list("email_key", flat=True)) == ["x@x.com"]


def test_ops_edit_the_placeholder_list_on_the_systems_page_others_only_read_it(client_as):
    sales = client_as(Role.SALES_LEAD)
    page = sales.get(reverse("pipeline:system-list"))
    assert "noemail@" in page.text
    assert "test@test.com" in page.text
    assert "Add placeholder" not in page.text
    url = reverse("pipeline:placeholder-list")
    assert sales.post(url, {"pattern": "fake@fake.com"}).status_code == 403
    ops = client_as(Role.OPS)
    assert "Add placeholder" in ops.get(reverse("pipeline:system-list")).text
    assert ops.post(url, {"pattern": "fake@fake.com"}).status_code == 302
    assert PlaceholderEmail.objects.filter(pattern="fake@fake.com").exists()
    refused = ops.post(url, {"pattern": "not an address"})
    assert refused.status_code == 400
    assert "neither an address" in refused.text
    item = PlaceholderEmail.objects.get(pattern="a@a.com")
    delete = reverse("pipeline:placeholder-delete", args=[item.pk])
    assert client_as(Role.MARKETING_LEAD).post(delete).status_code == 403
    assert ops.post(delete).status_code == 302
    assert not PlaceholderEmail.objects.filter(pattern="a@a.com").exists()


def test_the_placeholder_list_is_readable_through_the_api(client_as):
    response = client_as(Role.MARKETING_LEAD).get(reverse("api:placeholder-email-list"))
    assert response.status_code == 200
    patterns = {row["pattern"] for row in response.json()["results"]}
    assert {"a@a.com", "test@test.com", "noemail@"} <= patterns


# --- Phone ---------------------------------------------------------------------------------------

PHONE_MAPPING = {
    "object": "lead",
    "fields": {"external_id": "Id", "phone": "Phone", "created_at": "CreatedDate"},
}


def phone_file(*rows: tuple[str, str]) -> str:
    return csv_text(
        [{"Id": i, "Phone": p, "CreatedDate": "2026-03-02"} for i, p in rows],
        header=["Id", "Phone", "CreatedDate"],
    )


def test_a_phone_joins_leads_without_email_when_both_systems_match_by_phone(tmp_path):
    sales, mkt = crm(), marketing()
    SourceSystem.objects.filter(pk__in=[sales.pk, mkt.pk]).update(match_by_phone=True)
    run_import(tmp_path, phone_file(("1", "(415) 555-0132")), system=sales, mapping=PHONE_MAPPING)
    run_import(tmp_path, phone_file(("9", "+1 415 555 0132")), system=mkt, mapping=PHONE_MAPPING)
    lead = Lead.objects.get()
    assert lead.email_key == "tel:+14155550132"
    assert lead.source_records.count() == 2
    assert set(SourceLead.objects.values_list("phone_key", flat=True)) == {"+14155550132"}


def test_without_the_toggle_phones_do_not_join_and_a_bad_phone_is_no_error(tmp_path):
    run_import(tmp_path, phone_file(("1", "415 555 0132")), system=crm(), mapping=PHONE_MAPPING)
    batch = run_import(
        tmp_path,
        phone_file(("9", "415-555-0132"), ("10", "call me")),
        system=marketing(),
        mapping=PHONE_MAPPING,
    )
    assert batch.status == "applied", batch.message
    assert Lead.objects.count() == 3
    assert SourceLead.objects.get(external_id="10").phone_key == ""


def test_the_mapping_sets_the_country_of_numbers_written_without_a_plus(tmp_path, settings):
    settings.PHONE_DEFAULT_REGION = "US"
    run_import(tmp_path, phone_file(("1", "(11) 98765-4321")), mapping=PHONE_MAPPING)
    assert SourceLead.objects.get(external_id="1").phone_key == ""
    brazil = {**PHONE_MAPPING, "phone_region": "BR"}
    run_import(tmp_path, phone_file(("1", "(11) 98765-4321")), mapping=brazil)
    assert SourceLead.objects.get(external_id="1").phone_key == "+5511987654321"


def test_ops_turn_on_matching_by_phone_on_the_systems_page(client_as, tmp_path):
    system = crm()
    run_import(
        tmp_path, phone_file(("1", "415 555 0132"), ("2", "4155550132")), mapping=PHONE_MAPPING
    )
    assert Lead.objects.count() == 2
    ops = client_as(Role.OPS)
    response = ops.post(
        reverse("pipeline:system-edit", args=[system.slug]),
        {
            f"edit-{system.pk}-name": system.name,
            f"edit-{system.pk}-vendor": system.vendor,
            f"edit-{system.pk}-role": system.role,
            f"edit-{system.pk}-match_by_phone": "on",
        },
    )
    assert response.status_code == 302
    system.refresh_from_db()
    assert system.match_by_phone
    # The system's stored leads are matched again at once.
    assert list(Lead.objects.values_list("email_key", flat=True)) == ["tel:+14155550132"]
    assert "Match by phone" in ops.get(reverse("pipeline:system-list")).text


# --- Links across systems ------------------------------------------------------------------------

DEAL_MAPPING = {
    "object": "deal",
    "fields": {
        "external_id": "mql_id",
        "lead_external_id": {"column": "mql_id", "system": "olist-marketing"},
        "name": {"column": "business_segment"},
        "stage": {"default": "closed_won"},
        "created_at": "won_date",
        "close_date": "won_date",
        "amount": "declared_monthly_revenue",
    },
}


def test_a_closed_deal_naming_the_marketing_systems_mql_id_links_to_that_lead(tmp_path):
    sales = SourceSystem.objects.create(name="Olist sales", slug="olist-sales", role="sales")
    mql = "5420aad7fec3549a85876ba1c529bd84"
    run_import(tmp_path, mql_file(mql, "a555fb36b9368110ede0f043dfc3b9a0"), system=olist(),
               mapping=MQL_MAPPING)  # fmt: skip
    deals = csv_text(
        [{"mql_id": mql, "business_segment": "pet", "won_date": "2026-03-05",
          "declared_monthly_revenue": "0"}],
    )  # fmt: skip
    batch = run_import(tmp_path, deals, system=sales, object_type="deal", mapping=DEAL_MAPPING)
    assert batch.status == "applied", batch.message
    deal = Deal.objects.get()
    assert deal.lead == Lead.objects.get(email_key=f"olist-marketing:{mql}")
    # The scorecard's MQL → won conversion counts it: of the two MQLs of 2 March, one was won
    # by the end of that week.
    cell = compute(W10, "mql_to_won_rate")["mql_to_won_rate"]
    assert (cell.numerator, cell.denominator, cell.value) == (1, 2, Decimal("50"))


def test_deals_imported_before_their_mqls_link_when_the_mqls_arrive(tmp_path):
    sales = SourceSystem.objects.create(name="Olist sales", slug="olist-sales", role="sales")
    marketing_system = olist()
    deals = csv_text(
        [{"mql_id": "m1", "business_segment": "pet", "won_date": "2026-03-20",
          "declared_monthly_revenue": "0"}],
    )  # fmt: skip
    run_import(tmp_path, deals, system=sales, object_type="deal", mapping=DEAL_MAPPING)
    assert Deal.objects.get().lead is None
    run_import(tmp_path, mql_file("m1"), system=marketing_system, mapping=MQL_MAPPING)
    assert Deal.objects.get().lead == Lead.objects.get()


def test_a_mapping_naming_an_unknown_system_is_refused_in_a_sentence(tmp_path):
    deals = csv_text(
        [{"mql_id": "m1", "business_segment": "pet", "won_date": "2026-03-20",
          "declared_monthly_revenue": "0"}],
    )  # fmt: skip
    batch = run_import(tmp_path, deals, object_type="deal", mapping=DEAL_MAPPING)
    assert batch.status == "rejected"
    assert "no such system" in batch.message
    assert "'olist-marketing'" in batch.message


def test_system_is_only_allowed_on_id_fields(tmp_path):
    bad = {**MQL_MAPPING, "fields": {**MQL_MAPPING["fields"], "source": {
        "column": "origin", "system": "x"}}}  # fmt: skip
    with pytest.raises(Exception, match="only for lead_external_id and account_external_id"):
        run_import(tmp_path, mql_file("m1"), mapping=bad)


# --- Accounts without a domain -------------------------------------------------------------------

ACCOUNT_FILE = "Id,Name\n001A,Acme  Inc\n001B,ACME INC\n001C,Globex\n"
ACCOUNT_MAPPING = {"object": "account", "fields": {"external_id": "Id", "name": "Name"}}


def test_an_account_file_without_a_website_imports_through_the_command(tmp_path):
    crm()
    (tmp_path / "accounts.csv").write_text(ACCOUNT_FILE)
    (tmp_path / "map.json").write_text(json.dumps(ACCOUNT_MAPPING))
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_records", "--system", "salesforce", "--object", "account",
        "--mapping", str(tmp_path / "map.json"), str(tmp_path / "accounts.csv"),
        stdout=out, stderr=err,
    )  # fmt: skip
    assert "3 rows — 3 created" in out.getvalue()
    # Keyed by normalised name within the system: the two spellings of Acme are one account.
    assert sorted(Account.objects.values_list("key", "domain")) == [
        ("salesforce:acme inc", ""),
        ("salesforce:globex", ""),
    ]


def test_an_account_file_without_a_website_imports_through_the_api(
    client_as, django_capture_on_commit_callbacks
):
    crm()
    ops = client_as(Role.OPS)
    with django_capture_on_commit_callbacks(execute=True):
        response = ops.post(
            reverse("api:import-list"),
            {
                "system": "salesforce",
                "object_type": "account",
                "mapping": json.dumps(ACCOUNT_MAPPING),
                "file": SimpleUploadedFile("a.csv", ACCOUNT_FILE.encode(), "text/csv"),
            },
        )
    assert response.status_code == 202
    polled = ops.get(reverse("api:import-detail", args=[response.json()["id"]]))
    assert polled.json()["status"] == "applied"
    assert Account.objects.count() == 2


def test_a_lead_without_email_shows_on_the_lead_pages_and_in_the_api(client_as, tmp_path):
    run_import(tmp_path, mql_file("8c18d1de"), system=olist(), mapping=MQL_MAPPING)
    lead = Lead.objects.get()
    client = client_as(Role.MARKETING_LEAD)
    listing = client.get(reverse("pipeline:lead-list"))
    assert listing.status_code == 200
    assert "olist-marketing:8c18d1de" in listing.text
    page = client.get(reverse("pipeline:lead-detail", args=[lead.pk]))
    assert page.status_code == 200
    assert "no email" in page.text
    api = client.get(reverse("api:lead-list")).json()["results"]
    assert [(r["key"], r["email"]) for r in api] == [("olist-marketing:8c18d1de", "")]


def test_system_add_can_turn_on_matching_by_phone(tmp_path):
    out = io.StringIO()
    call_command(
        "system_add", "--name", "Call center", "--vendor", "other", "--role", "sales",
        "--match-by-phone", stdout=out,
    )  # fmt: skip
    assert SourceSystem.objects.get(slug="call-center").match_by_phone


def test_the_mapping_page_says_which_system_a_lead_id_column_belongs_to(
    client_as, django_capture_on_commit_callbacks
):
    olist()
    client = client_as(Role.OPS)
    text = "mql_id,segment,won_date\nm1,pet,2026-03-05\n"
    response = client.post(
        reverse("pipeline:import-new"),
        {
            "system": crm().pk,
            "object_type": "deal",
            "preset": "__new__",
            "file": SimpleUploadedFile("deals.csv", text.encode(), content_type="text/csv"),
        },
    )
    page = client.get(response.url)
    assert 'name="system_lead_external_id"' in page.text
    assert "Olist marketing" in page.text
    form = {
        "name": "Olist closed deals",
        "date_order": "iso",
        "decimal_separator": ".",
        "timezone": "UTC",
        "col_external_id": "mql_id",
        "col_name": "segment",
        "col_stage": "segment",
        "values_stage": "pet = closed_won",
        "col_created_at": "won_date",
        "col_lead_external_id": "mql_id",
        "system_lead_external_id": "olist-marketing",
    }
    with django_capture_on_commit_callbacks(execute=True):
        client.post(response.url, form)
    preset = ImportPreset.objects.get(name="Olist closed deals")
    assert preset.mapping["fields"]["lead_external_id"] == {
        "column": "mql_id",
        "system": "olist-marketing",
    }


def test_reconciliation_does_not_pair_leads_without_email_or_with_a_placeholder():
    from datetime import timedelta

    from django.utils import timezone

    from pipeline.models import Discrepancy
    from pipeline.services import reconciliation
    from pipeline.services.identity import golden_resolve
    from tests.factories import SourceLeadFactory

    created = timezone.now() - timedelta(weeks=2)
    sales, mkt = crm(), marketing()
    for system in (sales, mkt):
        SourceLeadFactory(
            system=system, external_id="1", email="", email_key="", created_at=created
        )
        for i in (2, 3):
            SourceLeadFactory(
                system=system, external_id=str(i), email="a@a.com", email_key="a@a.com",
                created_at=created,
            )  # fmt: skip
    golden_resolve()
    assert Lead.objects.count() == 6
    result = reconciliation.reconciliation_run_now(trigger="command", weeks=8)
    assert result.status == "completed", result.message
    found = set(Discrepancy.objects.values_list("kind", "golden_key"))
    # Each is missing on the other side; none is a duplicate of or a mismatch with another.
    assert found == {
        *{("missing_in_sales", f"hubspot:{i}") for i in (1, 2, 3)},
        *{("missing_in_marketing", f"salesforce:{i}") for i in (1, 2, 3)},
    }


def test_the_api_adds_and_removes_placeholder_emails_for_ops_only(client_as):
    url = reverse("api:placeholder-email-list")
    assert client_as(Role.EXECUTIVE).post(url, {"pattern": "x@x.com"}).status_code == 403
    ops = client_as(Role.OPS)
    created = ops.post(url, {"pattern": "Nobody@"})
    assert created.status_code == 201
    assert (created.json()["pattern"], created.json()["is_prefix"]) == ("nobody@", True)
    again = ops.post(url, {"pattern": "nobody@"})
    assert again.status_code == 400
    assert again.json() == {"non_field_errors": ["nobody@ is already on the list."]}
    detail = reverse("api:placeholder-email-detail", args=[created.json()["id"]])
    assert ops.delete(detail).status_code == 204
    assert not PlaceholderEmail.objects.filter(pattern="nobody@").exists()


def test_a_marketing_lead_naming_the_crms_account_id_joins_that_account(tmp_path):
    run_import(tmp_path, "Id,Name\n001A,Acme\n", system=crm(), object_type="account",
               mapping=ACCOUNT_MAPPING)  # fmt: skip
    mapping = {**MQL_MAPPING, "fields": {
        **MQL_MAPPING["fields"],
        "account_external_id": {"column": "account", "system": "salesforce"},
    }}  # fmt: skip
    text = "mql_id,first_contact_date,landing_page_id,origin,account\nm1,2026-03-02,x,paid,001A\n"
    batch = run_import(tmp_path, text, system=marketing(), mapping=mapping)
    assert batch.status == "applied", batch.message
    assert Lead.objects.get().account == Account.objects.get()


def test_a_lead_stops_counting_as_won_when_its_deal_is_reopened(tmp_path):
    sales = SourceSystem.objects.create(name="Olist sales", slug="olist-sales", role="sales")
    run_import(tmp_path, mql_file("m1"), system=olist(), mapping=MQL_MAPPING)
    won = csv_text([{"mql_id": "m1", "business_segment": "pet", "won_date": "2026-03-05",
                     "declared_monthly_revenue": "0"}])  # fmt: skip
    run_import(tmp_path, won, system=sales, object_type="deal", mapping=DEAL_MAPPING)
    assert Lead.objects.get().won_at is not None
    reopened = {**DEAL_MAPPING, "fields": {**DEAL_MAPPING["fields"],
                                           "stage": {"default": "negotiation"}}}  # fmt: skip
    run_import(tmp_path, won, system=sales, object_type="deal", mapping=reopened)
    assert Deal.objects.get().stage == "negotiation"
    assert Lead.objects.get().won_at is None


def test_a_bad_phone_default_region_stops_start_up_naming_the_variable(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from revops.env import env_phone_region

    monkeypatch.setenv("PHONE_DEFAULT_REGION", "br")
    assert env_phone_region("PHONE_DEFAULT_REGION", "US") == "BR"
    monkeypatch.setenv("PHONE_DEFAULT_REGION", "Narnia")
    with pytest.raises(ImproperlyConfigured, match="PHONE_DEFAULT_REGION='Narnia'"):
        env_phone_region("PHONE_DEFAULT_REGION", "US")
