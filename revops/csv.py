"""CSV for every download and report: streamed, so a list of any length costs the same
memory, and safe to open in a spreadsheet. The one place cells are escaped."""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterable, Iterator

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
