"""python manage.py scorecard_bench: what `make bench-scorecard` runs.

Seeds the demo at --scale (50 ≈ 1M leads, 136k deals) into a dedicated database unless it is
already there, times computing one week and backfilling --weeks weeks, then load-tests the
published scorecard page and its JSON endpoint with wrk against gunicorn on loopback. Each
figure is timed next to a reference measured in the same run (one plain aggregate query, the
health check under the same load), because this machine's speed moves by tens of percent
between runs. The last line printed is one JSON object with every figure.

It deletes the bench database's snapshots to time the backfill, so it refuses a database
whose name does not contain "bench".
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from bench.helpers import (
    BENCH_DIR,
    bench_database_ensure,
    bench_demo_seed,
    bench_redis_url,
    free_port,
    http_get,
    production_env_with_static,
    wait_until_up,
)
from demo.scorecard import demo_email_metrics_ensure, demo_targets_ensure
from revops.weeks import week_params, week_sql

WRK_SCRIPT = BENCH_DIR / "wrk_report.lua"

# The scorecard's goals on this 2-core machine at 1M leads.
# The published page and JSON against the health check of the same run; the first request
# after a republish, in every worker, against a cached one (with a margin for noise).
GOALS = {
    "week_compute_s": ("<", 0.25),
    "backfill_s": ("<", 3.0),
    "page_p95_ms": ("<=", 15.0),
    "page_rps_vs_healthz": (">=", 0.5),
    "api_p95_ms": ("<=", 10.0),
    "api_rps_vs_healthz": (">=", 0.5),
    "after_publish_vs_cached": ("<=", 1.5),
    # A slice's week against the company's week, both computed in the same run; the breakdown
    # of one metric by owner (200 owners) over 13 weeks; the slice page (computed live).
    "slice_vs_company_week": ("<=", 1.5),
    "breakdown_by_owner_s": ("<=", 0.3),
    "slice_page_p95_ms": ("<=", 50.0),
}
BENCH_OWNERS = 200


class Command(BaseCommand):
    help = "Benchmark the scorecard at demo scale 50: compute, backfill, page and API under wrk."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--scale", type=float, default=50.0)
        parser.add_argument("--weeks", type=int, default=104)
        parser.add_argument("--duration", type=int, default=20, help="Seconds per wrk run.")
        parser.add_argument("--connections", type=int, default=10)
        parser.add_argument(
            "--workers", type=int, default=2, help="gunicorn sync workers (one per core)."
        )
        parser.add_argument("--repeat", type=int, default=5, help="Timed runs of one week.")

    def handle(self, *args, scale, weeks, duration, connections, workers, repeat, **options):
        name = settings.DATABASES["default"]["NAME"]
        if "bench" not in name:
            raise CommandError(
                f"Refusing to benchmark database {name!r}: the benchmark deletes its "
                "snapshots. Point DATABASE_URL at a database whose name contains 'bench'."
            )
        if not shutil.which("wrk"):
            raise CommandError("wrk is not installed (Debian: apt-get install wrk).")
        bench_database_ensure(name, say=self._say)
        call_command("migrate", interactive=False, verbosity=0)

        figures: dict[str, object] = {}
        figures.update(bench_demo_seed(scale, say=self._say))
        self._setup_scorecard(scale)
        figures.update(self._compute(repeat))
        figures.update(self._slices(repeat, figures["week_compute_s"]))
        figures.update(self._backfill(weeks))
        figures.update(self._http(duration, connections, workers))
        figures.update({"workers": workers, "connections": connections, "duration_s": duration})
        compare = {"<": float.__lt__, "<=": float.__le__, ">=": float.__ge__}
        figures["goals_met"] = {
            key: compare[op](float(figures[key]), limit) for key, (op, limit) in GOALS.items()
        }
        self.stdout.write(json.dumps(figures))

    # --- Setting up ------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def _setup_scorecard(self, scale: float) -> None:
        demo_email_metrics_ensure(scale=scale, weeks=105)
        demo_targets_ensure(scale=scale, today=timezone.localdate())

    # --- Computing -------------------------------------------------------------------------

    def _compute(self, repeat: int) -> dict:
        from revops.weeks import IsoWeek
        from scorecard.compute import metric_values_compute
        from scorecard.selectors import definition_current_map, metric_catalog
        from scorecard.targets import TargetBook

        week = IsoWeek.last_completed()
        current = definition_current_map()
        definitions = [current[m.id] for m in metric_catalog(active_only=True)]

        def together() -> None:
            metric_values_compute(
                weeks=[week], definitions=definitions, catalog=current, targets=TargetBook.load()
            )

        def one_by_one() -> None:
            for definition in definitions:
                metric_values_compute(weeks=[week], definitions=[definition], catalog=current)

        together()  # warm the caches, as a second run on a live system would find them
        runs = [_timed(together) for _ in range(repeat)]
        peer = statistics.median(_timed(one_by_one) for _ in range(max(1, repeat // 2)))
        week_s = statistics.median(runs)
        self._say(
            f"Computing {week.label} ({len(definitions)} metrics, median of {repeat}): "
            f"{week_s:.3f} s (best {min(runs):.3f} s); metric by metric: {peer:.3f} s"
        )
        return {"week_compute_s": round(week_s, 3), "week_compute_per_metric_s": round(peer, 3)}

    def _owners_ensure(self) -> None:
        """BENCH_OWNERS owners in ten teams, the deals spread over them (the demo has ten
        sales reps): what a breakdown by owner reads at a company of that size."""
        from pipeline.models import Owner, Team

        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE pipeline_deal SET owner = format('Rep %%s', "
                "lpad(((id %% %(n)s) + 1)::text, 3, '0')) WHERE owner NOT LIKE 'Rep %%'",
                {"n": BENCH_OWNERS},
            )
        teams = [
            Team.objects.get_or_create(name=f"Bench team {t + 1}", defaults={"manager": f"M{t}"})[0]
            for t in range(10)
        ]
        for i in range(BENCH_OWNERS):
            Owner.objects.get_or_create(
                key=f"Rep {i + 1:03d}", defaults={"team": teams[i % len(teams)]}
            )

    def _slices(self, repeat: int, company_week_s: float) -> dict:
        from pipeline.dimensions import BY_KEY, slice_from_query
        from revops.weeks import IsoWeek
        from scorecard.compute import metric_values_compute
        from scorecard.models import Metric
        from scorecard.selectors import definition_current_map, metric_breakdown, metric_catalog
        from scorecard.targets import TargetBook

        self._owners_ensure()
        week = IsoWeek.last_completed()
        current = definition_current_map()
        definitions = [current[m.id] for m in metric_catalog(active_only=True)]
        emea = slice_from_query({"region": "EMEA"})

        def sliced() -> None:
            metric_values_compute(
                weeks=[week],
                definitions=definitions,
                catalog=current,
                targets=TargetBook.load(emea.target_key),
                slice=emea,
            )

        def company() -> None:
            metric_values_compute(
                weeks=[week], definitions=definitions, catalog=current, targets=TargetBook.load()
            )

        sliced()
        slice_s = statistics.median(_timed(sliced) for _ in range(repeat))
        company_s = statistics.median(_timed(company) for _ in range(repeat))
        bookings = Metric.objects.get(key="new_bookings")
        owner = BY_KEY["owner"]
        metric_breakdown(bookings, week, owner)
        breakdown_s = statistics.median(
            _timed(lambda: metric_breakdown(bookings, week, owner)) for _ in range(3)
        )
        self._say(
            f"{week.label} for the EMEA slice: {slice_s:.3f} s against {company_s:.3f} s for the "
            f"company in the same run ({company_week_s:.3f} s earlier); new bookings by owner "
            f"({BENCH_OWNERS} owners, 13 weeks, the top 12 then Other): {breakdown_s:.3f} s"
        )
        return {
            "slice_week_s": round(slice_s, 3),
            "company_week_s": round(company_s, 3),
            "slice_vs_company_week": round(slice_s / company_s, 2),
            "breakdown_by_owner_s": round(breakdown_s, 3),
        }

    def _backfill(self, weeks: int) -> dict:
        from scorecard.models import WeeklySnapshot
        from scorecard.services.snapshots import scorecard_backfill

        reference = _timed(_reference_query)
        WeeklySnapshot.objects.all().delete()
        started = time.monotonic()
        result = scorecard_backfill(weeks=weeks)
        took = time.monotonic() - started
        self._say(
            f"Backfilling {len(result.published)} weeks: {took:.2f} s. Reference, one query of "
            f"20 FILTER aggregates by week over every lead: {reference:.2f} s"
        )
        # The Monday publish freezes the week's breakdowns too; the slice page then reads them.
        from revops.weeks import IsoWeek
        from scorecard.services.snapshots import slices_freeze

        last = IsoWeek.last_completed()
        started = time.monotonic()
        frozen = slices_freeze(WeeklySnapshot.objects.get(week_start=last.monday), last)
        freeze_s = time.monotonic() - started
        self._say(f"Freezing {last.label}'s breakdowns ({frozen} values): {freeze_s:.2f} s")
        return {
            "backfill_s": round(took, 3),
            "reference_query_s": round(reference, 3),
            "slices_freeze_s": round(freeze_s, 2),
        }

    # --- Serving ---------------------------------------------------------------------------

    def _http(self, duration: int, connections: int, workers: int) -> dict:
        from django.contrib.auth import get_user_model

        from revops.weeks import IsoWeek

        week = IsoWeek.last_completed()
        redis_url = bench_redis_url()
        env = production_env_with_static(redis_url=redis_url)
        # A session gunicorn accepts: signed with the key gunicorn runs with.
        with override_settings(SECRET_KEY=env["SECRET_KEY"]):
            client = Client()
            client.force_login(get_user_model().objects.get(username="exec"))
            cookie = f"sessionid={client.cookies['sessionid'].value}"
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "revops.wsgi",
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
            ],  # fmt: skip
            cwd=settings.BASE_DIR,
            env=env,
        )
        try:
            wait_until_up(f"{base}/healthz")
            page = f"{base}/scorecard/{week.label}/"
            api = f"{base}/api/v1/scorecard/weeks/{week.label}/"
            body = http_get(page, cookie)
            if "Published" not in body or 'class="sc-row ' not in body:
                raise CommandError(f"{page} is not the published scorecard; is the week published?")
            if json.loads(http_get(api, cookie))["status"] != "published":
                raise CommandError(f"{api} does not serve the published week")
            for url in (page, api):  # every worker renders once before the clock starts
                for _ in range(workers * 10):
                    http_get(url, cookie)
            results = {}
            for name, url, headers in (
                ("page", page, cookie),
                ("api", api, cookie),
                ("healthz", f"{base}/healthz", None),
            ):
                run = _wrk(url, headers, duration, connections)
                results[name] = run
                self._say(
                    f"{name:8} {url.removeprefix(base)}: {run['rps']:.0f} requests/s, "
                    f"p50 {run['p50']:.1f} ms, p95 {run['p95']:.1f} ms, p99 {run['p99']:.1f} ms"
                    f" ({run['requests']} requests, {run['non200']} errors, "
                    f"{run['errors']} socket errors)"
                )
                if run["non200"] or run["errors"]:
                    raise CommandError(f"{url}: answers other than 200 under load")
                http_get(url, headers)  # still 200 after the run: the session held throughout
            # A slice's page is computed for each request: timed one request at a time.
            sliced = f"{page}?region=EMEA"
            http_get(sliced, cookie)
            times = []
            for _ in range(10):
                started = time.perf_counter()
                http_get(sliced, cookie)
                times.append((time.perf_counter() - started) * 1000)
            slice_p95 = sorted(times)[int(0.95 * (len(times) - 1))]
            self._say(
                f"slice    {sliced.removeprefix(base)}: p50 {statistics.median(times):.0f} ms, "
                f"p95 {slice_p95:.0f} ms (one request at a time)"
            )
            after = self._after_publish(week, redis_url, (page, api), cookie, workers)
        finally:
            server.terminate()
            server.wait(timeout=30)
        return {
            "page_p95_ms": results["page"]["p95"],
            "page_p50_ms": results["page"]["p50"],
            "page_rps": results["page"]["rps"],
            "api_p95_ms": results["api"]["p95"],
            "api_p50_ms": results["api"]["p50"],
            "api_rps": results["api"]["rps"],
            "healthz_p95_ms": results["healthz"]["p95"],
            "healthz_rps": results["healthz"]["rps"],
            "page_rps_vs_healthz": round(results["page"]["rps"] / results["healthz"]["rps"], 2),
            "api_rps_vs_healthz": round(results["api"]["rps"] / results["healthz"]["rps"], 2),
            "slice_page_p95_ms": round(slice_p95, 1),
            **after,
        }

    def _after_publish(self, week, redis_url, urls, cookie, workers) -> dict:
        """Republish the week as ops would (its warming task fills the cache gunicorn reads),
        then open the page and the JSON in every worker at once: the slowest of those first
        requests against the slowest of the same round once they are cached."""
        from django.contrib.auth import get_user_model
        from django.db import transaction

        from revops.env import redis_cache
        from scorecard.services.snapshots import snapshot_publish

        caches = dict(settings.CACHES)
        if redis_url:  # the cache gunicorn uses; without Redis both read the database's
            name = settings.DATABASES["default"]["NAME"]
            caches["scorecard"] = redis_cache(redis_url, database_name=name)
        with override_settings(CACHES=caches), transaction.atomic():
            snapshot_publish(
                week=week,
                by=get_user_model().objects.get(username="ops"),
                republish=True,
                reason="Benchmark: the first request after a publish",
            )

        def round_max() -> float:
            requests = [url for url in urls for _ in range(workers)]
            with ThreadPoolExecutor(max_workers=len(requests)) as pool:
                return max(pool.map(lambda url: _timed(lambda: http_get(url, cookie)), requests))

        first = round_max() * 1000
        cached = statistics.median(round_max() for _ in range(5)) * 1000
        self._say(
            f"After a republish, every worker at once: slowest first request {first:.1f} ms; "
            f"the same round cached (median of 5): {cached:.1f} ms"
        )
        return {
            "after_publish_ms": round(first, 2),
            "cached_round_ms": round(cached, 2),
            "after_publish_vs_cached": round(first / cached, 2),
        }


def _timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _reference_query() -> None:
    """The reference the backfill is timed against: 20 metrics as FILTER aggregates grouped by
    week over every lead, in one statement."""
    stages = ["new", "mql", "sal", "sql", "opportunity", "customer", "disqualified"]
    parts = [f"count(*) FILTER (WHERE stage = '{s}')" for s in stages]
    parts += [f"count(*) FILTER (WHERE mql_at IS NOT NULL AND stage = '{s}')" for s in stages]
    parts += [
        "count(*) FILTER (WHERE source = 'Webinar')",
        "count(*) FILTER (WHERE source = 'Outbound')",
        "count(*) FILTER (WHERE sql_at IS NOT NULL)",
        "count(*) FILTER (WHERE first_touch_at IS NOT NULL)",
        "count(*) FILTER (WHERE converted_at IS NOT NULL)",
        "count(*)",
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {week_sql('created_at')}, {', '.join(parts)} FROM pipeline_lead GROUP BY 1",
            week_params(),
        )
        cursor.fetchall()


def _wrk(url: str, cookie: str | None, duration: int, connections: int) -> dict:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "-s", str(WRK_SCRIPT)]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("WRK "))
    requests, seconds, p50, p95, p99, non200, errors = line.split()[1:]
    return {
        "requests": int(requests),
        "rps": round(int(requests) / float(seconds), 1),
        "p50": round(float(p50), 2),
        "p95": round(float(p95), 2),
        "p99": round(float(p99), 2),
        "non200": int(non200),
        "errors": int(errors),
    }
