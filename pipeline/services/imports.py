"""Imports: a CSV export in, source records and golden records out, whole or not at all.

The path every import takes (browser, API and `import_records` alike):

1. Sniff the file in Python without parsing its rows: size, binary content, encoding (UTF-8
   with or without BOM, else Windows-1252, else Latin-1), delimiter, header; refuse a file
   that misses required columns before any row is read.
2. COPY the raw bytes into a temp table of text columns. PostgreSQL parses the CSV (quoted
   newlines, CRLF, the delimiter) and numbers the rows; a row with too many or too few fields
   or an unterminated quote stops it, and a Python pass then lists every such row.
3. Check and normalise every cell in one set-based statement: dates in the mapping's order and
   time zone, amounts with symbols and separators, emails, domains, value maps, lengths.
   Only emails and domains the SQL fast path cannot vouch for go through Python one by one.
4. If any cell is wrong, store the problems (row, column, value, reason) and write nothing.
   Otherwise, when the batch is to apply, upsert the source rows (unchanged rows are skipped by
   their hash) and resolve the golden records they touch, in one transaction.

Memory stays flat whatever the file size: Python only ever holds a chunk of bytes.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.core.validators import validate_email
from django.db import DataError, connection, transaction
from django.db.models import Count, Max
from django.utils import timezone
from psycopg import errors as pg_errors
from psycopg import sql as pg_sql

from pipeline.choices import BatchStatus, ExportKind, ObjectType
from pipeline.models import (
    SOURCE_MODELS,
    ImportBatch,
    ImportPreset,
    ImportRowError,
    SourceSystem,
    source_fields,
)
from pipeline.normalise import NormaliseError, domain_key, email_key
from pipeline.presets import (
    BUILTIN_PRESETS,
    CHOICE,
    DATE,
    DATETIME,
    DECIMAL,
    DOMAIN,
    EMAIL,
    FIELDS,
    INTEGER,
    TEXT,
    FieldInfo,
    Mapping,
    builtin_preset,
    field_info,
    mapping_from_dict,
)
from pipeline.services.deletions import (
    deletions_absent_count,
    deletions_mark_absent,
    deletions_restored_count,
)
from pipeline.services.findings import findings_clear, findings_collect
from pipeline.services.identity import (
    PENDING_ID_BASE,
    golden_key_sql,
    golden_refresh_dependents,
    golden_resolve_pending,
)
from pipeline.services.presets import import_preset_save
from revops.csv import csv_lines
from revops.currencies import ISO_4217
from revops.db import SideChannel

logger = logging.getLogger(__name__)

STORED_ERRORS_MAX = 10_000
PREVIEW_ROWS = 20
CHUNK_BYTES = 1 << 20
AMOUNT_DECIMALS = 6  # numeric(24,6): DealFields.amount, ArrChangeFields.amount
IMPORT_LOCK = 7_303_001  # pg advisory lock: one import writes at a time

Progress = Callable[[str, int], None]


class ImportRejected(Exception):
    """The file cannot be imported as a whole (empty, not CSV, missing columns …). `errors`
    holds row-level problems where there are some."""

    def __init__(self, message: str, errors: list[RowError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


@dataclass(frozen=True)
class RowError:
    row: int | None
    column: str
    value: str
    message: str
    field: str = ""


@dataclass(frozen=True)
class FileFormat:
    encoding: str  # Python codec name
    pg_encoding: str
    delimiter: str
    header: list[str]
    sha256: str
    size: int


# --- 1. Sniffing ---------------------------------------------------------------------------------

_ENCODINGS = (("utf-8-sig", "UTF8"), ("cp1252", "WIN1252"), ("latin-1", "LATIN1"))
_DELIMITERS = (",", ";", "\t", "|")
_MAGIC = {
    b"PK\x03\x04": "an Excel workbook or a zip archive",
    b"%PDF": "a PDF document",
    b"\xd0\xcf\x11\xe0": "an old-style Excel or Word file",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"\x1f\x8b": "a gzip archive",
}


def max_file_bytes() -> int:
    return settings.IMPORT_MAX_BYTES


def _human(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{size / 1000:.0f} kB"


def sniff_file(path: Path) -> FileFormat:
    """Encoding, delimiter and header of the CSV at `path`, reading it once in chunks."""
    size = path.stat().st_size
    if size == 0:
        raise ImportRejected("The file is empty.")
    if size > max_file_bytes():
        raise ImportRejected(
            f"The file is {_human(size)}; the limit is {_human(max_file_bytes())}. "
            "Split it into smaller files."
        )
    with open(path, "rb") as f:
        head = f.read(64 * 1024)
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise ImportRejected(
                f"This is {what}, not a CSV file. Export or save it as CSV (UTF-8) and upload that."
            )
    if b"\x00" in head:
        raise ImportRejected("This is a binary file, not CSV text. Export it as CSV (UTF-8).")
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html")):
        raise ImportRejected("This is a web page (HTML), not a CSV file.")

    digest = hashlib.sha256()
    utf8 = codecs.getincrementaldecoder("utf-8-sig")()
    is_utf8 = True
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
            if is_utf8:
                try:
                    utf8.decode(chunk)
                except UnicodeDecodeError:
                    is_utf8 = False
    if is_utf8:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            is_utf8 = False
    # Not UTF-8: Windows-1252 (what Excel writes on Windows) where every byte is defined in
    # it, else Latin-1, which reads any byte.
    encoding = "utf-8-sig" if is_utf8 else ("cp1252" if _decodes(path, "cp1252") else "latin-1")
    pg_encoding = dict(_ENCODINGS)[encoding]

    text = head.decode(encoding, errors="replace")
    first_line = text.splitlines()[0] if text.splitlines() else ""
    delimiter = max(_DELIMITERS, key=lambda d: (len(_split_header(first_line, d)), d == ","))
    header = _split_header(first_line, delimiter)
    if not any(header):
        raise ImportRejected("The first row is empty: it must name the columns.")
    blank = [i + 1 for i, name in enumerate(header) if not name]
    if blank:
        raise ImportRejected(f"Column {blank[0]} of the header has no name.")
    seen: set[str] = set()
    for name in header:
        if name.casefold() in seen:
            raise ImportRejected(f"The header names the column {name!r} twice.")
        seen.add(name.casefold())
    return FileFormat(encoding, pg_encoding, delimiter, header, digest.hexdigest(), size)


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK_BYTES):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _split_header(line: str, delimiter: str) -> list[str]:
    try:
        row = next(csv.reader([line], delimiter=delimiter, strict=True), [])
    except csv.Error:
        return [line]
    return [name.strip().lstrip("\ufeff").strip() for name in row]


def check_columns(mapping: Mapping, header: list[str]) -> tuple[dict[str, int], list[str]]:
    """Positions of the mapped columns in the header (matched case-insensitively) and the
    file's columns no field reads. Refuses the file, naming every required column it lacks."""
    position = {name.casefold(): i for i, name in enumerate(header)}
    missing = [c for c in mapping.required_columns() if c.casefold() not in position]
    if missing:
        raise ImportRejected(
            f"The file has no column {_names(missing)}. Its columns are: {_names(header)}. "
            "Check the preset, or build a mapping from this file's header."
        )
    used = {c.casefold() for c in mapping.columns()} | {c.casefold() for c in mapping.ignore}
    unknown = [name for name in header if name.casefold() not in used]
    found = {c: position[c.casefold()] for c in mapping.columns() if c.casefold() in position}
    return found, unknown


def _names(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


# --- 2. Loading the raw rows --------------------------------------------------------------------


def _lit(value: object) -> str:
    return pg_sql.Literal(value).as_string(connection.connection)


def _copy_raw(path: Path, fmt: FileFormat, progress: Progress) -> int:
    """COPY the file into `_raw` (row_no, c1 … cN as text). Returns the number of rows."""
    columns = ", ".join(f"c{i + 1} text" for i in range(len(fmt.header)))
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS _raw")
        cursor.execute(f"CREATE TEMP TABLE _raw (row_no bigserial, {columns})")
        target = ", ".join(f"c{i + 1}" for i in range(len(fmt.header)))
        copy_sql = (
            f"COPY _raw ({target}) FROM STDIN WITH (FORMAT csv, HEADER true, "
            f"DELIMITER {_lit(fmt.delimiter)}, ENCODING {_lit(fmt.pg_encoding)})"
        )
        sent = 0
        last = -1
        try:
            # A savepoint, so that a refused COPY leaves an enclosing transaction usable.
            with transaction.atomic(), cursor.cursor.copy(copy_sql) as copy, open(path, "rb") as f:
                while chunk := f.read(CHUNK_BYTES):
                    copy.write(chunk)
                    sent += len(chunk)
                    pct = sent * 100 // fmt.size
                    if pct // 5 != last // 5:
                        progress("reading", pct)
                        last = pct
        except (pg_errors.BadCopyFileFormat, pg_errors.CharacterNotInRepertoire) as exc:
            raise ImportRejected(
                "Some rows do not fit the header.", _structural_errors(path, fmt)
            ) from exc
        cursor.execute("SELECT count(*) FROM _raw")
        return cursor.fetchone()[0]


def _structural_errors(path: Path, fmt: FileFormat) -> list[RowError]:
    """Every row whose field count differs from the header's, and an unterminated quote, found
    by reading the file as Python's strict CSV reader does (run only when COPY refused it)."""
    errors: list[RowError] = []
    expected = len(fmt.header)
    with open(path, encoding=fmt.encoding, newline="") as f:
        reader = csv.reader(f, delimiter=fmt.delimiter, strict=True)
        row_no = 1
        try:
            next(reader)
            for row in reader:
                row_no += 1
                if len(row) != expected and row != []:
                    errors.append(
                        RowError(
                            row=row_no,
                            column="",
                            value=fmt.delimiter.join(row)[:200],
                            message=f"has {len(row)} fields; the header has {expected}",
                        )
                    )
                    if len(errors) >= STORED_ERRORS_MAX:
                        break
        except csv.Error as exc:
            errors.append(
                RowError(
                    row=row_no + 1,
                    column="",
                    value="",
                    message=f"cannot be read ({exc}); file line {reader.line_num}. "
                    "A quote is probably not closed.",
                )
            )
    if not errors:
        errors.append(RowError(row=None, column="", value="", message="The file is not valid CSV."))
    return errors


# --- 3. Checking and normalising ----------------------------------------------------------------

# Emails the SQL fast path accepts are a subset of what Django's validator accepts: a dot-atom
# of the commonest characters, hostname labels (a domain of 63 characters or less cannot hold
# a longer label), an alphabetic top-level domain. A flat pattern plus position checks: the
# regex engine is slow on nested groups.
_EMAIL_FAST = r"^[A-Za-z0-9_%+.-]+@[A-Za-z0-9.-]+\.[A-Za-z][A-Za-z]+$"
_DOMAIN_FAST = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,24}$"
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_ISO_DATETIME = (
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)? ?(Z|z|[+-]\d{2}(:?\d{2})?)?$"
)
_SLASH = r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{4}(,? \d{1,2}:\d{2}(:\d{2})?( ?[AaPp]\.?[Mm]\.?)?)?$"
_NUMBER = r"^-?\d+(\.\d+)?$"


@dataclass(frozen=True)
class _Col:
    """SQL for one field. `raw` reads the trimmed cell from `_raw` (NULL when blank); `value`
    turns `raw_<name>` into the field's value (NULL when it cannot); `error` names what is
    wrong from `raw_<name>` and `<name>` (NULL when nothing is)."""

    info: FieldInfo
    column: str  # the file's column name, or '' for a default-only field
    raw: str
    value: str
    error: str


def _days_in_month(y: str, m: str) -> str:
    return f"extract(day from (make_date({y}, {m}, 1) + interval '1 month - 1 day'))::int"


def _date_value(v: str, info: FieldInfo, mapping: Mapping, fast: bool) -> str:
    """SQL: the date or timestamp in cell `v`, NULL when it is not one. A cell without an
    offset is read in the session's time zone, which the import sets to the mapping's.

    PostgreSQL does not promise the order in which AND and OR are evaluated, so in the safe
    form every cast sits behind CASE, which it does evaluate in order: a malformed cell can
    never raise. The fast form casts ISO-shaped cells directly and raises on a bad one; the
    import then reruns the safe form, so a clean file pays for no guard it does not need."""
    y, m, d = f"substr({v},1,4)::int", f"substr({v},6,2)::int", f"substr({v},9,2)::int"
    iso_value = f"substr({v}, 1, 10)::date" if info.kind == DATE else f"{v}::timestamptz"
    if fast:
        iso_shape = f"substr({v},5,1) = '-' AND substr({v},8,1) = '-' AND length({v}) <= 40"
        iso = iso_value
    else:
        iso_shape = f"{v} ~ '{_ISO_DATE}' OR {v} ~ '{_ISO_DATETIME}'"
        time_bad = (
            f"(CASE WHEN length({v}) > 10 THEN substr({v},12,2)::int > 23 "
            f"OR substr({v},15,2)::int > 59 ELSE false END)"
        )
        seconds_bad = (
            f"(CASE WHEN substr({v},17,1) = ':' THEN substr({v},18,2)::int > 59 ELSE false END)"
        )
        iso = (
            f"CASE WHEN {m} NOT BETWEEN 1 AND 12 OR {y} < 1 THEN NULL "
            f"WHEN {d} < 1 OR {d} > {_days_in_month(y, m)} THEN NULL "
            f"WHEN {time_bad} OR {seconds_bad} THEN NULL ELSE {iso_value} END"
        )
    # a/b/yyyy with / . or - between, read per the date order; an optional time after it.
    vv = f"replace({v}, ',', '')"
    parts = f"string_to_array(translate(split_part({vv}, ' ', 1), '.-', '//'), '/')"
    a, b, yy = f"({parts})[1]::int", f"({parts})[2]::int", f"({parts})[3]::int"
    if mapping.date_order == "us":
        month, day = a, b
    elif mapping.date_order == "eu":
        month, day = b, a
    else:  # iso / auto: only where the day cannot be taken for the month
        month = f"(CASE WHEN {a} > 12 THEN {b} ELSE {a} END)"
        day = f"(CASE WHEN {a} > 12 THEN {a} ELSE {b} END)"
    clock = (
        f"regexp_replace(substr({vv}, length(split_part({vv}, ' ', 1)) + 2), '[^0-9:]', '', 'g')"
    )
    meridiem = f"lower(substring({v} from '([AaPp])\\.?[Mm]\\.?$'))"
    hour = f"split_part({clock}, ':', 1)::int"
    minute = f"split_part({clock}, ':', 2)::int"
    second = f"coalesce(nullif(split_part({clock}, ':', 3), '')::int, 0)"
    hour24 = (
        f"(CASE WHEN {meridiem} = 'p' AND {hour} < 12 THEN {hour} + 12 "
        f"WHEN {meridiem} = 'a' AND {hour} = 12 THEN 0 ELSE {hour} END)"
    )
    clock_bad = (
        f"(CASE WHEN {clock} = '' THEN false WHEN {meridiem} IS NULL "
        f"THEN {hour} > 23 OR {minute} > 59 OR {second} > 59 "
        f"ELSE {hour} NOT BETWEEN 1 AND 12 OR {minute} > 59 OR {second} > 59 END)"
    )
    ambiguous = (
        "false"
        if mapping.date_order in ("us", "eu")
        else f"({a} <= 12 AND {b} <= 12 AND {a} <> {b})"
    )
    if info.kind == DATE:
        slash_value = f"make_date({yy}, {month}, {day})"
    else:
        slash_value = (
            f"make_timestamp({yy}, {month}, {day}, CASE WHEN {clock} = '' THEN 0 ELSE "
            f"{hour24} END, CASE WHEN {clock} = '' THEN 0 ELSE {minute} END, "
            f"CASE WHEN {clock} = '' THEN 0 ELSE {second} END)::timestamptz"
        )
    slash = (
        f"CASE WHEN {ambiguous} THEN NULL WHEN {month} NOT BETWEEN 1 AND 12 OR {yy} < 1 "
        f"THEN NULL WHEN {day} < 1 OR {day} > {_days_in_month(yy, month)} THEN NULL "
        f"WHEN {clock_bad} THEN NULL ELSE {slash_value} END"
    )
    if mapping.date_order == "iso":
        return f"CASE WHEN {iso_shape} THEN {iso} END"
    return f"CASE WHEN {iso_shape} THEN {iso} WHEN {v} ~ '{_SLASH}' THEN {slash} END"


def _date_error(v: str, mapping: Mapping) -> str:
    """SQL: why cell `v` is not a date (evaluated only for cells that did not read as one)."""
    expected = {
        "us": "a date like 2025-03-31 or 03/31/2025 (month first)",
        "eu": "a date like 2025-03-31 or 31/03/2025 (day first)",
        "iso": "a date like 2025-03-31 or 2025-03-31T14:05:00Z",
        "auto": "a date like 2025-03-31 or 31/03/2025",
    }[mapping.date_order]
    vv = f"replace({v}, ',', '')"
    parts = f"string_to_array(translate(split_part({vv}, ' ', 1), '.-', '//'), '/')"
    ambiguous = (
        "false"
        if mapping.date_order in ("us", "eu")
        else f"(({parts})[1]::int <= 12 AND ({parts})[2]::int <= 12)"
    )
    if mapping.date_order == "iso":
        return (
            f"CASE WHEN {v} ~ '^\\d{{4}}-\\d{{2}}-\\d{{2}}' THEN 'is not a real date or time' "
            f"WHEN {v} ~ '{_SLASH}' THEN 'is not an ISO date like 2025-03-31; if the file "
            f"writes dates as 03/31/2025, set the date order to US or EU' "
            f"ELSE {_lit('is not ' + expected)} END"
        )
    return (
        f"CASE WHEN {v} ~ '{_SLASH}' THEN (CASE WHEN {ambiguous} THEN "
        f"'is ambiguous: it could be day/month or month/day; set the date order (US or EU)' "
        f"ELSE 'is not a real date' END) "
        f"WHEN {v} ~ '^\\d{{4}}-\\d{{2}}-\\d{{2}}' THEN 'is not a real date or time' "
        f"WHEN {v} ~ '^\\d{{1,2}}[/.-]\\d{{1,2}}[/.-]\\d{{2}}($|[ ,])' THEN "
        f"'has a two-digit year; use four digits' "
        f"ELSE {_lit('is not ' + expected)} END"
    )


def _field_sql(info: FieldInfo, column: str, raw: str, mapping: Mapping, fm, *, fast: bool) -> _Col:
    """Value and error SQL for one mapped field."""
    v, x = f"raw_{info.name}", info.name
    if info.kind == TEXT:
        limit = info.max_length or 10_000
        if info.name == "currency":
            value = f"upper({v})"
            invalid = (
                f"CASE WHEN NOT ({x} = ANY({_lit(sorted(ISO_4217))}::text[])) "
                f"THEN format('%s is not an ISO 4217 currency code', left({x}, 40)) END"
            )
        else:
            value = f"coalesce({v}, '')"
            invalid = (
                f"CASE WHEN length({v}) > {limit} THEN format('is %s characters long; the "
                f"limit for this column is {limit}', length({v})) END"
            )
        return _Col(info, column, raw, value, _error(info, v, x, None, invalid))
    if info.kind == EMAIL:
        # COLLATE "C": byte-wise lower-casing and matching, several times faster than the
        # locale's; only ASCII addresses pass the fast path, and for those it is exact.
        c = f'({v} COLLATE "C")'
        fast_ok = " AND ".join(
            [
                f"{c} ~ '{_EMAIL_FAST}'",
                f"length({v}) <= 254",
                f"length(split_part({v}, '@', 2)) <= 63",
                f"left({v}, 1) <> '.'",
            ]
            + [f"strpos({v}, {_lit(bad)}) = 0" for bad in ("..", ".@", "@.", "@-", "-.", ".-")]
        )
        value = f"CASE WHEN {fast_ok} THEN lower({c}) END"
        # Cells the fast path leaves NULL are checked exactly in Python (_python_checks).
        invalid = f"CASE WHEN length({v}) > 254 THEN 'is longer than 254 characters' END"
        return _Col(info, column, raw, value, _error(info, v, x, None, invalid))
    if info.kind == DOMAIN:
        cleaned = (
            f"rtrim(regexp_replace(split_part(split_part(regexp_replace(lower({v}), "
            f"'^[a-z][a-z0-9+.-]*://', ''), '/', 1), ':', 1), '^www\\.', ''), '.')"
        )
        value = f"CASE WHEN {cleaned} ~ '{_DOMAIN_FAST}' THEN {cleaned} END"
        return _Col(info, column, raw, value, _error(info, v, x, None, "NULL"))
    if info.kind in (DATE, DATETIME):
        value = _date_value(v, info, mapping, fast)
        return _Col(info, column, raw, value, _error(info, v, x, _date_error(v, mapping), "NULL"))
    if info.kind in (DECIMAL, INTEGER):
        thousands, decimal = (",", ".") if mapping.decimal_separator == "." else (".", ",")
        stripped = (
            f"regexp_replace({v}, '\\s|[$€£¥]|^(USD|EUR|GBP|CHF|JPY|CAD|AUD)|"
            f"(USD|EUR|GBP|CHF|JPY|CAD|AUD)$', '', 'gi')"
        )
        negated = f"regexp_replace({stripped}, '^\\((.*)\\)$', '-\\1')"
        number = f"replace(replace({negated}, {_lit(thousands)}, ''), {_lit(decimal)}, '.')"
        clean = f"(CASE WHEN {v} ~ '{_NUMBER}' THEN {v} ELSE {number} END)"
        if info.kind == INTEGER:
            value = f"CASE WHEN {clean} ~ '^-?\\d{{1,9}}$' THEN {clean}::int END"
            invalid = f"CASE WHEN {x} < 0 THEN 'is negative' END"
            unreadable = "'is not a whole number'"
        else:
            # Kept as the file wrote it, never rounded: more decimals than the column holds
            # is an error below.
            value = (
                f"CASE WHEN {clean} ~ '{_NUMBER}' AND length({clean}) <= 30 "
                f"THEN {clean}::numeric END"
            )
            floor, floor_msg = (
                ("<= 0", "must be greater than 0") if info.positive else ("< 0", "is negative")
            )
            invalid = (
                f"CASE WHEN {x} >= 1000000000000 THEN 'is too large' "
                f"WHEN {x} {floor} THEN {_lit(floor_msg)} "
                f"WHEN scale(trim_scale({x})) > {AMOUNT_DECIMALS} "
                f"THEN 'has more than {AMOUNT_DECIMALS} decimal places' END"
            )
            unreadable = "'is not a number'"
        if info.blank() is not None and not info.required:
            value = f"CASE WHEN {v} IS NULL THEN {info.blank()} ELSE {value} END"
        return _Col(info, column, raw, value, _error(info, v, x, unreadable, invalid))
    if info.kind == CHOICE:
        whens = [f"WHEN {_lit(k)} THEN {_lit(t)}" for k, t in fm.values.items() if k != "*"]
        # Our own values are always understood.
        whens += [
            f"WHEN {_lit(c.casefold())} THEN {_lit(c)}"
            for c in info.choices
            if c.casefold() not in fm.values
        ]
        catch_all = _lit(fm.values["*"]) if "*" in fm.values else "NULL"
        blank = _lit(info.blank()) if info.blank() is not None else "NULL"
        mapped = f"(CASE lower({v}) {' '.join(whens)} ELSE {catch_all} END)"
        value = f"CASE WHEN {v} IS NULL THEN {blank} ELSE {mapped} END"
        known = sorted({k for k in fm.values if k != "*"}) or list(info.choices)
        shown = ", ".join(known[:12]) + (" …" if len(known) > 12 else "")
        unreadable = _lit(f"is not a value this mapping knows ({shown})")
        return _Col(info, column, raw, value, _error(info, v, x, unreadable, "NULL"))
    raise AssertionError(info.kind)


def _error(info: FieldInfo, v: str, x: str, unreadable: str | None, invalid: str) -> str:
    required = "'is required'" if info.required else "NULL"
    unreadable_case = f"WHEN {x} IS NULL THEN {unreadable} " if unreadable else ""
    return f"CASE WHEN {v} IS NULL THEN {required} {unreadable_case}ELSE {invalid} END"


def _columns_sql(mapping: Mapping, positions: dict[str, int], fast: bool) -> list[_Col]:
    cols = []
    for info in FIELDS[mapping.object_type]:
        fm = mapping.fields.get(info.name)
        if fm is None:
            continue
        column = fm.column if fm.column and fm.column in positions else ""
        raw = f"nullif(btrim(r.c{positions[column] + 1}), '')" if column else "NULL::text"
        if fm.default is not None:
            raw = f"coalesce({raw}, {_lit(fm.default)})"
        col = _field_sql(info, column, raw, mapping, fm, fast=fast)
        v = f"raw_{info.name}"
        if raw == "NULL::text":
            # An optional column the file does not have: every cell is blank, so the value is
            # whatever a blank means, worked out once rather than per row.
            col = _Col(info, column, raw, _blank_value(info), "NULL")
        else:
            # Blank cells skip the value's SQL entirely.
            col = _Col(
                info,
                column,
                raw,
                f"CASE WHEN {v} IS NULL THEN {_blank_value(info)} ELSE {col.value} END",
                col.error,
            )
        cols.append(col)
    return cols


def _blank_value(info: FieldInfo) -> str:
    if info.blank() is not None:
        return info.blank() if info.kind in (DECIMAL, INTEGER) else _lit(info.blank())
    return "''" if info.kind == TEXT else "NULL"


def _normalise(mapping: Mapping, positions: dict[str, int]) -> list[_Col]:
    """Fill `_norm` from `_raw` in one pass: each field's raw cell, value and error. Tries the
    fast form of the date SQL first and falls back to the safe one if a cell makes it raise."""
    with connection.cursor() as cursor:
        # Cells without an offset are in the mapping's time zone; Django needs UTC back after.
        cursor.execute("SELECT set_config('TimeZone', %s, false)", [mapping.timezone])
        try:
            for fast in (True, False):
                cols = _columns_sql(mapping, positions, fast)
                try:
                    with transaction.atomic():
                        _create_norm(cursor, cols)
                    return cols
                except pg_errors.DataError:
                    if not fast:
                        raise
                except DataError:  # Django's wrapper around the same
                    if not fast:
                        raise
            raise AssertionError("unreachable")
        finally:
            cursor.execute("SELECT set_config('TimeZone', 'UTC', false)")


def _create_norm(cursor, cols: list[_Col]) -> None:
    # OFFSET 0 fences stop the planner from inlining a value's SQL once per use.
    raws = ", ".join(f"{c.raw} AS raw_{c.info.name}" for c in cols)
    values = ", ".join(f"raw_{c.info.name}, {c.value} AS {c.info.name}" for c in cols)
    errors = ", ".join(
        f"raw_{c.info.name}, {c.info.name}, {c.error} AS err_{c.info.name}" for c in cols
    )
    cursor.execute("DROP TABLE IF EXISTS _norm")
    cursor.execute(
        f"CREATE TEMP TABLE _norm AS SELECT row_no, {errors} FROM ("
        f"  SELECT row_no, {values} FROM ("
        f"    SELECT r.row_no, {raws} FROM _raw r OFFSET 0) AS raw OFFSET 0) AS val"
    )


def _python_checks(mapping: Mapping, cols: list[_Col]) -> None:
    """Emails and domains the SQL fast path left unresolved, checked exactly in Python. They are
    few in a real file: addresses with unusual characters, international domains, or errors."""
    names = {c.info.name: c for c in cols}
    checks = []
    if "email" in names:
        checks.append(("email", _check_email))
    if "domain" in names:
        checks.append(("domain", _check_domain))
    for name, check in checks:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT row_no, raw_{name} FROM _norm "
                f"WHERE raw_{name} IS NOT NULL AND {name} IS NULL AND err_{name} IS NULL"
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
            cursor.execute(
                f"UPDATE _norm n SET {name} = c.value, err_{name} = c.error "
                f"FROM _checked c WHERE c.row_no = n.row_no"
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


def _collect_errors(batch: ImportBatch, cols: list[_Col]) -> int:
    """Store the first problems as ImportRowError rows; return how many there are in all."""
    checks = cols
    unpivot = ", ".join(
        f"({_lit(c.column)}, {_lit(c.info.name)}, left(n.raw_{c.info.name}, 200), "
        f"n.err_{c.info.name})"
        for c in checks
    )
    any_error = " OR ".join(f"n.err_{c.info.name} IS NOT NULL" for c in checks)
    with connection.cursor() as cursor:
        # Duplicate ids within the file: each copy is an error, naming the other rows. Probe
        # first; the update that names the rows runs only for a file that has some.
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM _norm WHERE external_id <> '' "
            "GROUP BY external_id HAVING count(*) > 1)"
        )
        duplicates = cursor.fetchone()[0]
    with connection.cursor() as cursor:
        if duplicates:
            cursor.execute(
                """
            UPDATE _norm n SET err_external_id = format(
                'appears %s times in this file (rows %s)', d.copies, d.rows)
            FROM (
                SELECT external_id, count(*) AS copies,
                       array_to_string((array_agg(row_no + 1 ORDER BY row_no))[1:10], ', ') AS rows
                FROM _norm WHERE external_id <> '' GROUP BY external_id HAVING count(*) > 1
            ) d
            WHERE n.external_id = d.external_id AND n.err_external_id IS NULL
            """
            )
        cursor.execute(f"SELECT count(*) FROM _norm n WHERE {any_error}")
        rows_bad = cursor.fetchone()[0]
        if not rows_bad:
            return 0
        cursor.execute(
            f"""
            WITH problems AS (
                SELECT n.row_no, p.col, p.field, p.value, p.message
                FROM _norm n CROSS JOIN LATERAL (VALUES {unpivot}) AS p(col, field, value, message)
                WHERE ({any_error}) AND p.message IS NOT NULL
            )
            INSERT INTO pipeline_importrowerror (batch_id, row, "column", field, value, message)
            SELECT {int(batch.id)}, row_no + 1, col, field, coalesce(value, ''), message
            FROM problems ORDER BY row_no, field LIMIT {STORED_ERRORS_MAX}
            """
        )
        cursor.execute(
            f"SELECT count(*) FROM _norm n CROSS JOIN LATERAL (VALUES {unpivot}) "
            f"AS p(col, field, value, message) WHERE p.message IS NOT NULL"
        )
        errors_total = cursor.fetchone()[0]
    batch.rows_rejected = rows_bad
    return errors_total


def _preview(cols: list[_Col]) -> dict:
    names = [c.info.name for c in cols]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT row_no + 1, {', '.join(f'{n}::text' for n in names)} FROM _norm "
            f"WHERE row_no <= {PREVIEW_ROWS} ORDER BY row_no"
        )
        rows = [list(r) for r in cursor.fetchall()]
    return {"columns": ["row", *names], "rows": rows}


# --- 4. Applying ---------------------------------------------------------------------------------


def _stage_pending(batch: ImportBatch, cols: list[_Col]) -> tuple[int, int]:
    """Fill `_pending` with the rows this batch adds or changes: a row whose every field
    equals the stored one is left out, so an unchanged re-import writes nothing. A stored row
    whose golden record is missing (an ARR change whose account had not arrived, or a record
    deleted outside the importer) is written again, so that it gets one; so is a row marked
    deleted in the source, which the file brings back (`deletions_restored_count`).
    Returns (new rows, changed rows)."""
    object_type = batch.object_type
    model = SOURCE_MODELS[object_type]
    table = model._meta.db_table
    fk = _FK[object_type]
    golden = model._meta.get_field(fk.removesuffix("_id")).related_model._meta.db_table
    mapped = {c.info.name for c in cols}
    staged: dict[str, str] = {}
    for name in source_fields(object_type):
        if name == "email_key":
            staged[name] = "n.email"
        elif name == "email":
            staged[name] = "n.raw_email"
        elif name == "domain_key":
            staged[name] = "coalesce(n.domain, '')"
        elif name == "domain":
            staged[name] = "coalesce(n.raw_domain, '')"
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
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS _pending")
        cursor.execute(
            f"""
            CREATE TEMP TABLE _pending AS
            WITH staged AS (
                SELECT n.row_no, {", ".join(f"{v} AS {c}" for c, v in staged.items())}
                FROM _norm n
            )
            SELECT s.row_no + 1 AS batch_row, ss.id AS system_id,
                   {golden_key_sql(object_type)} AS golden_key, now() AS updated_at,
                   {PENDING_ID_BASE} + s.row_no AS rep_id, (t.id IS NOT NULL) AS existed,
                   {new}
            FROM staged s
            JOIN pipeline_sourcesystem ss ON ss.id = {int(batch.system_id)}
            LEFT JOIN {table} t ON t.system_id = ss.id AND t.external_id = s.external_id
            LEFT JOIN {golden} g ON g.id = t.{fk}
            WHERE t.id IS NULL OR g.id IS NULL OR t.deleted_at IS NOT NULL
               OR ({stored}, t.golden_key) IS DISTINCT FROM ({new}, {golden_key_sql(object_type)})
            """
        )
        cursor.execute(
            "SELECT count(*) FILTER (WHERE NOT existed), count(*) FILTER (WHERE existed) "
            "FROM _pending"
        )
        return cursor.fetchone()


_FK = {
    ObjectType.LEAD: "lead_id",
    ObjectType.ACCOUNT: "account_id",
    ObjectType.DEAL: "deal_id",
    ObjectType.ARR: "arr_change_id",
}


def _unmapped_default(info: FieldInfo) -> str:
    if info.blank() is not None:
        return _lit(info.blank()) if info.kind != DECIMAL else info.blank()
    if info.kind in (TEXT, EMAIL, DOMAIN):
        return "''"
    return "NULL"


# --- The batch ----------------------------------------------------------------------------------


def mapping_for(
    *, object_type: str, preset: str | None = None, mapping: dict | None = None
) -> tuple[Mapping, str]:
    """The mapping an import uses: a built-in preset by key, a saved preset by name, or a
    mapping given whole. Returns (mapping, preset name or '')."""
    if (preset is None) == (mapping is None):
        raise ValidationError("Give either a preset or a mapping.")
    if mapping is not None:
        return mapping_from_dict(mapping, object_type=object_type), ""
    if preset in BUILTIN_PRESETS:
        result = builtin_preset(preset)
    else:
        saved = ImportPreset.objects.filter(name=preset).first()
        if saved is None:
            known = [*BUILTIN_PRESETS, *ImportPreset.objects.values_list("name", flat=True)]
            raise ValidationError(f"No preset {preset!r}. Presets: {', '.join(known)}.")
        result = mapping_from_dict(saved.mapping)
    if result.object_type != object_type:
        raise ValidationError(f"Preset {preset!r} reads {result.object_type}s, not {object_type}s.")
    return result, preset


def _size_check(size: int | None) -> None:
    if size is not None and size > max_file_bytes():
        raise ValidationError(
            f"The file is {_human(size)}; the limit is {_human(max_file_bytes())}."
        )


def _system_check(system: SourceSystem) -> None:
    if system.retired_at is not None:
        raise ValidationError(
            f"{system.name} is retired: it takes no new imports. Bring it back on the Systems "
            "page first."
        )


def _file_name(file_name: str, path: Path | None = None) -> str:
    """The name a batch shows for its file: as the user named it, without folders."""
    return Path(file_name or (path.name if path else "upload.csv")).name[:255]


@transaction.atomic
def import_batch_create(
    *,
    system: SourceSystem,
    object_type: str,
    mapping: Mapping,
    preset: str = "",
    by: AbstractBaseUser | None = None,
    apply: bool = False,
    file_name: str = "",
    content=None,
    path: Path | None = None,
    export_kind: str = ExportKind.DELTA,
    deletions_confirmed: bool = False,
) -> ImportBatch:
    """Create a batch, queued for checking (and applying, when `apply`). An upload (`content`,
    a file-like object) is stored with the batch so a worker can read it; a `path` on this
    machine (the command line) is read where it is. Refuses a file over the size limit.
    A full export (`export_kind`) marks the system's records it does not hold deleted;
    `deletions_confirmed` lets it apply even when that is more than half of them."""
    _system_check(system)
    size = getattr(content, "size", None) if content is not None else path.stat().st_size
    _size_check(size)
    batch = ImportBatch(
        system=system,
        object_type=object_type,
        preset=preset,
        mapping=mapping.to_dict(),
        created_by=by,
        apply_requested=apply,
        status=BatchStatus.QUEUED,
        file_name=_file_name(file_name, path),
        export_kind=ExportKind(export_kind),
    )
    if deletions_confirmed:
        batch.confirmed_by = by
        batch.confirmed_at = timezone.now()
    if content is None and not apply:
        # Checked now, applied on confirmation later, perhaps by a worker elsewhere: keep a copy.
        with open(path, "rb") as local:
            batch.file.save(batch.file_name, File(local), save=False)
    elif content is not None:
        batch.file.save(batch.file_name, File(content), save=False)
    batch.file_size = batch.file.size if batch.file else (size or 0)
    batch.save()
    return batch


@transaction.atomic
def import_batch_draft_create(
    *,
    system: SourceSystem,
    object_type: str,
    by: AbstractBaseUser | None,
    file_name: str,
    content,
    export_kind: str = ExportKind.DELTA,
) -> ImportBatch:
    """Store an upload that no preset reads yet, as a draft without a mapping: the mapping page
    builds one from the file's header (`import_batch_draft_map`). Refuses a file over the size
    limit, as every import does."""
    _system_check(system)
    _size_check(getattr(content, "size", None))
    batch = ImportBatch(
        system=system,
        object_type=object_type,
        file_name=_file_name(file_name),
        created_by=by,
        status=BatchStatus.DRAFT,
        export_kind=ExportKind(export_kind),
    )
    batch.file.save(batch.file_name, File(content), save=False)
    batch.file_size = batch.file.size
    batch.save()
    return batch


def import_batch_draft_header(*, batch: ImportBatch) -> list[str]:
    """The header of a draft's file, for its mapping page. A file that cannot be read as CSV
    rejects the draft, and ValidationError says why."""
    try:
        return sniff_file(Path(batch.file.path)).header
    except ImportRejected as exc:
        # One compare-and-swap statement: a draft mapped meanwhile in another tab stays queued.
        ImportBatch.objects.filter(pk=batch.pk, status=BatchStatus.DRAFT).update(
            status=BatchStatus.REJECTED,
            message=f"{exc.message} Nothing was imported.",
            finished_at=timezone.now(),
        )
        batch.refresh_from_db()
        raise ValidationError(exc.message) from None


@transaction.atomic
def import_batch_draft_map(
    *, batch: ImportBatch, preset_name: str, mapping: Mapping, by: AbstractBaseUser | None
) -> ImportPreset:
    """Save the mapping built for a draft's file as a preset, and queue the draft to be checked
    with it. A draft mapped meanwhile (another tab) keeps that mapping; the preset is saved all
    the same. Raises ValidationError as `import_preset_save` does."""
    preset = import_preset_save(
        name=preset_name, mapping=mapping.to_dict(), object_type=batch.object_type, by=by
    )
    claimed = ImportBatch.objects.filter(pk=batch.pk, status=BatchStatus.DRAFT).update(
        mapping=preset.mapping, preset=preset.name, status=BatchStatus.QUEUED
    )
    batch.refresh_from_db()
    if claimed:
        import_batch_enqueue(batch)
    return preset


def import_batch_enqueue(batch: ImportBatch, *, confirming: bool = False) -> None:
    """Run the batch on a worker once the surrounding transaction commits (in-process when
    there is no Redis). If the broker cannot take it, the batch says so and stays unwritten:
    failed, or (`confirming` a checked batch) back to awaiting confirmation."""
    from pipeline.tasks import import_batch_run_task

    def send() -> None:
        try:
            import_batch_run_task.delay(batch.id)
        except Exception as exc:  # kombu raises assorted errors when Redis is away
            if import_batch_run_task.app.conf.task_always_eager:
                raise  # run in-process: an error of the import itself, not of a queue
            logger.warning("could not queue import batch %s: %s", batch.id, exc)
            queued = ImportBatch.objects.filter(pk=batch.pk, status=BatchStatus.QUEUED)
            if confirming:
                # A checked file stays checked, to be confirmed again later.
                queued.update(
                    status=BatchStatus.PENDING,
                    apply_requested=False,
                    confirmed_by=None,
                    confirmed_at=None,
                    progress=100,
                    phase="checked",
                    message="Applying could not be queued (the job queue is unreachable). "
                    "Nothing was imported; confirm again in a few minutes.",
                )
                return
            queued.update(
                status=BatchStatus.FAILED,
                finished_at=timezone.now(),
                message="The import could not be queued (the job queue is unreachable). "
                "Nothing was imported; try again in a few minutes.",
            )

    transaction.on_commit(send)


@transaction.atomic
def import_batch_confirm(*, batch: ImportBatch, by: AbstractBaseUser | None) -> ImportBatch:
    """Apply a checked batch, recording who confirmed it and when. Only a batch awaiting
    confirmation can be confirmed."""
    claimed = ImportBatch.objects.filter(pk=batch.pk, status=BatchStatus.PENDING).update(
        status=BatchStatus.QUEUED,
        apply_requested=True,
        progress=0,
        phase="",
        message="",
        confirmed_by=by,
        confirmed_at=timezone.now(),
    )
    if not claimed:
        batch.refresh_from_db()
        raise ValidationError(
            f"Batch #{batch.pk} is {batch.get_status_display().lower()}; only a checked batch "
            "awaiting confirmation can be applied."
        )
    batch.refresh_from_db()
    import_batch_enqueue(batch, confirming=True)
    return batch


def import_batch_run(
    batch_id: int, *, path: Path | None = None, progress: Progress | None = None
) -> ImportBatch:
    """Check the batch's file and, if asked, apply it. Safe to call twice for one batch (a
    redelivered task): a batch that already finished is returned as it is."""
    claimed = ImportBatch.objects.filter(
        pk=batch_id, status__in=[BatchStatus.QUEUED, BatchStatus.RUNNING]
    ).update(
        status=BatchStatus.RUNNING,
        started_at=timezone.now(),
        progress=0,
        heartbeat_at=timezone.now(),
    )
    batch = ImportBatch.objects.select_related("system").get(pk=batch_id)
    if not claimed:
        return batch
    if path is None and not batch.file:
        batch.status, batch.finished_at = BatchStatus.FAILED, timezone.now()
        batch.message = "The file of this batch was not kept; import it again."
        batch.save(update_fields=["status", "message", "finished_at"])
        return batch
    path = path or Path(batch.file.path)

    side = SideChannel()

    def report(phase: str, pct: int) -> None:
        # Through a second connection: the main one may be mid-COPY or inside the import's
        # transaction, and the browser's progress bar must see the figure now.
        batch.phase, batch.progress, batch.heartbeat_at = phase, min(pct, 100), timezone.now()
        side.execute(
            "UPDATE pipeline_importbatch SET phase = %s, progress = %s, heartbeat_at = now() "
            "WHERE id = %s AND status = %s",
            [batch.phase, batch.progress, batch.pk, BatchStatus.RUNNING],
        )
        if progress:
            progress(phase, batch.progress)

    ImportRowError.objects.filter(batch=batch).delete()
    findings_clear(batch)
    try:
        _run(batch, path, report)
    except ImportRejected as exc:
        _finish_rejected(batch, exc.message, exc.errors)
    except Exception as exc:
        logger.exception("import batch %s failed", batch.pk)
        batch.status = BatchStatus.FAILED
        batch.message = f"The import failed and wrote nothing: {type(exc).__name__}: {exc}"[:2000]
        batch.finished_at = timezone.now()
        batch.save(update_fields=["status", "message", "finished_at"])
    finally:
        side.close()
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS _raw, _norm, _checked, _pending")
    batch.refresh_from_db()
    return batch


def _run(batch: ImportBatch, path: Path, report) -> None:
    mapping = mapping_from_dict(batch.mapping)
    report("reading", 0)
    fmt = sniff_file(path)
    positions, unknown = check_columns(mapping, fmt.header)
    batch.file_sha256, batch.file_size, batch.unknown_columns = fmt.sha256, fmt.size, unknown
    batch.save(update_fields=["file_sha256", "file_size", "unknown_columns"])
    if batch.apply_requested and _same_as_last_applied(batch):
        return
    rows = _copy_raw(path, fmt, report)
    if rows == 0:
        raise ImportRejected("The file has a header but no rows.")
    batch.rows_total = rows
    report("checking", 60)
    cols = _normalise(mapping, positions)
    _python_checks(mapping, cols)
    errors_total = _collect_errors(batch, cols)
    batch.preview = _preview(cols)
    if errors_total:
        batch.errors_total = errors_total
        batch.status = BatchStatus.REJECTED
        batch.message = (
            f"{batch.rows_rejected:,} of {rows:,} rows have problems ({errors_total:,} in all). "
            "Nothing was imported: fix the file and upload it again."
        )
        batch.finished_at = timezone.now()
        batch.save()
        return
    findings_collect(batch, cols)
    if batch.export_kind == ExportKind.FULL and _deletions_held(batch):
        return
    if not batch.apply_requested:
        batch.status = BatchStatus.PENDING
        batch.progress, batch.phase = 100, "checked"
        batch.save()
        return
    report("storing", 75)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK])
        created, updated = _stage_pending(batch, cols)
        restored = deletions_restored_count(batch=batch) if updated else 0
        if created or updated:
            golden_resolve_pending(object_type=batch.object_type, batch_id=batch.id)
            golden_refresh_dependents(object_type=batch.object_type)
        if batch.export_kind == ExportKind.FULL:
            batch.rows_deleted = deletions_mark_absent(batch=batch)
        batch.rows_created, batch.rows_updated = created, updated - restored
        batch.rows_restored = restored
        batch.rows_unchanged = rows - created - updated
        batch.status = BatchStatus.APPLIED
        batch.progress, batch.phase = 100, "applied"
        batch.finished_at = timezone.now()
        batch.message = ""
        batch.save()


def _deletions_held(batch: ImportBatch) -> bool:
    """Count what a full export would mark deleted (shown on a checked batch as
    `rows_deleted`). One that would delete more than half the system's live records applies
    only once someone confirmed it: unconfirmed, it waits checked (or, when its file was not
    kept, is refused) and this returns True."""
    absent = deletions_absent_count(batch=batch)
    batch.rows_deleted = absent.absent
    if not (batch.apply_requested and batch.confirmed_at is None and absent.needs_confirmation):
        return False
    noun = batch.get_object_type_display().lower()
    would = (
        f"This full export does not hold {absent.absent:,} of the {absent.live:,} {noun} "
        f"records {batch.system.name} has ({absent.percent}%): applying it would mark them "
        "deleted."
    )
    batch.progress, batch.phase = 100, "checked"
    if batch.file:
        batch.status, batch.apply_requested = BatchStatus.PENDING, False
        batch.message = (
            f"{would} Nothing was applied. If the export is complete, confirm to apply it."
        )
    else:
        batch.status, batch.finished_at = BatchStatus.REJECTED, timezone.now()
        batch.message = (
            f"{would} Nothing was imported. If the export is complete, import it again with "
            "the deletions confirmed (import_records --confirm-deletions)."
        )
    batch.save()
    return True


def _same_as_last_applied(batch: ImportBatch) -> bool:
    """A file byte for byte the one last applied for this system and object, read with the
    same mapping, changes nothing: say so without checking and comparing every row again."""
    last = (
        ImportBatch.objects.filter(
            system=batch.system, object_type=batch.object_type, status=BatchStatus.APPLIED
        )
        .exclude(pk=batch.pk)
        .order_by("-finished_at", "-id")
        .first()
    )
    if last is None or last.file_sha256 != batch.file_sha256 or last.mapping != batch.mapping:
        return False
    if batch.export_kind == ExportKind.FULL and last.export_kind != ExportKind.FULL:
        return False  # the same rows, but now they say what else is gone
    # And the rows it wrote are still there, untouched since (nothing else writes source rows,
    # but a restore or a hand-made fix could have).
    model = SOURCE_MODELS[batch.object_type]
    stored = model.objects.filter(system=batch.system).aggregate(
        rows=Count("id"), changed=Max("updated_at")
    )
    if stored["rows"] < last.rows_total or (
        stored["changed"] is not None and stored["changed"] > last.finished_at
    ):
        return False
    batch.rows_total = batch.rows_unchanged = last.rows_total
    batch.rows_created = batch.rows_updated = 0
    batch.preview = last.preview
    batch.status, batch.progress, batch.phase = BatchStatus.APPLIED, 100, "applied"
    batch.message = (
        f"Identical to import #{last.pk}, the last one applied for these records: nothing changed."
    )
    batch.finished_at = timezone.now()
    batch.save()
    return True


def _finish_rejected(batch: ImportBatch, message: str, errors: list[RowError]) -> None:
    ImportRowError.objects.bulk_create(
        ImportRowError(
            batch=batch,
            row=e.row,
            column=e.column,
            field=e.field,
            value=e.value[:200],
            message=e.message,
        )
        for e in errors[:STORED_ERRORS_MAX]
    )
    batch.status = BatchStatus.REJECTED
    batch.errors_total = len(errors)
    batch.rows_rejected = len({e.row for e in errors if e.row})
    batch.message = f"{message} Nothing was imported."
    batch.finished_at = timezone.now()
    batch.save()


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
