"""The disputes API: the same reads and the same services as the pages, the same rules.
A step the workflow does not allow answers 409; a role or ownership that does not allow it 403;
bad input 400."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from disputes import selectors
from disputes.api.serializers import (
    AcceptInputSerializer,
    AssignInputSerializer,
    CommentInputSerializer,
    CommentSerializer,
    DisputeDetailSerializer,
    DisputeInputSerializer,
    DisputeSerializer,
    RejectInputSerializer,
    ReviewInputSerializer,
    SettingsSerializer,
    TransitionSerializer,
    WithdrawInputSerializer,
)
from disputes.filters import DisputeFilter
from disputes.models import Dispute, DisputeComment, DisputeSettings, DisputeTransition
from disputes.services import disputes as services
from revops.api import ById, NewestFirst
from revops.parsers import JSONParser
from revops.permissions import Can

CONFLICT = OpenApiResponse(description="The workflow does not allow this step now")


class ByFiled(NewestFirst):
    ordering = ("-filed_at", "-id")


def _dispute(pk: int) -> Dispute:
    dispute = selectors.dispute_get(pk)
    if dispute is None:
        raise Http404
    return dispute


def _conflict(exc: ValidationError) -> Response:
    return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_409_CONFLICT)


class DisputeListCreate(ListAPIView):
    """GET: disputes, newest first, filtered as on the list page (`?overdue=true&team=sales`).
    POST (sales and marketing leads, ops): file a dispute; multipart to attach a CSV."""

    permission_classes = [Can]
    action_for_method = {"GET": "disputes.view", "POST": "disputes.file"}
    serializer_class = DisputeSerializer
    filterset_class = DisputeFilter
    pagination_class = ByFiled
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        return selectors.dispute_list()

    @extend_schema(
        operation_id="disputes_create",
        request={"multipart/form-data": DisputeInputSerializer,
                 "application/json": DisputeInputSerializer},
        responses={201: DisputeDetailSerializer},
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        data = DisputeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if values.get("metric") or values.get("week"):
            subject = services.subject_metric(
                metric_key=values.get("metric", ""), week_label=values.get("week", "")
            )
        elif values.get("discrepancy"):
            subject = services.subject_discrepancy(discrepancy_id=values["discrepancy"])
        elif values.get("record"):
            subject = services.subject_record(
                object_type=values.get("object_type", ""), record_id=values["record"]
            )
        else:
            raise ValidationError(
                "Name what is disputed: metric and week, object_type and record, or discrepancy."
            )
        dispute = services.dispute_file(
            by=request.user,
            subject=subject,
            claimed_value=values["claimed_value"],
            explanation=values["explanation"],
            attachment=values.get("attachment"),
        )
        return Response(DisputeDetailSerializer(dispute).data, status=status.HTTP_201_CREATED)


class DisputeDetail(APIView):
    """GET: one dispute with its frozen evidence."""

    permission_classes = [Can]
    permission_action = "disputes.view"

    @extend_schema(responses={200: DisputeDetailSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(DisputeDetailSerializer(_dispute(pk)).data)


class CommentListCreate(ListAPIView):
    """GET: a dispute's thread, oldest first. POST: a comment (ops; leads on their own)."""

    permission_classes = [Can]
    action_for_method = {"GET": "disputes.view", "POST": "disputes.comment"}
    serializer_class = CommentSerializer
    pagination_class = ById
    queryset = DisputeComment.objects.none()  # the schema's; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return _dispute(self.kwargs["pk"]).comments.select_related("author")

    @extend_schema(
        operation_id="disputes_comments_create",
        request=CommentInputSerializer,
        responses={201: CommentSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        dispute = _dispute(pk)
        services.dispute_comment_check(dispute=dispute, by=request.user)
        data = CommentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment = services.dispute_comment_add(
            dispute=dispute, by=request.user, body=data.validated_data["body"]
        )
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class TransitionList(ListAPIView):
    """GET: every step of a dispute's workflow, oldest first (its timeline)."""

    permission_classes = [Can]
    permission_action = "disputes.view"
    serializer_class = TransitionSerializer
    pagination_class = ById
    queryset = DisputeTransition.objects.none()  # the schema's; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return _dispute(self.kwargs["pk"]).transitions.select_related("by")


class _Step(APIView):
    """One workflow step: validate the input, call the service, answer with the dispute."""

    permission_classes = [Can]
    input_serializer: type

    def run(self, dispute: Dispute, values: dict, user) -> None:
        raise NotImplementedError

    def post(self, request: Request, pk: int) -> Response:
        data = self.input_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        dispute = _dispute(pk)
        try:
            self.run(dispute, data.validated_data, request.user)
        except services.TransitionNotAllowed as exc:
            return _conflict(exc)
        return Response(DisputeDetailSerializer(_dispute(pk)).data)


def _step_schema(serializer: type, operation_id: str):
    return extend_schema(
        operation_id=operation_id,
        request=serializer,
        responses={200: DisputeDetailSerializer, 409: CONFLICT},
    )


class DisputeReview(_Step):
    """POST (ops): take an open dispute into review, assigned to `assignee` (default: you)."""

    permission_action = "disputes.triage"
    input_serializer = ReviewInputSerializer

    @_step_schema(ReviewInputSerializer, "disputes_review")
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def run(self, dispute, values, user) -> None:
        services.dispute_review(
            dispute=dispute, by=user, assignee_id=values.get("assignee"), note=values["note"]
        )


class DisputeAssign(_Step):
    """POST (ops): hand an unresolved dispute to someone in ops."""

    permission_action = "disputes.triage"
    input_serializer = AssignInputSerializer

    @_step_schema(AssignInputSerializer, "disputes_assign")
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def run(self, dispute, values, user) -> None:
        services.dispute_assign(dispute=dispute, by=user, assignee_id=values["assignee"])


class DisputeAccept(_Step):
    """POST (ops): accept a dispute in review, saying what was corrected, optionally with the
    correction to make; published weeks it moves are republished naming the dispute."""

    permission_action = "disputes.resolve"
    input_serializer = AcceptInputSerializer

    @_step_schema(AcceptInputSerializer, "disputes_accept")
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def run(self, dispute, values, user) -> None:
        correction = services.Correction(**values.get("correction", {}))
        services.dispute_accept(
            dispute=dispute, by=user, resolution=values["resolution"], correction=correction
        )


class DisputeReject(_Step):
    """POST (ops): reject a dispute in review, with the reason."""

    permission_action = "disputes.resolve"
    input_serializer = RejectInputSerializer

    @_step_schema(RejectInputSerializer, "disputes_reject")
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def run(self, dispute, values, user) -> None:
        services.dispute_reject(dispute=dispute, by=user, reason=values["reason"])


class DisputeWithdraw(_Step):
    """POST (the filer): withdraw your own dispute while it is open or in review."""

    permission_action = "disputes.withdraw_own"
    input_serializer = WithdrawInputSerializer

    @_step_schema(WithdrawInputSerializer, "disputes_withdraw")
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def run(self, dispute, values, user) -> None:
        services.dispute_withdraw(dispute=dispute, by=user, note=values["note"])


class DisputeSettingsView(APIView):
    """GET: the response SLA. PUT (ops): set it."""

    permission_classes = [Can]
    action_for_method = {"GET": "disputes.view", "PUT": "disputes.settings"}

    @extend_schema(operation_id="disputes_settings_retrieve", responses={200: SettingsSerializer})
    def get(self, request: Request) -> Response:
        row = DisputeSettings.objects.filter(pk=1).first() or DisputeSettings()
        return Response(SettingsSerializer(row).data)

    @extend_schema(
        operation_id="disputes_settings_update",
        request=SettingsSerializer,
        responses={200: SettingsSerializer},
    )
    def put(self, request: Request) -> Response:
        data = SettingsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.dispute_settings_update(
            by=request.user,
            response_business_days=data.validated_data["response_business_days"],
        )
        return Response(SettingsSerializer(row).data)
