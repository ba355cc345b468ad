"""The SQL the importer builds for a representative mapping (Salesforce leads), kept as a
snapshot: a change to the importer shows a reviewer exactly what it does to the statements
that check and stage a million rows. After a deliberate change, write the snapshots again with
`UPDATE_SQL_SNAPSHOTS=1 pytest tests/pipeline/test_import_sql.py` and review their diff."""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import pytest

from pipeline.models import ImportBatch
from pipeline.services.imports import check_columns, mapping_for, spelled_as_file
from pipeline.services.imports.normalise_sql import columns_sql, norm_sql
from pipeline.services.imports.staging import pending_sql
from tests.pipeline.importing import LEAD_HEADER, crm

pytestmark = pytest.mark.django_db

SNAPSHOTS = Path(__file__).parent / "snapshots"


def _salesforce_lead_columns():
    mapping, _ = mapping_for(object_type="lead", preset="salesforce-lead")
    mapping = spelled_as_file(mapping, LEAD_HEADER)
    positions, unknown = check_columns(mapping, LEAD_HEADER)
    assert unknown == []
    return mapping, columns_sql(mapping, positions, fast=True)


def _matches_snapshot(name: str, sql: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SQL_SNAPSHOTS"):
        path.write_text(sql)
    expected = path.read_text()
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            sql.splitlines(keepends=True),
            f"snapshot {name}",
            "built now",
        )
    )
    assert sql == expected, f"The SQL changed; review it and update the snapshot:\n{diff}"


def test_the_normalising_statement_of_a_salesforce_lead_export():
    _, cols = _salesforce_lead_columns()
    sql = norm_sql(cols)
    # One line per field and pass: a field's SQL is read, and changed, on its own lines.
    assert sql.count("AS err_email") == sql.count(" AS email,") == 1
    _matches_snapshot("normalise_salesforce_lead.sql", sql)


def test_the_staging_statement_of_a_salesforce_lead_export():
    mapping, cols = _salesforce_lead_columns()
    batch = ImportBatch(system=crm(), object_type="lead", mapping=mapping.to_dict())
    # The system's id is the only part that depends on the database.
    sql = re.sub(r"ss\.id = \d+", "ss.id = <system>", pending_sql(batch, cols))
    _matches_snapshot("staging_salesforce_lead.sql", sql)
