"""The mechanisms API: mechanisms, their versions, links, log entries and actions. Every role
reads; ops staff write, through the same services as the pages."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mechanisms import selectors, versions
from mechanisms.api.serializers import (
    ActionSerializer,
    LinkSerializer,
    LogEntryInputSerializer,
    LogEntrySerializer,
    MechanismDetailSerializer,
    MechanismInputSerializer,
    MechanismSerializer,
    RestoreInputSerializer,
    VersionSerializer,
)
from mechanisms.choices import PART_FIELDS, Direction, GoalKind
from mechanisms.filters import ActionFilter, LinkFilter, LogEntryFilter, MechanismFilter
from mechanisms.models import Action, Link, LogEntry, Mechanism
from mechanisms.services import mechanisms as services
from mechanisms.services.rendering import rendered_markdown_get
from revops.api import ById, Cursor, NewestFirst
from revops.permissions import Can
from scorecard.models import Metric

CONFLICT = OpenApiResponse(description="Someone saved a newer version: reload, then apply yours")


class ByName(Cursor):
    ordering = ("name", "id")


def _context(mechanisms: list[Mechanism], *, parts: bool = True) -> dict:
    return {
        "statuses": selectors.goal_statuses(g for m in mechanisms for g in m.goals.all()),
        "today": timezone.localdate(),
        "html": rendered_markdown_get(getattr(m, p) for m in mechanisms for p in PART_FIELDS)
        if parts
        else {},
    }


def _conflict(exc: services.EditConflict) -> Response:
    return Response(
        {"detail": exc.messages[0], "current_version": exc.mechanism.version},
        status=status.HTTP_409_CONFLICT,
    )


def _data_from_input(values: dict, base: services.MechanismData | None) -> services.MechanismData:
    """The document to save: `base` (the mechanism as it stands) with what the call sent."""
    changes = {k: v for k, v in values.items() if k not in ("version", "goals")}
    for key in ("tags", "tenets"):
        if key in changes:
            changes[key] = tuple(changes[key])
    goals = dict(base.goals) if base else {kind: None for kind in GoalKind.values}
    for kind, goal in (values.get("goals") or {}).items():
        if goal is None:
            goals[kind] = None
            continue
        metric: Metric = goal["metric"]
        goals[kind] = services.GoalData(
            statement=goal["statement"],
            metric=metric,
            direction=goal.get("direction")
            or (Direction.AT_LEAST if metric.up_is_good else Direction.AT_MOST),
            target=goal["target"],
            due_on=goal["due_on"],
            baseline=goal.get("baseline"),
            baseline_on=goal.get("baseline_on"),
        )
    changes["goals"] = goals
    if base is None:
        return services.MechanismData(**changes)
    return base.with_changes(**changes)


class MechanismListCreate(ListAPIView):
    """GET: mechanisms by name, filtered as on the list page (`?status=active&overdue=true`).
    POST (ops): a new mechanism."""

    permission_classes = [Can]
    action_for_method = {"GET": "mechanisms.view", "POST": "mechanisms.edit"}
    serializer_class = MechanismSerializer
    filterset_class = MechanismFilter
    pagination_class = ByName

    def get_queryset(self):
        return selectors.mechanism_list()

    def list(self, request: Request, *args, **kwargs) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        serializer = MechanismSerializer(page, many=True, context=_context(page, parts=False))
        return self.get_paginated_response(serializer.data)

    def post(self, request: Request) -> Response:
        data = MechanismInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        mechanism = services.mechanism_create(
            data=_data_from_input(data.validated_data, None), by=request.user
        )
        mechanism = selectors.mechanism_get(mechanism.slug)
        return Response(
            MechanismDetailSerializer(mechanism, context=_context([mechanism])).data,
            status=status.HTTP_201_CREATED,
        )


class MechanismDetail(APIView):
    """GET: one mechanism with its parts, goals (and their health on the scorecard), links
    and counts. PATCH (ops): change what is sent; `version` must be the one you read."""

    permission_classes = [Can]
    action_for_method = {"GET": "mechanisms.view", "PATCH": "mechanisms.edit"}

    def _get(self, slug: str) -> Mechanism:
        mechanism = selectors.mechanism_get(slug)
        if mechanism is None:
            raise Http404
        return mechanism

    @extend_schema(responses={200: MechanismDetailSerializer})
    def get(self, request: Request, slug: str) -> Response:
        mechanism = self._get(slug)
        return Response(MechanismDetailSerializer(mechanism, context=_context([mechanism])).data)

    @extend_schema(
        request=MechanismInputSerializer,
        responses={200: MechanismDetailSerializer, 409: CONFLICT},
    )
    def patch(self, request: Request, slug: str) -> Response:
        mechanism = self._get(slug)
        data = MechanismInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if "version" not in values:
            return Response(
                {"version": ["Send the version you read, so no one's changes are overwritten."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        base = services.MechanismData.of(mechanism)
        try:
            saved = services.mechanism_update(
                mechanism=mechanism,
                data=_data_from_input(values, base),
                by=request.user,
                expected_version=values["version"],
            )
        except services.EditConflict as exc:
            return _conflict(exc)
        saved = selectors.mechanism_get(saved.slug)
        return Response(MechanismDetailSerializer(saved, context=_context([saved])).data)


def _version_context(snapshots: list[versions.Snapshot]) -> dict:
    user_ids = {s.fields.get("owner_id") for s in snapshots} - {None}
    metric_ids = {g.get("metric_id") for s in snapshots for g in s.goals.values()} - {None}
    return {
        "document": True,
        "users": dict(
            get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "username")
        ),
        "metrics": dict(Metric.objects.filter(pk__in=metric_ids).values_list("pk", "key")),
        "html": rendered_markdown_get(
            s.fields.get(p) or "" for s in snapshots for p in PART_FIELDS
        ),
    }


class VersionList(APIView):
    """Every version of a mechanism, newest first: number, who, when, what changed."""

    permission_classes = [Can]
    permission_action = "mechanisms.view"

    @extend_schema(
        operation_id="mechanisms_versions_list", responses={200: VersionSerializer(many=True)}
    )
    def get(self, request: Request, slug: str) -> Response:
        mechanism = get_object_or_404(Mechanism, slug=slug)
        snapshots = versions.snapshot_list(mechanism)
        return Response(VersionSerializer(snapshots, many=True).data)


class VersionDetail(APIView):
    """One version's whole document."""

    permission_classes = [Can]
    permission_action = "mechanisms.view"

    @extend_schema(responses={200: VersionSerializer})
    def get(self, request: Request, slug: str, number: int) -> Response:
        mechanism = get_object_or_404(Mechanism, slug=slug)
        snapshot = versions.snapshot_get(mechanism, number)
        if snapshot is None:
            raise Http404
        return Response(VersionSerializer(snapshot, context=_version_context([snapshot])).data)


class VersionRestore(APIView):
    """POST (ops) `{"version": <current>}`: make this old version the current one, as a new
    version."""

    permission_classes = [Can]
    permission_action = "mechanisms.edit"

    @extend_schema(
        request=RestoreInputSerializer,
        responses={200: MechanismDetailSerializer, 409: CONFLICT},
    )
    def post(self, request: Request, slug: str, number: int) -> Response:
        mechanism = get_object_or_404(Mechanism, slug=slug)
        data = RestoreInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            restored = services.mechanism_restore(
                mechanism=mechanism,
                number=number,
                by=request.user,
                expected_version=data.validated_data["version"],
            )
        except services.EditConflict as exc:
            return _conflict(exc)
        restored = selectors.mechanism_get(restored.slug)
        return Response(MechanismDetailSerializer(restored, context=_context([restored])).data)


class LinkListCreate(ListAPIView):
    """GET: links (`?mechanism=<slug>` for either end). POST (ops): `{"source", "target",
    "label"}` by slug; a link to itself or a second copy is refused."""

    permission_classes = [Can]
    action_for_method = {"GET": "mechanisms.view", "POST": "mechanisms.edit"}
    serializer_class = LinkSerializer
    filterset_class = LinkFilter
    pagination_class = ById

    def get_queryset(self):
        return Link.objects.select_related("source", "target", "created_by")

    def post(self, request: Request) -> Response:
        data = LinkSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        link = services.link_create(
            source=data.validated_data["source"],
            target=data.validated_data["target"],
            label=data.validated_data.get("label", ""),
            by=request.user,
        )
        return Response(LinkSerializer(link).data, status=status.HTTP_201_CREATED)


class LinkDetail(RetrieveAPIView):
    """GET one link; DELETE (ops) removes it."""

    permission_classes = [Can]
    action_for_method = {"GET": "mechanisms.view", "DELETE": "mechanisms.edit"}
    serializer_class = LinkSerializer

    def get_queryset(self):
        return Link.objects.select_related("source", "target", "created_by")

    def delete(self, request: Request, pk: int) -> Response:
        services.link_delete(link=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogEntryListCreate(ListAPIView):
    """GET: inspection log entries, newest first (`?mechanism=<slug>&since=2026-01-01`).
    POST (ops): log an inspection."""

    permission_classes = [Can]
    action_for_method = {"GET": "mechanisms.view", "POST": "mechanisms.edit"}
    serializer_class = LogEntrySerializer
    filterset_class = LogEntryFilter
    pagination_class = NewestFirst

    def get_queryset(self):
        return LogEntry.objects.select_related("mechanism", "inspected_by")

    def list(self, request: Request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        html = rendered_markdown_get(t for entry in page for t in (entry.found, entry.changed))
        serializer = LogEntrySerializer(page, many=True, context={"html": html})
        return self.get_paginated_response(serializer.data)

    def post(self, request: Request) -> Response:
        data = LogEntryInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        entry = services.log_entry_add(
            mechanism=values["mechanism"],
            by=request.user,
            inspected_on=values["inspected_on"],
            inspected_by=values.get("inspected_by"),
            found=values["found"],
            changed=values.get("changed", ""),
        )
        return Response(LogEntrySerializer(entry, context={}).data, status=status.HTTP_201_CREATED)


class ActionList(ListAPIView):
    """GET: actions (`?assignee=<username>&done=false&overdue=true&mechanism=<slug>`)."""

    permission_classes = [Can]
    permission_action = "mechanisms.view"
    serializer_class = ActionSerializer
    filterset_class = ActionFilter
    pagination_class = ById

    def get_queryset(self):
        return Action.objects.select_related("mechanism", "assignee", "done_by")
