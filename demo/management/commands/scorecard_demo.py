"""python manage.py scorecard_demo [--scale N] [--weeks 104]: what `make demo` runs after
seed_demo, so the scorecard opens on published history with no extra step."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from demo.scorecard import scorecard_demo_ensure


class Command(BaseCommand):
    help = (
        "Give the demo's scorecard a plan of targets and an imported email series, then "
        "publish its history. Safe to run twice; never overwrites what ops changed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--scale", type=float, default=1.0, help="As given to seed_demo.")
        parser.add_argument("--weeks", type=int, default=104, help="History to publish.")

    def handle(self, *args, scale: float, weeks: int, **options) -> None:
        if not 0 < scale <= 200:
            raise CommandError("--scale must be above 0 and at most 200")
        started = time.monotonic()
        result = scorecard_demo_ensure(scale=scale, weeks=weeks)
        took = time.monotonic() - started
        published = result.backfill.published
        self.stdout.write(
            self.style.SUCCESS(
                f"Scorecard ready in {took:.1f} s: {result.targets_created} targets set, "
                f"{len(published)} weeks published"
                + (f" ({published[0].label} to {published[-1].label})" if published else "")
                + (
                    f", {len(result.backfill.skipped)} already published"
                    if result.backfill.skipped
                    else ""
                )
                + "."
            )
        )
