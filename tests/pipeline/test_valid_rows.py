"""Whole or valid rows, the user's choice: all-or-nothing stays the default; "apply the valid
rows and hold the rest" applies exactly the rows without problems, lists the held ones with
their errors and hands them back as a CSV that imports again once fixed."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from pipeline.choices import ApplyMode, BatchStatus
from pipeline.models import Account, ImportBatch, SourceAccount
from pipeline.services.imports import (
    import_batch_confirm,
    import_batch_create,
    import_batch_run,
    mapping_for,
)
from revops.permissions import Role
from tests.pipeline.importing import crm, csv_text, run_import

pytestmark = pytest.mark.django_db

BAD = {3: "not a website", 7: "http://"}


def accounts(n: int = 10, bad: dict[int, str] = BAD) -> str:
    rows = [
        {
            "Id": f"001A{i:04d}",
            "Name": f"Company {i}",
            "Website": bad.get(i, f"company{i}.com"),
            "Industry": "Software",
            "NumberOfEmployees": str(10 * i),
        }
        for i in range(n)
    ]
    return csv_text(rows)


def import_accounts(tmp_path, content: str, *, mode=ApplyMode.VALID_ROWS, apply=True, name="a.csv"):
    path = tmp_path / name
    path.write_text(content)
    mapping, preset = mapping_for(object_type="account", preset="salesforce-account")
    batch = import_batch_create(
        system=crm(),
        object_type="account",
        mapping=mapping,
        preset=preset,
        apply=apply,
        path=path,
        apply_mode=mode,
    )
    return import_batch_run(batch.id, path=path)


def held_csv(client, batch) -> list[list[str]]:
    response = client.get(reverse("pipeline:import-held", args=[batch.pk]))
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_whole_file_stays_the_default_and_one_bad_row_writes_nothing(tmp_path):
    batch = import_accounts(tmp_path, accounts(), mode=ApplyMode.WHOLE)
    assert batch.status == BatchStatus.REJECTED
    assert batch.rows_held == 0
    assert SourceAccount.objects.count() == 0


def test_valid_rows_apply_and_the_rest_are_held_and_counted(tmp_path):
    batch = import_accounts(tmp_path, accounts())
    assert batch.status == BatchStatus.APPLIED
    assert (batch.rows_total, batch.rows_created, batch.rows_held) == (10, 8, 2)
    assert batch.message.startswith("8 applied, 2 held")
    stored = set(SourceAccount.objects.values_list("external_id", flat=True))
    assert stored == {f"001A{i:04d}" for i in range(10) if i not in BAD}
    assert Account.objects.count() == 8
    assert [(e.row, e.column) for e in batch.row_errors.all()] == [(5, "Website"), (9, "Website")]


def test_held_rows_download_with_their_problem_and_import_again_once_fixed(tmp_path, client_as):
    batch = import_accounts(tmp_path, accounts())
    rows = held_csv(client_as(Role.OPS), batch)
    assert rows[0] == ["Id", "Name", "Website", "Industry", "NumberOfEmployees", "import_problem"]
    assert [r[0] for r in rows[1:]] == ["001A0003", "001A0007"]
    assert rows[1][2] == "not a website"
    assert rows[1][-1].startswith("Row 5: Website ")
    assert "website" in rows[1][-1].lower()
    # Fix the two websites in the downloaded file and import it as it is.
    fixed = io.StringIO()
    writer = csv.writer(fixed)
    writer.writerow(rows[0])
    for row in rows[1:]:
        writer.writerow([*row[:2], f"fixed-{row[0].lower()}.com", *row[3:]])
    again = import_accounts(tmp_path, fixed.getvalue(), mode=ApplyMode.WHOLE, name="fixed.csv")
    assert again.status == BatchStatus.APPLIED, again.message
    assert (again.rows_created, again.rows_held) == (2, 0)
    assert again.unknown_columns == ["import_problem"]
    assert SourceAccount.objects.count() == 10


def test_a_checked_batch_says_what_will_apply_and_confirming_applies_exactly_that(tmp_path):
    batch = import_accounts(tmp_path, accounts(), apply=False)
    assert batch.status == BatchStatus.PENDING
    assert batch.message.startswith("8 will apply, 2 held")
    assert SourceAccount.objects.count() == 0
    # The file was kept; confirming re-reads it and applies the same eight rows.
    import_batch_confirm(batch=batch, by=None)
    batch = import_batch_run(batch.id)
    assert (batch.status, batch.rows_created, batch.rows_held) == (BatchStatus.APPLIED, 8, 2)
    assert batch.held_rows.count() == 3  # the header and the two rows, not twice


def test_a_file_whose_every_row_is_wrong_is_rejected_even_in_valid_rows_mode(tmp_path):
    batch = import_accounts(tmp_path, accounts(2, bad={0: "nope", 1: "no pe"}))
    assert batch.status == BatchStatus.REJECTED
    assert SourceAccount.objects.count() == 0


def test_both_copies_of_an_id_given_twice_are_held(tmp_path):
    content = csv_text(
        [
            {"Id": "X1", "Name": "A", "Website": "a.com"},
            {"Id": "X2", "Name": "B", "Website": "b.com"},
            {"Id": "X1", "Name": "C", "Website": "c.com"},
        ],
        header=["Id", "Name", "Website", "Industry", "NumberOfEmployees"],
    )
    batch = import_accounts(tmp_path, content)
    assert (batch.status, batch.rows_created, batch.rows_held) == (BatchStatus.APPLIED, 1, 2)
    assert list(SourceAccount.objects.values_list("external_id", flat=True)) == ["X2"]


def test_the_command_applies_valid_rows_when_asked_and_lists_the_held_ones(tmp_path):
    crm()
    path = tmp_path / "accounts.csv"
    path.write_text(accounts())
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "import_records", path, "--system=salesforce", "--object=account",
            "--preset=salesforce-account", stdout=out, stderr=err,
        )  # fmt: skip
    call_command(
        "import_records", path, "--system=salesforce", "--object=account",
        "--preset=salesforce-account", "--valid-rows", stdout=out, stderr=err,
    )  # fmt: skip
    assert "8 created" in out.getvalue()
    assert "2 held" in out.getvalue()
    assert "row 5, column 'Website'" in err.getvalue()


def test_the_api_takes_the_mode_and_reports_the_held_rows(
    client_as, django_capture_on_commit_callbacks
):
    crm()
    client = client_as(Role.OPS)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("api:import-list"),
            {
                "system": "salesforce",
                "object_type": "account",
                "preset": "salesforce-account",
                "apply_mode": "valid_rows",
                "file": SimpleUploadedFile("a.csv", accounts().encode(), content_type="text/csv"),
            },
        )
    assert response.status_code == 202, response.content
    body = client.get(reverse("api:import-detail", args=[response.json()["id"]])).json()
    assert (body["status"], body["apply_mode"], body["rows_held"]) == ("applied", "valid_rows", 2)
    bad = client.post(
        reverse("api:import-list"),
        {
            "system": "salesforce",
            "object_type": "account",
            "preset": "salesforce-account",
            "apply_mode": "some",
            "file": SimpleUploadedFile("a.csv", b"Id\n1\n", content_type="text/csv"),
        },
    )
    assert bad.status_code == 400
    assert "apply_mode" in bad.json()


def test_the_page_offers_the_choice_and_the_batch_shows_applied_and_held(
    client_as, django_capture_on_commit_callbacks
):
    crm()
    client = client_as(Role.OPS)
    page = client.get(reverse("pipeline:import-new"))
    assert "Apply the valid rows, hold the rest" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("pipeline:import-new"),
            {
                "system": crm().pk,
                "object_type": "account",
                "preset": "salesforce-account",
                "apply_mode": "valid_rows",
                "file": SimpleUploadedFile("a.csv", accounts().encode(), content_type="text/csv"),
            },
        )
    assert response.status_code == 302
    batch = ImportBatch.objects.get()
    assert batch.status == BatchStatus.PENDING
    html = client.get(reverse("pipeline:import-detail", args=[batch.pk])).content.decode()
    assert "8 will apply, 2 held" in html
    assert reverse("pipeline:import-held", args=[batch.pk]) in html
    # Only ops see imports; the held rows are theirs too.
    for role in (Role.SALES_LEAD, Role.EXECUTIVE):
        assert (
            client_as(role).get(reverse("pipeline:import-held", args=[batch.pk])).status_code == 403
        )


def test_a_batch_that_held_nothing_has_no_held_file(tmp_path, client_as):
    batch = run_import(
        tmp_path, accounts(3, bad={}), object_type="account", preset="salesforce-account"
    )
    assert batch.status == BatchStatus.APPLIED
    assert (
        client_as(Role.OPS).get(reverse("pipeline:import-held", args=[batch.pk])).status_code == 404
    )


def test_a_full_export_applying_only_its_valid_rows_does_not_delete_the_held_ones(tmp_path):
    from pipeline.choices import ExportKind

    first = import_accounts(tmp_path, accounts(bad={}), mode=ApplyMode.WHOLE)
    assert first.rows_created == 10
    path = tmp_path / "full.csv"
    path.write_text(accounts(9))  # account 9 gone; 3 and 7 now have bad websites
    mapping, preset = mapping_for(object_type="account", preset="salesforce-account")
    batch = import_batch_create(
        system=crm(), object_type="account", mapping=mapping, preset=preset, apply=True,
        path=path, apply_mode=ApplyMode.VALID_ROWS, export_kind=ExportKind.FULL,
    )  # fmt: skip
    batch = import_batch_run(batch.id, path=path)
    assert (batch.status, batch.rows_held, batch.rows_deleted) == (BatchStatus.APPLIED, 2, 1)
    deleted = SourceAccount.objects.filter(deleted_at__isnull=False)
    assert list(deleted.values_list("external_id", flat=True)) == ["001A0009"]
