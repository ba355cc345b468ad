"""The import pages: ops upload, see the check, confirm; everyone else is kept out."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from pipeline.choices import BatchStatus
from pipeline.models import ImportBatch, ImportPreset, SourceLead
from revops.permissions import Role
from tests.pipeline.importing import crm, csv_text, lead_row

pytestmark = pytest.mark.django_db


def upload(client, content: str, preset: str = "salesforce-lead", name: str = "leads.csv"):
    return client.post(
        reverse("pipeline:import-new"),
        {
            "system": crm().pk,
            "object_type": "lead",
            "preset": preset,
            "file": SimpleUploadedFile(name, content.encode(), content_type="text/csv"),
        },
    )


def test_ops_upload_is_checked_previewed_and_applied_only_on_confirmation(
    client_as, django_capture_on_commit_callbacks
):
    client = client_as(Role.OPS)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, csv_text([lead_row(1), lead_row(2)]))
    batch = ImportBatch.objects.get()
    assert response.url == reverse("pipeline:import-detail", args=[batch.pk])
    assert batch.status == BatchStatus.PENDING
    assert not SourceLead.objects.exists()
    page = client.get(response.url)
    assert "Confirm and apply 2 rows" in page.text
    assert "person1@acme.com" in page.text  # the preview shows rows as mapped
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("pipeline:import-confirm", args=[batch.pk]))
    batch.refresh_from_db()
    assert batch.status == BatchStatus.APPLIED
    assert SourceLead.objects.count() == 2
    assert batch.created_by.username == "ops"


def test_a_file_with_problems_shows_each_and_offers_them_as_csv(
    client_as, django_capture_on_commit_callbacks
):
    client = client_as(Role.OPS)
    rows = [lead_row(1, Email="nope"), lead_row(2, CreatedDate="31/02/2026")]
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, csv_text(rows))
    page = client.get(response.url)
    assert "Rejected (nothing applied)" in page.text
    assert "Email is not a valid email address" in page.text
    assert "Confirm" not in page.text
    report = client.get(reverse("pipeline:import-errors", args=[ImportBatch.objects.get().pk]))
    assert report["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(report.content.decode())))
    assert rows == [
        ["row", "column", "value", "problem"],
        ["2", "Email", "nope", "Email is not a valid email address"],
        [
            "3",
            "CreatedDate",
            "31/02/2026",
            "CreatedDate is not an ISO date like 2025-03-31; "
            "if the file writes dates as 03/31/2025, set the date order to US or EU",
        ],
    ]


def test_a_preset_for_another_object_is_refused_on_the_form(client_as):
    response = upload(client_as(Role.OPS), csv_text([lead_row(1)]), preset="hubspot-deal")
    assert response.status_code == 200
    assert "This preset reads deals; you chose leads." in response.text
    form = response.context["form"]  # shown again as chosen (a file input cannot be refilled)
    assert (form["object_type"].value(), form["preset"].value()) == ("lead", "hubspot-deal")
    assert '<option value="hubspot-deal" selected>' in response.text
    assert not ImportBatch.objects.exists()


def test_building_a_mapping_from_the_files_header_saves_a_preset_and_checks_the_file(
    client_as, django_capture_on_commit_callbacks
):
    client = client_as(Role.OPS)
    text = "Lead ID;E-mail;Signed up;Phase\nL1;ana@acme.com;2026-03-02;Hot\n"
    response = upload(client, text, preset="__new__", name="custom.csv")
    batch = ImportBatch.objects.get()
    assert batch.status == BatchStatus.DRAFT
    assert response.url == reverse("pipeline:import-mapping", args=[batch.pk])
    page = client.get(response.url)
    assert "Lead ID, E-mail, Signed up, Phase" in page.text
    form = {
        "name": "Website sign-ups",
        "date_order": "iso",
        "decimal_separator": ".",
        "timezone": "UTC",
        "col_external_id": "Lead ID",
        "col_email": "E-mail",
        "col_created_at": "Signed up",
        "col_stage": "Phase",
        "values_stage": "Hot = mql",
    }
    with django_capture_on_commit_callbacks(execute=True):
        client.post(response.url, form)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PENDING, batch.message
    preset = ImportPreset.objects.get()
    assert preset.name == "Website sign-ups"
    assert preset.mapping["fields"]["stage"] == {"column": "Phase", "values": {"hot": "mql"}}


def test_a_mapping_that_misses_a_required_field_is_refused_with_the_reason(client_as):
    client = client_as(Role.OPS)
    upload(client, "Lead ID,E-mail\nL1,ana@acme.com\n", preset="__new__")
    batch = ImportBatch.objects.get()
    response = client.post(
        reverse("pipeline:import-mapping", args=[batch.pk]),
        {
            "name": "Half",
            "date_order": "iso",
            "decimal_separator": ".",
            "timezone": "UTC",
            "col_external_id": "Lead ID",
            "col_email": "E-mail",
        },
    )
    assert "Required field &#x27;created_at&#x27; (Created) is not mapped." in response.text
    assert not ImportPreset.objects.exists()


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.SALES_LEAD, Role.MARKETING_LEAD])
def test_only_ops_see_or_run_imports(client_as, role):
    client = client_as(role)
    assert client.get(reverse("pipeline:import-list")).status_code == 403
    assert client.get(reverse("pipeline:import-new")).status_code == 403
    assert upload(client, csv_text([lead_row(1)])).status_code == 403
    assert not ImportBatch.objects.exists()


def test_the_status_endpoint_reports_progress_for_the_progress_bar(client_as):
    batch = ImportBatch.objects.create(
        system=crm(), object_type="lead", status="running", phase="reading", progress=40
    )
    data = client_as(Role.OPS).get(reverse("pipeline:import-status", args=[batch.pk])).json()
    assert data == {
        "status": "running",
        "status_label": "Running",
        "phase": "reading",
        "progress": 40,
        "finished": False,
    }


def test_the_batch_page_shows_who_confirmed_it(client_as, django_capture_on_commit_callbacks):
    client = client_as(Role.OPS)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, csv_text([lead_row(1)]))
    batch = ImportBatch.objects.get()
    assert "confirmed by" not in client.get(response.url).text
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("pipeline:import-confirm", args=[batch.pk]))
    batch.refresh_from_db()
    assert batch.status == BatchStatus.APPLIED
    assert batch.confirmed_by.username == "ops"
    assert batch.confirmed_at is not None
    assert "confirmed by ops" in client.get(response.url).text


def test_a_preset_name_in_use_is_refused_next_to_the_name(client_as):
    client = client_as(Role.OPS)
    ImportPreset.objects.create(name="Website sign-ups", object_type="lead", mapping={})
    upload(client, "Lead ID,E-mail,Signed up\nL1,ana@acme.com,2026-03-02\n", preset="__new__")
    batch = ImportBatch.objects.get()
    response = client.post(
        reverse("pipeline:import-mapping", args=[batch.pk]),
        {
            "name": " Website sign-ups ",
            "date_order": "iso",
            "decimal_separator": ".",
            "timezone": "UTC",
            "col_external_id": "Lead ID",
            "col_email": "E-mail",
            "col_created_at": "Signed up",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["name"] == [
        "A preset with this name exists; choose another name."
    ]
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DRAFT


def test_a_draft_whose_file_is_not_csv_is_rejected_on_the_mapping_page(client_as):
    client = client_as(Role.OPS)
    upload(client, "\x00\x01\x02binary", preset="__new__", name="x.csv")
    batch = ImportBatch.objects.get()
    response = client.get(reverse("pipeline:import-mapping", args=[batch.pk]))
    assert response.url == reverse("pipeline:import-detail", args=[batch.pk])
    batch.refresh_from_db()
    assert batch.status == BatchStatus.REJECTED
    assert batch.message.endswith("Nothing was imported.")
    assert batch.finished_at is not None


def test_the_preview_marks_the_rows_with_a_problem(client_as, django_capture_on_commit_callbacks):
    client = client_as(Role.OPS)
    rows = [lead_row(1), lead_row(2, Email="nope"), lead_row(3)]
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, csv_text(rows))
    page = client.get(response.url)
    preview = page.text[page.text.index('<table class="table compact preview">') :]
    preview = preview[: preview.index("</table>")]
    assert "1 of these rows has a problem" in page.text
    bad = [tr for tr in preview.split("<tr")[1:] if 'class="preview-bad"' in tr]
    assert len(bad) == 1
    assert "<td>3</td>" in bad[0]  # the file's row 3: the header is row 1
    assert "Email is not a valid email address" in bad[0]
    assert page.context["preview_bad"] == 1
