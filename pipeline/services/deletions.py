"""Deletions in the source: a full export says which records its system still holds; an API
sync says which records were deleted there (`ImportBatch.deleted_ids`).

After a full export applies, the system's records of that object type that the file does not
hold are marked deleted (`deleted_at`, `deleted_batch`), set-based, in the import's
transaction; the golden records they resolve to are resolved again, so one whose every
source is now deleted is marked deleted too and leaves the metrics. Any later file holding a
record again restores it (the import writes it and clears the mark). Nothing is hard-deleted.

Safety: a full export that would mark more than half of the system's live records deleted (a
truncated or filtered export, most likely) does not apply unless someone confirmed it: it
waits, checked, on its batch page, saying how many records it would delete.

Every function here reads the import's temp tables: `_norm` (every row of the file) and,
for restores, `_pending` (the rows about to be written).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from pipeline.models import SOURCE_MODELS, ImportBatch
from pipeline.services.identity import golden_resolve_scope

# More than this share of a system's live records missing from a full export needs a person.
CONFIRM_SHARE = 0.5

_ABSENT = "NOT EXISTS (SELECT 1 FROM _norm n WHERE n.external_id = t.external_id)"
# Applying only the valid rows takes the held ones out of `_norm` and keeps their ids in
# `_held`: the file holds those records all the same, so they are not deleted.
_NOT_HELD = "NOT EXISTS (SELECT 1 FROM _held h WHERE h.external_id = t.external_id)"


def _absent() -> str:
    """SQL over a source table `t`: the record is not in the file being applied."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('pg_temp._held') IS NOT NULL")
        held = cursor.fetchone()[0]
    return f"({_ABSENT} AND {_NOT_HELD})" if held else _ABSENT


@dataclass(frozen=True)
class Absent:
    """What a full export would delete: `absent` of the system's `live` records."""

    absent: int
    live: int

    @property
    def needs_confirmation(self) -> bool:
        return self.absent > 0 and self.absent > self.live * CONFIRM_SHARE

    @property
    def percent(self) -> int:
        return round(100 * self.absent / self.live) if self.live else 0


def _table(batch: ImportBatch) -> str:
    return SOURCE_MODELS[batch.object_type]._meta.db_table


def deletions_absent_count(*, batch: ImportBatch) -> Absent:
    """How many of the batch's system's live records of its object type its file does not
    hold, and how many live records there are: one scan of the system's rows."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FILTER (WHERE {_absent()}), count(*) FROM {_table(batch)} t "
            "WHERE t.system_id = %s AND t.deleted_at IS NULL",
            [batch.system_id],
        )
        absent, live = cursor.fetchone()
    return Absent(absent=absent, live=live)


def deletions_restored_count(*, batch: ImportBatch) -> int:
    """How many of the rows about to be written (`_pending`) are marked deleted now: the
    write brings them back."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM _pending p JOIN {_table(batch)} t "
            "ON t.system_id = p.system_id AND t.external_id = p.external_id "
            "WHERE t.deleted_at IS NOT NULL"
        )
        return cursor.fetchone()[0]


def deletions_mark_absent(*, batch: ImportBatch) -> int:
    """Mark deleted, as of now and by `batch`, the system's live records its full export does
    not hold, and re-resolve their golden records. Returns how many were marked. Must run
    inside the import's transaction, after its rows are written."""
    return _mark(batch, _absent(), [])


def deletions_mark_listed(*, batch: ImportBatch) -> int:
    """Mark deleted, as of now and by `batch`, the system's live records whose ids the batch
    lists as deleted in the source (`deleted_ids`: what an API sync was told), unless the
    batch's own rows hold the record again. Re-resolves their golden records; returns how many
    were marked. Must run inside the import's transaction, after its rows are written."""
    if not batch.deleted_ids:
        return 0
    return _mark(
        batch,
        "t.external_id = ANY(%s) AND NOT EXISTS "
        "(SELECT 1 FROM _norm n WHERE n.external_id = t.external_id)",
        [list(batch.deleted_ids)],
    )


def _mark(batch: ImportBatch, predicate: str, params: list) -> int:
    with connection.cursor() as cursor:
        # Fresh statistics for the file's rows and for the source table this import has just
        # written: with the table's from before (empty, on a first import) the planner checks
        # every stored record against every row of the file, a nested loop of 20,000 x 20,000
        # taking 15 s, instead of one hashed anti-join. ANALYZE samples: milliseconds.
        cursor.execute("ANALYZE _norm")
        cursor.execute(f"ANALYZE {_table(batch)}")
        cursor.execute("DROP TABLE IF EXISTS _scope")
        cursor.execute("CREATE TEMP TABLE _scope (golden_key varchar(300)) ON COMMIT DROP")
        cursor.execute(
            f"""
            WITH marked AS (
                UPDATE {_table(batch)} t SET deleted_at = now(), deleted_batch_id = %s
                WHERE t.system_id = %s AND t.deleted_at IS NULL AND {predicate}
                RETURNING t.golden_key
            ), scoped AS (
                INSERT INTO _scope SELECT DISTINCT golden_key FROM marked WHERE golden_key <> ''
            )
            SELECT count(*) FROM marked
            """,
            [batch.pk, batch.system_id, *params],
        )
        marked = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM _scope")
        keys = cursor.fetchone()[0]
        if keys:
            cursor.execute("ALTER TABLE _scope ADD PRIMARY KEY (golden_key)")
            cursor.execute("ANALYZE _scope")
    if keys:
        golden_resolve_scope(object_type=batch.object_type)
    return marked
