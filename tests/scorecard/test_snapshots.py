"""Publishing freezes a week; definitions and targets that change later leave it alone; a
republish is deliberate and recorded; the Monday schedule and the backfill publish once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from pipeline.choices import DealStage
from revops.weeks import IsoWeek
from scorecard.choices import FormulaOperator, MetricKind, PublicationSource, Rag
from scorecard.models import Metric, SnapshotValue, WeeklySnapshot
from scorecard.selectors import scorecard_week, week_cells
from scorecard.services.catalog import Formula, metric_create, metric_update, target_set
from scorecard.services.snapshots import (
    scorecard_backfill,
    snapshot_publish,
    snapshot_publish_due,
)
from tests.factories import DealFactory, LeadFactory
from tests.scorecard.conftest import W10, d, utc

pytestmark = pytest.mark.django_db


def published(week: IsoWeek, key: str) -> SnapshotValue:
    return SnapshotValue.objects.select_related("definition").get(
        week_start=week.monday, metric__key=key
    )


@pytest.fixture
def two_leads_one_mql():
    LeadFactory(created_at=utc(2026, 3, 3), mql_at=utc(2026, 3, 4))
    LeadFactory(created_at=utc(2026, 3, 5))


@pytest.fixture
def mql_rate(ops_user):
    """A formula metric, version 1: MQLs ÷ leads created × 100."""
    return metric_create(
        by=ops_user,
        key="lead_to_mql_rate",
        name="Lead → MQL rate",
        team="marketing",
        unit="percent",
        up_is_good=True,
        kind=MetricKind.FORMULA,
        definition="MQLs in the week as a share of leads created in the week.",
        formula=Formula(
            FormulaOperator.RATIO,
            Metric.objects.get(key="mqls"),
            Metric.objects.get(key="leads_created"),
            Decimal(100),
        ),
    )


def test_publishing_freezes_the_values_later_data_does_not_change_them(two_leads_one_mql, ops_user):
    snapshot = snapshot_publish(week=W10, by=ops_user)
    assert (snapshot.revision, snapshot.source, snapshot.published_by) == (1, "manual", ops_user)
    assert published(W10, "leads_created").value == 2
    LeadFactory(created_at=utc(2026, 3, 6))  # a late import lands in the published week
    assert published(W10, "leads_created").value == 2
    card = scorecard_week(W10)
    row = next(r for r in card.rows if r.metric.key == "leads_created")
    assert (row.cell.value, row.cell.live) == (2, False)


def test_a_formula_metric_computes_from_the_metrics_it_names(two_leads_one_mql, mql_rate):
    snapshot_publish(week=W10, by=None)
    assert published(W10, "lead_to_mql_rate").value == Decimal("50")  # 1 MQL / 2 leads × 100


def test_a_changed_definition_is_a_new_version_and_published_weeks_keep_theirs(
    two_leads_one_mql, mql_rate, ops_user
):
    snapshot_publish(week=W10, by=ops_user)
    result = metric_update(
        metric=mql_rate,
        by=ops_user,
        name=mql_rate.name,
        team=mql_rate.team,
        definition="SQLs in the week as a share of leads created in the week.",
        green_pct=Decimal(100),
        red_pct=Decimal(90),
        position=mql_rate.position,
        is_active=True,
        formula=Formula(
            FormulaOperator.RATIO,
            Metric.objects.get(key="sqls"),
            Metric.objects.get(key="leads_created"),
            Decimal(100),
        ),
        note="Sales asked for SQLs",
    )
    assert result.new_version.version == 2
    assert result.new_version.note == "Sales asked for SQLs"
    frozen = published(W10, "lead_to_mql_rate")
    assert (frozen.value, frozen.definition.version) == (Decimal("50"), 1)
    # A week nobody published is computed with version 2: 0 SQLs / 2 leads.
    W11_cells = week_cells([mql_rate], [IsoWeek(2026, 11)])
    assert W11_cells[(mql_rate.id, IsoWeek(2026, 11).monday)].version == 2


def test_editing_names_text_and_thresholds_makes_no_new_version(mql_rate, ops_user):
    metric_update(
        metric=mql_rate, by=ops_user, name="Lead-to-MQL", team="sales",
        definition="Reworded.", green_pct=Decimal(95), red_pct=Decimal(80), position=5,
        is_active=True,
    )  # fmt: skip
    mql_rate.refresh_from_db()
    assert (mql_rate.name, mql_rate.team, mql_rate.green_pct) == ("Lead-to-MQL", "sales", 95)
    assert list(mql_rate.definitions.values_list("version", flat=True)) == [1]


def test_a_built_in_rate_gets_a_new_version_when_its_window_changes(ops_user):
    win_rate = Metric.objects.get(key="win_rate")
    result = metric_update(
        metric=win_rate, by=ops_user, name=win_rate.name, team=win_rate.team,
        definition=win_rate.definition, green_pct=win_rate.green_pct, red_pct=win_rate.red_pct,
        position=win_rate.position, is_active=True, window_weeks=26,
    )  # fmt: skip
    assert (result.new_version.version, result.new_version.window_weeks) == (2, 26)
    assert result.new_version.builtin == "win_rate"


def test_republishing_is_on_purpose_with_a_reason_and_records_what_changed(
    two_leads_one_mql, mql_rate, ops_user
):
    snapshot_publish(week=W10, by=ops_user)
    with pytest.raises(ValidationError, match="already published"):
        snapshot_publish(week=W10, by=ops_user)
    with pytest.raises(ValidationError, match="Say why"):
        snapshot_publish(week=W10, by=ops_user, republish=True, reason="  ")
    LeadFactory(created_at=utc(2026, 3, 6), mql_at=utc(2026, 3, 6))  # a corrected import
    snapshot = snapshot_publish(
        week=W10, by=ops_user, republish=True, reason="HubSpot re-sync added a lead"
    )
    assert snapshot.revision == 2
    assert published(W10, "leads_created").value == 3
    latest = snapshot.publications.get(revision=2)
    assert latest.reason == "HubSpot re-sync added a lead"
    # Leads 2 → 3, MQLs 1 → 2, rate 1/2 → 2/3 = 66.6667%.
    assert latest.changes["leads_created"] == {"old": "2", "new": "3"}
    assert latest.changes["mqls"] == {"old": "1", "new": "2"}
    assert latest.changes["lead_to_mql_rate"] == {"old": "50", "new": "66.6667"}
    assert "arr" not in latest.changes  # unchanged values are not listed
    assert snapshot.publications.get(revision=1).reason == ""


def test_a_week_still_in_progress_cannot_be_published():
    with pytest.raises(ValidationError, match="still in progress"):
        snapshot_publish(week=IsoWeek.current(), by=None)
    assert not WeeklySnapshot.objects.exists()


def test_published_targets_and_status_stay_when_the_target_changes(ops_user):
    deals = Metric.objects.get(key="deals_won")
    target_set(metric=deals, by=ops_user, starts_on=d("2026-01-01"), value=Decimal(1))
    DealFactory(stage=DealStage.CLOSED_WON, close_date=d("2026-03-04"), created_at=utc(2026, 2, 1))
    snapshot_publish(week=W10, by=ops_user)
    target_set(metric=deals, by=ops_user, starts_on=d("2026-01-01"), value=Decimal(5))
    frozen = published(W10, "deals_won")
    assert (frozen.value, frozen.target, frozen.rag) == (1, 1, Rag.GREEN)


def test_the_monday_schedule_publishes_last_week_once_and_sends_one_digest(
    exec_user, django_capture_on_commit_callbacks
):
    exec_user.email = "ceo@northwind.example"
    exec_user.save()
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = snapshot_publish_due(now=now)
        second = snapshot_publish_due(now=now)
    # One publication: its digest, the warming of the shared cache (scorecard/rendering.py)
    # and the word to those who listen (follows' alerts).
    assert len(callbacks) == 3
    assert first is not None
    assert first.source == PublicationSource.SCHEDULE
    assert first.week_start == IsoWeek.last_completed().monday
    assert second is None
    assert WeeklySnapshot.objects.count() == 1
    # Tasks run eagerly without Redis; the digest went out once the publication committed.
    first.refresh_from_db()
    assert first.digest_sent_at is not None
    assert [m.to for m in mail.outbox] == [["ceo@northwind.example"]]


def test_backfill_publishes_history_once_and_leaves_published_weeks_alone(ops_user):
    last = IsoWeek.last_completed()
    snapshot_publish(week=last.shift(-2), by=ops_user)
    before = WeeklySnapshot.objects.get(week_start=last.shift(-2).monday)
    result = scorecard_backfill(weeks=5)
    assert [w.label for w in result.published] == [
        w.label for w in (last.shift(-4), last.shift(-3), last.shift(-1), last)
    ]
    assert [w.label for w in result.skipped] == [last.shift(-2).label]
    assert WeeklySnapshot.objects.count() == 5
    kept = WeeklySnapshot.objects.get(week_start=last.shift(-2).monday)
    assert (kept.source, kept.published_at) == ("manual", before.published_at)
    assert not mail.outbox  # history is not news
    assert scorecard_backfill(weeks=5).published == []
    counts = SnapshotValue.objects.filter(week_start=last.monday).count()
    assert counts == Metric.objects.filter(is_active=True).count()


def test_backfilled_weeks_hold_the_same_values_as_weeks_published_one_by_one():
    last = IsoWeek.last_completed()
    for i in range(6):
        LeadFactory(created_at=last.start - timedelta(days=3 * i), mql_at=last.start)
    scorecard_backfill(weeks=3)
    together = set(
        SnapshotValue.objects.values_list("metric__key", "week_start", "value", "target", "rag")
    )
    WeeklySnapshot.objects.all().delete()
    for week in (last.shift(-2), last.shift(-1), last):
        snapshot_publish(week=week, by=None, send_digest=False)
    one_by_one = set(
        SnapshotValue.objects.values_list("metric__key", "week_start", "value", "target", "rag")
    )
    assert len(together) == 3 * Metric.objects.filter(is_active=True).count()
    assert together == one_by_one
