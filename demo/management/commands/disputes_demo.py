"""python manage.py disputes_demo: what `make demo` runs after mechanisms_demo, so the dispute
pages and the scorecard's disputed mark show with no extra step."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from demo.disputes import disputes_demo_ensure


class Command(BaseCommand):
    help = "Seed the demo's disputes (open, overdue, accepted, rejected, withdrawn). Safe to rerun."

    def handle(self, *args, **options) -> None:
        result = disputes_demo_ensure()
        self.stdout.write(
            self.style.SUCCESS(
                f"Disputes ready: {len(result.created)} created"
                + (f", {len(result.skipped)} already there" if result.skipped else "")
                + "."
            )
        )
