"""Reading a file (steps 1 and 2 of the import): sniff its size, encoding, delimiter and header
without parsing rows, check the header against the mapping, and COPY the rows into `_raw`."""

from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from psycopg import errors as pg_errors

from pipeline.choices import FindingKind, Vendor
from pipeline.models import (
    ImportBatch,
    ImportFinding,
)
from pipeline.presets import (
    BUILTIN_PRESETS,
    Mapping,
    builtin_preset,
)
from pipeline.services.findings import (
    findings_count,
)
from pipeline.services.imports.base import (
    STORED_ERRORS_MAX,
    ImportRejected,
    Progress,
    RowError,
    exec_sql,
    lit,
)

CHUNK_BYTES = 1 << 20
# A file with a few NUL bytes is text that a rich-text field smuggled them into (Salesforce
# exports do); more than this share of NULs is a binary file or UTF-16 text.
NUL_SHARE_MAX = 0.01
NUL_MARK = "\x1a"  # SUB, the character meant for this: stands for a NUL until cells are read
HEAD_MAX = 16 << 20  # how far the sniff reads to find the end of the header line
PG_COLUMNS_MAX = 1600  # PostgreSQL's limit on a table's columns
COLUMNS_MAX = 20_000  # wider than PostgreSQL takes: only the mapped columns are loaded
csv.field_size_limit(1 << 30)  # the default, 131,072 characters, is less than a real cell


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


def human_size(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{size / 1000:.0f} kB"


def sniff_file(path: Path) -> FileFormat:
    """Encoding, delimiter and header of the CSV at `path`, reading it once in chunks."""
    size = path.stat().st_size
    if size == 0:
        raise ImportRejected("The file is empty.")
    if size > max_file_bytes():
        raise ImportRejected(
            f"The file is {human_size(size)}; the limit is {human_size(max_file_bytes())}. "
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


def copy_raw(path: Path, fmt: FileFormat, progress: Progress, mapped: list[int]) -> int:
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
            exec_sql(cursor, f"DELETE FROM _raw WHERE {blank}")
        cursor.execute("SELECT count(*) FROM _raw")
        return cursor.fetchone()[0]


def _copy_file(cursor, path: Path, fmt: FileFormat, progress: Progress) -> None:
    """COPY the file's bytes as they are (NUL bytes marked, an Excel "sep=" line skipped)."""
    target = ", ".join(f"c{i + 1}" for i in range(fmt.width))
    copy_sql = (
        f"COPY _raw ({target}) FROM STDIN WITH (FORMAT csv, HEADER true, "
        f"DELIMITER {lit(fmt.delimiter)}, ENCODING {lit(fmt.pg_encoding)})"
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


def vendor_check(batch: ImportBatch, header: list[str]) -> None:
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
