"""Picklists as the company has them: the values a file holds in each choice field (a deal's
stage, a lead's stage, a deal's type or source, an account's health, an ARR change's kind),
which of them the mapping does not know, and mapping those to ours from the batch's page.

During the check, `values_found` counts the distinct values of every choice field over the
import's `_norm` table in one statement; the batch keeps them in `preview["values"]`. An
unknown value of an optional field imports as a blank cell would and is a finding
(`FindingKind.UNKNOWN_VALUE`); of a required field, a row error. `import_batch_values_map`
saves the values ops map into the batch's preset (a built-in preset is extended under a new
name) and checks the same stored file again with it.
"""

from __future__ import annotations

import copy

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql as pg_sql

from pipeline.choices import BatchStatus, FindingKind, ObjectType
from pipeline.models import ImportBatch, ImportPreset
from pipeline.presets import BUILTIN_PRESETS, CHOICE, field_info, mapping_from_dict
from pipeline.services.findings import detector, findings_record
from pipeline.services.presets import import_preset_save

VALUES_SHOWN_MAX = 200  # distinct values kept per field: a free-text column mapped by mistake
# Longer cells are no picklist value (and would bloat the batch); their rows still show as
# row errors or findings.
VALUE_LENGTH_MAX = 255
BLANK = "__blank__"  # the editor's choice for "a blank value" (fields where blank is allowed)


def _choice_cols(cols: list) -> list:
    return [c for c in cols if c.info.kind == CHOICE and c.column]


def values_found(cols: list) -> list[dict]:
    """For each choice field read from a column: its distinct values in the file (matched
    case-insensitively, as the mapping matches them), how many rows hold each, and the value
    of ours it maps to (None when the mapping does not know it). Most frequent first, at most
    VALUES_SHOWN_MAX per field, none longer than VALUE_LENGTH_MAX. One statement over
    `_norm`."""
    choice = _choice_cols(cols)
    if not choice:
        return []
    parts = [
        pg_sql.SQL(
            "SELECT {name} AS field, min({raw}) AS value, max({ours}) AS ours, count(*) AS n "
            "FROM _norm WHERE {raw} IS NOT NULL AND length({raw}) <= {longest} "
            "GROUP BY lower({raw})"
        ).format(
            name=pg_sql.Literal(c.info.name),
            raw=pg_sql.Identifier(f"raw_{c.info.name}"),
            ours=pg_sql.Identifier(c.info.name),
            longest=pg_sql.Literal(VALUE_LENGTH_MAX),
        )
        for c in choice
    ]
    query = pg_sql.SQL(
        "WITH found AS ({found}), ranked AS ("
        "  SELECT *, row_number() OVER (PARTITION BY field ORDER BY n DESC, value) AS rank,"
        "         count(*) OVER (PARTITION BY field) AS distinct_values,"
        "         count(*) FILTER (WHERE ours IS NULL) OVER (PARTITION BY field) AS unknown,"
        "         sum(n) FILTER (WHERE ours IS NULL) OVER (PARTITION BY field) AS unknown_rows"
        "  FROM found)"
        " SELECT field, value, ours, n, distinct_values, unknown, unknown_rows FROM ranked"
        " WHERE rank <= {limit} ORDER BY field, rank"
    ).format(found=pg_sql.SQL(" UNION ALL ").join(parts), limit=pg_sql.Literal(VALUES_SHOWN_MAX))
    with connection.cursor() as cursor:
        cursor.execute(query.as_string(connection.connection))
        rows = cursor.fetchall()
    out: dict[str, dict] = {}
    for c in choice:
        out[c.info.name] = {
            "field": c.info.name,
            "label": c.info.label,
            "column": c.column,
            "required": c.info.required,
            "distinct": 0,
            "unknown": 0,
            "unknown_rows": 0,
            "values": [],
        }
    for field, value, ours, n, distinct_values, unknown, unknown_rows in rows:
        entry = out[field]
        entry.update(distinct=distinct_values, unknown=unknown, unknown_rows=int(unknown_rows or 0))
        entry["values"].append([value, n, ours])
    return [v for v in out.values() if v["values"]]


@detector(*ObjectType.values)
def _unknown_values(batch: ImportBatch, cols: list) -> None:
    """An optional choice field holding a value the mapping does not know: the row imports
    as if the cell were blank, and the value is reported so ops can map it."""
    for c in _choice_cols(cols):
        if c.info.required:
            continue  # a row error already, never reaches the detectors
        findings_record(
            batch,
            kind=FindingKind.UNKNOWN_VALUE,
            where=f"n.raw_{c.info.name} IS NOT NULL AND n.{c.info.name} IS NULL",
            field=c.info.name,
            column=c.column,
            value=f"n.raw_{c.info.name}",
            message=_quote(
                f"is not a value the mapping knows for {c.info.label.lower()}; imported as "
                f"{c.info.blank() or 'blank'}"
            ),
        )


def unknown_values_blank(cols: list) -> None:
    """Give every unknown value of an optional choice field what a blank cell means, in one
    UPDATE over the rows that hold one (run after the findings have counted them)."""
    optional = [c for c in _choice_cols(cols) if not c.info.required]
    if not optional:
        return
    sets, wheres = [], []
    for c in optional:
        raw, ours = pg_sql.Identifier(f"raw_{c.info.name}"), pg_sql.Identifier(c.info.name)
        unknown = pg_sql.SQL("({raw} IS NOT NULL AND {ours} IS NULL)").format(raw=raw, ours=ours)
        sets.append(
            pg_sql.SQL("{ours} = CASE WHEN {unknown} THEN {blank} ELSE {ours} END").format(
                ours=ours, unknown=unknown, blank=pg_sql.Literal(c.info.blank() or "")
            )
        )
        wheres.append(unknown)
    query = pg_sql.SQL("UPDATE _norm SET {sets} WHERE {wheres}").format(
        sets=pg_sql.SQL(", ").join(sets), wheres=pg_sql.SQL(" OR ").join(wheres)
    )
    with connection.cursor() as cursor:
        cursor.execute(query.as_string(connection.connection))


def _quote(text: str) -> str:
    return pg_sql.Literal(text).as_string(connection.connection)


# --- Mapping the values -----------------------------------------------------------------------


def batch_values(batch: ImportBatch) -> list[dict]:
    """The values the check found per choice field, each value as {value, rows, ours}."""
    fields = []
    for entry in (batch.preview or {}).get("values", []):
        info = field_info(batch.object_type, entry["field"])
        fields.append(
            {
                **entry,
                "choices": list(info.choices),
                "blank_allowed": info.blank_default == "",
                "values": [{"value": v, "rows": n, "ours": o} for v, n, o in entry["values"]],
            }
        )
    return fields


def _merge_values(spec: object, extra: dict[str, str]) -> dict:
    spec = {"column": spec} if isinstance(spec, str) else dict(spec or {})
    folded = {k.strip().casefold() for k in extra}
    values = {k: v for k, v in (spec.get("values") or {}).items() if k.casefold() not in folded}
    spec["values"] = {**values, **extra}
    return spec


@transaction.atomic
def import_preset_values_add(
    *, preset: ImportPreset, values: dict[str, dict[str, str]]
) -> ImportPreset:
    """Add file values -> ours to a saved preset's value maps (an extension of a built-in
    preset keeps them among its overrides). Checked as the whole mapping is."""
    preset = ImportPreset.objects.select_for_update().get(pk=preset.pk)
    data = copy.deepcopy(preset.mapping)
    fields = data.setdefault("fields", {})
    for name, extra in values.items():
        fields[name] = _merge_values(fields.get(name), extra)
    checked = mapping_from_dict(data, object_type=preset.object_type)
    preset.mapping = data if checked.extends else checked.to_dict()
    preset.save(update_fields=["mapping", "updated_at"])
    return preset


def preset_needs_name(batch: ImportBatch) -> bool:
    """Whether mapping this batch's values saves a new preset (a built-in preset is extended,
    a mapping given whole is saved) rather than adding to the saved preset it was read with."""
    return not ImportPreset.objects.filter(name=batch.preset).exists()


@transaction.atomic
def import_batch_values_map(
    *,
    batch: ImportBatch,
    values: dict[str, dict[str, str]],
    by: AbstractBaseUser | None,
    preset_name: str = "",
) -> tuple[ImportPreset, ImportBatch | None]:
    """Save the values ops mapped ({field: {file value: ours}}) into the batch's preset and
    check the same file again with it, as a new batch awaiting confirmation. A saved preset
    gains the values; a built-in one is extended under `preset_name`; a mapping given whole
    (the command line's --mapping) is saved whole under `preset_name`. A batch awaiting
    confirmation is superseded by the new check. Returns (preset, new batch, or None when the
    file was not kept). Raises ValidationError as `import_preset_save` does."""
    from pipeline.services.imports import import_batch_enqueue, system_check

    values = {name: extra for name, extra in values.items() if extra}
    if not values:
        raise ValidationError("Choose one of our values for at least one of the file's values.")
    if batch.status in (BatchStatus.DRAFT, BatchStatus.QUEUED, BatchStatus.RUNNING):
        raise ValidationError("This import has not been checked yet: wait for its check.")
    if batch.file:
        system_check(batch.system)
    saved = ImportPreset.objects.filter(name=batch.preset).first()
    if saved is not None:
        preset = import_preset_values_add(preset=saved, values=values)
    elif batch.preset in BUILTIN_PRESETS:
        preset = import_preset_save(
            name=preset_name,
            mapping={
                "extends": batch.preset,
                "fields": {name: {"values": extra} for name, extra in values.items()},
            },
            object_type=batch.object_type,
            by=by,
        )
    else:
        whole = copy.deepcopy(batch.mapping)
        for name, extra in values.items():
            whole["fields"][name] = _merge_values(whole["fields"].get(name), extra)
        preset = import_preset_save(
            name=preset_name, mapping=whole, object_type=batch.object_type, by=by
        )
    if not batch.file:
        return preset, None
    again = ImportBatch.objects.create(
        system=batch.system,
        object_type=batch.object_type,
        preset=preset.name,
        mapping=mapping_from_dict(preset.mapping).to_dict(),
        created_by=by,
        status=BatchStatus.QUEUED,
        file=batch.file.name,  # the stored file, shared: batches never delete their files
        file_name=batch.file_name,
        file_size=batch.file_size,
        export_kind=batch.export_kind,
        apply_mode=batch.apply_mode,
    )
    # Compare-and-swap: a batch confirmed meanwhile (another tab) is left to apply.
    ImportBatch.objects.filter(pk=batch.pk, status=BatchStatus.PENDING).update(
        status=BatchStatus.SUPERSEDED,
        finished_at=timezone.now(),
        message=f"Checked again as import #{again.pk} with the values mapped. Nothing applied.",
    )
    import_batch_enqueue(again)
    return preset, again
