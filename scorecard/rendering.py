"""What the published scorecard's cache holds, built once per stamp: the page without its
per-user parts, the print view and the week's JSON. The views serve these (scorecard/views.py,
scorecard/api/views.py) and the warming task fills them after a publish, so the first reader
in every worker is served as fast as the thousandth."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe

from pipeline import dimensions
from pipeline.dimensions import COMPANY, Slice
from revops.build import build_version
from revops.context_processors import navigation
from revops.weeks import IsoWeek
from scorecard import restatements, selectors
from scorecard.caching import (
    FOOTER_SLOT,
    TOPBAR_SLOT,
    process_cached,
    week_cached,
    week_stamp,
)
from scorecard.charts import sparkline_svg
from scorecard.forms import PublishForm

PRINT_TREND_WEEKS = 2
# Where a cached page's sign-out form takes this request's CSRF token (safe in an attribute).
CSRF_SLOT = "csrf-token-slot-7d1f0c"
JSON_TREND_WEEKS = 2


def slice_query(slice: Slice) -> str:
    """The query string naming `slice` ("?region=EMEA&team=Enterprise"), or ""."""
    return f"?{urlencode(slice.query)}" if slice else ""


def link_rows(card: selectors.ScorecardWeek) -> None:
    """Each row's links, built from one reverse() rather than two per row; a slice's rows
    link to the slice's trend and records."""
    base = reverse("scorecard:week", args=[card.week])
    query = slice_query(card.slice)
    for row in card.rows:
        row.page_url = f"{base}{row.metric.key}/{query}"
        row.records_url = f"{base}{row.metric.key}/records/{query}"


# The dimensions the scorecard's "Narrow to" form offers, and how many values each lists.
NARROW_BY = ("region", "team", "segment", "product", "channel", "manager", "office", "country",
             "industry", "owner")  # fmt: skip
NARROW_VALUES = 200


def narrow_choices(slice: Slice) -> list[dict]:
    """Each dimension of the "Narrow to" form with its values and the one chosen, for the
    dimensions that have values."""
    chosen = slice.query
    out = []
    for key in NARROW_BY:
        dimension = dimensions.BY_KEY[key]
        values = dimensions.values_of(dimension)[:NARROW_VALUES]
        if values or key in chosen:
            out.append(
                {"key": key, "label": dimension.label, "values": values, "chosen": chosen.get(key)}
            )
    return out


def week_body(
    week: IsoWeek, *, can_publish: bool = False, request=None, slice: Slice = COMPANY
) -> tuple[str, bool]:
    """The scorecard of `week` as HTML (the page's main part), and whether it may be cached
    (no live value in it). The publish form is there only for those who may publish, and
    only on the company's page (publishing freezes the company's numbers)."""
    card = selectors.scorecard_week(week, slice=slice)
    can_publish = can_publish and not slice
    link_rows(card)
    current = IsoWeek.current()
    for row in card.rows:
        row.spark = sparkline_svg(row.trend, unit=row.metric.unit)
    # Publishers see what a republish would change now, computed for the request.
    preview = restatements.week_restatement(week) if can_publish and card.snapshot else None
    body = render_to_string(
        "scorecard/_week_body.html",
        {
            "card": card,
            "previous_week": week.shift(-1),
            "next_week": week.shift(1) if week < current else None,
            "latest_week": IsoWeek.last_completed(),
            "can_publish": can_publish,
            "publish_form": PublishForm() if can_publish else None,
            "preview": preview,
            "preview_rows": restatements.preview_rows(preview) if preview else [],
            "pending_count": len(preview.moved) if preview else len(card.pending),
            "narrow": narrow_choices(slice),
            "slice": slice,
            "frozen_dimensions": ", ".join(
                dimensions.BY_KEY[k].label.lower()
                for k in settings.SCORECARD_FROZEN_DIMENSIONS
                if k in dimensions.BY_KEY
            ),
        },
        request=request,
    )
    return body, not card.has_live_values


def week_page_shell(week: IsoWeek) -> tuple[str, bool]:
    """The whole page for a reader who may not publish, with empty slots where each request
    puts its own navigation and footer notes (caching.TOPBAR_SLOT, FOOTER_SLOT)."""
    body, cacheable = week_body(week)
    page = render_to_string(
        "scorecard/scorecard_week.html", {"week": week, "body": mark_safe(body), "shell": True}
    )
    return page, cacheable


def week_page_shell_cached(week: IsoWeek, stamp: str | None | bool = False) -> tuple[str, bool]:
    return week_cached(
        "week-page", week, selectors.TREND_WEEKS, lambda: week_page_shell(week), stamp=stamp
    )


def week_page_for(request, week: IsoWeek, *, stamp: str, reader: tuple, notes) -> tuple[str, bool]:
    """The published page as this reader sees it: the shell (cached per stamp) with their
    navigation and the footer's notes in its slots and this request's CSRF token in the
    sign-out form. The reader's parts do not depend on the week, so each process keeps them
    per `reader` (who they are: caching.reader_identity) and notes, and a republish costs the
    next request nothing but the new shell. Returns the page and whether it was cacheable (no
    live value in it)."""
    shell, cacheable = week_page_shell_cached(week, stamp=stamp)
    topbar, footer = process_cached(
        ("reader-parts", build_version(), reader, tuple(notes)),
        lambda: (
            render_to_string(
                "_topbar_user.html",
                {**navigation(request), "user": request.user, "csrf_token": CSRF_SLOT},
            ),
            render_to_string("scorecard/_footer_notes.html", {"footer_notes": notes}),
        ),
    )
    page = shell.replace(TOPBAR_SLOT, topbar, 1).replace(FOOTER_SLOT, footer, 1)
    return page.replace(CSRF_SLOT, get_token(request)), cacheable


def week_json(week: IsoWeek, slice: Slice = COMPANY) -> tuple[bytes, bool]:
    """The week's scorecard (the slice's, with one) as the API's JSON, encoded once."""
    from scorecard.api.views import week_payload  # the API owns its payload's shape

    card = selectors.scorecard_week(week, trend_weeks=JSON_TREND_WEEKS, slice=slice)
    payload = json.dumps(
        week_payload(card), cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":")
    )
    return payload.encode(), not card.has_live_values


def week_json_cached(week: IsoWeek, stamp: str | None | bool = False) -> tuple[bytes, bool]:
    return week_cached("week-json", week, JSON_TREND_WEEKS, lambda: week_json(week), stamp=stamp)


def week_print(week: IsoWeek, origin: str, printed_at) -> tuple[str, bool]:
    """The print view; `origin` (scheme and host) is where its definitions link points."""
    card = selectors.scorecard_week(week, trend_weeks=PRINT_TREND_WEEKS)
    html = render_to_string(
        "scorecard/scorecard_print.html",
        {"card": card, "printed_at": printed_at, "origin": origin},
    )
    return html, not card.has_live_values


def week_warm(week: IsoWeek) -> bool:
    """Render a published week's page and JSON into the shared cache (after a publish or a
    republish), so no reader pays for it. False when the week is not cacheable yet."""
    page_stamp = week_stamp(week, selectors.TREND_WEEKS)
    json_stamp = week_stamp(week, JSON_TREND_WEEKS)
    warmed = False
    if page_stamp is not None:
        warmed |= week_page_shell_cached(week, stamp=page_stamp)[1]
    if json_stamp is not None:
        warmed |= week_json_cached(week, stamp=json_stamp)[1]
    return warmed
