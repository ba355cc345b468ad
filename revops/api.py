"""API plumbing shared by every app: errors as JSON, the same way everywhere."""

from __future__ import annotations

import datetime as dt

import django_filters as df
from django import forms
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.pagination import CursorPagination
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """DRF's handler, plus Django's ValidationError (raised by services) as a 400 with its
    messages, as in HackSoft's styleguide."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    return drf_exception_handler(exc, context)


class Cursor(CursorPagination):
    """Cursor pages (no COUNT over the table); `?page_size=` up to 1,000.

    A cursor is only ever one the API gave out: one that does not decode, or whose position
    does not fit the ordering's first field (a word where an id goes, a NUL byte), is the
    caller's mistake and a 400, never a query the database refuses (500)."""

    page_size_query_param = "page_size"
    max_page_size = 1000
    invalid_cursor_message = "Invalid cursor: use the `next` or `previous` link of a page as given."

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError({"cursor": [self.invalid_cursor_message]}) from None
        if cursor is not None and cursor.position is not None:
            self._check_position(cursor.position)
        return cursor

    def _check_position(self, position: str) -> None:
        ordering = self.ordering if isinstance(self.ordering, (list, tuple)) else [self.ordering]
        try:
            if "\x00" in position:
                raise ValueError("NUL byte")
            field = self._model._meta.get_field(ordering[0].lstrip("-"))
            field.to_python(position)
        except FieldDoesNotExist:
            return  # an annotation: nothing to check it against
        except (ValueError, TypeError, DjangoValidationError):
            raise exceptions.ValidationError({"cursor": [self.invalid_cursor_message]}) from None


class NewestFirst(Cursor):
    """Cursor pagination over `created_at` (the default names a `created` field we lack)."""

    ordering = ("-created_at", "-id")


class ById(Cursor):
    ordering = ("id",)


class UtcDateTimeField(forms.DateTimeField):
    """An ISO 8601 instant, kept in UTC. Python accepts offsets PostgreSQL refuses (`+19:29`)
    and instants that leave the calendar once shifted; both are the caller's mistake (400),
    never a database error (500)."""

    def to_python(self, value):
        instant = super().to_python(value)
        if instant is None:
            return None
        try:
            return instant.astimezone(dt.UTC)
        except OverflowError:
            raise forms.ValidationError(
                "Enter a date and time between the years 1 and 9999.", code="invalid"
            ) from None


class UtcDateTimeFilter(df.IsoDateTimeFilter):
    """`?updated_after=2026-11-24T09:00:00+01:00`: an ISO 8601 instant, compared in UTC."""

    field_class = UtcDateTimeField


class SlugRelatedField(serializers.SlugRelatedField):
    """DRF's field, refusing what PostgreSQL cannot compare (a NUL byte) as an unknown value
    instead of letting the lookup fail in the database."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data.replace("\x00", ""))
        return super().to_internal_value(data)
