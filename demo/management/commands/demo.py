"""python manage.py demo: migrate, seed the demo, reconcile it, publish its scorecard history,
seed its mechanisms and disputes and serve it — what `make demo` runs.

Holds an exclusive lock for as long as it serves, so a second `make demo` says one is already
running instead of migrating and seeding under the first one's feet.

The seeding sends the e-mails the product sends (dispute notifications, the scorecard digest).
With the default console backend they would scroll the sign-ins off the screen, so they are
written to var/demo-mail/ instead, one .eml file each, and the last lines before serving are
the sign-ins, the password and the address."""

from __future__ import annotations

import fcntl
import os
import re
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings

from demo.management.commands.seed_demo import DEMO_PASSWORD
from demo.pipeline import demo_users_describe

CONSOLE_BACKEND = "django.core.mail.backends.console.EmailBackend"


@contextmanager
def mail_to_files(directory: Path):
    """While seeding, e-mail the console would print is kept and written to `directory`, one
    .eml per message; yields the list of files written (filled in on exit). Any other backend
    (EMAIL_URL set to a real server or a catcher) is left alone."""
    written: list[Path] = []
    if settings.EMAIL_BACKEND != CONSOLE_BACKEND:
        yield written
        return
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        mail.outbox = []
        try:
            yield written
        finally:
            directory.mkdir(parents=True, exist_ok=True)
            for old in directory.glob("*.eml"):
                old.unlink()
            for number, message in enumerate(mail.outbox, start=1):
                slug = re.sub(r"[^a-z0-9]+", "-", message.subject.lower()).strip("-")[:60]
                path = directory / f"{number:03d}-{slug}.eml"
                path.write_bytes(message.message().as_bytes())
                written.append(path)
            mail.outbox = []


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
        if settings.STATIC_MANIFEST:
            # Hashed, compressed copies for WhiteNoise, which reads them when serving starts.
            # Before seeding: publishing the demo's weeks renders their pages, whose links
            # name the hashed files (on a fresh checkout there is no manifest until this runs).
            call_command("collectstatic", interactive=False, verbosity=0)
        mail_dir = Path(settings.BASE_DIR) / "var" / "demo-mail"
        with mail_to_files(mail_dir) as mails:
            call_command("seed_demo", scale=scale, password=DEMO_PASSWORD)
            # The demo's systems disagree on purpose: reconcile them so the pages show why.
            call_command("reconcile")
            # Targets, the example email metrics and two years of published weeks, so the
            # scorecard opens on history with no extra step.
            call_command("scorecard_demo", scale=scale, weeks=104)
            # The company's documented processes, their goals on those metrics and links.
            call_command("mechanisms_demo")
            # Disputes in every state, one open on last week's MQLs so the disputed mark shows.
            call_command("disputes_demo")
        if mails:
            where = os.path.relpath(mail_dir, settings.BASE_DIR)
            self.stdout.write(f"{len(mails)} demo e-mails written to {where}/ (not sent).")
        url = f"http://{addrport}/"
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Sign in at {url} with password {DEMO_PASSWORD}:"))
        for username, description in demo_users_describe():
            self.stdout.write(f"  {username:<10} {description}")
        if no_serve:
            return
        self.stdout.write(self.style.SUCCESS(f"Serving on {url} — Ctrl-C to stop."))
        # No autoreloader: its child process would re-run this command and find the lock taken.
        # With collected files WhiteNoise serves them (runserver's own handler knows no hashes).
        call_command(
            "runserver",
            addrport,
            use_reloader=False,
            use_static_handler=not settings.STATIC_MANIFEST,
        )
