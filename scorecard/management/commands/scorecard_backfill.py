"""python manage.py scorecard_backfill [--weeks 104 | --since YYYY-MM-DD | --all]"""

from __future__ import annotations

import argparse
import time
from datetime import date

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from scorecard.services.snapshots import (
    backfill_weeks_all,
    backfill_weeks_since,
    scorecard_backfill,
)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2017-01-01") from None


class Command(BaseCommand):
    help = (
        "Publish the scorecard of every completed week up to last week that is not published "
        "yet, computed in one pass. Published weeks are left exactly as they are."
    )

    def add_arguments(self, parser) -> None:
        reach = parser.add_mutually_exclusive_group()
        reach.add_argument("--weeks", type=int, default=104, help="How far back (default 104).")
        reach.add_argument(
            "--since", type=_day, help="Back to the week of this date, e.g. 2017-01-01."
        )
        reach.add_argument("--all", action="store_true", help="Back to the oldest record's week.")

    def handle(self, *args, weeks: int, since: date | None, all: bool, **options) -> None:
        started = time.monotonic()
        try:
            if since is not None:
                weeks = backfill_weeks_since(since)
            elif all:
                weeks = backfill_weeks_all()
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
