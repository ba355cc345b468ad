"""CSV for every download and report: streamed, so a list of any length costs the same
memory, and safe to open in a spreadsheet. The one place cells are escaped.

Also the reader of the small files ops upload as a table (owners, quotas): UTF-8 with or
without a byte-order mark, comma or semicolon (or tab) delimited, an Excel `sep=;` line
honoured. Record imports have their own streaming reader (pipeline/services/imports/reading.py),
built for files of millions of rows."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse

# A cell a spreadsheet would read as a formula (CSV injection): =, +, -, @, tab, return.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A negative number written as text ("-5", "-1,234.50") is a value, not a formula.
_NEGATIVE_NUMBER = re.compile(r"-[0-9][0-9.,]*")


def csv_cell(value: object) -> object:
    """The value, with text that starts like a formula prefixed by an apostrophe. Numbers
    stay numbers: -5 (or the text "-5") is a value, not a formula."""
    if (
        isinstance(value, str)
        and value.startswith(_FORMULA_START)
        and not _NEGATIVE_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return "" if value is None else value


class _Echo:
    """A file that hands back what is written to it, so csv.writer yields lines."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """Each of `rows` as one line of CSV, its cells escaped."""
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([csv_cell(v) for v in row])


def csv_response(
    rows: Iterable[Iterable[object]], filename: str, *, bom: bool = False
) -> StreamingHttpResponse:
    """Stream `rows` (the first one the header) as a CSV attachment named `filename`; `bom`
    starts it with a byte-order mark, so Excel reads the file as UTF-8."""
    lines = csv_lines(rows)
    if bom:
        lines = itertools.chain(["\ufeff"], lines)
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- Reading uploaded tables ------------------------------------------------------------------

_DELIMITERS = (",", ";", "\t")
# What a file that is not CSV text starts with, and what people call it.
_MAGIC = {
    b"PK\x03\x04": "an Excel workbook or a zip archive",
    b"%PDF": "a PDF document",
    b"\xd0\xcf\x11\xe0": "an old-style Excel or Word file",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"\x1f\x8b": "a gzip archive",
}


@dataclass(frozen=True)
class CsvRowError:
    """One problem of an uploaded table, as the page lists it."""

    row: int | None  # as a spreadsheet numbers it, the header being 1; None: the whole file
    column: str  # the column as the file names it; "" for the row as a whole
    message: str


class CsvRejected(ValidationError):
    """An uploaded table with problems: nothing of it was applied. `errors` lists each."""

    def __init__(self, errors: list[CsvRowError]) -> None:
        self.errors = errors
        super().__init__(
            [(f"Row {e.row}, {e.column or 'row'}: " if e.row else "") + e.message for e in errors]
            or ["The file was refused."]
        )


class CsvUnreadable(ValueError):
    """The file as a whole cannot be read as a table; `row` is where reading stopped (the
    header being row 1), None for the whole file."""

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.message, self.row = message, row


@dataclass
class CsvTable:
    """An uploaded table: its header (names stripped, as written) and its non-blank rows,
    each `(row, cells)` with as many cells as the header names, `row` counted as a
    spreadsheet shows it (the header is row 1). Rows of another width are in `bad_rows`."""

    header: list[str]
    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    bad_rows: list[tuple[int, str]] = field(default_factory=list)

    def columns(self, aliases: dict[str, tuple[str, ...]]) -> tuple[dict[str, int], list[str]]:
        """Where each field is, given the header names that mean it (compared without case,
        with spaces and dashes read as underscores: `Owner ID` is `owner_id`), and a message
        for each field two columns claim."""
        found: dict[str, list[int]] = {}
        for at, name in enumerate(self.header):
            normal = re.sub(r"[\s\-]+", "_", name.strip().lower())
            for key, names in aliases.items():
                if normal in names:
                    found.setdefault(key, []).append(at)
        problems = [
            f"The columns {' and '.join(repr(self.header[i]) for i in at)} both say {key}: "
            "keep one."
            for key, at in found.items()
            if len(at) > 1
        ]
        return {key: at[0] for key, at in found.items()}, problems


def csv_table_read(data: bytes, *, max_bytes: int, max_rows: int = 100_000) -> CsvTable:
    """The table in an uploaded file. Raises CsvUnreadable, saying why, for a file that is
    over `max_bytes` or `max_rows`, empty, binary (a workbook, a PDF …), not UTF-8, has a
    header with a blank or repeated name, or a quote left open (strict parsing: the lenient
    reader silently swallows the rest of the file)."""
    if len(data) > max_bytes:
        raise CsvUnreadable(f"The file is over {max_bytes / 1_000_000:g} MB.")
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            raise CsvUnreadable(f"This is {what}, not a CSV file. Save it as CSV (UTF-8).")
    if b"\x00" in data:
        raise CsvUnreadable("This is a binary file, not CSV text (or text saved as UTF-16).")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvUnreadable(
            f"The file is not UTF-8 text (byte {exc.start:,}). Save it as CSV UTF-8."
        ) from None
    if not text.strip():
        raise CsvUnreadable("The file is empty: it needs a header row and then the rows.")
    first = text.splitlines()[0].strip()
    if len(first) == 5 and first.lower().startswith("sep="):
        # Excel's "sep=;" line names the delimiter; the header follows it.
        delimiter, text = first[4], text.split("\n", 1)[1] if "\n" in text else ""
    else:
        delimiter = max(_DELIMITERS, key=lambda d: (len(_cells(first, d)), d == ","))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    row = 0
    try:
        header = [name.strip() for name in next(reader, [])]
        row = 1
        while len(header) > 1 and not header[-1]:
            header.pop()  # a delimiter at the end of the header line
        if not any(header):
            raise CsvUnreadable("The first row is empty: it must name the columns.", 1)
        if "" in header:
            raise CsvUnreadable(f"Column {header.index('') + 1} of the header has no name.", 1)
        seen: set[str] = set()
        for name in header:
            if name.casefold() in seen:
                raise CsvUnreadable(f"The header names the column {name!r} twice.", 1)
            seen.add(name.casefold())
        table = CsvTable(header)
        for cells in reader:
            row += 1
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, as spreadsheets leave at the end
            while len(cells) > len(header) and not cells[-1].strip():
                cells.pop()  # trailing delimiters
            if len(cells) != len(header):
                table.bad_rows.append(
                    (row, f"has {len(cells)} fields; the header has {len(header)}.")
                )
                continue
            table.rows.append((row, cells))
            if len(table.rows) > max_rows:
                raise CsvUnreadable(f"The file has more than {max_rows:,} rows.", row)
    except csv.Error as exc:
        raise CsvUnreadable(f"Cannot be read ({exc}); is a quote left open?", row + 1) from None
    return table


def _cells(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter, strict=True), [])
    except csv.Error:
        return [line]
