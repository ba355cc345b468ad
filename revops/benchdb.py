"""A scratch database for benchmarks: created beside the configured one, migrated, used by
this process only, dropped afterwards, so a benchmark never touches real or demo data."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.core.management import call_command
from django.db import connection


@contextlib.contextmanager
def scratch_database(suffix: str, *, keep: bool = False) -> Iterator[str]:
    import psycopg
    from psycopg import sql

    settings_dict = connection.settings_dict
    name = f"{settings_dict['NAME']}_{suffix}"
    params = {
        "host": settings_dict["HOST"] or None,
        "port": settings_dict["PORT"] or None,
        "user": settings_dict["USER"] or None,
        "password": settings_dict["PASSWORD"] or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    original = settings_dict["NAME"]
    connection.close()
    settings_dict["NAME"] = name
    try:
        call_command("migrate", verbosity=0, interactive=False)
        yield name
    finally:
        connection.close()
        settings_dict["NAME"] = original
        if not keep:
            with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
