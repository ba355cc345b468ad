"""python manage.py bench_load: what `make bench-load` runs.

Seeds the demo at --scale (10 by default: about 200k leads) into a dedicated database unless it
is already there, serves it with gunicorn on loopback in production settings, and runs locust
headless against it in three phases of --duration seconds: --users (50, a normal Monday),
--surge (200, the Monday the scorecard is published) and --peak (1,000, the day the company
is on the news), each simulated person thinking 1–3 s between requests. Where the machine has
two cores or more, locust runs on the last and gunicorn on the others (taskset), so the load
generator does not take the server's CPU; PostgreSQL and Redis are left where they run.

Endpoints: the executive scorecard page, the dispute list, three API endpoints, and
the health check as the reference (one trivial query through the same stack, in the same run).

Prints p50, p95, p99 and requests/s per endpoint and the errors per phase; the last line is one
JSON object with the figures. locust runs from its own virtualenv (--locust, default
.venv-load/bin/locust), which `make bench-load` installs.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.test import Client, override_settings
from django.urls import reverse

from bench.helpers import (
    BENCH_DIR,
    bench_database_ensure,
    bench_demo_published,
    bench_redis_url,
    cpu_split,
    free_port,
    http_get,
    pinned,
    production_env_with_static,
    wait_until_up,
)
from revops.models import ApiToken
from revops.services import api_token_create

LOCUSTFILE = BENCH_DIR / "locustfile.py"
LOCUST = Path(settings.BASE_DIR) / ".venv-load" / "bin" / "locust"
TOKEN_PREFIX = "bench-load-"
# The load goals: p95 per endpoint by number of users, and no errors at all.
P95_GOAL_MS = {50: 150.0, 200: 150.0, 1000: 500.0}


class Command(BaseCommand):
    help = "Load-test the scorecard, the dispute list and the API with locust against gunicorn."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--scale", type=float, default=10.0)
        parser.add_argument("--users", type=int, default=50)
        parser.add_argument("--surge", type=int, default=200)
        parser.add_argument("--peak", type=int, default=1000)
        parser.add_argument("--duration", type=int, default=60, help="Seconds per phase.")
        parser.add_argument(
            "--workers", type=int, default=4, help="gunicorn workers (2 per core here)."
        )
        parser.add_argument("--threads", type=int, default=2, help="Threads per gunicorn worker.")
        parser.add_argument(
            "--locust", default=str(Path(settings.BASE_DIR) / ".venv-load" / "bin" / "locust")
        )

    def handle(
        self, *args, scale, users, surge, peak, duration, workers, threads, locust, **options
    ):
        name = settings.DATABASES["default"]["NAME"]
        if "bench" not in name:
            raise CommandError(
                f"Refusing to load-test database {name!r}: the benchmark seeds and changes it. "
                "Point DATABASE_URL at a database whose name contains 'bench'."
            )
        if not shutil.which(locust):
            raise CommandError(f"locust is not at {locust}; `make bench-load` installs it.")
        bench_database_ensure(name, say=self._say)
        call_command("migrate", interactive=False, verbosity=0)
        bench_demo_published(scale, say=self._say)
        counts = [count for count in (users, surge, peak) if count > 0]
        people = max(counts)
        server_cpus, locust_cpus = cpu_split()

        redis_url = bench_redis_url()
        env = production_env_with_static(redis_url=redis_url)
        sessions, tokens = self._credentials(env["SECRET_KEY"], people)
        endpoints = self._endpoints()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            pinned(server_cpus) + [str(Path(sys.executable).with_name("gunicorn")), "revops.wsgi",
             "--workers", str(workers), "--threads", str(threads),
             "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
            cwd=settings.BASE_DIR, env=env,
        )  # fmt: skip
        phases = []
        try:
            wait_until_up(f"{base}/healthz")
            for endpoint in endpoints:  # each answers 200 before the clock starts
                cookie = f"sessionid={sessions[0]}" if endpoint["auth"] == "session" else None
                self._check(base, endpoint, cookie, tokens[0])
            for count in counts:
                phases.append(
                    self._phase(
                        pinned(locust_cpus) + [locust], base, endpoints, sessions, tokens,
                        count, duration,
                    )
                )  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=30)
        figures = {
            "scale": scale,
            "workers": workers,
            "threads": threads,
            "duration_s": duration,
            "server_cpus": sorted(server_cpus),
            "locust_cpus": sorted(locust_cpus),
            "load_average": [round(load, 2) for load in os.getloadavg()],
            "phases": phases,
            "goals_met": {
                str(phase["users"]): phase["errors"] == 0
                and all(
                    e["p95_ms"] < P95_GOAL_MS.get(phase["users"], 500.0)
                    for name, e in phase["endpoints"].items()
                    if name != "healthz"
                )
                for phase in phases
            },
        }
        self.stdout.write(json.dumps(figures))

    # --- Setting up ------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def _credentials(self, secret_key: str, people: int) -> tuple[list[str], list[str]]:
        """A session (signed with the key gunicorn runs with) and a token per person."""
        User = get_user_model()
        users = list(User.objects.filter(username__in=["exec", "sales", "marketing", "ops"]))
        if len(users) < 4:
            raise CommandError("The demo users are missing; is the database seeded?")
        ApiToken.objects.filter(name__startswith=TOKEN_PREFIX).delete()
        sessions, tokens = [], []
        with override_settings(SECRET_KEY=secret_key):
            for number in range(people):
                user = users[number % len(users)]
                client = Client()
                client.force_login(user)
                sessions.append(client.cookies["sessionid"].value)
                tokens.append(api_token_create(by=user, name=f"{TOKEN_PREFIX}{number}")[1])
        return sessions, tokens

    def _endpoints(self) -> list[dict]:
        from revops.weeks import IsoWeek

        week = IsoWeek.last_completed().label
        return [
            {"name": "scorecard", "path": f"/scorecard/{week}/", "auth": "session", "weight": 4},
            {"name": "disputes", "path": _dispute_list_path(), "auth": "session", "weight": 2},
            {
                "name": "api-scorecard-week",
                "path": reverse("api:scorecard-week", args=[week]),
                "auth": "token",
                "weight": 2,
            },
            {
                "name": "api-discrepancies",
                "path": reverse("api:reconciliation-discrepancy-list") + "?status=open",
                "auth": "token",
                "weight": 1,
            },
            {
                "name": "api-leads",
                "path": _lead_api_path(),
                "auth": "token",
                "weight": 1,
            },
            {"name": "healthz", "path": "/healthz", "auth": "session", "weight": 1},
        ]

    def _check(self, base: str, endpoint: dict, cookie: str | None, token: str) -> None:
        import urllib.request

        headers = {"Cookie": cookie} if cookie else {"Authorization": f"Token {token}"}
        request = urllib.request.Request(base + endpoint["path"], headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            if response.status != 200 or response.url != base + endpoint["path"]:
                raise CommandError(f"{endpoint['path']} answered {response.status}")
        http_get(f"{base}/healthz", None)

    # --- Running ---------------------------------------------------------------------------

    def _phase(self, locust, base, endpoints, sessions, tokens, users, duration) -> dict:
        self._say(f"\n{users} users for {duration} s (1–3 s think time)…")
        with tempfile.TemporaryDirectory() as tmp:
            prefix = Path(tmp) / "run"
            env = {
                **os.environ,
                "BENCH_ENDPOINTS": json.dumps(endpoints),
                "BENCH_SESSIONS": ",".join(sessions[:users]),
                "BENCH_TOKENS": ",".join(tokens[:users]),
            }
            subprocess.run(
                locust + ["-f", str(LOCUSTFILE), "--headless", "--host", base,
                 "--users", str(users), "--spawn-rate", str(max(users // 5, 1)),
                 "--run-time", f"{duration}s", "--csv", str(prefix), "--only-summary",
                 "--loglevel", "WARNING", "--exit-code-on-error", "0"],
                env=env, check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            with open(f"{prefix}_stats.csv", newline="") as stats:
                rows = list(csv.DictReader(stats))
        result: dict = {"users": users, "errors": 0, "requests": 0, "endpoints": {}}
        self._say(f"{'endpoint':20} {'requests':>9} {'errors':>7} {'req/s':>7} "
                  f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'healthz p95':>12}")  # fmt: skip
        for row in rows:
            if row["Name"] == "Aggregated":
                result["errors"] = int(row["Failure Count"])
                result["requests"] = int(row["Request Count"])
                result["rps"] = round(float(row["Requests/s"]), 1)
                continue
            figures = {
                "p50_ms": float(row["50%"]),
                "p95_ms": float(row["95%"]),
                "p99_ms": float(row["99%"]),
                "rps": round(float(row["Requests/s"]), 1),
                "requests": int(row["Request Count"]),
                "errors": int(row["Failure Count"]),
            }
            result["endpoints"][row["Name"]] = figures
        reference = result["endpoints"].get("healthz", {}).get("p95_ms")
        result["healthz_p95_ms"] = reference
        for name, figures in result["endpoints"].items():
            self._say(
                f"{name:20} {figures['requests']:>9} {figures['errors']:>7} "
                f"{figures['rps']:>7} {figures['p50_ms']:>7.0f} {figures['p95_ms']:>7.0f} "
                f"{figures['p99_ms']:>7.0f} {reference or 0:>12.0f}"
            )
        self._say(f"{'all':20} {result['requests']:>9} {result['errors']:>7} {result['rps']:>7}")
        time.sleep(2)  # let the last requests drain before the next phase
        return result


def _dispute_list_path() -> str:
    return reverse("disputes:dispute-list")


def _lead_api_path() -> str:
    return reverse("api:lead-list") + "?stage=mql"
