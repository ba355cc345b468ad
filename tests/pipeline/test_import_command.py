"""import_records: the same import from the command line, with a progress line."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from pipeline.models import SourceLead
from tests.pipeline.importing import crm, csv_text, lead_row

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_records", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_preset_import_applies_and_reports_counts_and_progress(tmp_path):
    crm()
    path = tmp_path / "leads.csv"
    path.write_text(csv_text([lead_row(1), lead_row(2)]))
    out, err = run(
        "--system", "salesforce", "--object", "lead", "--preset", "salesforce-lead", str(path)
    )
    assert "2 rows — 2 created, 0 updated, 0 unchanged" in out
    assert "reading" in err
    assert "100%" in err
    out, _ = run(
        "--system", "salesforce", "--object", "lead", "--preset", "salesforce-lead", str(path)
    )
    assert "0 created, 0 updated, 2 unchanged" in out


def test_a_mapping_file_works_like_a_preset(tmp_path):
    crm()
    (tmp_path / "map.json").write_text(
        json.dumps(
            {
                "object": "lead",
                "fields": {"external_id": "Id", "email": "Email", "created_at": "At"},
            }
        )
    )
    (tmp_path / "f.csv").write_text("Id,Email,At\n1,ana@acme.com,2026-01-05\n")
    run(
        "--system",
        "salesforce",
        "--object",
        "lead",
        "--mapping",
        str(tmp_path / "map.json"),
        str(tmp_path / "f.csv"),
    )
    assert SourceLead.objects.get().email_key == "ana@acme.com"


def test_a_rejected_file_exits_with_an_error_and_lists_its_problems(tmp_path):
    crm()
    path = tmp_path / "leads.csv"
    path.write_text(csv_text([lead_row(1, Email="bad")]))
    err = io.StringIO()
    with pytest.raises(CommandError, match="Rejected"):
        call_command(
            "import_records",
            "--system",
            "salesforce",
            "--object",
            "lead",
            "--preset",
            "salesforce-lead",
            str(path),
            stdout=io.StringIO(),
            stderr=err,
        )
    assert "row 2, column 'Email' ('bad'): is not a valid email address" in err.getvalue()
    assert not SourceLead.objects.exists()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--system", "nowhere", "--preset", "salesforce-lead"], "No source system 'nowhere'"),
        (["--system", "salesforce", "--preset", "unheard-of"], "No preset 'unheard-of'"),
        (["--system", "salesforce", "--mapping", "/nonexistent.json"], "cannot read the mapping"),
    ],
)
def test_bad_arguments_are_explained(tmp_path, args, said):
    crm()
    path = tmp_path / "f.csv"
    path.write_text(csv_text([lead_row(1)]))
    with pytest.raises(CommandError, match=said):
        call_command("import_records", *args, "--object", "lead", str(path))
