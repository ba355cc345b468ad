"""A real Celery worker consuming from real Redis, for tests marked `worker`.

- `celery_worker`: one worker for the whole session (started on first use, stopped before the
  test database is dropped), consuming the default queue.
- `start_celery_worker(queues=..., pool="solo"|"prefork", env={...})`: a worker of the test's
  own, for tests that kill it (or its pool child); give it its own queue so the shared worker
  never takes its messages. `env` adds environment variables (settings) for it alone.
- `celery_on_redis`: points this process's Celery app at the same Redis (not eager), so
  `.delay()` publishes for real; restored afterwards.
- `worker`: the three together with a transactional database, so the worker sees committed
  rows. Usage: `def test_x(worker): …; worker.wait_until(lambda: …)`.

The broker is $TEST_REDIS_URL (CI sets it), else redis://127.0.0.1:6379/15. Under
pytest-xdist each test process takes a Redis database of its own (15, 14, … for gw0, gw1, …):
a worker started by one process must never take a task meant for another's test database.
Workers connect to the test database (test_<name>, test_<name>_gw<n>) through DATABASE_URL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _redis_url_for_this_process() -> str:
    base = urlsplit(os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15")
    xdist = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", … or unset
    if not xdist:
        return base.geturl()
    db = int(base.path.strip("/") or 0) - int(xdist.removeprefix("gw"))
    assert db >= 0, f"{xdist}: no Redis database left below {base.path} for this process"
    return base._replace(path=f"/{db}").geturl()


TEST_REDIS_URL = _redis_url_for_this_process()


def pytest_collection_modifyitems(items) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.worker)


def worker_database_url() -> str:
    """DATABASE_URL of the test database, socket folders percent-encoded (see revops.env)."""
    from django.db import connection

    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = quote(db["HOST"] or "", safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{quote(db['NAME'], safe='')}"


class CeleryWorker:
    """A `celery -A revops worker` subprocess with its log in a file."""

    def __init__(
        self, *, queues: str, log_dir: Path, pool: str = "solo", env: dict | None = None
    ) -> None:
        self.queues = queues
        self.extra_env = env or {}  # settings of this worker only, e.g. a short visibility
        self.media_root = log_dir / "media"  # uploads: tests point MEDIA_ROOT here too
        self.pool = pool  # "solo" runs tasks in the worker process; "prefork" in one child
        self.nodename = f"test-{uuid.uuid4().hex[:8]}@localhost"
        self.log_path = log_dir / f"{self.nodename.split('@')[0]}.log"
        self.process: subprocess.Popen | None = None
        self.killed = False

    def start(self, timeout: float = 45) -> CeleryWorker:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "revops.settings",
            "DATABASE_URL": worker_database_url(),
            "REDIS_URL": TEST_REDIS_URL,
            "DEBUG": "1",
            # Few connections are needed; a short life keeps the test database droppable.
            "CONN_MAX_AGE": "0",
            "MEDIA_ROOT": str(self.media_root),
            **self.extra_env,
        }
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "revops", "worker",
                f"--pool={self.pool}", "--concurrency=1",
                "--loglevel=INFO", "--without-gossip", "--without-mingle",
                "-Q", self.queues, "-n", self.nodename,
            ],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.wait_until(self._answers_ping, timeout=timeout, what="the worker to answer a ping")
        return self

    def _answers_ping(self) -> bool:
        from revops.celery import app

        return bool(app.control.ping(destination=[self.nodename], timeout=0.5))

    def wait_until(
        self, predicate: Callable[[], object], *, timeout: float = 30, what: str = "it"
    ) -> object:
        """Poll `predicate` until it returns something true; fail with the worker's log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.killed and self.process is not None and self.process.poll() is not None:
                pytest.fail(f"the worker exited ({self.process.returncode}):\n{self.logs()}")
            result = predicate()
            if result:
                return result
            time.sleep(0.2)
        pytest.fail(f"waited {timeout} s for {what}; worker log:\n{self.logs()}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL, as an out-of-memory killer or a pulled plug would."""
        self.killed = True
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def children(self) -> list[int]:
        """Process ids of the pool's children (prefork)."""
        assert self.process is not None
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def kill_child(self) -> int:
        """SIGKILL the pool child running the task, as the out-of-memory killer would; the
        worker itself lives on and starts a new child."""
        (child,) = self.children()
        os.kill(child, signal.SIGKILL)
        return child

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "_log", None):
            self._log.close()


def _point_app_at(broker_url: str | None) -> None:
    """Send this process's tasks to `broker_url` (None: back to in-process, eager)."""
    from revops.celery import app

    # kombu keeps one connection pool per broker URL, process-wide: drop only the app's own
    # references, so the next publish picks the pool of the new URL.
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.broker_url = broker_url or "memory://"
    app.conf.task_always_eager = broker_url is None


@pytest.fixture
def celery_on_redis() -> Iterator[str]:
    _point_app_at(TEST_REDIS_URL)
    try:
        yield TEST_REDIS_URL
    finally:
        _point_app_at(None)


@pytest.fixture(scope="session")
def _worker_logs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("celery-workers")


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, _worker_logs) -> Iterator[CeleryWorker]:
    from revops.celery import app

    _point_app_at(TEST_REDIS_URL)
    try:
        app.control.purge()  # messages an aborted earlier session left on this database
        worker = CeleryWorker(queues="celery", log_dir=_worker_logs).start()
    finally:
        _point_app_at(None)
    yield worker
    worker.stop()


@pytest.fixture
def start_celery_worker(django_db_setup, _worker_logs) -> Iterator[Callable[..., CeleryWorker]]:
    started: list[CeleryWorker] = []

    def start(*, queues: str, pool: str = "solo", env: dict | None = None) -> CeleryWorker:
        worker = CeleryWorker(queues=queues, log_dir=_worker_logs, pool=pool, env=env).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def worker(celery_worker, celery_on_redis, transactional_db, settings) -> CeleryWorker:
    settings.MEDIA_ROOT = celery_worker.media_root  # where the worker reads uploads
    return celery_worker
