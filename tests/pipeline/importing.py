"""Helpers for import tests: write a file, run it through the importer as the command line
does (checked and applied in-process), and read back what happened."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from pipeline.choices import SystemRole
from pipeline.models import ImportBatch, SourceSystem
from pipeline.services.imports import import_batch_create, import_batch_run, mapping_for

LEAD_HEADER = [
    "Id",
    "Email",
    "FirstName",
    "LastName",
    "Company",
    "Status",
    "LeadSource",
    "CreatedDate",
    "ConvertedDate",
    "ConvertedOpportunityId",
    "IsConverted",
    "OwnerId",
]


def crm() -> SourceSystem:
    return SourceSystem.objects.get_or_create(
        slug="salesforce", defaults={"name": "Salesforce", "role": SystemRole.SALES}
    )[0]


def marketing() -> SourceSystem:
    return SourceSystem.objects.get_or_create(
        slug="hubspot", defaults={"name": "HubSpot", "role": SystemRole.MARKETING}
    )[0]


def lead_row(i: int, **overrides) -> dict:
    row = {
        "Id": f"00Q{i:015d}",
        "Email": f"person{i}@acme.com",
        "FirstName": "Ana",
        "LastName": "Smith",
        "Company": "Acme",
        "Status": "Open - Not Contacted",
        "LeadSource": "Web",
        "CreatedDate": "2026-03-02T10:15:00.000+0000",
        "ConvertedDate": "",
        "ConvertedOpportunityId": "",
        "IsConverted": "false",
        "OwnerId": "0055e000001AbCD",
    }
    row.update(overrides)
    return row


def csv_text(
    rows: list[dict],
    header: list[str] | None = None,
    delimiter: str = ",",
    lineterminator: str = "\n",
) -> str:
    header = header or list(rows[0])
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=lineterminator)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(column, "") for column in header])
    return out.getvalue()


def run_import(
    tmp_path: Path,
    content: str | bytes,
    *,
    system: SourceSystem | None = None,
    object_type: str = "lead",
    preset: str | None = "salesforce-lead",
    mapping: dict | None = None,
    apply: bool = True,
    name: str = "export.csv",
) -> ImportBatch:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    rules, preset_name = mapping_for(
        object_type=object_type, preset=None if mapping else preset, mapping=mapping
    )
    batch = import_batch_create(
        system=system or crm(),
        object_type=object_type,
        mapping=rules,
        preset=preset_name,
        apply=apply,
        path=path,
    )
    return import_batch_run(batch.id, path=path)


def problems(batch: ImportBatch) -> list[tuple]:
    return [(e.row, e.column, e.message) for e in batch.row_errors.all()]
