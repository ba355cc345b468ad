"""A deal's stage history as its system recorded it (Salesforce's OpportunityHistory), written
into `DealStageChange`.

Without it, the app knows a deal moved stage only when an import sees the golden deal's stage
change, and dates the move to that import. A system's own history says when each move
happened. Loading it:
- maps each row's stage through the deal preset's stage values (a stage the mapping does not
  know, or an opportunity the app does not hold, is skipped and counted);
- keeps only the rows that change the deal's stage (the system also records changes of amount
  or close date), compared with the deal's history as recorded before;
- lets a recorded change stand in for a seen one of the same stage with no recorded move to
  another stage between them (the import that saw the move came after it happened, or a
  little before where the system's clock is ahead), and sets every touched deal's `from_stage` again
  from the order of its history.

Set-based: the file is COPYed into a temporary table and written in three statements, under
the lock every writer of golden records holds. Loading the same file twice adds nothing.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, transaction
from psycopg import sql as pg_sql

from pipeline.models import DealStageChange, SourceDeal, SourceSystem
from pipeline.services.identity import WRITE_LOCK

# The columns a history file holds (Salesforce's names): the change's id, its opportunity,
# the stage and amount after it, and when it happened.
COLUMNS = {
    "id": "Id",
    "deal": "OpportunityId",
    "stage": "StageName",
    "amount": "Amount",
    "at": "CreatedDate",
}
_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}"
_NUMBER = r"^\d+(\.\d+)?([eE][+-]?\d+)?$"


@dataclass(frozen=True)
class HistoryLoad:
    rows: int  # rows in the file
    added: int  # stage changes written
    unmatched: int  # rows of an opportunity the app does not hold, or a stage it cannot map
    replaced: int  # changes the app had only seen, now stood in for by the recorded ones


def deal_stage_history_load(
    *, system: SourceSystem, path: Path, stages: dict[str, str]
) -> HistoryLoad:
    """Write the stage changes the file at `path` records for `system`'s deals. `stages`
    maps the system's stage names to ours (any case)."""
    with open(path, newline="", encoding="utf-8") as f:
        header = next(csv.reader(f), None) or []
    missing = [c for c in COLUMNS.values() if c not in header]
    if missing:
        raise ValueError(f"The stage history has no column {', '.join(missing)}.")
    values = {k.lower(): v for k, v in stages.items() if k != "*"}
    history = DealStageChange._meta.db_table
    source = SourceDeal._meta.db_table
    col = {name: pg_sql.Identifier(column) for name, column in COLUMNS.items()}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
        # Inside an outer transaction an earlier load's tables are still there.
        cursor.execute("DROP TABLE IF EXISTS pg_temp._history, pg_temp._placed")
        cursor.execute(
            pg_sql.SQL("CREATE TEMP TABLE _history ({}) ON COMMIT DROP").format(
                pg_sql.SQL(", ").join(
                    pg_sql.SQL("{} text").format(pg_sql.Identifier(h)) for h in header
                )
            )
        )
        with (
            open(path, "rb") as f,
            cursor.copy("COPY _history FROM STDIN (FORMAT csv, HEADER true)") as copy,
        ):
            while chunk := f.read(1 << 20):
                copy.write(chunk)
        # The file's changes the app can place, then of those the ones that move the stage
        # (against the deal's recorded history as well), written once.
        cursor.execute(
            pg_sql.SQL(
                """
            CREATE TEMP TABLE _placed ON COMMIT DROP AS
            SELECT DISTINCT ON (h.{id}) h.{id} AS external_id, sd.deal_id,
                   m.ours AS to_stage, h.{at}::timestamptz AS changed_at,
                   CASE WHEN btrim(h.{amount}) ~ {number}
                        THEN btrim(h.{amount})::numeric(24, 6) END AS amount
            FROM _history h
            JOIN {source} sd ON sd.system_id = %(system)s AND sd.external_id = h.{deal}
                AND sd.deal_id IS NOT NULL
            JOIN jsonb_each_text(%(stages)s::jsonb) m(theirs, ours)
                ON m.theirs = lower(btrim(h.{stage}))
            WHERE h.{at} ~ {timestamp} AND h.{id} <> ''
            ORDER BY h.{id}
            """
            ).format(
                **col,
                source=pg_sql.Identifier(source),
                number=pg_sql.Literal(_NUMBER),
                timestamp=pg_sql.Literal(_TIMESTAMP),
            ),
            {"system": system.pk, "stages": json.dumps(values)},
        )
        cursor.execute("SELECT count(*) FROM _history")
        rows = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM _placed")
        placed = cursor.fetchone()[0]
        cursor.execute(
            pg_sql.SQL(
                """
            WITH sequence AS (
                SELECT external_id, deal_id, to_stage, changed_at, amount, true AS new
                FROM _placed p
                WHERE NOT EXISTS (SELECT 1 FROM {history} c WHERE c.deal_id = p.deal_id
                                  AND c.system_id = %(system)s AND c.external_id = p.external_id)
                UNION ALL
                SELECT c.external_id, c.deal_id, c.to_stage, c.changed_at, c.amount, false
                FROM {history} c
                WHERE c.external_id <> '' AND c.deal_id IN (SELECT deal_id FROM _placed)
            ),
            moves AS (
                SELECT *, lag(to_stage) OVER (PARTITION BY deal_id
                                              ORDER BY changed_at, external_id) AS before
                FROM sequence
            )
            INSERT INTO {history} (deal_id, from_stage, to_stage, changed_at, amount,
                                   system_id, external_id)
            SELECT deal_id, '', to_stage, changed_at, amount, %(system)s, external_id
            FROM moves WHERE new AND to_stage IS DISTINCT FROM before
            ON CONFLICT (deal_id, to_stage, changed_at) DO NOTHING
            """
            ).format(history=pg_sql.Identifier(history)),
            {"system": system.pk},
        )
        added = cursor.rowcount
        # A move the app saw is a recorded move to the same stage with no recorded move to
        # another stage between them (before it, usually; after it, by a clock ahead of ours).
        cursor.execute(
            pg_sql.SQL(
                """
            DELETE FROM {history} seen
            WHERE seen.external_id = '' AND seen.deal_id IN (SELECT deal_id FROM _placed)
              AND EXISTS (
                SELECT 1 FROM {history} kept
                WHERE kept.deal_id = seen.deal_id AND kept.external_id <> ''
                  AND kept.to_stage = seen.to_stage
                  AND NOT EXISTS (
                    SELECT 1 FROM {history} other
                    WHERE other.deal_id = seen.deal_id AND other.external_id <> ''
                      AND other.to_stage <> seen.to_stage
                      AND other.changed_at > least(kept.changed_at, seen.changed_at)
                      AND other.changed_at < greatest(kept.changed_at, seen.changed_at)))
            """
            ).format(history=pg_sql.Identifier(history))
        )
        replaced = cursor.rowcount
        cursor.execute(
            pg_sql.SQL(
                """
            UPDATE {history} c SET from_stage = o.before
            FROM (SELECT id, coalesce(lag(to_stage) OVER (PARTITION BY deal_id
                                                            ORDER BY changed_at, id), '') AS before
                  FROM {history} WHERE deal_id IN (SELECT deal_id FROM _placed)) o
            WHERE c.id = o.id AND c.from_stage IS DISTINCT FROM o.before
            """
            ).format(history=pg_sql.Identifier(history))
        )
    return HistoryLoad(rows=rows, added=added, unmatched=rows - placed, replaced=replaced)
