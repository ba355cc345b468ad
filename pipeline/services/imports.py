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
import dataclasses
import hashlib
import io
import itertools
import json
import logging
from collections.abc import Callable, Iterable
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
from phonenumbers import NumberParseException, PhoneNumberFormat, format_number, is_possible_number
from phonenumbers import parse as parse_phone
from psycopg import errors as pg_errors
from psycopg import sql as pg_sql

from pipeline.choices import ApplyMode, BatchStatus, ExportKind, FindingKind, ObjectType, Vendor
from pipeline.models import (
    SOURCE_MODELS,
    ImportBatch,
    ImportFinding,
    ImportHeldRow,
    ImportPreset,
    ImportRowError,
    SourceSystem,
    source_fields,
)
from pipeline.normalise import NormaliseError, domain_key, email_key
from pipeline.presets import (
    BOOLEAN,
    BOOLEAN_VALUES,
    BUILTIN_PRESETS,
    CHOICE,
    DATE,
    DATETIME,
    DECIMAL,
    DOMAIN,
    EMAIL,
    FIELDS,
    INTEGER,
    PHONE,
    SYSTEM_FIELDS,
    TEXT,
    FieldInfo,
    FieldMap,
    Mapping,
    builtin_preset,
    field_info,
    mapping_from_dict,
)
from pipeline.services import picklists
from pipeline.services.deletions import (
    deletions_absent_count,
    deletions_mark_absent,
    deletions_restored_count,
)
from pipeline.services.findings import (
    detector,
    findings_clear,
    findings_collect,
    findings_count,
    findings_record,
)
from pipeline.services.identity import (
    PENDING_ID_BASE,
    WRITE_LOCK,
    golden_key_sql,
    golden_refresh_dependents,
    golden_resolve_pending,
)
from pipeline.services.import_runs import import_batch_run_lock, import_batch_supersede_if_newer
from pipeline.services.presets import import_preset_save
from revops.csv import csv_lines
from revops.currencies import ISO_4217
from revops.db import SideChannel
from revops.laps import lap, laps_recording

logger = logging.getLogger(__name__)

STORED_ERRORS_MAX = 10_000
PREVIEW_ROWS = 20
CHUNK_BYTES = 1 << 20
# A file with a few NUL bytes is text that a rich-text field smuggled them into (Salesforce
# exports do); more than this share of NULs is a binary file or UTF-16 text.
NUL_SHARE_MAX = 0.01
NUL_MARK = "\x1a"  # SUB, the character meant for this: stands for a NUL until cells are read
HEAD_MAX = 16 << 20  # how far the sniff reads to find the end of the header line
PG_COLUMNS_MAX = 1600  # PostgreSQL's limit on a table's columns
COLUMNS_MAX = 20_000  # wider than PostgreSQL takes: only the mapped columns are loaded
PREVIEW_CELL_CHARS = 200
csv.field_size_limit(1 << 30)  # the default, 131,072 characters, is less than a real cell
AMOUNT_DECIMALS = 6  # numeric(24,6): DealFields.amount, ArrChangeFields.amount
IMPORT_WORK_MEM = "256MB"  # per sort or hash of the import's session, one import at a time

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
    # Fields on the header line, with trailing unnamed ones (a delimiter at the end of the
    # header, as some exporters write on every line); `header` names the others.
    width: int = 0
    skip: int = 0  # bytes before the header: an Excel "sep=;" line
    nul_bytes: int = 0  # NUL bytes in the file, read as NUL_MARK and removed from every cell


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
        # A very wide header can be longer than that: read on to the end of its line.
        while head.count(b"\n") + head.count(b"\r") < 2 and len(head) < min(size, HEAD_MAX):
            head += f.read(CHUNK_BYTES)
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise ImportRejected(
                f"This is {what}, not a CSV file. Export or save it as CSV (UTF-8) and upload that."
            )
    controls = sum(head.count(bytes([c])) for c in range(1, 32) if c not in (9, 10, 13, 26))
    if head.count(b"\x00") > len(head) * NUL_SHARE_MAX or controls > len(head) * 0.05:
        raise ImportRejected(
            "This is a binary file, not CSV text (or text saved as UTF-16). "
            "Export it as CSV (UTF-8)."
        )
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html")):
        raise ImportRejected("This is a web page (HTML), not a CSV file.")

    digest = hashlib.sha256()
    utf8 = codecs.getincrementaldecoder("utf-8-sig")()
    is_utf8 = True
    nul_bytes = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
            nul_bytes += chunk.count(b"\x00")
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

    if nul_bytes > size * NUL_SHARE_MAX:
        raise ImportRejected("This is a binary file, not CSV text. Export it as CSV (UTF-8).")

    text = head.replace(b"\x00", b"").decode(encoding, errors="replace")
    lines = text.splitlines()
    first_line = lines[0] if lines else ""
    skip, sep = 0, None
    excel_sep = first_line.lstrip("\ufeff").strip()
    if len(excel_sep) == 5 and excel_sep.lower().startswith("sep="):
        # Excel's "sep=;" line names the delimiter; the header follows it.
        sep = excel_sep[4]
        end = min((i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0), default=len(head))
        skip = end + (2 if head[end : end + 2] == b"\r\n" else 1)
        first_line = lines[1] if len(lines) > 1 else ""
    delimiter = sep or max(_DELIMITERS, key=lambda d: (len(_split_header(first_line, d)), d == ","))
    header = _split_header(first_line, delimiter)
    width = len(header)
    while len(header) > 1 and not header[-1]:
        header.pop()  # a delimiter at the end of the header line
    if not any(header):
        raise ImportRejected("The first row is empty: it must name the columns.")
    if len(header) > COLUMNS_MAX:
        raise ImportRejected(
            f"The header has {len(header):,} columns; at most {COLUMNS_MAX:,} can be read. "
            "Export only the columns the import needs (a report or Data Loader export lets you "
            "choose them)."
        )
    blank = [i + 1 for i, name in enumerate(header) if not name]
    if blank:
        raise ImportRejected(f"Column {blank[0]} of the header has no name.")
    seen: set[str] = set()
    for name in header:
        if name.casefold() in seen:
            raise ImportRejected(f"The header names the column {name!r} twice.")
        seen.add(name.casefold())
    return FileFormat(
        encoding, pg_encoding, delimiter, header, digest.hexdigest(), size, width, skip, nul_bytes
    )


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
    read = [*mapping.columns(), *mapping.booleans]
    used = {c.casefold() for c in read} | {c.casefold() for c in mapping.ignore}
    unknown = [name for name in header if name.casefold() not in used]
    found = {c: position[c.casefold()] for c in read if c.casefold() in position}
    return found, unknown


def spelled_as_file(mapping: Mapping, header: list[str]) -> Mapping:
    """The mapping with its column names spelled as the file's header spells them (columns
    match case-insensitively): every message then names the column the user sees."""
    spelling = {name.casefold(): name for name in header}

    def spelled(column: str | None) -> str | None:
        return spelling.get(column.casefold(), column) if column else column

    return dataclasses.replace(
        mapping,
        fields={
            name: dataclasses.replace(fm, column=spelled(fm.column))
            for name, fm in mapping.fields.items()
        },
        booleans=tuple(spelled(c) for c in mapping.booleans),
    )


def _names(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


# --- 2. Loading the raw rows --------------------------------------------------------------------


def _lit(value: object) -> str:
    return pg_sql.Literal(value).as_string(connection.connection)


def _exec(cursor, statement: str) -> None:
    """Run a statement built here, which takes no parameters. It goes with an empty parameter
    list and every `%` doubled, so that a percent sign in it (a cell, a column name, a
    format() pattern) stays text even when a wrapper adds placeholders of its own: pghistory's
    context prepends two to every INSERT and UPDATE run inside manage.py, a task or a request."""
    cursor.execute(statement.replace("%", "%%"), [])


def _copy_raw(path: Path, fmt: FileFormat, progress: Progress, mapped: list[int]) -> int:
    """COPY the file into `_raw` (row_no, c1 … cN as text). Returns the number of rows.

    PostgreSQL parses the file as it is: the fast path, and the only one a clean file takes.
    A file it refuses is read again by Python's CSV reader (`_copy_rows`), which accepts the
    shapes spreadsheets and exporters write and names the rows that are really broken. A
    header wider than a PostgreSQL table can be goes that way too, keeping the mapped columns.
    Rows with every cell empty (blank lines, a last line of delimiters) are left out."""
    wide = fmt.width >= PG_COLUMNS_MAX
    loaded = sorted(set(mapped)) if wide else list(range(fmt.width))
    columns = ", ".join(f"c{i + 1} text" for i in loaded)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS _raw")
        cursor.execute(f"CREATE TEMP TABLE _raw (row_no bigserial, {columns})")
        if wide:
            _copy_rows(cursor, path, fmt, loaded)
        else:
            try:
                _copy_file(cursor, path, fmt, progress)
            except (pg_errors.BadCopyFileFormat, pg_errors.CharacterNotInRepertoire):
                _copy_rows(cursor, path, fmt, loaded)
        if loaded:
            # COPY reads an unquoted empty field as NULL: a row of delimiters is all NULLs.
            blank = f"coalesce({', '.join(f'c{i + 1}' for i in loaded)}) IS NULL"
            _exec(cursor, f"DELETE FROM _raw WHERE {blank}")
        cursor.execute("SELECT count(*) FROM _raw")
        return cursor.fetchone()[0]


def _copy_file(cursor, path: Path, fmt: FileFormat, progress: Progress) -> None:
    """COPY the file's bytes as they are (NUL bytes marked, an Excel "sep=" line skipped)."""
    target = ", ".join(f"c{i + 1}" for i in range(fmt.width))
    copy_sql = (
        f"COPY _raw ({target}) FROM STDIN WITH (FORMAT csv, HEADER true, "
        f"DELIMITER {_lit(fmt.delimiter)}, ENCODING {_lit(fmt.pg_encoding)})"
    )
    sent = 0
    last = -1
    mark = NUL_MARK.encode()
    # A savepoint, so that a refused COPY leaves an enclosing transaction usable.
    with transaction.atomic(), cursor.cursor.copy(copy_sql) as copy, open(path, "rb") as f:
        f.seek(fmt.skip)
        while chunk := f.read(CHUNK_BYTES):
            copy.write(chunk.replace(b"\x00", mark) if fmt.nul_bytes else chunk)
            sent += len(chunk)
            pct = sent * 100 // fmt.size
            if pct // 5 != last // 5:
                progress("reading", pct)
                last = pct


def _copy_rows(cursor, path: Path, fmt: FileFormat, loaded: list[int]) -> None:
    """Load the file row by row through Python's strict CSV reader, for files COPY refuses.
    Accepted as written: a row cut short after its last non-empty cell (padded), empty fields
    after the header's last column (a delimiter at the end of every row), blank lines. Refused,
    naming every such row: more non-empty fields than the header has, an unterminated quote."""
    errors: list[RowError] = []
    width = fmt.width
    target = ", ".join(["row_no", *(f"c{i + 1}" for i in loaded)])
    row_no = 0
    with (
        transaction.atomic(),
        cursor.cursor.copy(f"COPY _raw ({target}) FROM STDIN") as copy,
        open(path, encoding=fmt.encoding, newline="") as f,
    ):
        if fmt.skip:
            f.readline()
        lines = (line.replace("\x00", NUL_MARK) for line in f) if fmt.nul_bytes else f
        reader = csv.reader(lines, delimiter=fmt.delimiter, strict=True)
        try:
            next(reader, None)
            for row in reader:
                row_no += 1
                if len(row) > width and any(cell.strip() for cell in row[width:]):
                    errors.append(
                        RowError(
                            row=row_no + 1,
                            column="",
                            value=fmt.delimiter.join(row)[:200],
                            message=f"has {len(row)} fields; the header has {len(fmt.header)}",
                        )
                    )
                    if len(errors) >= STORED_ERRORS_MAX:
                        break
                    continue
                if len(row) < width:
                    row.extend([""] * (width - len(row)))
                copy.write_row((row_no, *[row[i] or None for i in loaded]))
        except csv.Error as exc:
            errors.append(
                RowError(
                    row=row_no + 2,
                    column="",
                    value="",
                    message=f"cannot be read ({exc}); file line {reader.line_num}. "
                    "A quote is probably not closed.",
                )
            )
        if errors:
            # Raised inside the savepoint: nothing of the file stays in _raw.
            raise ImportRejected("Some rows do not fit the header.", errors)


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
_CONTROL = r"[\x01-\x1f\x7f]"  # C0 controls and DEL; C1 (U+0080–U+009F) may be Latin-1 text


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
            # Every text field is a single line (a name, an id, an owner): line breaks and tabs
            # become a space and other control characters go, so a name can never split a
            # mail header or a CSV line later. CONTROL_CHARACTERS findings name the cells.
            value = (
                f"CASE WHEN _ctrl AND {v} ~ '{_CONTROL}' THEN btrim(regexp_replace(regexp_replace("
                f"{v}, '[\\r\\n\\t]+', ' ', 'g'), '{_CONTROL}', '', 'g')) ELSE {v} END"
            )
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
    if info.kind == PHONE:
        # Numbers are read by the phonenumbers library in Python (_python_checks); a number
        # it cannot read is no error, it only cannot match the lead to another.
        limit = info.max_length or 50
        invalid = (
            f"CASE WHEN length({v}) > {limit} THEN format('is %s characters long; the "
            f"limit for this column is {limit}', length({v})) END"
        )
        return _Col(info, column, raw, "NULL::text", _error(info, v, x, None, invalid))
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
        if not info.required:
            # An unknown value of an optional field imports as a blank cell and is a finding
            # (pipeline/services/picklists.py); the field's value stays NULL until then.
            return _Col(info, column, raw, value, _error(info, v, x, None, "NULL"))
        unreadable = _lit(
            f"is not a {info.label.lower()} this mapping knows: map it to one of ours "
            f"({', '.join(info.choices)}) with “Map these values” on this import's page"
        )
        return _Col(info, column, raw, value, _error(info, v, x, unreadable, "NULL"))
    raise AssertionError(info.kind)


def _required(info: FieldInfo) -> str:
    """SQL for the error of a blank cell: always one for a required field, one only when
    another field's value needs it for a field required by meaning, else none."""
    if info.required:
        return "'is required'"
    if info.required_when:
        other, values, why = info.required_when
        needs = _lit(list(values))
        return f"CASE WHEN {other} = ANY({needs}::text[]) THEN {_lit(f'is required {why}')} END"
    return "NULL"


def _error(info: FieldInfo, v: str, x: str, unreadable: str | None, invalid: str) -> str:
    required = _required(info)
    unreadable_case = f"WHEN {x} IS NULL THEN {unreadable} " if unreadable else ""
    return f"CASE WHEN {v} IS NULL THEN {required} {unreadable_case}ELSE {invalid} END"


def _columns_sql(
    mapping: Mapping, positions: dict[str, int], fast: bool, nul: bool = False
) -> list[_Col]:
    cols = []
    for info in FIELDS[mapping.object_type]:
        fm = mapping.fields.get(info.name)
        if fm is None and info.required_when:
            fm = FieldMap()  # not in the file, yet some rows need it: say which
        if fm is None:
            continue
        column = fm.column if fm.column and fm.column in positions else ""
        raw = "NULL::text"
        if column:
            cell = f"r.c{positions[column] + 1}"
            if nul:
                cell = f"replace({cell}, {_lit(NUL_MARK)}, '')"
            raw = f"nullif(btrim({cell}), '')"
        if fm.default is not None:
            raw = f"coalesce({raw}, {_lit(fm.default)})"
        col = _field_sql(info, column, raw, mapping, fm, fast=fast)
        v = f"raw_{info.name}"
        if raw == "NULL::text":
            # An optional column the file does not have: every cell is blank, so the value is
            # whatever a blank means, worked out once rather than per row.
            col = _Col(info, column, raw, _blank_value(info), _required(info))
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
    for i, column in enumerate(c for c in mapping.booleans if c in positions):
        cols.append(_boolean_sql(i, column, positions[column], nul))
    return cols


def _boolean_sql(i: int, column: str, position: int, nul: bool) -> _Col:
    """A checkbox column no field reads: a blank cell or one of BOOLEAN_VALUES, else an error
    naming the accepted values."""
    info = FieldInfo(name=f"boolean_{i + 1}", kind=BOOLEAN, label=column)
    cell = f"r.c{position + 1}"
    if nul:
        cell = f"replace({cell}, {_lit(NUL_MARK)}, '')"
    v, accepted = f"raw_{info.name}", _lit(list(BOOLEAN_VALUES))
    message = _lit(f"is not true or false (accepted: {', '.join(BOOLEAN_VALUES)})")
    return _Col(
        info,
        column,
        f"nullif(btrim({cell}), '')",
        f"lower({v}) = ANY({accepted}::text[])",
        f"CASE WHEN {v} IS NOT NULL AND NOT lower({v}) = ANY({accepted}::text[]) THEN "
        f"{message} END",
    )


def _blank_value(info: FieldInfo) -> str:
    if info.blank() is not None:
        return info.blank() if info.kind in (DECIMAL, INTEGER) else _lit(info.blank())
    return "''" if info.kind == TEXT else "NULL"


def _normalise(mapping: Mapping, positions: dict[str, int], *, nul: bool = False) -> list[_Col]:
    """Fill `_norm` from `_raw` in one pass: each field's raw cell, value and error. Tries the
    fast form of the date SQL first and falls back to the safe one if a cell makes it raise."""
    with connection.cursor() as cursor:
        # Cells without an offset are in the mapping's time zone; Django needs UTC back after.
        cursor.execute("SELECT set_config('TimeZone', %s, false)", [mapping.timezone])
        try:
            for fast in (True, False):
                cols = _columns_sql(mapping, positions, fast, nul)
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
    # _ctrl: does any single-line text cell of the row hold a control character? One regex
    # over the row's cells together costs half of one per cell, and most rows have none.
    single = [c.raw for c in cols if _single_line(c)]
    ctrl = f"concat({', '.join(single)}) ~ '{_CONTROL}'" if single else "false"
    cursor.execute("DROP TABLE IF EXISTS _norm")
    _exec(
        cursor,
        f"CREATE TEMP TABLE _norm AS SELECT row_no, _ctrl, {errors} FROM ("
        f"  SELECT row_no, _ctrl, {values} FROM ("
        f"    SELECT r.row_no, ({ctrl}) AS _ctrl, {raws} FROM _raw r OFFSET 0) AS raw OFFSET 0"
        f") AS val",
    )


def _single_line(c: _Col) -> bool:
    """A text field read from a column, whose control characters the import removes."""
    return c.info.kind == TEXT and c.info.name != "currency" and bool(c.column)


def _probe(conditions: dict[str, str], source: str = "_norm n") -> set[str]:
    """Which of the named SQL conditions hold for some row of `source`, in one scan."""
    if not conditions:
        return set()
    with connection.cursor() as cursor:
        _exec(
            cursor,
            f"SELECT {', '.join(f'bool_or({c})' for c in conditions.values())} FROM {source}",
        )
        hits = cursor.fetchone()
    return {name for name, hit in zip(conditions, hits, strict=True) if hit}


@detector()
def _control_characters(batch: ImportBatch, cols: list[_Col]) -> None:
    """Line breaks, tabs and other control characters removed from single-line text fields."""
    text = {c.info.name: c for c in cols if _single_line(c)}
    if not text or not _probe({"any": "n._ctrl"}):
        return
    found = _probe({name: f"n._ctrl AND n.raw_{name} ~ '{_CONTROL}'" for name in text})
    for name in (n for n in text if n in found):
        findings_record(
            batch,
            kind=FindingKind.CONTROL_CHARACTERS,
            where=f"n._ctrl AND n.raw_{name} ~ '{_CONTROL}'",
            message="'had line breaks, tabs or other control characters, removed'",
            value=f"n.{name}",
            field=name,
            column=text[name].column,
        )


# Stage dates a lead cannot reach before it exists.
_AFTER_CREATION = ("mql_at", "sal_at", "sql_at", "converted_at")


@detector(ObjectType.LEAD)
def _dates_before_creation(batch: ImportBatch, cols: list[_Col]) -> None:
    """A stage reached before the lead was created (compared by day in the mapping's time
    zone: Salesforce writes ConvertedDate without a time) is a finding, not an error: the
    source system really holds it, and the books must match the source; someone fixes it there."""
    names = {c.info.name: c for c in cols if c.column}
    if "created_at" not in names:
        return
    tz = mapping_from_dict(batch.mapping).timezone
    day = "(n.{0} AT TIME ZONE {1})::date"
    checks = {
        name: f"{day.format(name, _lit(tz))} < {day.format('created_at', _lit(tz))}"
        for name in _AFTER_CREATION
        if name in names
    }
    for name in (n for n in checks if n in _probe(checks)):
        findings_record(
            batch,
            kind=FindingKind.DATE_ORDER,
            where=checks[name],
            message=f"{_lit(f'{names[name].info.label} is before the lead was created (')} "
            f"|| {day.format('created_at', _lit(tz))}::text || ')'",
            value=f"n.raw_{name}",
            field=name,
            column=names[name].column,
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
    if "phone" in names and names["phone"].column:
        _phone_keys(mapping.region())
    for name, check in checks:
        with connection.cursor() as cursor:
            _exec(
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
            _exec(
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


def _unpivot(cols: list[_Col]) -> tuple[str, str]:
    """SQL over `_norm n`: a VALUES list of (column, field, value, message) per field, and the
    condition that a row has any problem."""
    unpivot = ", ".join(
        f"({_lit(c.column)}, {_lit(c.info.name)}, left(n.raw_{c.info.name}, 200), "
        f"n.err_{c.info.name})"
        for c in cols
    )
    any_error = " OR ".join(f"n.err_{c.info.name} IS NOT NULL" for c in cols)
    return unpivot, any_error


def _collect_errors(batch: ImportBatch, cols: list[_Col]) -> int:
    """Store the first problems as ImportRowError rows; return how many there are in all."""
    unpivot, any_error = _unpivot(cols)
    with connection.cursor() as cursor:
        # Duplicate ids within the file: each copy is an error, naming the other rows. Probe
        # first; the update that names the rows runs only for a file that has some.
        _exec(
            cursor,
            "SELECT EXISTS (SELECT 1 FROM _norm WHERE external_id <> '' "
            "GROUP BY external_id HAVING count(*) > 1)",
        )
        duplicates = cursor.fetchone()[0]
    with connection.cursor() as cursor:
        if duplicates:
            _exec(
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
        _exec(cursor, f"SELECT count(*) FROM _norm n WHERE {any_error}")
        rows_bad = cursor.fetchone()[0]
        if not rows_bad:
            return 0
        _exec(
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
        _exec(
            cursor,
            f"SELECT count(*) FROM _norm n CROSS JOIN LATERAL (VALUES {unpivot}) "
            f"AS p(col, field, value, message) WHERE p.message IS NOT NULL",
        )
        errors_total = cursor.fetchone()[0]
    batch.rows_rejected = rows_bad
    return errors_total


def _hold_rows(batch: ImportBatch, cols: list[_Col], fmt: FileFormat) -> None:
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
        _exec(
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
        _exec(
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


def _preview(cols: list[_Col]) -> dict:
    names = [c.info.name for c in cols if c.info.kind != BOOLEAN]
    with connection.cursor() as cursor:
        _exec(
            cursor,
            f"SELECT row_no + 1, {', '.join(_preview_cell(f'{n}::text') for n in names)} "
            f"FROM _norm "
            f"WHERE row_no <= {PREVIEW_ROWS} ORDER BY row_no",
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
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS _pending")
        _exec(
            cursor,
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
            """,
        )
        _exec(
            cursor,
            "SELECT count(*) FILTER (WHERE NOT existed), count(*) FILTER (WHERE existed) "
            "FROM _pending",
        )
        return cursor.fetchone()


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


def _check_id_systems(mapping: Mapping) -> None:
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
        return _lit(info.blank()) if info.kind != DECIMAL else info.blank()
    if info.kind in (TEXT, EMAIL, DOMAIN, PHONE):
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
    apply_mode: str = ApplyMode.WHOLE,
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
        apply_mode=apply_mode,
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
    apply_mode: str = ApplyMode.WHOLE,
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
        apply_mode=apply_mode,
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
    *,
    batch: ImportBatch,
    preset_name: str,
    mapping: Mapping,
    by: AbstractBaseUser | None,
    mapping_data: dict | None = None,
) -> ImportPreset:
    """Save the mapping built for a draft's file as a preset, and queue the draft to be checked
    with it. `mapping_data`, when given, is what the preset stores (an extension of a built-in
    preset keeps only its overrides). A draft mapped meanwhile (another tab) keeps that mapping;
    the preset is saved all the same. Raises ValidationError as `import_preset_save` does."""
    preset = import_preset_save(
        name=preset_name,
        mapping=mapping_data or mapping.to_dict(),
        object_type=batch.object_type,
        by=by,
    )
    claimed = ImportBatch.objects.filter(pk=batch.pk, status=BatchStatus.DRAFT).update(
        mapping=mapping_from_dict(preset.mapping).to_dict(),
        preset=preset.name,
        status=BatchStatus.QUEUED,
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
    redelivered task): a batch that already finished, or that a live run holds, is returned as
    it is; one still marked running by a dead worker runs again, and ends superseded if a newer
    file has been applied since (see import_runs)."""
    # A message redelivered after its worker died finds the batch running and the dead
    # connection's lock perhaps not yet freed: wait a few seconds for it.
    redelivered = ImportBatch.objects.filter(pk=batch_id, status=BatchStatus.RUNNING).exists()
    with import_batch_run_lock(batch_id, wait=5 if redelivered else 0) as acquired:
        if not acquired:
            return ImportBatch.objects.select_related("system").get(pk=batch_id)
        return _run_locked(batch_id, path=path, progress=progress)


def _run_locked(batch_id: int, *, path: Path | None, progress: Progress | None) -> ImportBatch:
    # Holding the run lock: a batch still marked running was left by a dead worker.
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
    if batch.apply_requested and import_batch_supersede_if_newer(batch):
        return batch  # a stale file: not even read again
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
    ImportHeldRow.objects.filter(batch=batch).delete()
    batch.rows_held = 0
    findings_clear(batch)
    with connection.cursor() as cursor:
        # The import's sorts and hashes (distinct keys, golden rows per key) run over every
        # row of the file: in memory, not spilled to disk at the stock 4 MB.
        cursor.execute("SELECT set_config('work_mem', %s, false)", [IMPORT_WORK_MEM])
    try:
        with laps_recording() as laps:
            _run(batch, path, report)
            lap("commit")
        ImportBatch.objects.filter(pk=batch.pk).update(phases=laps.seconds)
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
            cursor.execute("DROP TABLE IF EXISTS _raw, _norm, _checked, _pending, _held")
            cursor.execute("RESET work_mem")
    batch.refresh_from_db()
    return batch


def _run(batch: ImportBatch, path: Path, report) -> None:
    mapping = mapping_from_dict(batch.mapping)
    _check_id_systems(mapping)
    report("reading", 0)
    fmt = sniff_file(path)
    lap("sniff")
    _vendor_check(batch, fmt.header)
    mapping = spelled_as_file(mapping, fmt.header)
    positions, unknown = check_columns(mapping, fmt.header)
    batch.file_sha256, batch.file_size, batch.unknown_columns = fmt.sha256, fmt.size, unknown
    batch.save(update_fields=["file_sha256", "file_size", "unknown_columns"])
    if batch.apply_requested and _same_as_last_applied(batch):
        return
    rows = _copy_raw(path, fmt, report, list(positions.values()))
    lap("copy")
    if rows == 0:
        raise ImportRejected("The file has a header but no rows.")
    batch.rows_total = rows
    report("checking", 60)
    cols = _normalise(mapping, positions, nul=bool(fmt.nul_bytes))
    lap("normalise")
    _python_checks(mapping, cols)
    lap("python checks")
    errors_total = _collect_errors(batch, cols)
    lap("errors")
    batch.preview = _preview(cols)
    batch.preview["values"] = picklists.values_found(cols)
    holding = (
        errors_total and batch.apply_mode == ApplyMode.VALID_ROWS and batch.rows_rejected < rows
    )
    if holding:
        batch.errors_total = errors_total
        _hold_rows(batch, cols, fmt)
    elif errors_total:
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
    if fmt.nul_bytes:
        _nul_findings(batch, fmt, cols)
    picklists.unknown_values_blank(cols)
    lap("check")
    if batch.export_kind == ExportKind.FULL and _deletions_held(batch):
        return
    if not batch.apply_requested:
        batch.status = BatchStatus.PENDING
        batch.progress, batch.phase = 100, "checked"
        batch.message = _held_message(batch, applied=False)
        batch.save()
        return
    report("storing", 75)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
        if import_batch_supersede_if_newer(batch):  # under the lock: no newer batch can commit
            return
        created, updated = _stage_pending(batch, cols)
        lap("stage")
        restored = deletions_restored_count(batch=batch) if updated else 0
        if created or updated:
            golden_resolve_pending(object_type=batch.object_type, batch_id=batch.id)
            golden_refresh_dependents(object_type=batch.object_type)
            lap("dependents")
        if batch.export_kind == ExportKind.FULL:
            batch.rows_deleted = deletions_mark_absent(batch=batch)
            lap("deletions")
        batch.rows_created, batch.rows_updated = created, updated - restored
        batch.rows_restored = restored
        batch.rows_unchanged = rows - batch.rows_held - created - updated
        batch.status = BatchStatus.APPLIED
        batch.progress, batch.phase = 100, "applied"
        batch.finished_at = timezone.now()
        batch.message = _held_message(batch, applied=True)
        batch.save()


def _held_message(batch: ImportBatch, *, applied: bool) -> str:
    if not batch.rows_held:
        return ""
    valid = batch.rows_total - batch.rows_held
    return (
        f"{valid:,} {'applied' if applied else 'will apply'}, {batch.rows_held:,} held: "
        f"{'the held rows were' if applied else 'rows with problems are'} not imported. "
        "Download them with their problems, fix them and import that file again."
    )


def header_vendor(object_type: str, header: list[str]) -> str | None:
    """The vendor whose built-in preset for `object_type` the header matches best (the share
    of the preset's required columns it has, at least half), or None."""
    names = {name.casefold() for name in header}
    best, best_score = None, 0.5
    for key in BUILTIN_PRESETS:
        preset = builtin_preset(key)
        required = preset.required_columns()
        if preset.object_type != object_type or not required:
            continue
        score = sum(c.casefold() in names for c in required) / len(required)
        if score > best_score or (score == best_score and best is None):
            best, best_score = key.split("-", 1)[0], score
    return best


def _vendor_check(batch: ImportBatch, header: list[str]) -> None:
    """A file-wide finding when the header looks like another vendor's export than the
    system's: a Salesforce file imported into a HubSpot system is most often the wrong system
    chosen in the form, or the wrong file."""
    vendor = batch.system.vendor
    if not vendor or vendor == Vendor.OTHER:
        return
    looks = header_vendor(batch.object_type, header)
    if looks is None or looks == vendor:
        return
    message = (
        f"This file's columns look like a {Vendor(looks).label} export; the system "
        f"{batch.system.name} is a {Vendor(vendor).label} system."
    )
    ImportFinding.objects.create(
        batch=batch, kind=FindingKind.OTHER_VENDOR, row=None, message=message
    )
    findings_count(batch, FindingKind.OTHER_VENDOR, 1)
    batch.save(update_fields=["findings"])


def _nul_findings(batch: ImportBatch, fmt: FileFormat, cols: list[_Col]) -> None:
    """A finding for every cell NUL bytes were removed from, naming its row and column: one
    scan finds the columns that had any, then one statement per such column."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = '_raw'::regclass "
            "AND attnum > 0 AND NOT attisdropped AND attname <> 'row_no' ORDER BY attnum"
        )
        loaded = [name for (name,) in cursor.fetchall()]
        mark = _lit(NUL_MARK)
        _exec(
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
