"""FilterSets of mechanisms, shared by the list page and the API."""

from __future__ import annotations

import django_filters as df
from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone

from mechanisms.choices import Status, Team
from mechanisms.models import Action, Link, LogEntry, Mechanism


class MechanismFilter(df.FilterSet):
    q = df.CharFilter(method="search", label="Search")
    status = df.ChoiceFilter(choices=Status.choices)
    team = df.ChoiceFilter(choices=Team.choices)
    owner = df.CharFilter(field_name="owner__username", label="Owner (username)")
    tag = df.CharFilter(method="with_tag", label="Tag")
    overdue = df.BooleanFilter(
        method="inspection_overdue",
        label="Inspection",
        widget=forms.Select(choices=[("", "Any"), ("true", "Overdue"), ("false", "On time")]),
    )

    class Meta:
        model = Mechanism
        fields = ["q", "status", "team", "owner", "tag", "overdue"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value) | Q(summary__icontains=value) | Q(tags__contains=[value])
        )

    def with_tag(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip().lower()
        return queryset.filter(tags__contains=[value]) if value else queryset

    def inspection_overdue(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        overdue = Q(status=Status.ACTIVE, next_inspection_on__lt=timezone.localdate())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)


class LinkFilter(df.FilterSet):
    source = df.CharFilter(field_name="source__slug", label="Source (slug)")
    target = df.CharFilter(field_name="target__slug", label="Target (slug)")
    mechanism = df.CharFilter(method="touching", label="Either end (slug)")

    class Meta:
        model = Link
        fields = ["source", "target", "mechanism"]

    def touching(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(source__slug=value) | Q(target__slug=value))


class LogEntryFilter(df.FilterSet):
    mechanism = df.CharFilter(field_name="mechanism__slug", label="Mechanism (slug)")
    since = df.DateFilter(field_name="inspected_on", lookup_expr="gte")
    until = df.DateFilter(field_name="inspected_on", lookup_expr="lte")

    class Meta:
        model = LogEntry
        fields = ["mechanism", "since", "until"]


class ActionFilter(df.FilterSet):
    mechanism = df.CharFilter(field_name="mechanism__slug", label="Mechanism (slug)")
    assignee = df.CharFilter(field_name="assignee__username", label="Assignee (username)")
    done = df.BooleanFilter()
    overdue = df.BooleanFilter(method="is_overdue")

    class Meta:
        model = Action
        fields = ["mechanism", "assignee", "done", "overdue"]

    def is_overdue(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        overdue = Q(done=False, due_on__lt=timezone.localdate())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)
