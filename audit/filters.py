"""The audit log's filters, shared by the page and the API."""

from __future__ import annotations

import django_filters as df
from django import forms
from django.contrib.auth.models import User
from django.db.models import QuerySet

from audit import selectors
from audit.models import AuditEvent

DATE = forms.DateInput(attrs={"type": "date"})


def _table_choices() -> list[tuple[str, str]]:
    return [(t.key, t.label) for t in selectors.tracked_tables()]


class AuditEventFilter(df.FilterSet):
    model = df.ChoiceFilter(choices=_table_choices, method="in_table", label="Table")
    user = df.CharFilter(method="by_user", label="User (username)")
    object_id = df.CharFilter(field_name="pgh_obj_id", label="Object id")
    operation = df.ChoiceFilter(
        field_name="pgh_label", choices=list(selectors.OPERATIONS.items()), label="Operation"
    )
    since = df.DateFilter(
        field_name="pgh_created_at", lookup_expr="date__gte", label="From", widget=DATE
    )
    until = df.DateFilter(
        field_name="pgh_created_at", lookup_expr="date__lte", label="Until", widget=DATE
    )

    class Meta:
        model = AuditEvent
        fields = ["model", "user", "object_id", "operation", "since", "until"]

    def in_table(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # Read only that table's events rather than filter the union of all of them.
        table = next(t for t in selectors.tracked_tables() if t.key == value)
        return queryset.across(table.event_model)

    def by_user(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(user_id__in=User.objects.filter(username=value).values("pk"))
