"""Pages of disputes: the list, filing one from where the number is seen, a dispute with its
evidence, thread and timeline, each workflow step, and the SLA setting. Every view checks its
action; the services check ownership and the workflow."""

from __future__ import annotations

import re

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from disputes import selectors
from disputes.choices import UNRESOLVED, DisputeStatus
from disputes.evidence import evidence_labelled
from disputes.filters import DisputeFilter
from disputes.forms import (
    AcceptForm,
    AssignForm,
    CommentForm,
    DisputeForm,
    RejectForm,
    ReviewForm,
    SettingsForm,
    WithdrawForm,
    add_errors,
)
from disputes.models import Dispute
from disputes.services import disputes as services
from revops import markdown
from revops.csv import csv_response
from revops.lists import filtered_page
from revops.permissions import can, require

PAGE_SIZE = 50


def _get(pk: int) -> Dispute:
    dispute = selectors.dispute_get(pk)
    if dispute is None:
        raise Http404("No such dispute.")
    return dispute


@require_safe
@require("disputes.view")
def dispute_list(request: HttpRequest) -> HttpResponse:
    listing = filtered_page(request, DisputeFilter, selectors.dispute_list(), PAGE_SIZE)
    return render(
        request,
        "disputes/dispute_list.html",
        {
            **listing.context,
            "counts": selectors.dispute_counts(),
            "can_settings": can(request.user, "disputes.settings"),
        },
    )


def _subject(request: HttpRequest) -> services.Subject:
    """What the filing form is about, from its query string (`?metric=mqls&week=2026-W46`,
    `?object_type=lead&record=12`, `?discrepancy=7`)."""
    params = request.GET
    try:
        if params.get("metric") or params.get("week"):
            return services.subject_metric(
                metric_key=params.get("metric", ""), week_label=params.get("week", "")
            )
        if params.get("discrepancy"):
            return services.subject_discrepancy(discrepancy_id=int(params["discrepancy"]))
        if params.get("record"):
            return services.subject_record(
                object_type=params.get("object_type", ""), record_id=int(params["record"])
            )
    except ValueError:
        raise ValidationError("That is not a record number.") from None
    raise ValidationError(
        "Open the number or the record you dispute and choose “Dispute this” there."
    )


@require("disputes.file")
def dispute_new(request: HttpRequest) -> HttpResponse:
    try:
        subject = _subject(request)
    except ValidationError as exc:
        return render(
            request, "disputes/dispute_bad_subject.html", {"errors": exc.messages}, status=400
        )
    form = DisputeForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            dispute = services.dispute_file(
                by=request.user,
                subject=subject,
                claimed_value=form.cleaned_data["claimed_value"],
                explanation=form.cleaned_data["explanation"],
                attachment=form.cleaned_data.get("attachment"),
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"Dispute #{dispute.pk} filed; ops will respond by "
                             f"{dispute.due_at:%a %-d %b %H:%M}.")  # fmt: skip
            return redirect("disputes:dispute-detail", dispute.pk)
    already = selectors.dispute_open_on(
        metric_id=subject.metric.pk if subject.metric else None,
        week_start=subject.week.monday if subject.week else None,
        discrepancy_id=subject.discrepancy.pk if subject.discrepancy else None,
        object_type=subject.object_type,
        record_key=subject.record_key,
    )
    return render(
        request,
        "disputes/dispute_form.html",
        {
            "form": form,
            "subject": subject,
            "evidence": evidence_labelled(subject.evidence),
            "already": already,
            "may_comment_there": already is not None and _may_comment(request.user, already),
        },
        status=400 if form.errors else 200,
    )


def _may_comment(user, dispute: Dispute) -> bool:
    try:
        services.dispute_comment_check(dispute=dispute, by=user)
    except PermissionDenied:
        return False
    return True


def _detail_context(request: HttpRequest, dispute: Dispute, bound: dict | None = None) -> dict:
    """What the dispute's page shows. `bound` holds a step's form as the user posted it, so a
    page shown again after an error keeps what they typed."""
    bound = bound or {}
    user = request.user
    unresolved = dispute.status in UNRESOLVED
    is_filer = dispute.filed_by_id == user.pk
    can_triage = can(user, "disputes.triage")
    in_review = dispute.status == DisputeStatus.IN_REVIEW
    may_resolve = can(user, "disputes.resolve") and in_review

    def form(name: str, allowed: bool, make):
        if not allowed:
            return None
        return bound.get(name) or make()

    return {
        "dispute": dispute,
        "evidence": evidence_labelled(dispute.evidence),
        "overdue": dispute.is_overdue(),
        "explanation_html": markdown.render(dispute.explanation),
        "resolution_html": markdown.render(dispute.resolution),
        "now": selectors.dispute_value_now(dispute)
        if dispute.status == DisputeStatus.ACCEPTED
        else None,
        "transitions": dispute.transitions.select_related("by"),
        "comments": selectors.dispute_comments(dispute),
        "comment_form": form("comment_form", _may_comment(user, dispute), CommentForm),
        "review_form": form(
            "review_form",
            can_triage and dispute.status == DisputeStatus.OPEN,
            lambda: ReviewForm(initial={"assignee": dispute.assignee_id or user.pk}),
        ),
        "assign_form": form(
            "assign_form",
            can_triage and unresolved,
            lambda: AssignForm(initial={"assignee": dispute.assignee_id}),
        ),
        "accept_form": form(
            "accept_form",
            may_resolve,
            lambda: AcceptForm(initial={"object_type": dispute.object_type or ""}),
        ),
        "reject_form": form("reject_form", may_resolve, RejectForm),
        "withdraw_form": form(
            "withdraw_form",
            unresolved and is_filer and can(user, "disputes.withdraw_own"),
            WithdrawForm,
        ),
    }


@require_safe
@require("disputes.view")
def dispute_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = _get(pk)
    return render(request, "disputes/dispute_detail.html", _detail_context(request, dispute))


@require_safe
@require("disputes.view")
def dispute_attachment(request: HttpRequest, pk: int) -> HttpResponse:
    """The filer's CSV with formula-like cells neutralised (it opens in executives'
    spreadsheets); `?original=1` gives ops the bytes as uploaded."""
    dispute = _get(pk)
    if not dispute.attachment:
        raise Http404("This dispute has no attachment.")
    # The name is the filer's: only plain characters reach the Content-Disposition header.
    filename = re.sub(r"[^\w.\- ]", "_", dispute.attachment_name or "") or "attachment.csv"
    if request.GET.get("original") != "1":
        return csv_response(selectors.attachment_rows(dispute), filename)
    if not can(request.user, "disputes.resolve"):
        raise PermissionDenied("Only ops staff download the attachment as uploaded.")
    return FileResponse(
        dispute.attachment.open("rb"),
        as_attachment=True,
        filename=filename,
        content_type="text/csv",
    )


def _step(
    request: HttpRequest, pk: int, form_class, name: str, run, done: str, check=None
) -> HttpResponse:
    """Run one workflow step from a posted form. On success, back to the dispute's page with
    what was done; on a form error or the workflow's refusal, nothing changes and the page is
    shown again (400) with the form as posted, its errors at their fields and a message above.
    `check(dispute)` refuses a stranger (403) before the form is looked at."""
    dispute = _get(pk)
    if check is not None:
        check(dispute)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            run(dispute, form.cleaned_data)
        except ValidationError as exc:
            add_errors(form, exc)
            messages.error(request, "Nothing was changed. " + " ".join(exc.messages))
        else:
            messages.success(request, done)
            return redirect("disputes:dispute-detail", pk)
    else:
        errors = "; ".join(
            f"{form.fields[f].label or f}: {' '.join(e)}" if f in form.fields else " ".join(e)
            for f, e in form.errors.items()
        )
        messages.error(request, f"Nothing was changed. {errors}")
    dispute = _get(pk)  # as it stands now, the step having changed nothing
    context = _detail_context(request, dispute, bound={name: form})
    return render(request, "disputes/dispute_detail.html", context, status=400)


@require_POST
@require("disputes.comment")
def dispute_comment(request: HttpRequest, pk: int) -> HttpResponse:
    def run(dispute, data):
        services.dispute_comment_add(dispute=dispute, by=request.user, body=data["body"])

    def check(dispute):
        services.dispute_comment_check(dispute=dispute, by=request.user)

    return _step(request, pk, CommentForm, "comment_form", run, "Comment added.", check=check)


@require_POST
@require("disputes.triage")
def dispute_review(request: HttpRequest, pk: int) -> HttpResponse:
    def run(dispute, data):
        assignee = data.get("assignee")
        services.dispute_review(
            dispute=dispute,
            by=request.user,
            assignee_id=assignee.pk if assignee else None,
            note=data.get("note", ""),
        )

    return _step(request, pk, ReviewForm, "review_form", run, "In review.")


@require_POST
@require("disputes.triage")
def dispute_assign(request: HttpRequest, pk: int) -> HttpResponse:
    def run(dispute, data):
        services.dispute_assign(dispute=dispute, by=request.user, assignee_id=data["assignee"].pk)

    return _step(request, pk, AssignForm, "assign_form", run, "Assigned.")


def correction_from(data: dict) -> services.Correction:
    return services.Correction(
        kind=data.get("kind") or "none",
        object_type=data.get("object_type") or "",
        field=(data.get("field") or "").strip(),
        system=data.get("system") or "",
        record_key=(data.get("record_key") or "").strip(),
        value=data.get("value"),
        alias_email=(data.get("alias_email") or "").strip(),
        canonical_email=(data.get("canonical_email") or "").strip(),
    )


@require_POST
@require("disputes.resolve")
def dispute_accept(request: HttpRequest, pk: int) -> HttpResponse:
    def run(dispute, data):
        result = services.dispute_accept(
            dispute=dispute,
            by=request.user,
            resolution=data["resolution"],
            correction=correction_from(data),
        )
        if result.republished_weeks:
            messages.info(request, "Republished " + ", ".join(result.republished_weeks) + ".")

    return _step(request, pk, AcceptForm, "accept_form", run, "Accepted.")


@require_POST
@require("disputes.resolve")
def dispute_reject(request: HttpRequest, pk: int) -> HttpResponse:
    def run(dispute, data):
        services.dispute_reject(dispute=dispute, by=request.user, reason=data["reason"])

    return _step(request, pk, RejectForm, "reject_form", run, "Rejected.")


@require_POST
@require("disputes.withdraw_own")
def dispute_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    def run(dispute, data):
        services.dispute_withdraw(dispute=dispute, by=request.user, note=data.get("note", ""))

    return _step(request, pk, WithdrawForm, "withdraw_form", run, "Withdrawn.")


@require("disputes.settings")
def dispute_settings(request: HttpRequest) -> HttpResponse:
    form = SettingsForm(
        request.POST or None,
        initial={"response_business_days": selectors.response_business_days()},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.dispute_settings_update(
                by=request.user,
                response_business_days=form.cleaned_data["response_business_days"],
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, "Saved. Disputes filed from now on are due accordingly.")
            return redirect("disputes:dispute-settings")
    return render(request, "disputes/dispute_settings.html", {"form": form})
