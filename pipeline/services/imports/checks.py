"""Checking (step 3, after `_norm`): emails, domains and phones Python reads exactly, problems
stored per row and column, rows held back, the preview, and the findings detectors."""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection
from phonenumbers import NumberParseException, PhoneNumberFormat, format_number, is_possible_number
from phonenumbers import parse as parse_phone

from pipeline.choices import FindingKind, ObjectType
from pipeline.models import (
    ImportBatch,
)
from pipeline.normalise import NormaliseError, domain_key, email_key
from pipeline.presets import (
    BOOLEAN,
    Mapping,
    mapping_from_dict,
)
from pipeline.services.findings import (
    detector,
    findings_record,
)
from pipeline.services.imports.base import STORED_ERRORS_MAX, exec_sql, lit
from pipeline.services.imports.normalise_sql import CONTROL, Col, single_line
from pipeline.services.imports.reading import NUL_MARK, FileFormat
from revops.csv import csv_lines

PREVIEW_ROWS = 20
PREVIEW_CELL_CHARS = 200


def _probe(conditions: dict[str, str], source: str = "_norm n") -> set[str]:
    """Which of the named SQL conditions hold for some row of `source`, in one scan."""
    if not conditions:
        return set()
    with connection.cursor() as cursor:
        exec_sql(
            cursor,
            f"SELECT {', '.join(f'bool_or({c})' for c in conditions.values())} FROM {source}",
        )
        hits = cursor.fetchone()
    return {name for name, hit in zip(conditions, hits, strict=True) if hit}


@detector()
def _control_characters(batch: ImportBatch, cols: list[Col]) -> None:
    """Line breaks, tabs and other control characters removed from single-line text fields."""
    text = {c.info.name: c for c in cols if single_line(c)}
    if not text or not _probe({"any": "n._ctrl"}):
        return
    found = _probe({name: f"n._ctrl AND n.raw_{name} ~ '{CONTROL}'" for name in text})
    for name in (n for n in text if n in found):
        findings_record(
            batch,
            kind=FindingKind.CONTROL_CHARACTERS,
            where=f"n._ctrl AND n.raw_{name} ~ '{CONTROL}'",
            message="'had line breaks, tabs or other control characters, removed'",
            value=f"n.{name}",
            field=name,
            column=text[name].column,
        )


# Stage dates a lead cannot reach before it exists.
_AFTER_CREATION = ("mql_at", "sal_at", "sql_at", "converted_at")


@detector(ObjectType.LEAD)
def _dates_before_creation(batch: ImportBatch, cols: list[Col]) -> None:
    """A stage reached before the lead was created (compared by day in the mapping's time
    zone: Salesforce writes ConvertedDate without a time) is a finding, not an error: the
    source system really holds it, and the books must match the source; someone fixes it there."""
    names = {c.info.name: c for c in cols if c.column}
    if "created_at" not in names:
        return
    tz = mapping_from_dict(batch.mapping).timezone
    day = "(n.{0} AT TIME ZONE {1})::date"
    checks = {
        name: f"{day.format(name, lit(tz))} < {day.format('created_at', lit(tz))}"
        for name in _AFTER_CREATION
        if name in names
    }
    for name in (n for n in checks if n in _probe(checks)):
        findings_record(
            batch,
            kind=FindingKind.DATE_ORDER,
            where=checks[name],
            message=f"{lit(f'{names[name].info.label} is before the lead was created (')} "
            f"|| {day.format('created_at', lit(tz))}::text || ')'",
            value=f"n.raw_{name}",
            field=name,
            column=names[name].column,
        )


def python_checks(mapping: Mapping, cols: list[Col]) -> None:
    """Emails and domains the SQL fast path left unresolved, checked exactly in Python. They are
    few in a real file: addresses with unusual characters, international domains, or errors."""
    names = {c.info.name: c for c in cols}
    checks = []
    if "email" in names:
        checks.append(("email", _check_email))
    if "domain" in names:
        checks.append(("domain", _check_domain))
    if "phone" in names and names["phone"].column:
        _phone_keys(mapping.region())
    for name, check in checks:
        with connection.cursor() as cursor:
            exec_sql(
                cursor,
                f"SELECT row_no, raw_{name} FROM _norm "
                f"WHERE raw_{name} IS NOT NULL AND {name} IS NULL AND err_{name} IS NULL",
            )
            rows = cursor.fetchall()
            if not rows:
                continue
            results = [(row_no, *check(raw)) for row_no, raw in rows]
            cursor.execute("DROP TABLE IF EXISTS _checked")
            cursor.execute("CREATE TEMP TABLE _checked (row_no bigint, value text, error text)")
            with cursor.cursor.copy("COPY _checked FROM STDIN") as copy:
                for result in results:
                    copy.write_row(result)
            exec_sql(
                cursor,
                f"UPDATE _norm n SET {name} = c.value, err_{name} = c.error "
                f"FROM _checked c WHERE c.row_no = n.row_no",
            )


def _phone_keys(region: str) -> None:
    """Each distinct phone number of the file, once, in E.164 ('' when it is not a possible
    number), copied back into `_norm.phone`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT raw_phone FROM _norm WHERE raw_phone IS NOT NULL AND err_phone IS NULL"
        )
        raws = [raw for (raw,) in cursor.fetchall()]
        if not raws:
            return
        cursor.execute("DROP TABLE IF EXISTS _phones")
        cursor.execute("CREATE TEMP TABLE _phones (raw text PRIMARY KEY, e164 text)")
        with cursor.cursor.copy("COPY _phones FROM STDIN") as copy:
            for raw, e164 in _e164(raws, region):
                copy.write_row((raw, e164))
        cursor.execute("UPDATE _norm n SET phone = p.e164 FROM _phones p WHERE p.raw = n.raw_phone")
        cursor.execute("DROP TABLE _phones")


def _e164(raws: Iterable[str], region: str) -> Iterable[tuple[str, str]]:
    for raw in raws:
        try:
            number = parse_phone(raw, region)
        except NumberParseException:
            yield raw, ""
            continue
        yield (
            raw,
            format_number(number, PhoneNumberFormat.E164) if is_possible_number(number) else "",
        )


def _check_email(raw: str) -> tuple[str | None, str | None]:
    try:
        validate_email(raw)
    except ValidationError:
        return None, "is not a valid email address"
    try:
        return email_key(raw), None
    except NormaliseError:
        return None, "is not a valid email address"


def _check_domain(raw: str) -> tuple[str | None, str | None]:
    try:
        return domain_key(raw), None
    except NormaliseError:
        return None, "is not a website or domain"


def _unpivot(cols: list[Col]) -> tuple[str, str]:
    """SQL over `_norm n`: a VALUES list of (column, field, value, message) per field, and the
    condition that a row has any problem."""
    unpivot = ", ".join(
        f"({lit(c.column)}, {lit(c.info.name)}, left(n.raw_{c.info.name}, 200), "
        f"n.err_{c.info.name})"
        for c in cols
    )
    any_error = " OR ".join(f"n.err_{c.info.name} IS NOT NULL" for c in cols)
    return unpivot, any_error


def collect_errors(batch: ImportBatch, cols: list[Col]) -> int:
    """Store the first problems as ImportRowError rows; return how many there are in all."""
    unpivot, any_error = _unpivot(cols)
    with connection.cursor() as cursor:
        # Duplicate ids within the file: each copy is an error, naming the other rows. Probe
        # first; the update that names the rows runs only for a file that has some.
        exec_sql(
            cursor,
            "SELECT EXISTS (SELECT 1 FROM _norm WHERE external_id <> '' "
            "GROUP BY external_id HAVING count(*) > 1)",
        )
        duplicates = cursor.fetchone()[0]
    with connection.cursor() as cursor:
        if duplicates:
            exec_sql(
                cursor,
                """
            UPDATE _norm n SET err_external_id = format(
                'appears %s times in this file (rows %s)', d.copies, d.rows)
            FROM (
                SELECT external_id, count(*) AS copies,
                       array_to_string((array_agg(row_no + 1 ORDER BY row_no))[1:10], ', ') AS rows
                FROM _norm WHERE external_id <> '' GROUP BY external_id HAVING count(*) > 1
            ) d
            WHERE n.external_id = d.external_id AND n.err_external_id IS NULL
            """,
            )
        exec_sql(cursor, f"SELECT count(*) FROM _norm n WHERE {any_error}")
        rows_bad = cursor.fetchone()[0]
        if not rows_bad:
            return 0
        exec_sql(
            cursor,
            f"""
            WITH problems AS (
                SELECT n.row_no, p.col, p.field, p.value, p.message
                FROM _norm n CROSS JOIN LATERAL (VALUES {unpivot}) AS p(col, field, value, message)
                WHERE ({any_error}) AND p.message IS NOT NULL
            )
            INSERT INTO pipeline_importrowerror (batch_id, row, "column", field, value, message)
            SELECT {int(batch.id)}, row_no + 1, col, field, coalesce(value, ''), message
            FROM problems ORDER BY row_no, field LIMIT {STORED_ERRORS_MAX}
            """,
        )
        exec_sql(
            cursor,
            f"SELECT count(*) FROM _norm n CROSS JOIN LATERAL (VALUES {unpivot}) "
            f"AS p(col, field, value, message) WHERE p.message IS NOT NULL",
        )
        errors_total = cursor.fetchone()[0]
    batch.rows_rejected = rows_bad
    return errors_total


def hold_rows(batch: ImportBatch, cols: list[Col], fmt: FileFormat) -> None:
    """Apply only the valid rows: store every row with a problem as the file had it, with its
    problems in words (the held-rows CSV), and take it out of `_norm` so that nothing after
    this step sees it. `_held` keeps the held rows' ids: a full export must not read a held
    row as a record the system deleted."""
    unpivot, any_error = _unpivot(cols)
    with connection.cursor() as cursor:
        # The columns loaded into `_raw`: all of them, or the mapped ones of a very wide file.
        cursor.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = '_raw'::regclass "
            "AND attnum > 0 AND NOT attisdropped AND attname <> 'row_no' ORDER BY attnum"
        )
        loaded = [name for (name,) in cursor.fetchall()]
        header = [fmt.header[int(c[1:]) - 1] for c in loaded]
        cells = ", ".join(f"r.{c}" for c in loaded)
        cursor.execute(
            "INSERT INTO pipeline_importheldrow (batch_id, row, cells, problem) "
            "VALUES (%s, 1, %s::jsonb, '')",
            [batch.pk, json.dumps(header)],
        )
        cursor.execute("DROP TABLE IF EXISTS _held")
        exec_sql(
            cursor,
            f"""
            CREATE TEMP TABLE _held AS
            SELECT n.row_no, n.raw_external_id AS external_id,
                   (SELECT string_agg(
                        CASE WHEN p.col <> '' THEN p.col || ' ' ELSE '' END || p.message,
                        '; ' ORDER BY p.field)
                    FROM (VALUES {unpivot}) AS p(col, field, value, message)
                    WHERE p.message IS NOT NULL) AS problem
            FROM _norm n WHERE {any_error}
            """,
        )
        exec_sql(
            cursor,
            f"""
            INSERT INTO pipeline_importheldrow (batch_id, row, cells, problem)
            SELECT {int(batch.pk)}, h.row_no + 1, jsonb_build_array({cells}), h.problem
            FROM _held h JOIN _raw r ON r.row_no = h.row_no
            """,
        )
        cursor.execute("DELETE FROM _norm n USING _held h WHERE n.row_no = h.row_no")
        batch.rows_held = cursor.rowcount


def held_rows_lines(batch: ImportBatch):
    """The held rows as CSV lines: the file's header and cells, and a last column saying what
    is wrong. Fixed, the file imports again as it is (the extra column is ignored)."""
    rows = batch.held_rows.order_by("row").values_list("row", "cells", "problem").iterator()

    def table():
        for row, cells, problem in rows:
            yield [*cells, HELD_PROBLEM_COLUMN if row == 1 else f"Row {row}: {problem}"]

    return csv_lines(table())


HELD_PROBLEM_COLUMN = "import_problem"


def _preview_cell(cell: str) -> str:
    """SQL: the cell as the preview stores it, cut with an ellipsis: a page of first rows
    stays small whatever a cell holds."""
    n = PREVIEW_CELL_CHARS
    return f"CASE WHEN length({cell}) > {n} THEN left({cell}, {n - 1}) || '…' ELSE {cell} END"


def preview_first_rows(cols: list[Col]) -> dict:
    names = [c.info.name for c in cols if c.info.kind != BOOLEAN]
    with connection.cursor() as cursor:
        exec_sql(
            cursor,
            f"SELECT row_no + 1, {', '.join(_preview_cell(f'{n}::text') for n in names)} "
            f"FROM _norm "
            f"WHERE row_no <= {PREVIEW_ROWS} ORDER BY row_no",
        )
        rows = [list(r) for r in cursor.fetchall()]
    return {"columns": ["row", *names], "rows": rows}


def nul_findings(batch: ImportBatch, fmt: FileFormat, cols: list[Col]) -> None:
    """A finding for every cell NUL bytes were removed from, naming its row and column: one
    scan finds the columns that had any, then one statement per such column."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = '_raw'::regclass "
            "AND attnum > 0 AND NOT attisdropped AND attname <> 'row_no' ORDER BY attnum"
        )
        loaded = [name for (name,) in cursor.fetchall()]
        mark = lit(NUL_MARK)
        exec_sql(
            cursor,
            f"SELECT {', '.join(f'bool_or(strpos({c}, {mark}) > 0)' for c in loaded)} FROM _raw",
        )
        found = [c for c, hit in zip(loaded, cursor.fetchone(), strict=True) if hit]
    fields = {c.column.casefold(): c.info.name for c in cols if c.column}
    for c in found:
        index = int(c[1:]) - 1
        column = fmt.header[index] if index < len(fmt.header) else f"column {index + 1}"
        findings_record(
            batch,
            kind=FindingKind.NUL_BYTES,
            where=f"strpos(n.{c}, {mark}) > 0",
            message=f"'had ' || (length(n.{c}) - length(replace(n.{c}, {mark}, ''))) "
            f"|| ' NUL bytes, removed'",
            value=f"replace(n.{c}, {mark}, '')",
            column=column,
            field=fields.get(column.casefold(), ""),
            source="_raw n",
        )


def row_errors_csv(batch: ImportBatch) -> io.StringIO:
    """The batch's problems as CSV, cells escaped so a spreadsheet never runs them."""
    rows = (
        (error.row, error.column, error.value, f"{error.column or 'Row'} {error.message}".strip())
        for error in batch.row_errors.all().iterator()
    )
    out = io.StringIO()
    out.writelines(csv_lines(itertools.chain([("row", "column", "value", "problem")], rows)))
    out.seek(0)
    return out
