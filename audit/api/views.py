"""The audit log API: ops staff read it; nobody writes it (the database triggers do)."""

from __future__ import annotations

from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from audit import selectors
from audit.api.serializers import AuditEventSerializer
from audit.filters import AuditEventFilter
from revops.api import Cursor
from revops.permissions import Can


class NewestEventFirst(Cursor):
    # pgh_id counts per event table: two tables' events of one transaction can share it.
    ordering = ("-pgh_created_at", "-pgh_id", "pgh_model")


class AuditEventList(ListAPIView):
    """GET: changes to the data people edit, newest first (`?model=pipeline.importbatch&user=
    <username>&object_id=12&operation=update&since=2026-01-01&until=2026-01-31`)."""

    permission_classes = [Can]
    permission_action = "audit.view"
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    pagination_class = NewestEventFirst

    def get_queryset(self):
        return selectors.event_list()

    def list(self, request: Request, *args, **kwargs) -> Response:
        events = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(events)
        rows = selectors.event_rows(page)
        return self.get_paginated_response(AuditEventSerializer(rows, many=True).data)
