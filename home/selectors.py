"""What each role's home page reads: the executive's week (top line, what turned red, the
restatements), a team lead's week (their team's metrics, their disputes and what changed on
them, their actions) and ops' work queue. Each panel is a handful of indexed queries; nothing
here computes a metric live."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import F, OuterRef, Q, Subquery
from django.db.models.functions import Greatest
from django.utils import timezone

from disputes.choices import UNRESOLVED, DisputeStatus
from disputes.models import Dispute, DisputeComment, DisputeTransition
from mechanisms.choices import Status as MechanismStatus
from mechanisms.models import Action, Mechanism
from pipeline.choices import BatchStatus, RunStatus
from pipeline.models import ImportBatch, ReconciliationRun
from revops.weeks import IsoWeek
from scorecard.models import PendingRestatement, SnapshotPublication

# How far back "recent" reaches for what changed, failed or was republished.
RECENT_DAYS = 14
LIST_LIMIT = 8


def republished_recently(*, since: datetime | None = None) -> list[SnapshotPublication]:
    """Republishes (revision 2 and later) of the last RECENT_DAYS, newest first: the numbers
    the meeting already saw that changed, with why."""
    since = since or timezone.now() - timedelta(days=RECENT_DAYS)
    found = list(
        SnapshotPublication.objects.filter(revision__gt=1, published_at__gte=since)
        .select_related("snapshot", "published_by")
        .order_by("-published_at")[:LIST_LIMIT]
    )
    for publication in found:
        publication.week = IsoWeek.of(publication.snapshot.week_start)
    return found


def restatements_pending() -> list[PendingRestatement]:
    """Published weeks whose frozen values differ from the live ones, as the hourly check last
    found them (scorecard.PendingRestatement), newest week first."""
    return list(PendingRestatement.objects.order_by("-week_start")[:LIST_LIMIT])


def disputes_of(user, *, since: datetime | None = None) -> list[Dispute]:
    """The disputes `user` filed that are unresolved or changed in the last RECENT_DAYS, the
    most recently changed first, each with its last step and last comment (`last_step`,
    `last_step_at`, `last_comment_by`, `last_comment_at`, `changed_at`) in one query and
    `what_changed` saying which came last."""
    since = since or timezone.now() - timedelta(days=RECENT_DAYS)
    steps = DisputeTransition.objects.filter(dispute=OuterRef("pk")).order_by("-at", "-id")
    comments = DisputeComment.objects.filter(dispute=OuterRef("pk")).order_by("-created_at", "-id")
    disputes = (
        Dispute.objects.filter(filed_by=user)
        .select_related("metric")
        .annotate(
            last_step=Subquery(steps.values("to_status")[:1]),
            last_step_at=Subquery(steps.values("at")[:1]),
            last_comment_by=Subquery(comments.values("author__username")[:1]),
            last_comment_at=Subquery(comments.values("created_at")[:1]),
        )
        .annotate(changed_at=Greatest("filed_at", "last_step_at", "last_comment_at"))
    )
    found = list(
        disputes.filter(Q(status__in=UNRESOLVED) | Q(changed_at__gte=since)).order_by(
            "-changed_at", "-id"
        )[:LIST_LIMIT]
    )
    for dispute in found:
        dispute.what_changed = _what_changed(dispute)
    return found


def _what_changed(dispute: Dispute) -> str:
    """The latest thing that happened to `dispute`, in words: a comment, a step, or filing."""
    step_at, comment_at = dispute.last_step_at, dispute.last_comment_at
    if comment_at and (step_at is None or comment_at >= step_at):
        return f"{dispute.last_comment_by} commented"
    if dispute.last_step and dispute.last_step != DisputeStatus.OPEN:
        return f"Marked {DisputeStatus(dispute.last_step).label.lower()}"
    return "Filed"


def actions_of(user) -> list[Action]:
    """`user`'s open mechanism actions, overdue first, each with `overdue` set."""
    today = timezone.localdate()
    found = list(
        Action.objects.filter(assignee=user, done=False)
        .select_related("mechanism")
        .order_by("due_on", "id")[:LIST_LIMIT]
    )
    for action in found:
        action.overdue = action.is_overdue(today)
    return found


@dataclass
class WorkQueue:
    """What waits for ops, oldest first in each part; `total` is what the page's title counts."""

    imports_to_confirm: list[ImportBatch] = field(default_factory=list)
    imports_failed: list[ImportBatch] = field(default_factory=list)
    runs_failed: list[ReconciliationRun] = field(default_factory=list)
    disputes_to_triage: list[Dispute] = field(default_factory=list)
    disputes_overdue: list[Dispute] = field(default_factory=list)
    inspections_due: list[Mechanism] = field(default_factory=list)
    restatements: list[PendingRestatement] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(
            len(part)
            for part in (
                self.imports_to_confirm,
                self.imports_failed,
                self.runs_failed,
                self.disputes_to_triage,
                self.disputes_overdue,
                self.inspections_due,
                self.restatements,
            )
        )


def work_queue(*, now: datetime | None = None) -> WorkQueue:
    """Ops' queue: checked imports waiting for confirmation, imports and reconciliation runs
    that failed in the last RECENT_DAYS (a run is left out once a later one completed),
    disputes nobody has taken yet and those past their due time, active mechanisms overdue for
    inspection, and published weeks with a restatement pending."""
    now = now or timezone.now()
    since = now - timedelta(days=RECENT_DAYS)
    last_good = (
        ReconciliationRun.objects.filter(status=RunStatus.COMPLETED)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    runs_failed = ReconciliationRun.objects.filter(status=RunStatus.FAILED, created_at__gte=since)
    if last_good is not None:
        runs_failed = runs_failed.filter(created_at__gt=last_good)
    batches = ImportBatch.objects.select_related("system").order_by("created_at", "id")
    disputes = Dispute.objects.select_related("metric", "filed_by").order_by("due_at", "id")
    return WorkQueue(
        imports_to_confirm=list(batches.filter(status=BatchStatus.PENDING)[:LIST_LIMIT]),
        imports_failed=list(
            batches.filter(status=BatchStatus.FAILED, created_at__gte=since)[:LIST_LIMIT]
        ),
        runs_failed=list(runs_failed.order_by("created_at")[:LIST_LIMIT]),
        disputes_to_triage=list(
            disputes.filter(status=DisputeStatus.OPEN, assignee__isnull=True)[:LIST_LIMIT]
        ),
        disputes_overdue=list(disputes.filter(status__in=UNRESOLVED, due_at__lt=now)[:LIST_LIMIT]),
        inspections_due=list(
            Mechanism.objects.filter(
                status=MechanismStatus.ACTIVE, next_inspection_on__lt=now.date()
            )
            .select_related("owner")
            .order_by(F("next_inspection_on").asc(), "name")[:LIST_LIMIT]
        ),
        restatements=restatements_pending(),
    )
