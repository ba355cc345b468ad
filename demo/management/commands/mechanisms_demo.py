"""python manage.py mechanisms_demo: what `make demo` runs after scorecard_demo, so the
mechanism pages open on five real-shaped mechanisms with no extra step."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from demo.mechanisms import mechanisms_demo_ensure


class Command(BaseCommand):
    help = (
        "Seed the demo's mechanisms (Lead Capture, Lead Routing, MQL hand-off SLA, Weekly "
        "scorecard review, Data dispute resolution) with goals, links, log and actions. Safe to "
        "run twice; never overwrites a mechanism that exists."
    )

    def handle(self, *args, **options) -> None:
        result = mechanisms_demo_ensure()
        self.stdout.write(
            self.style.SUCCESS(
                f"Mechanisms ready: {len(result.created)} created"
                + (f", {len(result.skipped)} already there" if result.skipped else "")
                + "."
            )
        )
