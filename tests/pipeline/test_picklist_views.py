"""The value-mapping page: the batch page lists the file's values of each choice field and
offers to map the unknown ones; ops map them, the preset is saved and the file checked again.
Only ops staff may use it."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from pipeline.choices import BatchStatus
from pipeline.models import ImportBatch, ImportPreset
from revops.permissions import Role
from tests.pipeline.importing import crm, csv_text
from tests.pipeline.test_picklists import SPANISH

pytestmark = pytest.mark.django_db


def upload_spanish(client, capture) -> ImportBatch:
    with capture(execute=True):
        client.post(
            reverse("pipeline:import-new"),
            {
                "system": crm().pk,
                "object_type": "deal",
                "preset": "salesforce-opportunity",
                "file": SimpleUploadedFile("opps.csv", csv_text(SPANISH).encode()),
            },
        )
    return ImportBatch.objects.get()


def test_a_rejected_batch_lists_the_values_found_and_offers_to_map_them(
    client_as, django_capture_on_commit_callbacks
):
    client = client_as(Role.OPS)
    batch = upload_spanish(client, django_capture_on_commit_callbacks)
    assert batch.status == BatchStatus.REJECTED
    page = client.get(reverse("pipeline:import-detail", args=[batch.pk])).text
    assert "Stage (StageName): 2 values in 3 rows the mapping does not know" in page
    assert "Type (Type): 1 value in 2 rows the mapping does not know" in page
    assert reverse("pipeline:import-values", args=[batch.pk]) in page
    assert "Map these values" in page
    assert "Cerrada ganada" in page
    assert "is not a stage this mapping knows" in page


def test_ops_map_the_values_and_the_same_file_is_checked_again_in_one_click(
    client_as, django_capture_on_commit_callbacks
):
    client = client_as(Role.OPS)
    batch = upload_spanish(client, django_capture_on_commit_callbacks)
    url = reverse("pipeline:import-values", args=[batch.pk])
    form = client.get(url)
    assert form.status_code == 200
    assert "Cerrada ganada" in form.text
    assert "Salesforce — Opportunities (API field names)" in form.text  # the base it extends
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {
                "name": "Salesforce ES",
                "stage_0": "closed_won",  # Cerrada ganada
                "stage_2": "qualification",  # Prospección
                "deal_type_0": "expansion",  # Existing Business
            },
        )
    again = ImportBatch.objects.exclude(pk=batch.pk).get()
    assert response.status_code == 302
    assert response.url == reverse("pipeline:import-detail", args=[again.pk])
    assert again.status == BatchStatus.PENDING
    assert again.file.name == batch.file.name
    preset = ImportPreset.objects.get()
    assert (preset.name, preset.mapping["extends"]) == ("Salesforce ES", "salesforce-opportunity")
    assert preset.mapping["fields"]["stage"] == {
        "values": {"Cerrada ganada": "closed_won", "Prospección": "qualification"}
    }
    page = client.get(response.url).text
    assert "Confirm and apply 4 rows" in page
    assert "Map these values" not in page


def test_a_name_in_use_or_a_value_not_offered_is_refused_on_the_page(
    client_as, django_capture_on_commit_callbacks
):
    client = client_as(Role.OPS)
    batch = upload_spanish(client, django_capture_on_commit_callbacks)
    url = reverse("pipeline:import-values", args=[batch.pk])
    taken = client.post(url, {"name": "salesforce-opportunity", "stage_0": "closed_won"})
    assert taken.status_code == 400
    assert "A preset with this name exists" in taken.text
    odd = client.post(url, {"name": "ES", "stage_0": "won-ish", "stage_99": "closed_won"})
    assert odd.status_code == 400
    assert "Select a valid choice" in odd.text
    nothing = client.post(url, {"name": "ES"})
    assert nothing.status_code == 400
    assert "Choose one of our values" in nothing.text
    assert not ImportPreset.objects.exists()
    assert ImportBatch.objects.count() == 1


def test_the_values_page_of_an_unknown_import_is_not_found(client_as):
    assert client_as(Role.OPS).get(reverse("pipeline:import-values", args=[999])).status_code == 404


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.SALES_LEAD, Role.MARKETING_LEAD, None])
@pytest.mark.parametrize("method", ["get", "post"])
def test_only_ops_staff_may_map_values(
    role, method, client_as, make_user, django_capture_on_commit_callbacks
):
    batch = upload_spanish(
        client_as(Role.OPS), django_capture_on_commit_callbacks
    )  # as ops, then try as someone else
    client = client_as(role)
    url = reverse("pipeline:import-values", args=[batch.pk])
    response = getattr(client, method)(url, {"name": "x", "stage_0": "closed_won"})
    assert response.status_code == 403
    assert not ImportPreset.objects.exists()


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("pipeline:import-values", args=[1]))
    assert response.status_code == 302
    assert "/login/" in response.url


def test_the_mapping_page_extends_a_builtin_preset_saving_only_the_changes(
    client_as, settings, django_capture_on_commit_callbacks
):
    client = client_as(Role.OPS)
    # The org renamed its stage column and speaks Spanish.
    rows = [{**r, "Etapa": r["StageName"]} for r in SPANISH]
    header = [c if c != "StageName" else "Etapa" for c in SPANISH[0]]
    client.post(
        reverse("pipeline:import-new"),
        {
            "system": crm().pk,
            "object_type": "deal",
            "preset": "__new__",
            "file": SimpleUploadedFile("opps.csv", csv_text(rows, header=header).encode()),
        },
    )
    draft = ImportBatch.objects.get()
    url = reverse("pipeline:import-mapping", args=[draft.pk])
    started = client.get(url, {"base": "salesforce-opportunity"})
    assert started.status_code == 200
    assert started.context["form"]["col_amount"].initial == "Amount"  # the base's column
    columns = {
        "external_id": "Id", "account_external_id": "AccountId", "name": "Name",
        "stage": "Etapa", "amount": "Amount", "close_date": "CloseDate",
        "created_at": "CreatedDate", "source": "LeadSource", "deal_type": "Type",
        "owner": "OwnerId",
    }  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {
                "name": "Salesforce ES",
                "base": "salesforce-opportunity",
                "date_order": "iso",
                "decimal_separator": ".",
                "timezone": settings.TIME_ZONE,
                **{f"col_{k}": v for k, v in columns.items()},
                "values_stage": "Cerrada ganada = closed_won\nProspección = qualification",
                "values_deal_type": "Existing Business = expansion",
            },
        )
    assert response.status_code == 302
    assert ImportPreset.objects.get().mapping == {
        "extends": "salesforce-opportunity",
        "object": "deal",
        "fields": {
            "stage": {
                "column": "Etapa",
                "values": {"Cerrada ganada": "closed_won", "Prospección": "qualification"},
            },
            "deal_type": {"values": {"Existing Business": "expansion"}},
        },
    }
    draft.refresh_from_db()
    assert draft.status == BatchStatus.PENDING
    assert draft.mapping["fields"]["stage"]["values"]["closed won"] == "closed_won"  # the base's
    assert [v[2] for v in draft.preview["values"][0]["values"]] == [
        "closed_won",
        "closed_won",
        "qualification",
    ]
