"""Picklists as the company has them: the check lists each choice field's values and which the
mapping does not know; ops map them into the system's preset (a built-in one is extended) and
the same file is checked again."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from pipeline.choices import BatchStatus, FindingKind
from pipeline.models import Deal, ImportBatch, ImportPreset
from pipeline.presets import BUILTIN_PRESETS, mapping_from_dict
from pipeline.services.imports import import_batch_run, mapping_for
from pipeline.services.picklists import batch_values, import_batch_values_map
from pipeline.services.presets import import_preset_save
from tests.pipeline.importing import crm, csv_text, problems, run_import

pytestmark = pytest.mark.django_db


def opportunity(i: int, stage: str = "Closed Won", kind: str = "New Customer", **over) -> dict:
    row = {
        "Id": f"006{i:015d}",
        "AccountId": "001A",
        "Name": f"Deal {i}",
        "StageName": stage,
        "Amount": "1000",
        "CloseDate": "2026-04-30",
        "CreatedDate": "2026-03-10T09:00:00.000+0000",
        "IsClosed": "true",
        "IsWon": "true",
        "LeadSource": "Web",
        "Type": kind,
        "OwnerId": "005X",
    }
    row.update(over)
    return row


# A Spanish-speaking org: its own stage names, and HubSpot's "Existing Business" as a type.
SPANISH = [
    opportunity(1, "Cerrada ganada", "Existing Business"),
    opportunity(2, "cerrada ganada", "Existing Business"),
    opportunity(3, "Prospección", "New Customer"),
    opportunity(4, "Closed Won", "New Customer"),
]


def check(tmp_path, rows, preset: str = "salesforce-opportunity", **kw) -> ImportBatch:
    return run_import(tmp_path, csv_text(rows), object_type="deal", preset=preset, **kw)


def values_of(batch: ImportBatch, field: str) -> list:
    return next(v for v in batch.preview["values"] if v["field"] == field)


def test_the_check_lists_each_choice_fields_values_with_row_counts_and_the_unmapped(tmp_path):
    batch = check(tmp_path, SPANISH, apply=False)
    stage = values_of(batch, "stage")
    # Matched case-insensitively, as the mapping matches: "cerrada ganada" is the same value.
    assert stage["values"] == [
        ["Cerrada ganada", 2, None],
        ["Closed Won", 1, "closed_won"],
        ["Prospección", 1, None],
    ]
    assert (stage["column"], stage["required"], stage["unknown"], stage["unknown_rows"]) == (
        "StageName",
        True,
        2,
        3,
    )
    kind = values_of(batch, "deal_type")
    assert kind["values"] == [["Existing Business", 2, None], ["New Customer", 2, "new"]]
    assert [v["field"] for v in batch.preview["values"]] == ["stage", "source", "deal_type"]


def test_an_unknown_stage_is_a_row_error_that_points_at_the_value_mapping(tmp_path):
    batch = check(tmp_path, SPANISH)
    assert batch.status == BatchStatus.REJECTED
    assert not Deal.objects.exists()
    found = problems(batch)
    assert [(row, column) for row, column, _ in found] == [(2, "StageName"), (3, "StageName"),
                                                           (4, "StageName")]  # fmt: skip
    assert "is not a stage this mapping knows" in found[0][2]
    assert "Map these values" in found[0][2]


def test_an_unknown_deal_type_imports_as_new_and_is_counted_as_a_finding(tmp_path):
    rows = [opportunity(1, kind="Existing Business"), opportunity(2, kind="New Customer")]
    batch = check(tmp_path, rows)
    assert batch.status == BatchStatus.APPLIED, problems(batch)
    assert sorted(Deal.objects.values_list("deal_type", flat=True)) == ["new", "new"]
    assert batch.findings[FindingKind.UNKNOWN_VALUE] == 1
    finding = batch.row_findings.get(kind=FindingKind.UNKNOWN_VALUE)
    assert (finding.row, finding.column, finding.value) == (2, "Type", "Existing Business")


def test_mapping_the_values_extends_the_builtin_preset_and_checks_the_same_file_again(tmp_path):
    rejected = check(tmp_path, SPANISH, apply=False)
    assert rejected.status == BatchStatus.REJECTED
    preset, again = import_batch_values_map(
        batch=rejected,
        values={
            "stage": {"Cerrada ganada": "closed_won", "Prospección": "qualification"},
            "deal_type": {"Existing Business": "expansion"},
        },
        by=None,
        preset_name="Salesforce ES — opportunities",
    )
    # Only the overrides are stored, with the base they extend.
    assert preset.mapping == {
        "extends": "salesforce-opportunity",
        "object": "deal",
        "fields": {
            "stage": {"values": {"Cerrada ganada": "closed_won", "Prospección": "qualification"}},
            "deal_type": {"values": {"Existing Business": "expansion"}},
        },
    }
    assert (again.status, again.preset, again.file.name) == (
        BatchStatus.QUEUED,
        preset.name,
        rejected.file.name,
    )
    again = import_batch_run(again.id)
    assert again.status == BatchStatus.PENDING, problems(again)
    assert values_of(again, "stage")["values"] == [
        ["Cerrada ganada", 2, "closed_won"],
        ["Closed Won", 1, "closed_won"],
        ["Prospección", 1, "qualification"],
    ]
    assert FindingKind.UNKNOWN_VALUE not in again.findings


def test_a_saved_preset_gains_the_mapped_values_and_a_pending_check_is_superseded(tmp_path):
    import_preset_save(
        name="ES deals",
        mapping={"extends": "salesforce-opportunity", "fields": {"owner": "Owner_Name__c"}},
        by=None,
    )
    rows = [opportunity(1, kind="Existing Business", Owner_Name__c="Lucía")]
    pending = check(tmp_path, rows, apply=False, preset="ES deals")
    assert pending.status == BatchStatus.PENDING  # an unknown type is a finding, not an error
    _, again = import_batch_values_map(
        batch=pending, values={"deal_type": {"Existing Business": "expansion"}}, by=None
    )
    assert ImportPreset.objects.get().mapping["fields"] == {
        "owner": "Owner_Name__c",
        "deal_type": {"values": {"Existing Business": "expansion"}},
    }
    pending.refresh_from_db()
    assert pending.status == BatchStatus.SUPERSEDED
    assert f"#{again.pk}" in pending.message
    again = import_batch_run(again.id)
    assert values_of(again, "deal_type")["values"] == [["Existing Business", 1, "expansion"]]


def test_mapping_values_of_a_builtin_preset_needs_a_new_unused_name(tmp_path):
    batch = check(tmp_path, SPANISH, apply=False)
    for name in ("", "salesforce-opportunity"):
        with pytest.raises(ValidationError):
            import_batch_values_map(
                batch=batch, values={"stage": {"Prospección": "qualification"}}, by=None,
                preset_name=name,
            )  # fmt: skip
    assert not ImportPreset.objects.exists()
    with pytest.raises(ValidationError, match="'Ganada' is not one of"):
        import_batch_values_map(
            batch=batch, values={"stage": {"Prospección": "Ganada"}}, by=None, preset_name="x"
        )


def test_the_values_found_are_offered_with_the_fields_choices(tmp_path):
    batch = check(tmp_path, SPANISH, apply=False)
    source = next(f for f in batch_values(batch) if f["field"] == "source")
    assert source["blank_allowed"] is True
    assert source["choices"] == ["marketing", "sales"]
    assert source["values"] == [{"value": "Web", "rows": 4, "ours": "marketing"}]


# --- Extending a built-in preset --------------------------------------------------------------


def test_an_extension_changes_columns_adds_values_and_drops_fields_of_its_base():
    mapping = mapping_from_dict(
        {
            "extends": "salesforce-opportunity",
            "timezone": "America/Sao_Paulo",
            "fields": {
                "owner": "Owner_Name__c",
                "stage": {"column": "Etapa", "values": {"closed won": "closed_lost"}},
                "currency": None,
            },
        }
    )
    base = mapping_from_dict(BUILTIN_PRESETS["salesforce-opportunity"]["mapping"])
    assert mapping.extends == "salesforce-opportunity"
    assert (mapping.object_type, mapping.timezone) == ("deal", "America/Sao_Paulo")
    assert mapping.fields["owner"].column == "Owner_Name__c"
    assert mapping.fields["stage"].column == "Etapa"
    # The base's values stay; the extension wins for the same value, whatever its case.
    assert mapping.fields["stage"].values["prospecting"] == "qualification"
    assert mapping.fields["stage"].values["closed won"] == "closed_lost"
    assert "currency" not in mapping.fields
    assert mapping.fields["amount"] == base.fields["amount"]
    assert mapping.ignore == base.ignore


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"extends": "salesforce-opp", "fields": {}}, "'extends' names a built-in preset"),
        ({"extends": "salesforce-lead", "object": "deal"}, "reads leads"),
        ({"extends": "salesforce-lead", "fields": {"stage": {"values": {"x": "won"}}}},
         "'won' is not one of"),
        ({"extends": "salesforce-lead", "fields": {"created_at": None}},
         "'created_at' (Created) is not"),
    ],
)  # fmt: skip
def test_an_extension_that_cannot_run_is_refused_in_words(data, message):
    with pytest.raises(ValidationError) as exc:
        mapping_from_dict(data)
    assert message in " ".join(exc.value.messages)


def test_a_saved_extension_reads_a_file_with_its_bases_columns(tmp_path):
    import_preset_save(
        name="Salesforce ES",
        mapping={
            "extends": "salesforce-opportunity",
            "fields": {"stage": {"values": {"Cerrada ganada": "closed_won"}}},
        },
        by=None,
    )
    mapping, name = mapping_for(object_type="deal", preset="Salesforce ES")
    assert (name, mapping.fields["stage"].column) == ("Salesforce ES", "StageName")
    batch = check(tmp_path, [opportunity(1, "Cerrada ganada")], preset="Salesforce ES")
    assert batch.status == BatchStatus.APPLIED, problems(batch)
    assert Deal.objects.get().stage == "closed_won"
    assert batch.system == crm()


def test_a_huge_cell_in_a_choice_column_is_not_listed_as_a_value(tmp_path):
    rows = [opportunity(1, "x" * 100_000), opportunity(2, "Closed Won")]
    batch = check(tmp_path, rows, apply=False)
    assert values_of(batch, "stage")["values"] == [["Closed Won", 1, "closed_won"]]
    assert problems(batch)[0][:2] == (2, "StageName")  # still refused, by row
