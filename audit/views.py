"""The audit log page: ops staff read every change made to the data people edit."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from audit import selectors
from audit.filters import AuditEventFilter
from revops.lists import filtered_page
from revops.permissions import require

PAGE_SIZE = 50


@require_safe
@require("audit.view")
def event_list(request: HttpRequest) -> HttpResponse:
    listing = filtered_page(request, AuditEventFilter, selectors.event_list(), PAGE_SIZE)
    return render(
        request,
        "audit/event_list.html",
        {**listing.context, "rows": selectors.event_rows(listing.page)},
    )
