"""Files as real systems write them: NUL bytes, very wide headers, huge cells, ids with percent
signs, the shapes spreadsheets and exporters write, header case, boolean columns, dates out of
order, control characters and another vendor's header. Each class of file has one small
hand-written fixture, run through `import_records` as manage.py runs it (inside an audit
context, which adds placeholders of its own to every INSERT and UPDATE)."""

from __future__ import annotations

import io

import pghistory
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from pipeline.choices import BatchStatus, FindingKind, SystemRole, Vendor
from pipeline.models import ImportBatch, SourceLead, SourceSystem
from revops.permissions import Role
from tests.pipeline.importing import LEAD_HEADER, crm, csv_text, lead_row

pytestmark = pytest.mark.django_db


def command(tmp_path, content: str | bytes, *args: str, name: str = "leads.csv"):
    """Run import_records on `content` as manage.py does; returns (batch, stdout, stderr)."""
    crm()
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    out, err = io.StringIO(), io.StringIO()
    with pghistory.context(source="command:import_records"):
        try:
            call_command(
                "import_records",
                "--system",
                "salesforce",
                "--object",
                "lead",
                *(args or ("--preset", "salesforce-lead")),
                str(path),
                stdout=out,
                stderr=err,
            )
        except CommandError as exc:
            err.write(str(exc))
    return ImportBatch.objects.latest("id"), out.getvalue(), err.getvalue()


# --- Ids and other data with percent signs ------------------------------------------------------


@pytest.mark.parametrize("ident", ["00Q%1", "00Q%s", "00Q{}", "00Q'\"x", "00Q%(a)s"])
def test_the_same_id_twice_names_both_rows_whatever_the_id_holds(tmp_path, ident):
    batch, _, err = command(tmp_path, csv_text([lead_row(1, Id=ident), lead_row(2, Id=ident)]))
    assert batch.status == BatchStatus.REJECTED
    assert "row 2, column 'Id'" in err
    assert "appears 2 times in this file (rows 2, 3)" in err
    assert "ProgrammingError" not in err


# --- Shapes spreadsheets and exporters write -----------------------------------------------------


def _two_leads() -> list[str]:
    """A header and two lead rows whose last three cells are empty."""
    text = csv_text(
        [lead_row(1), lead_row(2, ConvertedOpportunityId="", IsConverted="", OwnerId="")]
    )
    return text.splitlines()


def _shape(name: str) -> str:
    header, first, second = _two_leads()
    return {
        "short row (trailing empty cells dropped)": f"{header}\n{first}\n{second.rstrip(',')}\n",
        "a delimiter at the end of every line": f"{header},\n{first},\n{second},\n",
        "a delimiter at the end of every row only": f"{header}\n{first},\n{second},\n",
        "blank lines between and at the end": f"{header}\n{first}\n\n{second}\n\n\n",
        "a last line of delimiters": f"{header}\n{first}\n{second}\n{',' * 11}\n",
        "no newline at the end": f"{header}\n{first}\n{second}",
        "old Mac line endings": f"{header}\r{first}\r{second}\r",
        "Windows line endings and a blank last line": f"{header}\r\n{first}\r\n{second}\r\n\r\n",
        "Excel's sep= line": f"sep=,\n{header}\n{first}\n{second}\n",
        "Excel's sep= line with semicolons": "sep=;\r\n"
        + "\r\n".join(line.replace(",", ";") for line in (header, first, second)),
        "a quoted header": ",".join(f'"{h}"' for h in LEAD_HEADER) + f"\n{first}\n{second}\n",
    }[name]


@pytest.mark.parametrize(
    "shape",
    [
        "short row (trailing empty cells dropped)",
        "a delimiter at the end of every line",
        "a delimiter at the end of every row only",
        "blank lines between and at the end",
        "a last line of delimiters",
        "no newline at the end",
        "old Mac line endings",
        "Windows line endings and a blank last line",
        "Excel's sep= line",
        "Excel's sep= line with semicolons",
        "a quoted header",
    ],
)
def test_files_as_spreadsheets_and_exporters_write_them_import(tmp_path, shape):
    batch, out, err = command(tmp_path, _shape(shape))
    assert batch.status == BatchStatus.APPLIED, err
    assert "2 rows — 2 created" in out
    assert sorted(SourceLead.objects.values_list("email", flat=True)) == [
        "person1@acme.com",
        "person2@acme.com",
    ]


def test_a_row_with_more_filled_fields_than_the_header_is_named(tmp_path):
    header, first, second = _two_leads()
    content = f"{header}\n{first}\n{second},extra,cells\n{first.replace('00Q', '00R')},,\n"
    batch, _, err = command(tmp_path, content)
    assert batch.status == BatchStatus.REJECTED
    assert "row 3 ('00Q000000000000002," in err
    assert "has 14 fields; the header has 12" in err
    assert "row 4" not in err  # empty fields after the last column are only a trailing delimiter
    assert not SourceLead.objects.exists()


def test_an_unterminated_quote_names_its_row(tmp_path):
    header, first, second = _two_leads()
    batch, _, err = command(tmp_path, f'{header}\n{first}\n"00Q2,{second[4:]}\n')
    assert batch.status == BatchStatus.REJECTED
    assert "row 3: cannot be read" in err
    assert "A quote is probably not closed" in err


# --- NUL bytes, wide headers, huge cells ----------------------------------------------------------


def test_nul_bytes_inside_a_quoted_field_are_removed_and_reported(tmp_path):
    header = [*LEAD_HEADER, "Description"]
    rows = [
        lead_row(1, Description="Rich\x00 text\x00"),
        lead_row(2, Company="Ac\x00me", Description="plain"),
        lead_row(3, Description="plain"),
    ]
    batch, out, err = command(tmp_path, csv_text(rows, header=header))
    assert batch.status == BatchStatus.APPLIED, err
    assert sorted(SourceLead.objects.values_list("company", flat=True)) == ["Acme"] * 3
    assert batch.findings[FindingKind.NUL_BYTES] == 2
    found = [(f.row, f.column, f.message) for f in batch.row_findings.order_by("row")]
    assert found == [
        (2, "Description", "had 2 NUL bytes, removed"),
        (3, "Company", "had 1 NUL bytes, removed"),
    ]


def test_a_really_binary_file_is_still_refused(tmp_path):
    batch, _, err = command(tmp_path, bytes(range(256)) * 100)
    assert batch.status == BatchStatus.REJECTED
    assert "This is a binary file" in err


def test_a_utf16_file_is_refused_as_binary(tmp_path):
    content = csv_text([lead_row(1)]).encode("utf-16")
    batch, _, err = command(tmp_path, content)
    assert batch.status == BatchStatus.REJECTED
    assert "UTF-16" in err


def test_a_header_wider_than_postgresql_tables_imports_its_mapped_columns(tmp_path):
    extra = [f"Custom_{i}__c" for i in range(1700)]
    header = [*LEAD_HEADER, *extra]
    rows = [lead_row(i, **{c: "x" for c in extra}) for i in (1, 2)]
    batch, out, err = command(tmp_path, csv_text(rows, header=header))
    assert batch.status == BatchStatus.APPLIED, err
    assert SourceLead.objects.count() == 2
    assert "tables can have at most" not in err


def test_a_header_beyond_any_reason_is_refused_in_a_sentence(tmp_path):
    header = [*LEAD_HEADER, *(f"C{i}" for i in range(20_001))]
    batch, _, err = command(tmp_path, ",".join(header) + "\n")
    assert batch.status == BatchStatus.REJECTED
    assert "The header has 20,013 columns; at most 20,000 can be read." in err


def test_the_preview_cuts_long_cells_and_a_huge_cell_does_not_crash_the_row_check(tmp_path):
    header, _, _ = _two_leads()
    huge = "x" * 200_000
    rows = csv_text([lead_row(1, LastName=huge[:100], Company="c" * 255)], header=LEAD_HEADER)
    # A second, short row with a huge cell makes COPY refuse the file and Python read it.
    content = rows + ",".join(["00Q2", "b@acme.com", "Ana", huge]) + "\n"
    batch, _, err = command(tmp_path, content)
    assert batch.status == BatchStatus.REJECTED
    assert "row 3, column 'LastName'" in err
    assert "is 200000 characters long" in err
    cells = [cell for row in batch.preview["rows"] for cell in row if isinstance(cell, str)]
    assert max(len(cell) for cell in cells) == 200
    assert "c" * 199 + "…" in cells


# --- Control characters and dates out of order ---------------------------------------------------


def test_control_characters_are_removed_from_single_line_fields_and_reported(tmp_path):
    rows = [
        lead_row(1, Company="Evil\r\nBcc: victim@example.com", LastName="Sm\x07ith"),
        lead_row(2, FirstName="Ana\t"),
        lead_row(3),
    ]
    batch, _, err = command(tmp_path, csv_text(rows))
    assert batch.status == BatchStatus.APPLIED, err
    lead = SourceLead.objects.get(external_id=lead_row(1)["Id"])
    assert (lead.company, lead.last_name) == ("Evil Bcc: victim@example.com", "Smith")
    assert SourceLead.objects.get(external_id=lead_row(2)["Id"]).first_name == "Ana"
    assert batch.findings[FindingKind.CONTROL_CHARACTERS] == 3
    found = sorted((f.row, f.column) for f in batch.row_findings.all())
    assert found == [(2, "Company"), (2, "LastName"), (3, "FirstName")]


def test_a_conversion_dated_before_the_lead_was_created_is_a_finding(tmp_path):
    header = [*LEAD_HEADER, "MQL_Date__c"]
    rows = [
        lead_row(1, CreatedDate="2026-03-02T10:15:00Z", ConvertedDate="2026-02-27"),
        # Converted the day it was created: ConvertedDate has no time, so this is in order.
        lead_row(2, CreatedDate="2026-03-02T10:15:00Z", ConvertedDate="2026-03-02"),
        lead_row(3, CreatedDate="2026-03-02T10:15:00Z", MQL_Date__c="2026-01-05T09:00:00Z"),
    ]
    batch, _, err = command(tmp_path, csv_text(rows, header=header))
    assert batch.status == BatchStatus.APPLIED, err
    assert batch.findings[FindingKind.DATE_ORDER] == 2
    found = sorted((f.row, f.column, f.message) for f in batch.row_findings.all())
    assert found == [
        (2, "ConvertedDate", "Converted is before the lead was created (2026-03-02)"),
        (4, "MQL_Date__c", "Became MQL is before the lead was created (2026-03-02)"),
    ]
    assert SourceLead.objects.count() == 3


# --- Header case and boolean columns -------------------------------------------------------------


def _lower(rows: list[dict]) -> str:
    return csv_text(
        [{k.lower(): v for k, v in row.items()} for row in rows],
        header=[h.lower() for h in LEAD_HEADER],
    )


def test_a_header_that_differs_from_the_preset_only_in_case_imports(tmp_path):
    batch, out, err = command(tmp_path, _lower([lead_row(1), lead_row(2, IsConverted="TRUE")]))
    assert batch.status == BatchStatus.APPLIED, err
    assert SourceLead.objects.count() == 2
    assert "Ignored columns" not in out


def test_errors_in_a_differently_cased_header_name_the_files_column(tmp_path):
    batch, _, err = command(tmp_path, _lower([lead_row(1, Email="nope", IsConverted="maybe")]))
    assert batch.status == BatchStatus.REJECTED
    assert "row 2, column 'email' ('nope'): is not a valid email address" in err
    assert "row 2, column 'isconverted' ('maybe'): is not true or false" in err


@pytest.mark.parametrize("value", ["maybe", "2", "Y"])
def test_a_boolean_column_holding_something_else_is_a_row_error(tmp_path, value):
    header = [*LEAD_HEADER, "IsDeleted"]
    rows = [lead_row(1, IsConverted="1", IsDeleted="no"), lead_row(2, IsDeleted=value)]
    batch, _, err = command(tmp_path, csv_text(rows, header=header))
    assert batch.status == BatchStatus.REJECTED
    assert (
        f"row 3, column 'IsDeleted' ({value!r}): is not true or false "
        "(accepted: true, false, 1, 0, yes, no)"
    ) in err
    assert "row 2" not in err
    assert not SourceLead.objects.exists()


# --- Another vendor's header; the page and the API ------------------------------------------------


def _hubspot_system() -> SourceSystem:
    return SourceSystem.objects.create(
        name="HubSpot", slug="hubspot", vendor=Vendor.HUBSPOT, role=SystemRole.MARKETING
    )


def test_a_salesforce_file_in_a_hubspot_system_is_flagged(tmp_path):
    _hubspot_system()
    path = tmp_path / "leads.csv"
    path.write_text(csv_text([lead_row(1)]))
    with pghistory.context(source="command:import_records"):
        call_command(
            "import_records",
            *("--system", "hubspot", "--object", "lead", "--preset", "salesforce-lead"),
            str(path),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    batch = ImportBatch.objects.get()
    assert batch.status == BatchStatus.APPLIED
    assert batch.findings[FindingKind.OTHER_VENDOR] == 1
    assert batch.row_findings.get(kind=FindingKind.OTHER_VENDOR).message == (
        "This file's columns look like a Salesforce export; the system HubSpot is a HubSpot system."
    )


def test_a_hubspot_file_in_a_salesforce_system_is_flagged_even_when_refused(tmp_path):
    SourceSystem.objects.filter(slug="salesforce").delete()
    crm()
    SourceSystem.objects.filter(slug="salesforce").update(vendor=Vendor.SALESFORCE)
    header = ["Record ID", "Email", "First Name", "Last Name", "Lifecycle Stage", "Create Date"]
    batch, _, err = command(tmp_path, ",".join(header) + "\n1,a@acme.com,A,B,Lead,2026-01-05\n")
    assert batch.status == BatchStatus.REJECTED
    assert "The file has no column" in err
    assert "look like a HubSpot export; the system Salesforce is a Salesforce system" in (
        batch.row_findings.get(kind=FindingKind.OTHER_VENDOR).message
    )


def test_a_file_of_the_systems_own_vendor_is_not_flagged(tmp_path):
    crm()
    SourceSystem.objects.filter(slug="salesforce").update(vendor=Vendor.SALESFORCE)
    batch, _, err = command(tmp_path, csv_text([lead_row(1)]))
    assert batch.status == BatchStatus.APPLIED, err
    assert FindingKind.OTHER_VENDOR not in batch.findings


def _upload(client, content: bytes, system: str = "hubspot"):
    return client.post(
        reverse("api:import-list"),
        {
            "system": system,
            "object_type": "lead",
            "preset": "salesforce-lead",
            "file": SimpleUploadedFile("leads.csv", content, content_type="text/csv"),
        },
    )


def test_the_api_imports_a_file_with_nul_bytes_and_says_which_vendor_it_looks_like(
    client_as, django_capture_on_commit_callbacks
):
    _hubspot_system()
    client = client_as(Role.OPS)
    content = csv_text([lead_row(1, Company="Ac\x00me"), lead_row(2)]).encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, content)
    assert response.status_code == 202
    polled = client.get(reverse("api:import-detail", args=[response.json()["id"]])).json()
    assert polled["status"] == "applied"
    assert polled["findings"] == {"nul_bytes": 1, "other_vendor": 1}
    assert polled["warnings"] == [
        "This file's columns look like a Salesforce export; the system HubSpot is a HubSpot system."
    ]


def test_the_api_names_duplicate_ids_with_percent_signs(
    client_as, django_capture_on_commit_callbacks
):
    crm()
    client = client_as(Role.OPS)
    content = csv_text([lead_row(1, Id="00Q%s%s"), lead_row(2, Id="00Q%s%s")]).encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, content, system="salesforce")
    batch_id = response.json()["id"]
    errors = client.get(reverse("api:import-errors", args=[batch_id])).json()["results"]
    assert [(e["row"], e["column"], e["message"]) for e in errors] == [
        (2, "Id", "appears 2 times in this file (rows 2, 3)"),
        (3, "Id", "appears 2 times in this file (rows 2, 3)"),
    ]


def test_the_batch_page_shows_the_vendor_warning_and_the_findings(tmp_path, client_as):
    _hubspot_system()
    rows = [lead_row(1, Company="Evil\r\nBcc: x@example.com"), lead_row(2)]
    path = tmp_path / "leads.csv"
    path.write_text(csv_text(rows))
    call_command(
        "import_records",
        *("--system", "hubspot", "--object", "lead", "--preset", "salesforce-lead"),
        str(path),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    batch = ImportBatch.objects.get()
    page = client_as(Role.OPS).get(reverse("pipeline:import-detail", args=[batch.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "This file&#x27;s columns look like a Salesforce export" in html
    assert "Control characters removed" in html
    assert "had line breaks, tabs or other control characters, removed" in html
