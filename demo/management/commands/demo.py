"""python manage.py demo: migrate, seed the demo, reconcile it, publish its scorecard history,
seed its mechanisms and disputes and serve it — what `make demo` runs.

Holds an exclusive lock for as long as it serves, so a second `make demo` says one is already
running instead of migrating and seeding under the first one's feet."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Migrate, seed the demo data and serve the app on http://127.0.0.1:8000."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--addrport", default="127.0.0.1:8000")
        parser.add_argument("--scale", type=float, default=1.0)
        parser.add_argument("--no-serve", action="store_true", help="Prepare the data and stop.")

    def handle(self, *args, addrport: str, scale: float, no_serve: bool, **options) -> None:
        lock_path = Path(settings.BASE_DIR) / "var" / "demo.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(lock_path, "a+")  # noqa: SIM115 - held open for the life of the process
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise CommandError(
                f"make demo is already running ({holder}); open http://{addrport}/ or stop it "
                "first. Nothing was changed."
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()}")
        lock.flush()

        call_command("migrate", interactive=False, verbosity=1)
        call_command("seed_demo", scale=scale)
        # The demo's systems disagree on purpose: reconcile them so the pages show why.
        call_command("reconcile")
        # Targets, the example email metrics and two years of published weeks, so the
        # scorecard opens on history with no extra step.
        call_command("scorecard_demo", scale=scale, weeks=104)
        # The company's documented processes, their goals on those metrics and their links.
        call_command("mechanisms_demo")
        # Disputes in every state, one open on last week's MQLs so the disputed mark shows.
        call_command("disputes_demo")
        if settings.STATIC_MANIFEST:
            # Hashed, compressed copies for WhiteNoise, which reads them when serving starts.
            call_command("collectstatic", interactive=False, verbosity=0)
        if no_serve:
            return
        self.stdout.write(self.style.SUCCESS(f"Serving on http://{addrport}/ — Ctrl-C to stop."))
        # No autoreloader: its child process would re-run this command and find the lock taken.
        # With collected files WhiteNoise serves them (runserver's own handler knows no hashes).
        call_command(
            "runserver",
            addrport,
            use_reloader=False,
            use_static_handler=not settings.STATIC_MANIFEST,
        )
