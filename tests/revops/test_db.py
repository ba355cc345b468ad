"""The advisory lock that keeps a job from running twice: never waits, says who got it, and
leaves the pooled connection as it found it."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from revops.db import advisory_lock, advisory_lock_held, advisory_lock_id

pytestmark = pytest.mark.django_db


def setting(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


def test_the_lock_is_taken_held_and_released():
    assert not advisory_lock_held("job")
    with advisory_lock("job", statement_timeout="5min") as acquired:
        assert acquired is True
        assert advisory_lock_held("job")
        assert setting("client_connection_check_interval") == "1s"
        assert setting("statement_timeout") == "5min"
    assert not advisory_lock_held("job")
    assert setting("client_connection_check_interval") == "0"
    assert setting("statement_timeout") == "0"


def test_a_lock_held_elsewhere_is_refused_without_waiting():
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"] or None, user=db["USER"], dbname=db["NAME"],
        autocommit=True,
    ) as other:  # fmt: skip
        other.execute("SELECT pg_advisory_lock(%s)", [advisory_lock_id("job")])
        with advisory_lock("job") as acquired:
            assert acquired is False
        assert advisory_lock_held("job")


def test_lock_ids_are_stable_and_distinct():
    assert advisory_lock_id("pipeline.reconciliation") == advisory_lock_id(
        "pipeline.reconciliation"
    )
    assert advisory_lock_id("a") != advisory_lock_id("b")
