"""Parsing a weekly series file (week, value) into rows and row errors. Pure: no database.

Weeks are written as ISO weeks (2026-W46) or as any date in the week (2026-11-09); values
are plain decimal numbers. Every problem is reported with its line, and a file with any problem
imports nothing."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from revops.weeks import IsoWeek

MAX_BYTES = 1_000_000
MAX_ROWS = 5_000
MAX_ERRORS = 50


@dataclass(frozen=True)
class RowError:
    line: int  # 1 is the header
    column: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class SeriesRow:
    week: IsoWeek
    value: Decimal


def _week(text: str) -> IsoWeek:
    text = text.strip()
    if "W" in text.upper():
        return IsoWeek.parse(text.upper())
    try:
        return IsoWeek.of(date.fromisoformat(text))
    except ValueError:
        raise ValueError(
            f"{text!r} is neither an ISO week (2026-W46) nor a date (2026-11-09)"
        ) from None


def _value(text: str) -> Decimal:
    text = text.strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number (write 1234.5, without separators)") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a number")
    if abs(value) >= Decimal("1e15"):
        raise ValueError(f"{text} is too large")
    return value.quantize(Decimal("0.0001"))


def series_parse(data: bytes) -> tuple[list[SeriesRow], list[RowError]]:
    """Rows of a `week,value` CSV file, or the errors that stop it from importing."""
    if len(data) > MAX_BYTES:
        return [], [RowError(0, "", f"The file is over {MAX_BYTES // 1_000_000} MB.")]
    try:
        text = data.decode("utf-8-sig")  # a BOM from Excel must not become part of "week"
    except UnicodeDecodeError as exc:
        return [], [RowError(0, "", f"The file is not UTF-8 text (byte {exc.start}).")]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[SeriesRow] = []
    errors: list[RowError] = []
    seen: dict[IsoWeek, int] = {}
    try:
        header = next(reader, None)
        if header is None:
            return [], [RowError(1, "", "The file is empty; it needs a week,value header.")]
        names = [h.strip().lower() for h in header]
        if names != ["week", "value"]:
            return [], [
                RowError(1, "", f"The header must be week,value; found {','.join(header)!r}.")
            ]
        for line, record in enumerate(reader, start=2):
            if not any(cell.strip() for cell in record):
                continue  # blank lines, as spreadsheets leave at the end
            if len(record) != 2:
                errors.append(RowError(line, "", f"Expected 2 columns, found {len(record)}."))
                continue
            try:
                week = _week(record[0])
            except ValueError as exc:
                errors.append(RowError(line, "week", str(exc)))
                continue
            try:
                value = _value(record[1])
            except ValueError as exc:
                errors.append(RowError(line, "value", str(exc)))
                continue
            if week in seen:
                errors.append(
                    RowError(line, "week", f"{week.label} is already on line {seen[week]}.")
                )
                continue
            seen[week] = line
            rows.append(SeriesRow(week, value))
            if len(rows) > MAX_ROWS:
                return [], [RowError(line, "", f"More than {MAX_ROWS} rows.")]
            if len(errors) >= MAX_ERRORS:
                break
    except csv.Error as exc:
        errors.append(RowError(reader.line_num, "", f"Unreadable CSV: {exc}."))
    if not rows and not errors:
        errors.append(RowError(2, "", "The file has a header but no rows."))
    return rows, errors
