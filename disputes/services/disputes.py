"""Writes of disputes: filing one with its frozen evidence, each step of the workflow, comments,
and the SLA. One function per transition; each locks the dispute row (select_for_update), checks
who may take the step and from which status, and records it.

    open ──review──► in_review ──accept──► accepted
      │                  └──────reject──► rejected
      └──withdraw (filer, while open or in review)──► withdrawn

A step the workflow does not allow raises TransitionNotAllowed (a ValidationError: the API
answers 409); a step the user's role or ownership does not allow raises PermissionDenied."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from disputes import evidence, notifications, selectors
from disputes.choices import UNRESOLVED, CorrectionKind, DisputeStatus, DisputeSubject
from disputes.models import Dispute, DisputeComment, DisputeSettings, DisputeTransition
from pipeline.choices import ObjectType
from pipeline.models import Discrepancy, SourceSystem
from pipeline.services import authority, corrections
from revops.permissions import Role, can, user_roles
from revops.weeks import IsoWeek
from scorecard import restatements
from scorecard.formatting import format_value
from scorecard.models import Metric
from scorecard.services.snapshots import snapshots_restate_correction

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
# Comments are rendered as Markdown on every view of the dispute: kept well inside one render.
MAX_COMMENT_CHARS = 10_000
RECORD_TEAMS = {
    ObjectType.LEAD: "marketing",
    ObjectType.DEAL: "sales",
    ObjectType.ACCOUNT: "customer_success",
}


class TransitionNotAllowed(ValidationError):
    """The workflow does not allow this step from the dispute's status."""


# --- Filing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """What a dispute is filed against: a metric in a week, a golden record, or a
    discrepancy. Built by `subject_*`, which raise ValidationError when it does not exist."""

    kind: str
    title: str
    team: str
    shown_value: str
    evidence: dict
    metric: Metric | None = None
    week: IsoWeek | None = None
    object_type: str = ""
    record_key: str = ""
    discrepancy: Discrepancy | None = None


def subject_metric(*, metric_key: str, week_label: str) -> Subject:
    metric = Metric.objects.filter(key=metric_key).first()
    if metric is None:
        raise ValidationError(f"There is no metric {metric_key!r} on the scorecard.")
    try:
        week = IsoWeek.parse(week_label)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    if week > IsoWeek.current():
        raise ValidationError(f"{week.label} has not started yet: there is no number to dispute.")
    frozen = evidence.metric_evidence(metric, week)
    return Subject(
        kind=DisputeSubject.METRIC,
        title=f"{metric.name}, {week.label}",
        team=metric.team,
        shown_value=frozen["value_display"],
        evidence=frozen,
        metric=metric,
        week=week,
    )


def subject_record(*, object_type: str, record_id: int) -> Subject:
    model = corrections.GOLDEN_MODELS.get(object_type)
    golden = model.objects.filter(pk=record_id).first() if model else None
    if golden is None:
        raise ValidationError(f"There is no {object_type or 'record'} #{record_id}.")
    return Subject(
        kind=DisputeSubject.RECORD,
        title=f"{ObjectType(object_type).label} {golden}",
        team=RECORD_TEAMS[object_type],
        shown_value="",
        evidence=evidence.record_evidence(object_type, golden),
        object_type=object_type,
        record_key=corrections.golden_key_of(object_type, golden),
    )


def subject_discrepancy(*, discrepancy_id: int) -> Subject:
    found = (
        Discrepancy.objects.select_related("left_system", "right_system")
        .filter(pk=discrepancy_id)
        .first()
    )
    if found is None:
        raise ValidationError(f"There is no discrepancy #{discrepancy_id}.")
    return Subject(
        kind=DisputeSubject.DISCREPANCY,
        title=f"Discrepancy: {found}",
        team=RECORD_TEAMS.get(found.object_type, "sales"),
        shown_value="",
        evidence=evidence.discrepancy_evidence(found),
        object_type=found.object_type if found.object_type in RECORD_TEAMS else "",
        record_key=found.golden_key,
        discrepancy=found,
    )


def _claimed_number(subject: Subject, claimed: str) -> Decimal | None:
    """Every scorecard metric is a number: its claimed value must be one."""
    if subject.kind != DisputeSubject.METRIC:
        return None
    text = claimed.strip().replace(",", "").replace("$", "").rstrip("%").strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or abs(number) >= Decimal(10) ** 15:
        raise ValidationError(
            {"claimed_value": f"{claimed!r} is not a number; give the value you believe is right."}
        )
    return number


def attachment_check(upload: UploadedFile) -> None:
    """A CSV of at most 5 MB, judged by its content: UTF-8 text, no NUL bytes, rows that a
    strict CSV parser reads, and a header. Raises ValidationError on `attachment`."""
    name = upload.name or ""
    if upload.size is not None and upload.size > MAX_ATTACHMENT_BYTES:
        raise ValidationError({"attachment": "The attachment is over the 5 MB limit."})
    if not name.lower().endswith(".csv"):
        raise ValidationError({"attachment": f"{name!r} is not a CSV file (.csv)."})
    upload.seek(0)
    data = upload.read(MAX_ATTACHMENT_BYTES + 1)
    upload.seek(0)
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise ValidationError({"attachment": "The attachment is over the 5 MB limit."})
    problem = f"{name!r} is not a CSV file: "
    if b"\x00" in data:
        raise ValidationError({"attachment": problem + "it holds binary data."})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError({"attachment": problem + "it is not UTF-8 text."}) from None
    try:
        rows = [row for row in csv.reader(io.StringIO(text), strict=True) if row]
    except csv.Error as exc:
        raise ValidationError({"attachment": problem + str(exc)}) from None
    if not rows:
        raise ValidationError({"attachment": problem + "it is empty."})


@transaction.atomic
def dispute_file(
    *,
    by: AbstractBaseUser,
    subject: Subject,
    claimed_value: str,
    explanation: str,
    attachment: UploadedFile | None = None,
    now=None,
) -> Dispute:
    """File a dispute against `subject`, with the evidence as the system shows it now, due
    within the response SLA. The filer is told it was received."""
    if not can(by, "disputes.file"):
        raise PermissionDenied("Your role may not file disputes.")
    claimed_value = claimed_value.strip()
    explanation = explanation.strip()
    errors = {}
    if not claimed_value:
        errors["claimed_value"] = "Give the value you believe is right."
    if not explanation:
        errors["explanation"] = "Say why you believe the number is wrong."
    if errors:
        raise ValidationError(errors)
    number = _claimed_number(subject, claimed_value)
    if number is not None and subject.metric is not None:
        claimed_display = format_value(number, subject.metric.unit)
    else:
        claimed_display = claimed_value[:100]
    if attachment is not None:
        attachment_check(attachment)
    now = now or timezone.now()
    dispute = Dispute(
        subject=subject.kind,
        metric=subject.metric,
        week_start=subject.week.monday if subject.week else None,
        discrepancy=subject.discrepancy,
        object_type=subject.object_type,
        record_key=subject.record_key,
        title=subject.title[:300],
        team=subject.team,
        shown_value=subject.shown_value[:100],
        claimed_value=claimed_display,
        claimed_number=number,
        explanation=explanation,
        evidence=subject.evidence,
        filed_by=by,
        filed_at=now,
        due_at=selectors.due_after(now, selectors.response_business_days()),
    )
    if attachment is not None:
        dispute.attachment_name = (attachment.name or "attachment.csv")[-255:]
        dispute.attachment.save(dispute.attachment_name, attachment, save=False)
    dispute.save()
    step = DisputeTransition.objects.create(
        dispute=dispute, from_status="", to_status=DisputeStatus.OPEN, by=by, at=now
    )
    notifications.notify_filer(dispute, step)
    return dispute


# --- The workflow ---------------------------------------------------------------------------


def _locked(dispute: Dispute) -> Dispute:
    # Only the dispute row is locked (`of=("self",)`): the assignee is an outer join.
    return (
        Dispute.objects.select_for_update(of=("self",))
        .select_related("filed_by", "assignee", "metric")
        .get(pk=dispute.pk)
    )


def _require(user, action: str) -> None:
    if not can(user, action):
        raise PermissionDenied(f"Your role may not {action}.")


def _expect(dispute: Dispute, allowed: tuple[str, ...], step: str) -> None:
    if dispute.status not in allowed:
        raise TransitionNotAllowed(
            f"Dispute #{dispute.pk} is {dispute.get_status_display().lower()}: it cannot be {step}."
        )


def _move(dispute: Dispute, *, to: str, by: AbstractBaseUser, note: str = "") -> DisputeTransition:
    step = DisputeTransition.objects.create(
        dispute=dispute, from_status=dispute.status, to_status=to, by=by, note=note
    )
    dispute.status = to
    if to not in UNRESOLVED:
        dispute.resolved_at = timezone.now()
    return step


def _ops_user(user_id: int | None):
    if user_id is None:
        return None
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None or not (Role.OPS in user_roles(user) or user.is_superuser):
        raise ValidationError({"assignee": "Disputes are assigned to ops staff."})
    return user


def _assign(dispute: Dispute, assignee, by: AbstractBaseUser) -> None:
    if assignee is None or assignee.pk == dispute.assignee_id:
        return
    dispute.assignee = assignee
    DisputeTransition.objects.create(
        dispute=dispute,
        from_status=dispute.status,
        to_status=dispute.status,
        by=by,
        note=f"Assigned to {assignee.get_full_name() or assignee.username}",
    )
    notifications.notify_assigned(dispute)


@transaction.atomic
def dispute_review(
    *, dispute: Dispute, by: AbstractBaseUser, assignee_id: int | None = None, note: str = ""
) -> Dispute:
    """Ops take an open dispute into review, assigned to someone in ops (themselves unless
    they say otherwise)."""
    _require(by, "disputes.triage")
    dispute = _locked(dispute)
    _expect(dispute, (DisputeStatus.OPEN,), "taken into review")
    assignee = _ops_user(assignee_id) if assignee_id else (dispute.assignee or by)
    step = _move(dispute, to=DisputeStatus.IN_REVIEW, by=by, note=note.strip())
    _assign(dispute, assignee, by)
    dispute.save(update_fields=["status", "assignee"])
    notifications.notify_filer(dispute, step)
    return dispute


@transaction.atomic
def dispute_assign(*, dispute: Dispute, by: AbstractBaseUser, assignee_id: int) -> Dispute:
    """Ops hand an unresolved dispute to someone in ops; the assignee is told."""
    _require(by, "disputes.triage")
    dispute = _locked(dispute)
    _expect(dispute, UNRESOLVED, "assigned")
    _assign(dispute, _ops_user(assignee_id), by)
    dispute.save(update_fields=["assignee"])
    return dispute


@dataclass(frozen=True)
class Correction:
    """What accepting a dispute changes in the source of truth (see CorrectionKind)."""

    kind: str = CorrectionKind.NONE
    object_type: str = ""
    field: str = ""
    system: str = ""  # a source system's slug, for an authority rule
    record_key: str = ""  # the record to correct; the dispute's own record by default
    value: str | None = None
    alias_email: str = ""  # same lead: this email's lead …
    canonical_email: str = ""  # … is this one


def _apply(dispute: Dispute, correction: Correction, by: AbstractBaseUser, reason: str) -> dict:
    """Make the correction through pipeline's services; returns what was done, for the record."""
    kind = correction.kind or CorrectionKind.NONE
    if kind == CorrectionKind.NONE:
        return {}
    if kind == CorrectionKind.AUTHORITY:
        system = SourceSystem.objects.filter(slug=correction.system).first()
        if system is None:
            raise ValidationError({"system": f"There is no source system {correction.system!r}."})
        authority.field_authority_set(
            object_type=correction.object_type, rules={correction.field: system}, by=by
        )
        return {"object_type": correction.object_type, "field": correction.field,
                "system": system.slug}  # fmt: skip
    if kind == CorrectionKind.SAME_LEAD:
        canonical = correction.canonical_email or (
            dispute.record_key if dispute.object_type == ObjectType.LEAD else ""
        )
        alias = corrections.lead_alias_create(
            alias_email=correction.alias_email, canonical_email=canonical, reason=reason, by=by
        )
        return {"alias": alias.alias_key, "canonical": alias.canonical_key}
    if kind == CorrectionKind.OVERRIDE:
        object_type = correction.object_type or dispute.object_type
        record_key = correction.record_key or (
            dispute.record_key if object_type == dispute.object_type else ""
        )
        if not record_key:
            raise ValidationError({"record_key": "Say which record to correct."})
        override = corrections.field_override_set(
            object_type=object_type,
            record_key=record_key,
            field=correction.field,
            value=correction.value,
            reason=reason,
            by=by,
        )
        return {"object_type": object_type, "record_key": record_key,
                "field": override.field, "value": override.value}  # fmt: skip
    raise ValidationError({"kind": f"{kind!r} is not a kind of correction."})


@transaction.atomic
def dispute_accept(
    *,
    dispute: Dispute,
    by: AbstractBaseUser,
    resolution: str,
    correction: Correction | None = None,
) -> Dispute:
    """Ops accept a dispute in review, saying what was corrected. A correction of the data is
    made through pipeline's services; the published weeks are computed with and without it,
    and exactly the cells it moved are republished, naming this dispute as the reason and
    the cause. Other drift since publication stays pending. Any failure changes nothing."""
    _require(by, "disputes.resolve")
    dispute = _locked(dispute)
    _expect(dispute, (DisputeStatus.IN_REVIEW,), "accepted")
    resolution = resolution.strip()
    if not resolution:
        raise ValidationError({"resolution": "Say what was corrected."})
    correction = correction or Correction()
    # The published weeks as they stand without the correction, to tell what it moves.
    corrects = (correction.kind or CorrectionKind.NONE) != CorrectionKind.NONE
    before = restatements.published_live() if corrects else {}
    done = _apply(dispute, correction, by, f"Dispute #{dispute.pk}: {resolution}")
    weeks: list[IsoWeek] = []
    if done:
        weeks = snapshots_restate_correction(
            before=before,
            by=by,
            reason=f"Dispute #{dispute.pk} accepted: {resolution}"[:500],
            cause={
                "kind": "dispute",
                "label": f"Dispute #{dispute.pk} accepted: {resolution}"[:300],
                "url": reverse("disputes:dispute-detail", args=[dispute.pk]),
            },
            correction=done,
        )
    step = _move(dispute, to=DisputeStatus.ACCEPTED, by=by, note=resolution)
    dispute.resolution = resolution
    dispute.correction_kind = correction.kind or CorrectionKind.NONE
    dispute.correction = done
    dispute.republished_weeks = [w.label for w in weeks]
    dispute.save(
        update_fields=[
            "status", "resolved_at", "resolution", "correction_kind", "correction",
            "republished_weeks",
        ]
    )  # fmt: skip
    notifications.notify_filer(dispute, step)
    return dispute


@transaction.atomic
def dispute_reject(*, dispute: Dispute, by: AbstractBaseUser, reason: str) -> Dispute:
    """Ops reject a dispute in review, with the reason the filer will read."""
    _require(by, "disputes.resolve")
    dispute = _locked(dispute)
    _expect(dispute, (DisputeStatus.IN_REVIEW,), "rejected")
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the dispute is rejected."})
    step = _move(dispute, to=DisputeStatus.REJECTED, by=by, note=reason)
    dispute.resolution = reason
    dispute.save(update_fields=["status", "resolved_at", "resolution"])
    notifications.notify_filer(dispute, step)
    return dispute


@transaction.atomic
def dispute_withdraw(*, dispute: Dispute, by: AbstractBaseUser, note: str = "") -> Dispute:
    """The filer takes their dispute back while it is open or in review."""
    _require(by, "disputes.withdraw_own")
    dispute = _locked(dispute)
    if dispute.filed_by_id != by.pk:
        raise PermissionDenied("Only the person who filed a dispute may withdraw it.")
    _expect(dispute, UNRESOLVED, "withdrawn")
    step = _move(dispute, to=DisputeStatus.WITHDRAWN, by=by, note=note.strip())
    dispute.save(update_fields=["status", "resolved_at"])
    notifications.notify_filer(dispute, step)
    return dispute


def dispute_comment_check(*, dispute: Dispute, by: AbstractBaseUser) -> None:
    """May `by` write in this dispute's thread? PermissionDenied if not: asked before the
    message itself is looked at, so a stranger learns nothing from a validation error."""
    _require(by, "disputes.comment")
    if not can(by, "disputes.triage") and dispute.filed_by_id != by.pk:
        raise PermissionDenied("You may comment on your own disputes.")


@transaction.atomic
def dispute_comment_add(*, dispute: Dispute, by: AbstractBaseUser, body: str) -> DisputeComment:
    """A message in the thread: ops on any dispute, sales and marketing leads on their own."""
    dispute_comment_check(dispute=dispute, by=by)
    body = body.strip()
    if not body:
        raise ValidationError({"body": "Write something."})
    if len(body) > MAX_COMMENT_CHARS:
        raise ValidationError(
            {"body": f"Keep a comment to {MAX_COMMENT_CHARS:,} characters ({len(body):,} given)."}
        )
    comment = DisputeComment.objects.create(dispute=dispute, author=by, body=body)
    notifications.notify_comment(comment)
    return comment


@transaction.atomic
def dispute_settings_update(
    *, by: AbstractBaseUser, response_business_days: int
) -> DisputeSettings:
    """Ops set the response SLA; disputes filed from now on are due that many business days
    after filing (those already filed keep their due time)."""
    _require(by, "disputes.settings")
    if not 1 <= response_business_days <= 30:
        raise ValidationError({"response_business_days": "Give between 1 and 30 business days."})
    row, _ = DisputeSettings.objects.update_or_create(
        pk=1, defaults={"response_business_days": response_business_days, "updated_by": by}
    )
    return row
