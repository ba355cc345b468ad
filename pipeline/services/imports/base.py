"""What every part of the importer shares: the refusal it raises, a row's problem, and how it
runs the SQL it builds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection
from psycopg import sql as pg_sql

STORED_ERRORS_MAX = 10_000

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


def lit(value: object) -> str:
    return pg_sql.Literal(value).as_string(connection.connection)


def exec_sql(cursor, statement: str) -> None:
    """Run a statement built here, which takes no parameters. It goes with an empty parameter
    list and every `%` doubled, so that a percent sign in it (a cell, a column name, a
    format() pattern) stays text even when a wrapper adds placeholders of its own: pghistory's
    context prepends two to every INSERT and UPDATE run inside manage.py, a task or a request."""
    cursor.execute(statement.replace("%", "%%"), [])
