"""Pipeline API: imports (POST a file, get a batch id, poll it) and presets."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pipeline import selectors
from pipeline.api.serializers import (
    BridgeSerializer,
    DiscrepancySerializer,
    ExchangeRateChangeSerializer,
    ExchangeRateInputSerializer,
    ExchangeRateSerializer,
    ImportBatchSerializer,
    ImportCreateSerializer,
    ImportRowErrorSerializer,
    PresetSerializer,
    RunSerializer,
    RunStartInputSerializer,
)
from pipeline.choices import ReconciliationTrigger
from pipeline.filters import (
    DiscrepancyFilter,
    ExchangeRateFilter,
    MetricWeekFilter,
    ReconciliationRunFilter,
)
from pipeline.models import (
    BridgeStep,
    ExchangeRate,
    ImportBatch,
    ImportPreset,
    ImportRowError,
    PlaceholderEmail,
    ReconciledMetricWeek,
    ReconciliationRun,
)
from pipeline.presets import BUILTIN_PRESETS
from pipeline.services import reconciliation
from pipeline.services.currency import exchange_rate_delete, exchange_rate_set
from pipeline.services.import_runs import import_batch_retry, import_batches_reap
from pipeline.services.imports import (
    import_batch_confirm,
    import_batch_create,
    import_batch_enqueue,
    mapping_for,
)
from pipeline.services.placeholders import placeholder_add, placeholder_remove
from pipeline.services.presets import import_preset_save
from revops.api import ById, Cursor, NewestFirst
from revops.permissions import Can


class ImportListCreate(ListAPIView):
    """GET: import batches, newest first. POST (multipart): a file with `system`, `object_type`
    and `preset` or `mapping`; answers 202 with the batch to poll."""

    permission_classes = [Can]
    action_for_method = {"GET": "imports.view", "POST": "imports.run"}
    serializer_class = ImportBatchSerializer
    filterset_fields = ["status", "object_type", "system__slug"]
    pagination_class = NewestFirst

    def get_queryset(self):
        if not getattr(self, "swagger_fake_view", False):  # not while generating the schema
            import_batches_reap()  # a batch whose worker died reads failed, not running
        return selectors.import_batch_list()

    @extend_schema(
        request={"multipart/form-data": ImportCreateSerializer},
        responses={202: ImportBatchSerializer},
    )
    def post(self, request):
        data = ImportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        mapping, preset = mapping_for(
            object_type=values["object_type"],
            preset=values.get("preset"),
            mapping=values.get("mapping"),
        )
        upload = values["file"]
        batch = import_batch_create(
            system=values["system"],
            object_type=values["object_type"],
            mapping=mapping,
            preset=preset,
            by=request.user,
            apply=values["apply"],
            file_name=upload.name,
            content=upload,
            apply_mode=values["apply_mode"],
            export_kind=values["export_kind"],
        )
        import_batch_enqueue(batch)
        batch.refresh_from_db()
        body = ImportBatchSerializer(batch, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class ImportDetail(APIView):
    permission_classes = [Can]
    permission_action = "imports.view"

    @extend_schema(responses={200: ImportBatchSerializer})
    def get(self, request, pk: int):
        import_batches_reap()
        batch = get_object_or_404(selectors.import_batch_list(), pk=pk)
        return Response(ImportBatchSerializer(batch, context={"request": request}).data)


class ImportConfirm(APIView):
    """Apply a batch that was sent with apply=false and passed its check."""

    permission_classes = [Can]
    permission_action = "imports.run"

    @extend_schema(request=None, responses={202: ImportBatchSerializer})
    def post(self, request, pk: int):
        batch = get_object_or_404(ImportBatch, pk=pk)
        batch = import_batch_confirm(batch=batch, by=request.user)
        batch.refresh_from_db()
        body = ImportBatchSerializer(batch, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class ImportRetry(APIView):
    """Run a failed batch's file again (its worker died, or the queue was unreachable)."""

    permission_classes = [Can]
    permission_action = "imports.run"

    @extend_schema(request=None, responses={202: ImportBatchSerializer})
    def post(self, request, pk: int):
        batch = get_object_or_404(ImportBatch, pk=pk)
        batch = import_batch_retry(batch=batch, by=request.user)
        batch.refresh_from_db()
        body = ImportBatchSerializer(batch, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class ImportErrors(ListAPIView):
    """The problems the check found, row by row."""

    permission_classes = [Can]
    permission_action = "imports.view"
    serializer_class = ImportRowErrorSerializer
    pagination_class = ById
    queryset = ImportRowError.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no batch
            return ImportRowError.objects.none()
        batch = get_object_or_404(ImportBatch, pk=self.kwargs["pk"])
        return batch.row_errors.all()


class PresetList(APIView):
    """GET: built-in and saved presets. POST: save a mapping under a name (ops)."""

    permission_classes = [Can]
    action_for_method = {"GET": "imports.view", "POST": "imports.run"}

    @extend_schema(responses={200: PresetSerializer(many=True)})
    def get(self, request):
        rows = [
            {
                "name": key,
                "label": spec["label"],
                "builtin": True,
                "object_type": spec["mapping"]["object"],
                "mapping": spec["mapping"],
            }
            for key, spec in BUILTIN_PRESETS.items()
        ] + [
            {
                "name": p.name,
                "label": p.name,
                "builtin": False,
                "object_type": p.object_type,
                "mapping": p.mapping,
            }
            for p in ImportPreset.objects.order_by("name")
        ]
        return Response(PresetSerializer(rows, many=True).data)

    @extend_schema(request=PresetSerializer, responses={201: PresetSerializer})
    def post(self, request):
        data = PresetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        preset = import_preset_save(
            name=data.validated_data["name"],
            mapping=data.validated_data["mapping"],
            by=request.user,
        )
        body = {
            "name": preset.name,
            "label": preset.name,
            "builtin": False,
            "object_type": preset.object_type,
            "mapping": preset.mapping,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class RunsNewestFirst(Cursor):
    ordering = "-id"


class InOrder(Cursor):
    ordering = "id"


class RunViewSet(viewsets.ReadOnlyModelViewSet):
    """Reconciliation runs, newest first."""

    permission_classes = [Can]
    permission_action = "reconciliation.view"
    serializer_class = RunSerializer
    filterset_class = ReconciliationRunFilter
    pagination_class = RunsNewestFirst

    def get_queryset(self):
        return selectors.reconciliation_run_list()


class RunStartView(APIView):
    """POST {"weeks": 104}: queue a run (202), or 409 while one is queued or running."""

    permission_classes = [Can]
    permission_action = "reconciliation.run"

    @extend_schema(
        request=RunStartInputSerializer,
        responses={202: RunSerializer, 409: OpenApiResponse(description="A run is in progress")},
    )
    def post(self, request: Request) -> Response:
        data = RunStartInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            run = reconciliation.reconciliation_start(
                by=request.user, trigger=ReconciliationTrigger.API, **data.validated_data
            )
        except ValidationError as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_409_CONFLICT)
        # The run as this request left it (queued): reading it again could race a worker
        # that has already picked it up.
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class DiscrepancyViewSet(viewsets.ReadOnlyModelViewSet):
    """Discrepancies, open and resolved; filter as on the page (`?status=open&kind=…`)."""

    permission_classes = [Can]
    permission_action = "reconciliation.view"
    serializer_class = DiscrepancySerializer
    filterset_class = DiscrepancyFilter
    pagination_class = RunsNewestFirst

    def get_queryset(self):
        # Runs serialise as their ids and systems as slugs from one map: nothing is joined.
        return selectors.discrepancy_list().select_related(None)


class BridgeViewSet(viewsets.ReadOnlyModelViewSet):
    """Bridges of the current run (or `?run=<id>`): `?metric=mqls&week=2026-W46`."""

    permission_classes = [Can]
    permission_action = "reconciliation.view"
    serializer_class = BridgeSerializer
    filterset_class = MetricWeekFilter
    pagination_class = InOrder

    def get_queryset(self):
        queryset = ReconciledMetricWeek.objects.prefetch_related(
            Prefetch(
                "steps",
                queryset=BridgeStep.objects.select_related("metric_week").order_by("position"),
            )
        )
        if getattr(self, "swagger_fake_view", False) or "run" in self.request.query_params:
            # The schema generator needs the model, not the current run: no query at start-up.
            return queryset
        current = selectors.reconciliation_run_current()
        return queryset.filter(run=current) if current else queryset.none()

    def get_serializer_context(self) -> dict:
        runs = ReconciliationRun.objects.select_related("marketing_system", "sales_system")
        return {**super().get_serializer_context(), "run_by_id": _RunCache(runs)}


class _RunCache(dict):
    """Runs by id, loaded on first use: a page of bridges comes from one or two runs."""

    def __init__(self, queryset) -> None:
        super().__init__()
        self._queryset = queryset

    def __missing__(self, run_id: int) -> ReconciliationRun:
        self[run_id] = self._queryset.get(pk=run_id)
        return self[run_id]


# --- Exchange rates ---------------------------------------------------------------------------


class PlaceholderEmailSerializer(serializers.ModelSerializer):
    class Meta:
        model = PlaceholderEmail
        fields = ["id", "pattern", "is_prefix", "created_at"]


class PlaceholderEmailInputSerializer(serializers.Serializer):
    pattern = serializers.CharField(max_length=254)


class PlaceholderEmailListCreate(ListAPIView):
    """GET: the placeholder emails (`a@a.com`; a pattern ending in @ is a prefix) that never
    merge leads. POST (ops): `{"pattern"}` adds one; the leads stored under it split at once."""

    permission_classes = [Can]
    action_for_method = {"GET": "records.view", "POST": "systems.edit"}
    serializer_class = PlaceholderEmailSerializer
    pagination_class = ById
    queryset = PlaceholderEmail.objects.all()

    @extend_schema(
        request=PlaceholderEmailInputSerializer, responses={201: PlaceholderEmailSerializer}
    )
    def post(self, request: Request) -> Response:
        data = PlaceholderEmailInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        item = placeholder_add(by=request.user, **data.validated_data)
        return Response(PlaceholderEmailSerializer(item).data, status=status.HTTP_201_CREATED)


class PlaceholderEmailDetail(RetrieveAPIView):
    """GET one placeholder email; DELETE (ops) takes it off the list."""

    permission_classes = [Can]
    action_for_method = {"GET": "records.view", "DELETE": "systems.edit"}
    serializer_class = PlaceholderEmailSerializer
    queryset = PlaceholderEmail.objects.all()

    def delete(self, request: Request, pk: int) -> Response:
        placeholder_remove(by=request.user, item=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExchangeRateListCreate(ListAPIView):
    """GET: exchange rates into the company currency (`?currency=EUR`). POST (ops):
    `{"currency", "valid_from", "rate"}` sets the rate of that currency from that day (an
    existing rate for the day is replaced) and reconverts the currency's amounts."""

    permission_classes = [Can]
    action_for_method = {"GET": "records.view", "POST": "exchange_rates.edit"}
    serializer_class = ExchangeRateSerializer
    filterset_class = ExchangeRateFilter
    pagination_class = ById

    def get_queryset(self):
        return ExchangeRate.objects.select_related("updated_by")

    @extend_schema(request=ExchangeRateInputSerializer, responses={201: ExchangeRateSerializer})
    def post(self, request: Request) -> Response:
        data = ExchangeRateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rate = exchange_rate_set(by=request.user, **data.validated_data)
        return Response(ExchangeRateSerializer(rate).data, status=status.HTTP_201_CREATED)


class ExchangeRateDetail(RetrieveAPIView):
    """GET one rate; PUT (ops) `{"rate"}` changes it; DELETE (ops) removes it. Each reconverts
    the currency's amounts."""

    permission_classes = [Can]
    action_for_method = {
        "GET": "records.view",
        "PUT": "exchange_rates.edit",
        "DELETE": "exchange_rates.edit",
    }
    serializer_class = ExchangeRateSerializer

    def get_queryset(self):
        return ExchangeRate.objects.select_related("updated_by")

    @extend_schema(request=ExchangeRateChangeSerializer, responses={200: ExchangeRateSerializer})
    def put(self, request: Request, pk: int) -> Response:
        current = self.get_object()
        data = ExchangeRateChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rate = exchange_rate_set(
            by=request.user,
            currency=current.currency,
            valid_from=current.valid_from,
            rate=data.validated_data["rate"],
        )
        return Response(ExchangeRateSerializer(rate).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        exchange_rate_delete(by=request.user, rate_id=self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
