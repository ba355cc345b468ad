"""What a serving process loads once at start-up rather than on a request (revops/wsgi.py)."""

from __future__ import annotations

import logging

from django.template import engines
from django.template.loader import get_template
from django.urls import get_resolver

logger = logging.getLogger(__name__)

# The templates put around a cached page on each request (scorecard/rendering.py) and the
# page shell every other page extends.
HOT_TEMPLATES = ("base.html", "_topbar_user.html", "scorecard/_footer_notes.html")


def process_warm() -> None:
    """Load the template engines and their tag libraries, compile HOT_TEMPLATES and build
    the URL resolver's reverse lookup. Never fails start-up: a template that cannot load is
    logged and found again by the request that needs it."""
    engines.all()  # each backend loads its tag libraries as it is built
    for name in HOT_TEMPLATES:
        try:
            get_template(name)
        except Exception:
            logger.exception("Could not load template %s at start-up", name)
    get_resolver().reverse_dict  # noqa: B018  (reading it builds every reverse lookup)
