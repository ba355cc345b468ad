"""What the benchmark commands share: their databases, the demo they measure, and gunicorn on
loopback.

A benchmark never touches real data: bench_import works in a scratch database created beside
the configured one and dropped afterwards; scorecard_bench and bench_load refuse a database
whose name does not say "bench" and seed the demo there once."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

# The folder of the scripts the commands hand to wrk and locust.
BENCH_DIR = Path(__file__).resolve().parent


class NullOutput:
    """A stdout for commands whose own output would drown the benchmark's."""

    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


# --- Databases ------------------------------------------------------------------------------


@contextlib.contextmanager
def scratch_database(suffix: str, *, keep: bool = False) -> Iterator[str]:
    """A scratch database for benchmarks: created beside the configured one, migrated, used by
    this process only, dropped afterwards, so a benchmark never touches real or demo data."""
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


def bench_database_ensure(name: str, *, say: Callable[[str], None]) -> None:
    """Create the configured database when its server does not have it yet."""
    import psycopg
    from psycopg import sql

    db = settings.DATABASES["default"]
    params = {
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "dbname": "postgres",
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            say(f"Created database {name}.")


def bench_demo_seed(scale: float, *, say: Callable[[str], None]) -> dict:
    """Seed the demo at `scale` unless the database already holds it, then give the planner
    fresh statistics. Returns the golden lead and deal counts."""
    from pipeline.models import Deal, Lead

    wanted = int(scale * 20_000)
    leads = Lead.objects.count()
    if leads < wanted * 0.98:
        # The history ends with last week, so that week is complete and publishable.
        monday = timezone.localdate() - timedelta(days=timezone.localdate().weekday())
        say(f"Seeding the demo at scale {scale:g} (about {wanted:,} leads)…")
        started = time.monotonic()
        call_command("seed_demo", scale=scale, today=monday, verbosity=0, stdout=NullOutput())
        say(f"  seeded in {time.monotonic() - started:.1f} s")
    else:
        say(f"Demo data already there ({leads:,} leads); not seeding again.")
    # A bulk load leaves the planner without statistics until autovacuum comes round, and
    # index-only scans need the visibility map: give both now, as a deployment would after
    # its first import.
    started = time.monotonic()
    with connection.cursor() as cursor:
        for table in (
            "pipeline_lead",
            "pipeline_deal",
            "pipeline_account",
            "pipeline_arrchange",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
    say(f"  VACUUM ANALYZE of the golden tables: {time.monotonic() - started:.1f} s")
    return {"leads": Lead.objects.count(), "deals": Deal.objects.count()}


def bench_demo_published(scale: float, *, say: Callable[[str], None]) -> None:
    """The demo at `scale` as its users see it: seeded once, reconciled, and 14 weeks of
    scorecard published."""
    from pipeline.models import ReconciliationRun
    from scorecard.models import WeeklySnapshot

    bench_demo_seed(scale, say=say)  # seeds once; VACUUM ANALYZE each time
    if not ReconciliationRun.objects.filter(status="completed").exists():
        say("Reconciling…")
        call_command("reconcile", stdout=NullOutput())
    if not WeeklySnapshot.objects.exists():
        say("Publishing 14 weeks of scorecard…")
        call_command("scorecard_demo", scale=scale, weeks=14, stdout=NullOutput())


def session_cookies(secret_key: str, usernames: list[str]) -> dict[str, str]:
    """A session id per demo user, signed with the key the served app runs with."""
    from django.contrib.auth import get_user_model
    from django.test import Client, override_settings

    users = {u.username: u for u in get_user_model().objects.filter(username__in=usernames)}
    missing = sorted(set(usernames) - set(users))
    if missing:
        raise CommandError(f"The demo users {missing} are missing; is the database seeded?")
    sessions = {}
    with override_settings(SECRET_KEY=secret_key):
        for username in usernames:
            client = Client()
            client.force_login(users[username])
            sessions[username] = client.cookies["sessionid"].value
    return sessions


# --- Serving --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str, cookie: str | None) -> str:
    """The body of a 200 answered at `url` itself: a redirect (to the login page) fails."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        if response.status != 200 or response.url != url:
            raise CommandError(f"{url} answered {response.status} at {response.url}")
        return response.read().decode()


def wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            http_get(url, None)
            return
        except (OSError, CommandError):
            time.sleep(0.2)
    raise CommandError("gunicorn did not start within 30 s")


def cpu_split() -> tuple[set[int], set[int]]:
    """The cores the server gets and the one the load generator gets: the last core for the
    generator and the rest for the server, on a machine with two or more; all of them for
    both on one."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2 or not shutil.which("taskset"):
        return set(cores), set(cores)
    return set(cores[:-1]), {cores[-1]}


def pinned(cpus: set[int]) -> list[str]:
    """The command prefix that runs a program on `cpus` only (nothing when it is every core)."""
    if cpus == set(os.sched_getaffinity(0)) or not shutil.which("taskset"):
        return []
    return ["taskset", "-c", ",".join(str(cpu) for cpu in sorted(cpus))]


def bench_redis_url() -> str | None:
    """The Redis the served app uses in a benchmark, as production would: BENCH_REDIS_URL
    (default redis://127.0.0.1:6379/3) when it answers; None (the database cache) when it
    does not, or when BENCH_REDIS_URL is set empty."""
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
    if not url:
        return None
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return None
    return url


def production_env_with_static(*, redis_url: str | None = None) -> dict[str, str]:
    """The environment a benchmark runs gunicorn with: production settings (DEBUG=0, a fresh
    key, no TLS redirect on loopback, the cache and sessions in `redis_url` when given),
    static files collected first, since production serves them hashed."""
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=settings.BASE_DIR, env=env, check=True,
    )  # fmt: skip
    return env
