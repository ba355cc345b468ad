"""The scorecard side of the demo: a plan of targets sized to the demo company, an imported
email series with a click-through-rate formula over it, and the published history.

Like the records' demo (demo/pipeline.py) it is idempotent, and it never overwrites what ops
changed: targets are created with get_or_create on (metric, start date), metrics only when their
key is free."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np

from revops.weeks import IsoWeek, week_range
from scorecard.choices import FormulaOperator, MetricKind, TargetPeriod, Team, Unit
from scorecard.models import Metric, MetricTarget, WeeklySnapshot
from scorecard.services.catalog import Formula, metric_create, series_import
from scorecard.services.snapshots import BackfillResult, scorecard_backfill, slices_freeze

# Metric key → (target at scale 1, period, grows with scale, this year's plan vs the year before).
# Sized to the demo company so that a week shows a realistic mix of green, amber and red.
DEMO_TARGETS: dict[str, tuple[Decimal, str, bool, Decimal]] = {
    "leads_created": (Decimal(250), TargetPeriod.WEEK, True, Decimal("0.75")),
    "mqls": (Decimal(80), TargetPeriod.WEEK, True, Decimal("0.75")),
    "mql_to_sql_rate": (Decimal(40), TargetPeriod.WEEK, False, Decimal(1)),
    "pipeline_created_marketing": (
        Decimal(11_000_000),
        TargetPeriod.QUARTER,
        True,
        Decimal("0.75"),
    ),
    "sqls": (Decimal(45), TargetPeriod.WEEK, True, Decimal("0.75")),
    "speed_to_lead": (Decimal(3), TargetPeriod.WEEK, False, Decimal(2)),
    "pipeline_created": (Decimal(14_000_000), TargetPeriod.QUARTER, True, Decimal("0.75")),
    "win_rate": (Decimal(22), TargetPeriod.WEEK, False, Decimal(1)),
    "avg_deal_size": (Decimal(35_000), TargetPeriod.WEEK, False, Decimal(1)),
    "sales_cycle": (Decimal(45), TargetPeriod.WEEK, False, Decimal(1)),
    "deals_won": (Decimal(14), TargetPeriod.WEEK, True, Decimal("0.75")),
    "new_bookings": (Decimal(3_600_000), TargetPeriod.QUARTER, True, Decimal("0.75")),
    "pipeline_coverage": (Decimal(3), TargetPeriod.WEEK, False, Decimal(1)),
    "arr": (Decimal(17_000_000), TargetPeriod.WEEK, True, Decimal("0.7")),
    "nrr": (Decimal(100), TargetPeriod.WEEK, False, Decimal(1)),
    "grr": (Decimal(90), TargetPeriod.WEEK, False, Decimal(1)),
    "logo_churn": (Decimal(1), TargetPeriod.WEEK, True, Decimal(1)),
    "healthy_accounts": (Decimal(65), TargetPeriod.WEEK, False, Decimal(1)),
    "email_ctr": (Decimal("3.5"), TargetPeriod.WEEK, False, Decimal(1)),
}


# Each sales team's share of the company's quarterly new-bookings target, as its quota: over-
# assigned (they sum to more than the whole), as sales plans are, so one team misses its number.
TEAM_QUOTA_SHARE = {"Enterprise": Decimal("0.45"), "Mid-market": Decimal("0.25"),
                    "SMB": Decimal("0.40")}  # fmt: skip


def _round(value: Decimal) -> Decimal:
    """Two significant figures, as a plan would state it."""
    if value == 0:
        return value
    exponent = value.adjusted() - 1
    return value.scaleb(-exponent).quantize(Decimal(1)).scaleb(exponent).normalize()


def demo_targets_ensure(*, scale: float, today: date) -> int:
    """This year's plan from 1 January, and last year's (smaller, for growth metrics) from three
    years back. Returns how many targets were created."""
    created = 0
    plan_start = date(today.year, 1, 1)
    earlier = date(today.year - 3, 1, 1)
    metrics = {m.key: m for m in Metric.objects.filter(key__in=DEMO_TARGETS)}
    for key, (value, period, scaled, last_year) in DEMO_TARGETS.items():
        metric = metrics.get(key)
        if metric is None:
            continue
        amount = _round(value * Decimal(str(scale))) if scaled else value
        if key == "logo_churn":
            amount = max(Decimal(1), amount)
        for starts_on, level in ((earlier, _round(amount * last_year)), (plan_start, amount)):
            _, made = MetricTarget.objects.get_or_create(
                metric=metric,
                starts_on=starts_on,
                dimension="",
                dimension_value="",
                defaults={"value": level, "period": period},
            )
            created += made
    bookings = metrics.get("new_bookings")
    if bookings is not None:
        value, period, _, _ = DEMO_TARGETS["new_bookings"]
        company = _round(value * Decimal(str(scale)))
        for team, share in TEAM_QUOTA_SHARE.items():
            _, made = MetricTarget.objects.get_or_create(
                metric=bookings,
                starts_on=plan_start,
                dimension="team",
                dimension_value=team,
                defaults={"value": _round(company * share), "period": period},
            )
            created += made
    return created


def _email_series(scale: float, weeks: list[IsoWeek], seed: int) -> tuple[bytes, bytes]:
    """Weekly email recipients and clicks as the email tool would export them."""
    rng = np.random.default_rng(seed)
    n = len(weeks)
    growth = np.linspace(1.0, 1.4, n)
    recipients = np.round(40_000 * scale * growth * rng.uniform(0.85, 1.15, n))
    ctr = np.clip(rng.normal(0.034, 0.004, n) + np.linspace(-0.003, 0.004, n), 0.01, 0.08)
    clicks = np.round(recipients * ctr)
    header = "week,value\n"
    return (
        (
            header
            + "".join(f"{w.label},{int(r)}\n" for w, r in zip(weeks, recipients, strict=True))
        ).encode(),
        (
            header + "".join(f"{w.label},{int(c)}\n" for w, c in zip(weeks, clicks, strict=True))
        ).encode(),
    )


def demo_email_metrics_ensure(*, scale: float, weeks: int, seed: int = 7) -> bool:
    """Email recipients and clicks as imported series (kept off the scorecard), and the
    click-through rate as a formula over them. False when they already exist."""
    if Metric.objects.filter(key="email_ctr").exists():
        return False
    last = IsoWeek.current()
    span = week_range(last.shift(-(weeks - 1)), last)
    recipients_csv, clicks_csv = _email_series(scale, span, seed)
    recipients = Metric.objects.filter(key="email_recipients").first() or metric_create(
        by=None,
        key="email_recipients",
        name="Email recipients",
        team=Team.MARKETING,
        unit=Unit.COUNT,
        up_is_good=True,
        additive=True,
        kind=MetricKind.SERIES,
        definition="Unique recipients of marketing emails sent in the week, as the email tool "
        "reports them (imported weekly as CSV).",
        position=900,
    )
    clicks = Metric.objects.filter(key="email_clicks").first() or metric_create(
        by=None,
        key="email_clicks",
        name="Email clicks",
        team=Team.MARKETING,
        unit=Unit.COUNT,
        up_is_good=True,
        additive=True,
        kind=MetricKind.SERIES,
        definition="Unique clicks on links in marketing emails sent in the week, as the email "
        "tool reports them (imported weekly as CSV).",
        position=910,
    )
    for metric, data in ((recipients, recipients_csv), (clicks, clicks_csv)):
        if not metric.series_values.exists():
            series_import(metric=metric, by=None, data=data, file_name=f"{metric.key}.csv")
    Metric.objects.filter(pk__in=[recipients.pk, clicks.pk]).update(is_active=False)
    metric_create(
        by=None,
        key="email_ctr",
        name="Email click-through rate",
        team=Team.MARKETING,
        unit=Unit.PERCENT,
        up_is_good=True,
        kind=MetricKind.FORMULA,
        definition="Unique clicks as a share of unique recipients of the marketing emails sent "
        "in the week: email clicks ÷ email recipients × 100.",
        formula=Formula(FormulaOperator.RATIO, clicks, recipients, Decimal(100)),
        position=45,
    )
    return True


@dataclass(frozen=True)
class DemoScorecard:
    targets_created: int
    email_metrics_created: bool
    backfill: BackfillResult


def scorecard_demo_ensure(
    *, scale: float, weeks: int = 104, today: date | None = None
) -> DemoScorecard:
    """Everything the demo's scorecard needs, then the published history of `weeks` weeks."""
    from django.utils import timezone

    today = today or timezone.localdate()
    email = demo_email_metrics_ensure(scale=scale, weeks=weeks + 1)
    targets = demo_targets_ensure(scale=scale, today=today)
    backfill = scorecard_backfill(weeks=weeks)
    # The backfill freezes the company's numbers; the week the Monday meeting reads gets its
    # breakdowns frozen too, as the Monday publish freezes them.
    last = IsoWeek.last_completed()
    snapshot = WeeklySnapshot.objects.filter(week_start=last.monday).first()
    if snapshot is not None and not snapshot.slices.exists():
        slices_freeze(snapshot, last)
    return DemoScorecard(targets, email, backfill)
