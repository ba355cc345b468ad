"""The Monday task on a real Celery worker consuming from Redis: it publishes last week, and
the digest it enqueues on commit goes out through the same worker."""

from __future__ import annotations

import time
from collections.abc import Callable

import kombu.pools
import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail

from revops.celery import app
from revops.permissions import Role
from revops.weeks import IsoWeek
from scorecard.models import WeeklySnapshot
from scorecard.tasks import snapshot_publish_due_task
from tests.worker.conftest import TEST_REDIS_URL

# serialized_rollback, as in every other real-worker module: its flush then re-creates no content
# types, so a later module that restores the serialized database finds none in its way.
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def wait_for(check: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def redis_app():
    """The Celery app pointed at the test Redis database, with eager mode off."""
    saved = {k: app.conf[k] for k in ("broker_url", "task_always_eager")}
    app.conf.update(
        broker_url=TEST_REDIS_URL,
        task_always_eager=False,
    )
    _drop_connections()  # no connection to the old broker may be reused
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge("celery")  # nothing left from another run
    yield app
    app.conf.update(saved)
    _drop_connections()


def _drop_connections() -> None:
    """Forget the broker connections (and the producers built on them) of the old settings.
    kombu keeps its pools process-wide, one per broker URL: close them and empty the registry,
    so a later test of this process that points the app at the same URL gets a fresh pool, not
    this closed one ("Acquire on closed pool")."""
    kombu.pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


def test_the_monday_task_publishes_last_week_and_mails_the_digest_on_a_worker(redis_app, make_user):
    make_user(Role.EXECUTIVE, username="ceo", email="ceo@northwind.example")
    with start_worker(redis_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        snapshot_publish_due_task.delay()
        assert wait_for(
            lambda: WeeklySnapshot.objects.filter(digest_sent_at__isnull=False).exists()
        ), "the worker did not publish and send the digest"
    snapshot = WeeklySnapshot.objects.get()
    assert (snapshot.week_start, snapshot.source) == (IsoWeek.last_completed().monday, "schedule")
    assert [m.to for m in mail.outbox] == [["ceo@northwind.example"]]
