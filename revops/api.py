"""API plumbing shared by every app: errors as JSON, the same way everywhere."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
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
    """Cursor pages (no COUNT over the table); `?page_size=` up to 1,000."""

    page_size_query_param = "page_size"
    max_page_size = 1000


class NewestFirst(Cursor):
    """Cursor pagination over `created_at` (the default names a `created` field we lack)."""

    ordering = ("-created_at", "-id")


class ById(Cursor):
    ordering = ("id",)
