"""Data-quality findings: rows an import accepts but that someone should look at.

A finding is not an error: the row imports. A deal without an account, a placeholder email, a
cell from which NUL bytes were removed … each is counted per batch (`ImportBatch.findings`,
every row) and its first rows stored (`ImportFinding`), so that the batch page lists them and
the data-quality page counts them per system, week over week.

Detectors run set-based over the import's `_norm` table (one row per file row, `row_no`
counted from the first data row): `findings_record` inserts the matching rows and counts them
in one statement each. A detector is a function `(batch, cols) -> None` registered in
`DETECTORS`; the import runs every detector whose object type matches, after the file passed
its checks (or, applying only the valid rows, over the rows that apply).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from pipeline.choices import BatchStatus, FindingKind, ObjectType
from pipeline.models import ImportBatch, ImportFinding, SourceSystem
from pipeline.models.systems import finding_label

STORED_FINDINGS_MAX = 10_000  # per batch and kind

Detector = Callable[[ImportBatch, list], None]
# object type -> detectors, in the order they run
DETECTORS: dict[str, list[Detector]] = {t: [] for t in ObjectType.values}


def detector(*object_types: str) -> Callable[[Detector], Detector]:
    """Register a detector for the given object types (all of them when none is given)."""

    def register(fn: Detector) -> Detector:
        for object_type in object_types or ObjectType.values:
            DETECTORS[object_type].append(fn)
        return fn

    return register


def findings_record(
    batch: ImportBatch,
    *,
    kind: str,
    where: str,
    message: str,
    field: str = "",
    column: str = "",
    value: str = "''",
    params: dict | None = None,
    source: str = "_norm n",
) -> int:
    """Record a finding of `kind` for every row of `source` (aliased `n`, with `row_no`)
    matching the SQL condition `where`. `message` and `value` are SQL expressions over the row
    (a literal message is passed quoted: `"'has no account'"`). Returns how many rows matched;
    adds that to `batch.findings` (saved by the caller with the batch)."""
    params = dict(params or {})
    params.update(batch_id=batch.pk, kind=kind, field=field, column=column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH hits AS (
                SELECT n.row_no, ({value})::text AS value, ({message})::text AS message
                FROM {source} WHERE {where}
            ), stored AS (
                INSERT INTO pipeline_importfinding (batch_id, kind, row, "column", field, value,
                                                    message)
                SELECT %(batch_id)s, %(kind)s, row_no + 1, %(column)s, %(field)s,
                       left(coalesce(value, ''), 200), message
                FROM hits ORDER BY row_no LIMIT {STORED_FINDINGS_MAX}
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM hits), (SELECT count(*) FROM stored)
            """,
            params,
        )
        total, _stored = cursor.fetchone()
    findings_count(batch, kind, total)
    return total


def findings_count(batch: ImportBatch, kind: str, count: int) -> None:
    """Count a finding that has no rows to store (a file-wide one)."""
    if count:
        found = dict(batch.findings or {})
        found[kind] = found.get(kind, 0) + count
        batch.findings = found


def findings_collect(batch: ImportBatch, cols: list) -> None:
    """Run every detector for the batch's object type over `_norm`."""
    for fn in DETECTORS[batch.object_type]:
        fn(batch, cols)


def findings_clear(batch: ImportBatch) -> None:
    ImportFinding.objects.filter(batch=batch).delete()
    batch.findings = {}


def _mapped(cols: list, name: str) -> bool:
    return any(c.info.name == name and c.column for c in cols)


# --- Built-in detectors ---------------------------------------------------------------------------


@detector(ObjectType.DEAL)
def _deal_without_account(batch: ImportBatch, cols: list) -> None:
    """A deal with no account imports (it still counts in bookings and pipeline) but is a
    finding: account-level numbers (ARR, coverage by account) cannot include it."""
    findings_record(
        batch,
        kind=FindingKind.MISSING_ACCOUNT,
        where="coalesce(n.account_external_id, '') = ''"
        if any(c.info.name == "account_external_id" for c in cols)
        else "true",
        field="account_external_id",
        column=next((c.column for c in cols if c.info.name == "account_external_id"), ""),
        message="'names no account'",
    )


# --- The data-quality page ---------------------------------------------------------------------


def quality_weeks(today: date | None = None, weeks: int = 8) -> list[date]:
    """Mondays of the last `weeks` weeks, oldest first, ending with the current week."""
    today = today or timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def quality_table(system: SourceSystem, weeks: list[date]) -> list[dict]:
    """Findings of `system` by kind and week: for each object type and week, the last batch
    applied that week (a re-import of the same export does not count twice). Rows are kinds
    with at least one finding in the window: {kind, label, object_type, counts: [...]}"""
    start = weeks[0]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH last_per_week AS (
                SELECT DISTINCT ON (
                           b.object_type, date_trunc('week', b.finished_at AT TIME ZONE %s)
                       )
                       b.object_type,
                       (date_trunc('week', b.finished_at AT TIME ZONE %s))::date AS week,
                       b.findings
                FROM pipeline_importbatch b
                WHERE b.system_id = %s AND b.status = %s
                  AND b.finished_at >= (%s::date)::timestamp AT TIME ZONE %s
                ORDER BY b.object_type, date_trunc('week', b.finished_at AT TIME ZONE %s),
                         b.finished_at DESC, b.id DESC
            )
            SELECT l.object_type, f.key, l.week, sum(f.value::bigint)
            FROM last_per_week l CROSS JOIN LATERAL jsonb_each_text(l.findings) f
            GROUP BY 1, 2, 3
            """,
            [
                timezone.get_current_timezone_name(),
                timezone.get_current_timezone_name(),
                system.pk,
                BatchStatus.APPLIED,
                start,
                timezone.get_current_timezone_name(),
                timezone.get_current_timezone_name(),
            ],
        )
        found = cursor.fetchall()
    index = {w: i for i, w in enumerate(weeks)}
    rows: dict[tuple[str, str], dict] = {}
    for object_type, kind, week, count in found:
        if week not in index:
            continue
        row = rows.setdefault(
            (object_type, kind),
            {
                "object_type": object_type,
                "object_label": ObjectType(object_type).label,
                "kind": kind,
                "label": finding_label(kind),
                "counts": [None] * len(weeks),
            },
        )
        row["counts"][index[week]] = int(count)
    return sorted(rows.values(), key=lambda r: (r["object_type"], r["label"]))


def batch_findings(batch: ImportBatch) -> list[dict]:
    """The batch's findings by kind, each with its count and first stored rows."""
    out = []
    for kind, count in sorted((batch.findings or {}).items(), key=lambda kv: finding_label(kv[0])):
        rows: QuerySet = batch.row_findings.filter(kind=kind).order_by("row", "id")[:50]
        out.append({"kind": kind, "label": finding_label(kind), "count": count, "rows": list(rows)})
    return out
