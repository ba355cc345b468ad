"""python manage.py reconcile [--weeks N | --since YYYY-MM-DD | --all]"""

from __future__ import annotations

import argparse
from datetime import date

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from pipeline.choices import ReconciliationTrigger, RunStatus
from pipeline.services.reconciliation import (
    DEFAULT_WEEKS,
    MAX_WEEKS,
    reconciliation_run_now,
    reconciliation_weeks_all,
    reconciliation_weeks_since,
)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2017-01-01") from None


class Command(BaseCommand):
    help = (
        "Reconcile the marketing system with the sales system now, in this process: record "
        "the discrepancies and the weekly metric bridges. Refuses while another run holds "
        "the lock."
    )

    def add_arguments(self, parser) -> None:
        reach = parser.add_mutually_exclusive_group()
        reach.add_argument(
            "--weeks",
            type=int,
            default=DEFAULT_WEEKS,
            help=f"ISO weeks of metric bridges, up to the current one (1–{MAX_WEEKS}, "
            f"default {DEFAULT_WEEKS}).",
        )
        reach.add_argument(
            "--since",
            type=_day,
            help="Reach back to the week of this date, e.g. 2017-01-01.",
        )
        reach.add_argument(
            "--all",
            action="store_true",
            help="Reach back to the oldest record of the two systems.",
        )

    def handle(self, *args, weeks: int, since: date | None, all: bool, **options) -> None:
        try:
            if since is not None:
                weeks = reconciliation_weeks_since(since)
            elif all:
                weeks = reconciliation_weeks_all()
            run = reconciliation_run_now(trigger=ReconciliationTrigger.COMMAND, weeks=weeks)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        if run.status != RunStatus.COMPLETED:
            raise CommandError(f"Run #{run.pk} {run.get_status_display().lower()}: {run.message}")
        took = run.duration.total_seconds() if run.duration else 0
        self.stdout.write(
            f"  compared {run.compared.get('lead.marketing', 0)} {run.marketing_system} leads "
            f"with {run.compared.get('lead.sales', 0)} {run.sales_system} leads, "
            f"{run.compared.get('deal.marketing', 0)} deals with "
            f"{run.compared.get('deal.sales', 0)}"
        )
        for kind, count in sorted(run.counts.items()):
            self.stdout.write(f"  {kind:<32} {count:>8}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Run #{run.pk} completed in {took:.1f} s: {run.open_count} open discrepancies "
                f"({run.new_count} new, {run.resolved_count} resolved), bridges for "
                f"{run.weeks} weeks."
            )
        )
