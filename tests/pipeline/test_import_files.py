"""Files as real systems write them: NUL bytes, very wide headers, huge cells, ids with percent
signs, the shapes spreadsheets and exporters write, header case, boolean columns, dates out of
order, control characters and another vendor's header. Each class of file has one small
hand-written fixture, run through `import_records` as manage.py runs it (inside an audit
context, which adds placeholders of its own to every INSERT and UPDATE)."""

from __future__ import annotations

import io

import pghistory
import pytest
from django.core.management import CommandError, call_command

from pipeline.choices import BatchStatus
from pipeline.models import ImportBatch
from tests.pipeline.importing import crm, csv_text, lead_row

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
