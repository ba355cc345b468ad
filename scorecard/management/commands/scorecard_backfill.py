"""python manage.py scorecard_backfill [--weeks 104]"""

from __future__ import annotations

import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from scorecard.services.snapshots import scorecard_backfill


class Command(BaseCommand):
    help = (
        "Publish the scorecard of every completed week up to last week that is not published "
        "yet, computed in one pass. Published weeks are left exactly as they are."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--weeks", type=int, default=104, help="How far back (default 104).")

    def handle(self, *args, weeks: int, **options) -> None:
        started = time.monotonic()
        try:
            result = scorecard_backfill(weeks=weeks)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        took = time.monotonic() - started
        if result.published:
            first, last = result.published[0], result.published[-1]
            self.stdout.write(
                self.style.SUCCESS(
                    f"Published {len(result.published)} weeks ({first.label} to {last.label}) "
                    f"in {took:.2f} s."
                )
            )
        else:
            self.stdout.write(f"Nothing to publish ({took:.2f} s).")
        if result.skipped:
            self.stdout.write(f"Left {len(result.skipped)} already published weeks as they were.")
