"""python manage.py bench_markdown: what `make bench-markdown` runs.

Renders each pathological shape (bench/markdown_shapes.py) at 2,500 to 20,000 characters (the
limit of one mechanism part) through `revops.markdown.render`, best of three, and reports
how time grows: linear means about 8x from the smallest to the largest size. A small ordinary
document is timed in the same run as the reference (these machines are noisy; ratios hold).
Each shape also says whether its largest size came out as the plain-text fallback (over the
length limit once cleaned, or past the render budget, `RENDER_BUDGET_S`): the headroom the
budget leaves. Pages show stored HTML (rendered on save), so these times are paid once per
save, not per view. The last line is one JSON object with the figures."""

from __future__ import annotations

import json
import time

from django.core.management.base import BaseCommand

from bench.markdown_shapes import SHAPES
from revops.markdown import RENDER_BUDGET_S, render, render_checked

SIZES = (2_500, 5_000, 10_000, 20_000)
REFERENCE = "**Speed** beats *perfect*.\n\n- one\n- two\n\n[scorecard](/scorecard/)\n" * 40


def best_of(text: str, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        render(text, budget=3600)  # the parser's own time, not cut short by the budget
        times.append(time.perf_counter() - start)
    return min(times)


class Command(BaseCommand):
    help = "Time Markdown rendering on pathological inputs at growing sizes."

    def handle(self, *args, **options) -> None:
        reference = best_of(REFERENCE)
        self.stdout.write(f"reference ({len(REFERENCE)} chars): {reference * 1000:.2f} ms")
        results = {}
        for name, make in SHAPES.items():
            seconds = [best_of(make(size)) for size in SIZES]
            growth = seconds[-1] / max(seconds[0], 1e-6)
            fallback = render_checked(make(SIZES[-1])).fallback
            results[name] = {
                "seconds": [round(s, 4) for s in seconds],
                "growth": round(growth, 1),
                "fallback_at_largest": fallback,
            }
            cells = " ".join(f"{s * 1000:8.1f}" for s in seconds)
            self.stdout.write(
                f"{name:22s} {cells} ms   x{growth:.1f} for x{SIZES[-1] // SIZES[0]}"
                + ("   (plain text at the largest)" if fallback else "")
            )
        worst = max(r["growth"] for r in results.values())
        summary = {
            "sizes": list(SIZES),
            "budget_s": RENDER_BUDGET_S,
            "reference_ms": round(reference * 1000, 3),
            "shapes": results,
            "worst_growth": worst,
            "slowest_s": max(max(r["seconds"]) for r in results.values()),
        }
        self.stdout.write(json.dumps(summary))
