"""The demo, seeded small, for tests that need a whole company: two years of records at
scale 0.02, reconciled, a few weeks published, its mechanisms and its disputes."""

from __future__ import annotations

import io

from django.core.management import call_command


def seed_small_demo(*, weeks: int = 3, reconcile: bool = True, extras: bool = True) -> None:
    out = io.StringIO()
    call_command("seed_demo", scale=0.02, stdout=out)
    if reconcile:
        call_command("reconcile", stdout=out)
    call_command("scorecard_demo", scale=0.02, weeks=weeks, stdout=out)
    if extras:
        call_command("mechanisms_demo", stdout=out)
        call_command("disputes_demo", stdout=out)
