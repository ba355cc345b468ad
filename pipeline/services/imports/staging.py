"""Staging (step 4): the rows of `_norm` that add or change a source record, shaped as the
source table and waiting in `_pending` for identity resolution to write them."""

from __future__ import annotations

from django.db import connection

from pipeline.choices import ObjectType
from pipeline.models import (
    SOURCE_MODELS,
    ImportBatch,
    SourceSystem,
    source_fields,
)
from pipeline.presets import (
    DECIMAL,
    DOMAIN,
    EMAIL,
    PHONE,
    SYSTEM_FIELDS,
    TEXT,
    FieldInfo,
    Mapping,
    field_info,
    mapping_from_dict,
)
from pipeline.services.identity import (
    PENDING_ID_BASE,
    golden_key_sql,
)
from pipeline.services.imports.base import ImportRejected, exec_sql, lit
from pipeline.services.imports.normalise_sql import Col


def stage_pending(batch: ImportBatch, cols: list[Col]) -> tuple[int, int]:
    """Fill `_pending` with the rows this batch adds or changes: a row whose every field
    equals the stored one is left out, so an unchanged re-import writes nothing. A stored row
    whose golden record is missing (an ARR change whose account had not arrived, or a record
    deleted outside the importer) is written again, so that it gets one; so is a row marked
    deleted in the source, which the file brings back (`deletions_restored_count`).
    Returns (new rows, changed rows)."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS _pending")
        exec_sql(cursor, pending_sql(batch, cols))
        exec_sql(
            cursor,
            "SELECT count(*) FILTER (WHERE NOT existed), count(*) FILTER (WHERE existed) "
            "FROM _pending",
        )
        return cursor.fetchone()


def pending_sql(batch: ImportBatch, cols: list[Col]) -> str:
    """The statement that fills `_pending`: each row of `_norm` shaped as the source table
    (`staged`), kept when it is new, changed, restored or without its golden record."""
    object_type = batch.object_type
    model = SOURCE_MODELS[object_type]
    table = model._meta.db_table
    fk = _FK[object_type]
    golden = model._meta.get_field(fk.removesuffix("_id")).related_model._meta.db_table
    mapped = {c.info.name for c in cols}
    systems = _id_systems(batch)
    # Normalised key and the cell as written, for the fields that have both; '' when the
    # mapping has no such column (an account file without a website).
    pairs = {
        "email_key": ("email", "n.email"),
        "email": ("email", "n.raw_email"),
        "domain_key": ("domain", "n.domain"),
        "domain": ("domain", "n.raw_domain"),
        "phone_key": ("phone", "n.phone"),
        "phone": ("phone", "n.raw_phone"),
    }
    staged: dict[str, str] = {}
    for name in source_fields(object_type):
        if name in pairs:
            field, expr = pairs[name]
            staged[name] = f"coalesce({expr}, '')" if field in mapped else "''"
        elif name.endswith("_system_id"):
            system_id = systems.get(name.removesuffix("_system_id") + "_external_id")
            staged[name] = str(system_id) if system_id else "NULL"
        elif name in mapped:
            staged[name] = f"n.{name}"
        else:
            staged[name] = _unmapped_default(field_info(object_type, name))
    # Typed, so a NULL default compares with the stored column (text stays text: a varchar
    # cast would truncate silently, and the length checks have already run).
    for name, expr in staged.items():
        db_type = model._meta.get_field(name).db_type(connection)
        staged[name] = f"CAST({expr} AS {'text' if db_type.startswith('varchar') else db_type})"
    names = list(staged)
    stored = ", ".join(f"t.{c}" for c in names)
    new = ", ".join(f"s.{c}" for c in names)
    key = golden_key_sql(object_type)
    columns = ",\n        ".join(f"{v} AS {c}" for c, v in staged.items())
    return f"""CREATE TEMP TABLE _pending AS
WITH staged AS (
    SELECT n.row_no,
        {columns}
    FROM _norm n
)
SELECT s.row_no + 1 AS batch_row, ss.id AS system_id,
    {key} AS golden_key,
    now() AS updated_at, {PENDING_ID_BASE} + s.row_no AS rep_id, (t.id IS NOT NULL) AS existed,
    {new}
FROM staged s
JOIN pipeline_sourcesystem ss ON ss.id = {int(batch.system_id)}
LEFT JOIN {table} t ON t.system_id = ss.id AND t.external_id = s.external_id
LEFT JOIN {golden} g ON g.id = t.{fk}
WHERE t.id IS NULL OR g.id IS NULL OR t.deleted_at IS NOT NULL
    OR ({stored}, t.golden_key) IS DISTINCT FROM ({new}, {key})
"""


def _id_systems(batch: ImportBatch) -> dict[str, int]:
    """Field → id of the other system its ids belong to (a mapping's `system`)."""
    mapping = mapping_from_dict(batch.mapping)
    slugs = {name: fm.system for name, fm in mapping.fields.items() if fm.system and fm.column}
    ids = dict(SourceSystem.objects.filter(slug__in=slugs.values()).values_list("slug", "id"))
    return {
        name: ids[slug]
        for name, slug in slugs.items()
        if slug in ids and ids[slug] != batch.system_id
    }


def check_id_systems(mapping: Mapping) -> None:
    """Refuse a mapping whose `system` names no known system, before any row is read."""
    for name in SYSTEM_FIELDS:
        fm = mapping.fields.get(name)
        if fm is None or not fm.system:
            continue
        if not SourceSystem.objects.filter(slug=fm.system).exists():
            known = ", ".join(SourceSystem.objects.values_list("slug", flat=True)) or "none yet"
            raise ImportRejected(
                f"The mapping says {name} holds ids of the system {fm.system!r}, but there is no "
                f"such system. Systems: {known}."
            )


_FK = {
    ObjectType.LEAD: "lead_id",
    ObjectType.ACCOUNT: "account_id",
    ObjectType.DEAL: "deal_id",
    ObjectType.ARR: "arr_change_id",
}


def _unmapped_default(info: FieldInfo) -> str:
    if info.blank() is not None:
        return lit(info.blank()) if info.kind != DECIMAL else info.blank()
    if info.kind in (TEXT, EMAIL, DOMAIN, PHONE):
        return "''"
    return "NULL"
