"""Reconciliation: runs that compare the marketing system's records and numbers with the sales
system's, the discrepancies they find, and the per-week bridges that explain why the two
systems' numbers differ."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from pipeline.choices import (
    FIELD_LABELS,
    DiscrepancyKind,
    ObjectType,
    ReconciliationTrigger,
    RunStatus,
)
from pipeline.models.systems import SourceSystem

# The phases of a run in the order they run, as the run's page names them (the service
# times each under its key).
RUN_PHASES = {
    "compare": "comparison",
    "discrepancies": "discrepancies",
    "resolve": "resolving the vanished",
    "totals": "weekly totals",
    "bridges": "bridges",
    "commit": "commit",
    "analyze": "statistics",
}


class ReconciliationRun(models.Model):
    """One reconciliation of the marketing system against the sales system. A run is queued,
    then running while it holds the reconciliation lock, then completed, failed or skipped
    (another run held the lock). Its results (discrepancies seen, metric bridges) are written
    in one transaction with its completion, so a run that dies leaves nothing half-written and
    the last completed run stays the current one."""

    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    trigger = models.CharField(max_length=10, choices=ReconciliationTrigger.choices)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The person who started it; empty for the schedule and the command line.",
    )
    weeks = models.PositiveSmallIntegerField(
        default=104, help_text="How many ISO weeks, up to the current one, get metric bridges."
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    marketing_system = models.ForeignKey(
        SourceSystem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sales_system = models.ForeignKey(
        SourceSystem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_week = models.DateField(null=True, blank=True)
    last_week = models.DateField(null=True, blank=True)
    counts = models.JSONField(
        default=dict,
        blank=True,
        help_text='Open discrepancies by kind after the run: {"lead.mismatch.stage": 12, …}.',
    )
    compared = models.JSONField(
        default=dict,
        blank=True,
        help_text='Records compared: {"lead.marketing": 20412, "lead.sales": 19880, …}.',
    )
    phases = models.JSONField(
        default=dict,
        blank=True,
        help_text='Seconds each phase of a completed run took: {"compare": 0.61, …}.',
    )
    open_count = models.PositiveIntegerField(default=0)
    new_count = models.PositiveIntegerField(default=0)
    resolved_count = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    message = models.TextField(blank=True, help_text="Why the run failed or was skipped.")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=RunStatus.values), name="pipeline_reconrun_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(trigger__in=ReconciliationTrigger.values),
                name="pipeline_reconrun_trigger_valid",
            ),
            models.CheckConstraint(condition=Q(weeks__gte=1), name="pipeline_reconrun_weeks_min"),
        ]
        indexes = [
            models.Index(
                fields=["-finished_at"],
                name="pipeline_reconrun_done_idx",
                condition=Q(status="completed"),
            ),
            models.Index(fields=["status"], name="pipeline_reconrun_status_idx"),
        ]
        verbose_name = "reconciliation run"

    def __str__(self) -> str:
        return f"Run #{self.pk} ({self.get_status_display()})"

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def phase_times(self) -> list[tuple[str, float]]:
        """(phase as people read it, seconds) in the order the phases ran."""
        phases = self.phases or {}
        return [(label, phases[key]) for key, label in RUN_PHASES.items() if key in phases]

    @property
    def is_finished(self) -> bool:
        return self.status in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.SKIPPED)

    @property
    def started_by_label(self) -> str:
        """Who or what started the run, for people: "Omar Reyes (browser)", "schedule"."""
        if self.started_by_id:
            name = self.started_by.get_full_name() or self.started_by.get_username()
            return f"{name} ({self.get_trigger_display().lower()})"
        return self.get_trigger_display().lower()


class Discrepancy(models.Model):
    """One way the marketing and sales systems disagree about one record: it is present in one
    and not the other, it is duplicated in one, or one field differs. Keyed by a fingerprint
    of (object type, kind, field, the two systems, golden key, and for a duplicate the copy's
    id), so a rerun updates the open discrepancy instead of adding a copy. It stays open while
    runs keep finding it; the first completed run that no longer finds it resolves it. If it
    comes back later, that is a new row: each row is one episode, from first to last seen.

    The left record is marketing's (for a duplicate: the record kept), the right one sales'
    (for a duplicate: the extra copy); a missing side is empty."""

    fingerprint = models.UUIDField(editable=False)
    object_type = models.CharField(max_length=10, choices=ObjectType.choices)
    kind = models.CharField(max_length=24, choices=DiscrepancyKind.choices)
    field = models.CharField(max_length=30, blank=True, help_text="The differing field.")
    golden_key = models.CharField(max_length=300)
    label = models.CharField(
        max_length=255, blank=True, help_text="The record as people know it: email, deal name."
    )
    # The systems and the runs of a discrepancy are written only by the reconciliation
    # service, with the run it executes and the pair it compares, which it holds with FOR KEY
    # SHARE until it commits (as a foreign key check would): no database-level checks, which
    # cost a run a second at commit for 45,000 new discrepancies. The ORM still cascades.
    system = models.ForeignKey(
        SourceSystem,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        help_text="Where to fix it: the system missing the record, holding the duplicate, or "
        "disagreeing with the field's authority. Empty when neither system is the authority.",
    )
    # Never filtered on: no index, which keeps the bulk upsert of a run cheap.
    left_system = models.ForeignKey(
        SourceSystem,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
        help_text="Marketing's side.",
    )
    right_system = models.ForeignKey(
        SourceSystem,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
        help_text="Sales' side.",
    )
    left_record_id = models.BigIntegerField(null=True, blank=True)
    right_record_id = models.BigIntegerField(null=True, blank=True)
    left_value = models.TextField(blank=True)
    right_value = models.TextField(blank=True)
    week_start = models.DateField(
        null=True, blank=True, help_text="Monday of the ISO week the difference falls in."
    )
    other_week_start = models.DateField(
        null=True, blank=True, help_text="For a date that differs: the other system's week."
    )
    first_seen_run = models.ForeignKey(
        ReconciliationRun,
        on_delete=models.CASCADE,
        related_name="discrepancies_found",
        db_constraint=False,
    )
    # Rewritten for every open discrepancy by every run: no index and no database-level
    # check, so the nightly update is a cheap in-page (HOT) update. Only the service writes
    # it, always with the run it is executing; the ORM still cascades deletes.
    last_seen_run = models.ForeignKey(
        ReconciliationRun,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    resolved_run = models.ForeignKey(
        ReconciliationRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="discrepancies_resolved",
    )
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "discrepancies"
        constraints = [
            # One open episode per fingerprint; resolved ones are history.
            models.UniqueConstraint(
                fields=["fingerprint"],
                condition=Q(resolved_run__isnull=True),
                name="pipeline_discrepancy_open_unique",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=DiscrepancyKind.values), name="pipeline_discrepancy_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(object_type__in=[ObjectType.LEAD, ObjectType.DEAL]),
                name="pipeline_discrepancy_object_valid",
            ),
            models.CheckConstraint(
                condition=(Q(kind=DiscrepancyKind.MISMATCH) & ~Q(field=""))
                | (~Q(kind=DiscrepancyKind.MISMATCH) & Q(field="")),
                name="pipeline_discrepancy_field_iff_mismatch",
            ),
            models.CheckConstraint(
                condition=Q(resolved_run__isnull=True, resolved_at__isnull=True)
                | Q(resolved_run__isnull=False, resolved_at__isnull=False),
                name="pipeline_discrepancy_resolved_consistent",
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "field"], name="pipeline_discr_kind_idx"),
            models.Index(fields=["week_start"], name="pipeline_discr_week_idx"),
            models.Index(
                fields=["other_week_start"],
                name="pipeline_discr_otherweek_idx",
                condition=Q(other_week_start__isnull=False),
            ),
            models.Index(fields=["resolved_run"], name="pipeline_discr_resolved_idx"),
        ]

    def __str__(self) -> str:
        what = f"{self.get_kind_display()}"
        if self.field:
            what += f" ({self.field})"
        return f"{what}: {self.label or self.golden_key}"

    @property
    def is_open(self) -> bool:
        return self.resolved_run_id is None

    @property
    def field_label(self) -> str:
        return FIELD_LABELS.get(self.field, self.field)


class ReconciledMetricWeek(models.Model):
    """One reconciled metric for one ISO week as one run found it: the marketing system's
    value, the sales system's, the golden record's, and what of the difference the bridge
    steps do not explain. Keyed by (run, metric, week). Values are counts or amounts."""

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="metrics")
    metric_key = models.CharField(max_length=50)
    week_start = models.DateField(help_text="Monday of the ISO week.")
    marketing_value = models.DecimalField(max_digits=18, decimal_places=2)
    sales_value = models.DecimalField(max_digits=18, decimal_places=2)
    golden_value = models.DecimalField(max_digits=18, decimal_places=2)
    unexplained = models.DecimalField(
        max_digits=18,
        decimal_places=2,
        help_text="Sales minus marketing, less every bridge step: what no known reason covers.",
    )

    class Meta:
        ordering = ["metric_key", "week_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "metric_key", "week_start"], name="pipeline_metricweek_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["metric_key", "week_start"], name="pipeline_metricweek_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.metric_key} {self.week_start} (run #{self.run_id})"

    @property
    def difference(self):
        return self.sales_value - self.marketing_value


class BridgeStep(models.Model):
    """One reason, with its signed effect, on the way from marketing's value of a metric in a
    week to sales' value: e.g. "−15 never reached the CRM". Keyed by (metric week, reason,
    field). Only reasons with an effect are stored; the unexplained rest is on the week."""

    metric_week = models.ForeignKey(
        ReconciledMetricWeek, on_delete=models.CASCADE, related_name="steps"
    )
    reason = models.CharField(max_length=24)
    field = models.CharField(max_length=30, blank=True)
    position = models.PositiveSmallIntegerField()
    value = models.DecimalField(max_digits=18, decimal_places=2)
    records = models.PositiveIntegerField(help_text="How many records the step moves.")

    class Meta:
        ordering = ["metric_week", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric_week", "reason", "field"], name="pipeline_bridgestep_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reason} {self.field} {self.value}"
