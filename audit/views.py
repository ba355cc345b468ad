"""The audit log page: ops staff read every change made to the data people edit."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from audit import selectors
from audit.filters import AuditEventFilter
from revops.permissions import require

PAGE_SIZE = 50


@require_safe
@require("audit.view")
def event_list(request: HttpRequest) -> HttpResponse:
    filterset = AuditEventFilter(request.GET or None, queryset=selectors.event_list())
    # An invalid filter (a date that is not one) shows its error above an empty table.
    invalid = filterset.is_bound and not filterset.is_valid()
    events = selectors.event_list().none() if invalid else filterset.qs
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/event_list.html",
        {
            "filter": filterset,
            "page": page,
            "rows": selectors.event_rows(page),
            "query": query.urlencode(),
        },
    )
