"""python manage.py bench_browser: what `make bench-browser` runs.

Seeds the demo at --scale (1 by default: the demo's own size) into a dedicated database unless
it is there, serves it with gunicorn on loopback in production settings (static files hashed,
compressed and cached for a year, as the demo and a deployment serve them), and opens pages
in Debian's Chromium through Playwright as a signed-in executive would:

- cold: a fresh browser profile (nothing cached) going to the page from another page of the
  app (one that loads nothing else), as a first click through it does;
- warm: the same profile going to it again, as on the next visit.

For each page it prints the median time to the load event (the page drawn, its scripts run)
and the bytes that crossed the wire (the page and everything it loaded), over --repeat
openings. The health check is the reference: the stack's floor in the same run. The last line
is one JSON object with every figure and whether the scorecard met its goals.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from bench.helpers import (
    bench_database_ensure,
    bench_demo_published,
    bench_redis_url,
    free_port,
    production_env_with_static,
    session_cookies,
    wait_until_up,
)

CHROMIUM = Path("/usr/bin/chromium")
# The published scorecard's goals (issue: "the scorecard draws at once").
GOALS = {
    "scorecard_cold_ms": ("<=", 500.0),
    "scorecard_cold_kb": ("<=", 300.0),
    "scorecard_warm_ms": ("<=", 200.0),
}
# What the page's navigation and resource timings say: the load event's time from the
# navigation's start, and the bytes transferred (0 for what came from the browser's cache).
TIMING_JS = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const resources = performance.getEntriesByType("resource");
  const bytes = resources.reduce((sum, r) => sum + r.transferSize, nav.transferSize);
  return {load_ms: nav.loadEventEnd - nav.startTime, bytes: bytes,
          requests: 1 + resources.length, status: nav.responseStatus || 0};
}"""


class Command(BaseCommand):
    help = "Time pages to their load event in Chromium, cold and warm, with bytes transferred."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--scale", type=float, default=1.0)
        parser.add_argument("--repeat", type=int, default=5, help="Openings per page and state.")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers.")

    def handle(self, *args, scale: float, repeat: int, workers: int, **options) -> None:
        name = settings.DATABASES["default"]["NAME"]
        if "bench" not in name:
            raise CommandError(
                f"Refusing to benchmark database {name!r}: the benchmark seeds it. Point "
                "DATABASE_URL at a database whose name contains 'bench'."
            )
        bench_database_ensure(name, say=self._say)
        call_command("migrate", interactive=False, verbosity=0)
        bench_demo_published(scale, say=self._say)
        env = production_env_with_static(redis_url=bench_redis_url())
        session = session_cookies(env["SECRET_KEY"], ["exec"])["exec"]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "revops.wsgi",
             "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
            cwd=settings.BASE_DIR, env=env,
        )  # fmt: skip
        try:
            wait_until_up(f"{base}/healthz")
            pages = self._measure(base, session, repeat)
        finally:
            server.terminate()
            server.wait(timeout=30)
        self._report(pages, scale=scale, repeat=repeat)

    def _say(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def _pages(self) -> dict[str, str]:
        from revops.weeks import IsoWeek

        week = IsoWeek.last_completed().label
        return {
            "healthz": "/healthz",
            "scorecard": f"/scorecard/{week}/",
            "metric_trend": f"/scorecard/{week}/mqls/",
            "records_list": f"/scorecard/{week}/mqls/records/",
        }

    def _measure(self, base: str, session: str, repeat: int) -> dict[str, dict]:
        from playwright.sync_api import sync_playwright

        pages = self._pages()
        figures: dict[str, dict] = {}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM) if CHROMIUM.exists() else None,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync", "--no-first-run"],
            )  # fmt: skip
            try:
                # One opening of each page before timing: gunicorn's workers and the app's
                # caches are warm, so "cold" is the browser's cache alone.
                self._open(browser, base, session, list(pages.values()), times=1)
                for key, path in pages.items():
                    cold, warm = [], []
                    for _ in range(repeat):
                        first, again = self._open(browser, base, session, [path], times=2)
                        cold.append(first)
                        warm.append(again)
                    figures[key] = {"path": path, "cold": _median(cold), "warm": _median(warm)}
            finally:
                browser.close()
        return figures

    def _open(self, browser, base: str, session: str, paths: list[str], *, times: int) -> list:
        """Open each of `paths` `times` times in one fresh profile; the timing of each."""
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
        page = context.new_page()
        found = []
        try:
            for path in paths:
                for _ in range(times):
                    # From another page of the app each time, as a person clicks through it:
                    # a plain navigation (never a reload, which would revalidate what the
                    # cache holds) that stays in the site's renderer. The page it starts from
                    # loads nothing else, so "cold" stays cold.
                    page.goto(f"{base}/healthz?from=bench")
                    page.goto(base + path, wait_until="load")
                    if page.url != base + path:
                        raise CommandError(f"{path} ended at {page.url}: not signed in?")
                    found.append(page.evaluate(TIMING_JS))
        finally:
            context.close()
        return found

    def _report(self, pages: dict[str, dict], *, scale: float, repeat: int) -> None:
        self._say(
            f"\nChromium, median of {repeat} openings each (cold: empty cache; warm: again)\n"
            f"{'page':14} {'cold ms':>8} {'cold KB':>8} {'requests':>9} {'warm ms':>8} "
            f"{'warm KB':>8}"
        )
        for key, found in pages.items():
            cold, warm = found["cold"], found["warm"]
            self._say(
                f"{key:14} {cold['load_ms']:8.0f} {cold['kb']:8.1f} {cold['requests']:9d} "
                f"{warm['load_ms']:8.0f} {warm['kb']:8.1f}"
            )
        scorecard = pages["scorecard"]
        figures = {
            "scorecard_cold_ms": scorecard["cold"]["load_ms"],
            "scorecard_cold_kb": scorecard["cold"]["kb"],
            "scorecard_warm_ms": scorecard["warm"]["load_ms"],
        }
        goals_met = {
            key: (value <= bound if op == "<=" else value >= bound)
            for key, (op, bound) in GOALS.items()
            for value in [figures[key]]
        }
        self._say(
            "Goals: "
            + "; ".join(
                f"{key} {figures[key]:.0f} {op} {bound:.0f} "
                + ("met" if goals_met[key] else "NOT met")
                for key, (op, bound) in GOALS.items()
            )
        )
        result = {
            "scale": scale,
            "repeat": repeat,
            "load_average": [round(load, 2) for load in os.getloadavg()],
            **figures,
            "pages": pages,
            "goals_met": goals_met,
        }
        self.stdout.write(json.dumps(result))


def _median(openings: list[dict]) -> dict:
    return {
        "load_ms": round(statistics.median(o["load_ms"] for o in openings), 1),
        "kb": round(statistics.median(o["bytes"] for o in openings) / 1024, 1),
        "requests": int(statistics.median(o["requests"] for o in openings)),
    }
