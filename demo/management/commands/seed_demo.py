"""python manage.py seed_demo [--scale N] [--seed S] [--today YYYY-MM-DD]"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from demo.pipeline import DemoLoadError, demo_load, demo_users_ensure
from pipeline.models import Account, ArrChange, Deal, Lead

DEMO_PASSWORD = "revops-demo"


class Command(BaseCommand):
    help = (
        "Build a deterministic two-year demo history: HubSpot, Salesforce and Gainsight exports "
        "with realistic disagreements, written as CSV and imported through the importer, and "
        "one demo user per role. Safe to run twice."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="1 ≈ 20,000 leads, 2,700 deals, 450 customers (default 1).",
        )
        parser.add_argument("--seed", type=int, default=7, help="Random seed (default 7).")
        parser.add_argument(
            "--today",
            type=date.fromisoformat,
            default=None,
            help="The history runs up to the start of this day (default: today).",
        )
        parser.add_argument(
            "--password",
            default=DEMO_PASSWORD,
            help=f"Password of the demo users (default {DEMO_PASSWORD}).",
        )
        parser.add_argument(
            "--dir",
            type=Path,
            default=None,
            help="Where to write the export files (default var/demo, beside MEDIA_ROOT).",
        )

    def handle(
        self,
        *args,
        scale: float,
        seed: int,
        today: date | None,
        password: str,
        dir: Path | None,
        **options,
    ) -> None:  # noqa: A002 - the option's name
        if not 0 < scale <= 200:
            raise CommandError("--scale must be above 0 and at most 200")
        today = today or timezone.localdate()
        # Beside the uploads (var/demo by default): each test process has its own MEDIA_ROOT,
        # so two processes seeding at once never write the same files.
        directory = dir or Path(settings.MEDIA_ROOT).parent / "demo"
        started = time.monotonic()

        def report(batch) -> None:
            self.stdout.write(
                f"  {batch.system.slug:<11} {batch.object_type:<8} {batch.file_name:<30} "
                f"{batch.rows_created:>8} created {batch.rows_updated:>8} updated "
                f"{batch.rows_unchanged:>8} unchanged"
            )

        try:
            demo_load(scale=scale, seed=seed, today=today, directory=directory, progress=report)
        except DemoLoadError as exc:
            raise CommandError(str(exc)) from None
        users = demo_users_ensure(password)
        took = time.monotonic() - started
        self.stdout.write(
            f"  golden: {Lead.objects.count():,} leads, {Account.objects.count():,} accounts, "
            f"{Deal.objects.count():,} deals, {ArrChange.objects.count():,} ARR changes"
        )
        self.stdout.write(self.style.SUCCESS(f"Demo data up to {today} ready in {took:.1f} s."))
        self.stdout.write(f"Sign in at http://127.0.0.1:8000/ with (password: {password}):")
        for username, description in users:
            self.stdout.write(f"  {username:<10} {description}")
