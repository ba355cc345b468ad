"""List pages: filter a queryset with the app's FilterSet (the one its API uses), then page it.

Every list page reads the same way: the filter form above the table, an invalid filter's
error above an empty table, and pager links that keep the filter (`_pagination.html`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict
from django_filters import FilterSet


@dataclass(frozen=True)
class FilteredPage:
    """One page of a filtered list, with what the list templates read."""

    filter: FilterSet
    page: Page
    query: str  # the request's query string without `page`, for the pager's links

    @property
    def context(self) -> dict[str, Any]:
        return {"filter": self.filter, "page": self.page, "query": self.query}


def filtered_rows(
    filterset_class: type[FilterSet], queryset: QuerySet, data: QueryDict | None
) -> tuple[FilterSet, QuerySet]:
    """The filter bound to `data` (unbound when it is empty) and the rows it keeps. An invalid
    filter (a date like 2024-13-40) keeps no rows, so its error shows above an empty table."""
    filterset = filterset_class(data or None, queryset=queryset)
    rows = queryset.none() if filterset.is_bound and not filterset.is_valid() else filterset.qs
    return filterset, rows


def page_of(request: HttpRequest, rows: QuerySet, per_page: int) -> tuple[Page, str]:
    """The page of `rows` the request asks for (`?page=`), and the request's query string
    without `page`."""
    page = Paginator(rows, per_page).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


def filtered_page(
    request: HttpRequest,
    filterset_class: type[FilterSet],
    queryset: QuerySet,
    per_page: int,
    *,
    data: QueryDict | None = None,
) -> FilteredPage:
    """Filter `queryset` by the request's query string (or `data`, e.g. a default filter) and
    return the requested page."""
    filterset, rows = filtered_rows(
        filterset_class, queryset, request.GET if data is None else data
    )
    page, query = page_of(request, rows, per_page)
    return FilteredPage(filter=filterset, page=page, query=query)
