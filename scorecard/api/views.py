"""The scorecard API: the catalog, definition versions, published weekly values and a week's
scorecard as JSON. Reads for every role; publishing for ops. Thin: selectors and services do
the work, as for the pages."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import ReadOnlyModelViewSet

from pipeline import dimensions
from revops.api import Cursor
from revops.permissions import Can
from revops.weeks import IsoWeek
from scorecard import rendering, restatements, selectors
from scorecard.api.serializers import (
    MetricDefinitionSerializer,
    MetricSerializer,
    PublishInputSerializer,
    RestatementSerializer,
    WeeklySliceValueSerializer,
    WeeklyValueSerializer,
    WeekSerializer,
)
from scorecard.caching import etag_for, not_modified, revalidated, week_stamp
from scorecard.filters import (
    MetricDefinitionFilter,
    MetricFilter,
    WeeklySliceValueFilter,
    WeeklyValueFilter,
)
from scorecard.formatting import format_plain
from scorecard.models import MetricDefinition, SnapshotSliceValue, SnapshotValue
from scorecard.selectors import MetricRow, ScorecardWeek
from scorecard.services import snapshots


class MetricViewSet(ReadOnlyModelViewSet):
    """The metric catalog: every metric with its current definition version and targets."""

    permission_classes = [Can]
    permission_action = "scorecard.view"
    serializer_class = MetricSerializer
    filterset_class = MetricFilter
    pagination_class = None  # tens of rows
    lookup_field = "key"

    def get_queryset(self):
        return selectors.metric_catalog().prefetch_related("targets")

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        context["current_versions"] = {
            m: d.version for m, d in selectors.definition_current_map().items()
        }
        return context


class MetricDefinitionViewSet(ReadOnlyModelViewSet):
    """Every definition version of every metric, newest first; `?metric=<key>` for one."""

    permission_classes = [Can]
    permission_action = "scorecard.view"
    serializer_class = MetricDefinitionSerializer
    filterset_class = MetricDefinitionFilter
    pagination_class = None

    def get_queryset(self):
        return MetricDefinition.objects.select_related(
            "metric", "left", "right", "created_by"
        ).order_by("metric__position", "metric__key", "-version")


class ValuePagination(Cursor):
    ordering = ("week_start", "id")
    page_size = 500


_SLICE_PARAMETERS = [
    OpenApiParameter(d.key, str, description=f"Narrow to one {d.label.lower()} (a slice).")
    for d in dimensions.DIMENSIONS
]


@extend_schema_view(list=extend_schema(parameters=_SLICE_PARAMETERS))
class WeeklyValueViewSet(ReadOnlyModelViewSet):
    """Published weekly values: `?metric=mqls&since=2026-W01&until=2026-W46`. With one value
    of a dimension publishing freezes (`?region=EMEA`, `?team=Enterprise`), the values the
    publications froze for that slice; the metric's own team is `?section=`."""

    permission_classes = [Can]
    permission_action = "scorecard.view"
    pagination_class = ValuePagination

    def _slice(self) -> dimensions.Slice:
        if not hasattr(self, "_slice_cache"):
            try:
                self._slice_cache = dimensions.slice_from_query(self.request.query_params.items())
            except dimensions.UnknownValue as exc:
                raise Http404(str(exc)) from None
        return self._slice_cache

    @property
    def filterset_class(self):
        return WeeklySliceValueFilter if self._slice() else WeeklyValueFilter

    def get_serializer_class(self):
        return WeeklySliceValueSerializer if self._slice() else WeeklyValueSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SnapshotValue.objects.none()
        slice = self._slice()
        if not slice:
            return SnapshotValue.objects.select_related("metric", "definition")
        frozen = selectors.frozen_slice_of(slice)
        if frozen is None:
            standard = ", ".join(settings.SCORECARD_FROZEN_DIMENSIONS) or "none"
            raise DRFValidationError(
                {
                    "slice": [
                        f"Publishing freezes one value of one dimension at a time ({standard})"
                        f"; {slice.label} is not one. The week's scorecard computes any slice "
                        "live: /api/v1/scorecard/weeks/<week>/?" + urlencode(slice.query)
                    ]
                }
            )
        dimension, label = frozen
        return SnapshotSliceValue.objects.filter(
            slice__dimension=dimension, slice__label__iexact=label
        ).select_related("metric", "definition", "slice")


def _mark(mark) -> dict | None:
    if mark is None:
        return None
    return {
        "state": mark.state,
        "label": mark.label,
        "detail": mark.detail,
        "url": mark.url,
        "also": _mark(mark.also),
    }


def _row(row: MetricRow, week: IsoWeek, query: str = "") -> dict:
    cell = row.cell
    key = row.metric.key
    trust = row.trust
    return {
        "key": key,
        "name": row.metric.name,
        "team": row.metric.team,
        "unit": row.metric.unit,
        "up_is_good": row.metric.up_is_good,
        "value": format_plain(cell.value) or None,
        "display": row.value_display,
        "target": format_plain(cell.target) or None,
        "rag": cell.rag,
        "status": cell.rag_label,
        "on_pace_for": format_plain(cell.pace) or None,
        "previous": format_plain(row.previous.value) if row.previous else None,
        "change": format_plain(row.change) or None,
        "numerator": format_plain(cell.numerator) or None,
        "denominator": format_plain(cell.denominator) or None,
        "note": cell.note,
        "definition_version": cell.version,
        "live": cell.live,
        "trust": _mark(trust),
        "owner": row.metric.owner.username if row.metric.owner else None,
        "commentary": {
            "markdown": row.commentary.body,
            "html": row.commentary.html,
            "by": row.commentary.by,
            "frozen": row.commentary.frozen,
        }
        if row.commentary
        else None,
        "links": {
            "page": reverse("scorecard:metric-week", args=[week, key]) + query,
            "records": reverse("scorecard:metric-records", args=[week, key]) + query,
            "definition": reverse("scorecard:metric-detail", args=[key]),
        },
    }


def week_payload(card: ScorecardWeek) -> dict:
    week = card.week
    # A slice is published when its values are the ones the publication froze.
    snapshot = None if card.slice and not card.frozen_slice else card.snapshot
    query = rendering.slice_query(card.slice)
    return {
        "week": week.label,
        "slice": card.slice.query or None,
        "start": week.monday.isoformat(),
        "end": week.sunday.isoformat(),
        "status": "published" if snapshot else "live",
        "in_progress": not card.is_complete,
        "revision": snapshot.revision if snapshot else None,
        "published_at": snapshot.published_at.isoformat() if snapshot else None,
        "published_by": snapshot.published_by.username
        if snapshot and snapshot.published_by
        else None,
        "rag_counts": card.rag_counts,
        "restatement_pending": card.pending,
        "top_line": [_row(row, week, query) for row in card.top_line],
        "sections": [
            {
                "team": s.team,
                "label": s.label,
                "metrics": [_row(row, week, query) for row in s.rows],
            }
            for s in card.sections
        ],
    }


def _week(label: str) -> IsoWeek:
    try:
        week = IsoWeek.parse(label)
    except ValueError as exc:
        raise Http404(str(exc)) from None
    if week > IsoWeek.current():
        raise Http404("That week has not started yet.")
    return week


class WeekView(APIView):
    """A week's scorecard: the published snapshot, or live values for a week not published."""

    permission_classes = [Can]
    permission_action = "scorecard.view"

    @extend_schema(
        parameters=_SLICE_PARAMETERS,
        responses={
            200: WeekSerializer,
            404: OpenApiResponse(description="No such week, or no such slice value"),
        },
    )
    def get(self, request: Request, week: str) -> Response:
        target = _week(week)
        try:
            slice = dimensions.slice_from_query(request.query_params.items())
        except dimensions.UnknownValue as exc:
            raise Http404(str(exc)) from None
        if slice:  # ?region=EMEA&team=Enterprise: the slice's values, computed now
            body, _ = rendering.week_json(target, slice)
            return HttpResponse(body, content_type="application/json")
        # A published week's JSON is kept encoded in the shared cache under the stamp of what
        # it shows, as the page is; the stamp is its ETag.
        stamp = week_stamp(target, rendering.JSON_TREND_WEEKS)
        body, cacheable = rendering.week_json_cached(target, stamp=stamp)
        if not cacheable:  # live values, computed for this request
            return HttpResponse(body, content_type="application/json")
        etag = etag_for(stamp)
        if (unchanged := not_modified(request, etag)) is not None:
            return unchanged
        return revalidated(HttpResponse(body, content_type="application/json"), etag)


class WeekPublishView(APIView):
    """Publish a completed week, or republish one on purpose with a reason."""

    permission_classes = [Can]
    permission_action = "scorecard.publish"

    @extend_schema(
        request=PublishInputSerializer,
        responses={
            200: WeekSerializer,
            201: WeekSerializer,
            400: OpenApiResponse(description="The week cannot be published"),
        },
    )
    def post(self, request: Request, week: str) -> Response:
        target = _week(week)
        data = PublishInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            snapshot = snapshots.snapshot_publish(
                week=target,
                by=request.user,
                reason=data.validated_data.get("reason", ""),
                republish=data.validated_data["republish"],
                expected=data.validated_data.get("expected", ""),
            )
        except ValidationError as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_400_BAD_REQUEST)
        card = selectors.scorecard_week(target, trend_weeks=2)
        code = status.HTTP_200_OK if snapshot.revision > 1 else status.HTTP_201_CREATED
        return Response(week_payload(card), status=code)


class WeekRestatementView(APIView):
    """What republishing a published week would change now: per metric, frozen → live, the
    causes recorded since its publication, and the fingerprint a republish confirms."""

    permission_classes = [Can]
    permission_action = "scorecard.publish"

    @extend_schema(responses={200: RestatementSerializer, 404: OpenApiResponse()})
    def get(self, request: Request, week: str) -> Response:
        target = _week(week)
        preview = restatements.week_restatement(target)
        if preview is None:
            raise Http404(f"{target.label} is not published.")
        return Response(
            {
                "week": target.label,
                "revision": preview.snapshot.revision,
                "fingerprint": preview.fingerprint,
                "changes": [
                    {
                        "metric": c.key,
                        "kind": c.kind,
                        "frozen": format_plain(c.frozen),
                        "live": format_plain(c.live),
                        "frozen_target": format_plain(c.frozen_target),
                        "live_target": format_plain(c.live_target),
                        "definition_changed": c.definition_changed,
                        "summary": c.what(),
                    }
                    for c in preview.changes
                ],
                "causes": preview.causes,
            }
        )
