"""List pages: filter a queryset with the app's FilterSet (the one its API uses), then page it.

Every list page reads the same way: the filter form above the table, an invalid filter's
error above an empty table, and pager links that keep the filter (`_pagination.html`).

Pages are keyset pages: "Next" carries the sort values of the page's last row (`?after=`),
"Previous" those of its first (`?before=`), so page 200 costs what page 1 does (an index range
scan, no OFFSET) and the total is counted only up to COUNT_CAP rows. A list whose order a
keyset cannot follow (an order through a relation, an expression) is paged by number
(`?page=`), as are old links that carry one."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import OrderBy
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


# Totals are counted up to here ("10,000+ records"): an exact count of a million rows would
# cost more than the page.
COUNT_CAP = 10_000


@dataclass(frozen=True)
class SortKey:
    name: str  # the model field's attribute name
    descending: bool
    nulls_first: bool

    def reversed(self) -> SortKey:
        return SortKey(self.name, not self.descending, not self.nulls_first)

    def order_by(self) -> OrderBy:
        nulls = {"nulls_first": True} if self.nulls_first else {"nulls_last": True}
        return F(self.name).desc(**nulls) if self.descending else F(self.name).asc(**nulls)

    def after(self, value: object) -> Q:
        """Rows that come strictly after `value` in this key's order."""
        if value is None:
            return Q(**{f"{self.name}__isnull": False}) if self.nulls_first else Q(pk__in=[])
        beyond = Q(**{f"{self.name}__{'lt' if self.descending else 'gt'}": value})
        return beyond | Q(**{f"{self.name}__isnull": True}) if not self.nulls_first else beyond

    def at_or_after(self, value: object) -> Q | None:
        """`value` or beyond it on this key alone: one range an index on the key answers. It
        holds every row after `value` only when no NULL comes after it (a non-null column, or
        NULLs sorted first); the caller checks."""
        if value is None:
            return None
        return Q(**{f"{self.name}__{'lte' if self.descending else 'gte'}": value})

    def equal(self, value: object) -> Q:
        return Q(**{f"{self.name}__isnull": True}) if value is None else Q(**{self.name: value})


@dataclass
class KeysetPage:
    """One keyset page, read by `_pagination.html` and the list templates like a Page."""

    object_list: list
    count: int
    count_capped: bool
    next_cursor: str = ""
    previous_cursor: str = ""
    lost: bool = False  # the cursor pointed past the list's end: offer its first page
    is_keyset: bool = field(default=True, init=False)

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    def has_next(self) -> bool:
        return bool(self.next_cursor)

    def has_previous(self) -> bool:
        return bool(self.previous_cursor)

    def has_other_pages(self) -> bool:
        return self.has_next() or self.has_previous()


def sort_keys(rows: QuerySet) -> list[SortKey] | None:
    """The queryset's order as keys a keyset can follow (local fields, id last), or None."""
    model = rows.model
    ordering = list(rows.query.order_by) or (
        list(model._meta.ordering) if rows.query.default_ordering else []
    )
    keys: list[SortKey] = []
    for item in ordering:
        if isinstance(item, str):
            name, descending, nulls = item.lstrip("-"), item.startswith("-"), None
        elif isinstance(item, OrderBy) and isinstance(item.expression, F):
            name, descending = item.expression.name, item.descending
            nulls = True if item.nulls_first else False if item.nulls_last else None
        else:
            return None
        if name == "pk":
            name = model._meta.pk.name
        try:
            model_field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        if model_field.is_relation or not model_field.concrete:
            return None
        # PostgreSQL's default: NULLs sort as larger than any value.
        nulls_first = descending if nulls is None else nulls
        keys.append(SortKey(model_field.attname, descending, nulls_first))
    pk = model._meta.pk.attname
    if not any(key.name == pk for key in keys):
        keys.append(SortKey(pk, False, False))
    return keys


def _cursor_value(value: object) -> object:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)  # Decimal, UUID: their fields parse them back


def _encode(keys: list[SortKey], row: object) -> str:
    values = [_cursor_value(getattr(row, key.name)) for key in keys]
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode(keys: list[SortKey], model, cursor: str) -> list | None:
    """The sort values a cursor carries, or None for one this list did not give out."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(values, list) or len(values) != len(keys):
        return None
    decoded = []
    for key, value in zip(keys, values, strict=True):
        if value is None:
            decoded.append(None)
            continue
        if not isinstance(value, (str, int, float, bool)) or "\x00" in str(value):
            return None
        model_field = next(f for f in model._meta.concrete_fields if f.attname == key.name)
        try:
            decoded.append(model_field.to_python(value))
        except (ValidationError, ValueError, TypeError):
            return None
    return decoded


def _beyond(keys: list[SortKey], values: list) -> Q:
    """Rows after `values` in the order of `keys`: after on the first key, or equal on it and
    after on the next, and so on."""
    condition = Q(pk__in=[])
    equal = Q()
    for key, value in zip(keys, values, strict=True):
        condition |= equal & key.after(value)
        equal &= key.equal(value)
    return condition


def keyset_page(rows: QuerySet, keys: list[SortKey], *, after: str, before: str,
                per_page: int) -> KeysetPage:  # fmt: skip
    model = rows.model
    cursor = after or before
    values = _decode(keys, model, cursor) if cursor else None
    # A cursor this list did not give out opens the first page, whichever way it pointed.
    backwards = values is not None and not after
    order = [key.reversed() for key in keys] if backwards else keys
    window = rows.order_by(*(key.order_by() for key in order))
    if values is not None:
        window = window.filter(_beyond(order, values))
        first = order[0]
        nullable = next(f for f in model._meta.concrete_fields if f.attname == first.name).null
        bound = first.at_or_after(values[0]) if first.nulls_first or not nullable else None
        if bound is not None:  # redundant, but it lets the index on the first key find the page
            window = window.filter(bound)
    found = list(window[: per_page + 1])
    more = len(found) > per_page
    found = found[:per_page]
    if backwards:
        found.reverse()
    counted = rows.order_by()[: COUNT_CAP + 1].count()
    page = KeysetPage(found, min(counted, COUNT_CAP), counted > COUNT_CAP)
    if not found:
        # Past the end (or before the start) of a list that changed: the pager offers the
        # first page.
        page.lost = values is not None
        return page
    # Forwards there is a previous page when we came from one and a next one when more rows
    # follow; backwards, the other way round (the page we came from is always next).
    has_previous = more if backwards else values is not None
    has_next = True if backwards else more
    page.previous_cursor = _encode(keys, found[0]) if has_previous else ""
    page.next_cursor = _encode(keys, found[-1]) if has_next else ""
    return page


def page_of(request: HttpRequest, rows: QuerySet, per_page: int) -> tuple[Page | KeysetPage, str]:
    """The page of `rows` the request asks for (`?after=` / `?before=`, or an old `?page=`),
    and the request's query string without them."""
    query = request.GET.copy()
    for name in ("page", "after", "before"):
        query.pop(name, None)
    keys = sort_keys(rows)
    if keys is None or "page" in request.GET:
        return Paginator(rows, per_page).get_page(request.GET.get("page")), query.urlencode()
    page = keyset_page(
        rows,
        keys,
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
        per_page=per_page,
    )
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
