"""What mechanisms add to other apps' pages through revops.hooks."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from revops.hooks import FooterNote
from revops.permissions import can


def overdue_inspections_note(request: HttpRequest, count: int) -> FooterNote | None:
    """The scorecard footer's line on mechanisms: how many are overdue for inspection (one
    count, `count`: what selectors.overdue_inspection_query read), linking to that list."""
    if not can(request.user, "mechanisms.view"):
        return None
    if count == 0:
        return FooterNote(
            "Mechanisms: every active mechanism has been inspected on time.",
            reverse("mechanisms:mechanism-list") + "?status=active",
            "good",
        )
    noun = "mechanism is" if count == 1 else "mechanisms are"
    return FooterNote(
        f"{count} {noun} overdue for inspection.",
        reverse("mechanisms:mechanism-list") + "?overdue=true",
        "warning",
    )
