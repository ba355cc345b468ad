"""The dispute FilterSet, shared by the list page and the API."""

from __future__ import annotations

import django_filters as df
from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone

from disputes.choices import UNRESOLVED, DisputeStatus, DisputeSubject
from disputes.models import Dispute
from revops.weeks import IsoWeek
from scorecard.choices import Team

YES_NO = [("", "Any"), ("true", "Yes"), ("false", "No")]


def _week_valid(value: str) -> None:
    if value.strip():
        try:
            IsoWeek.parse(value)
        except ValueError as exc:
            # As a parameter: a "%" the user typed must not be read as a format.
            raise forms.ValidationError("%(reason)s", params={"reason": str(exc)}) from None


class DisputeFilter(df.FilterSet):
    status = df.ChoiceFilter(choices=DisputeStatus.choices)
    unresolved = df.BooleanFilter(
        method="is_unresolved",
        label="Waiting for ops",
        widget=forms.Select(choices=YES_NO),
    )
    team = df.ChoiceFilter(choices=Team.choices)
    subject = df.ChoiceFilter(choices=DisputeSubject.choices)
    metric = df.CharFilter(field_name="metric__key", label="Metric (key)")
    week = df.CharFilter(method="in_week", label="Week (2026-W46)", validators=[_week_valid])
    assignee = df.CharFilter(field_name="assignee__username", label="Assignee (username)")
    filed_by = df.CharFilter(field_name="filed_by__username", label="Filed by (username)")
    overdue = df.BooleanFilter(
        method="is_overdue", label="Overdue", widget=forms.Select(choices=YES_NO)
    )

    class Meta:
        model = Dispute
        fields = [
            "status",
            "unresolved",
            "team",
            "subject",
            "metric",
            "week",
            "assignee",
            "filed_by",
            "overdue",
        ]

    def is_unresolved(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        unresolved = Q(status__in=UNRESOLVED)
        return queryset.filter(unresolved) if value else queryset.exclude(unresolved)

    def in_week(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(week_start=IsoWeek.parse(value).monday)

    def is_overdue(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        overdue = Q(status__in=UNRESOLVED, due_at__lt=timezone.now())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)
