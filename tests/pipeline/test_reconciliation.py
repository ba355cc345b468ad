"""Reconciliation compares the marketing system with the sales system record by record and
metric by metric, on real PostgreSQL; each test builds the few records that matter."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from demo import northwind
from pipeline.choices import RECONCILED_FIELDS, DealSource, DealStage, ObjectType, SystemRole
from pipeline.models import (
    BridgeStep,
    Discrepancy,
    FieldAuthority,
    ReconciledMetricWeek,
    ReconciliationRun,
    SourceLead,
)
from pipeline.selectors import (
    metric_reconciliation_for_week,
    reconciliation_run_current,
)
from pipeline.services import reconciliation
from pipeline.services.identity import golden_resolve
from revops.db import advisory_lock_id
from revops.weeks import IsoWeek
from tests.factories import SourceDealFactory, SourceLeadFactory, SourceSystemFactory

pytestmark = pytest.mark.django_db

# A complete week well inside every run's range: two weeks before the current one.
W = IsoWeek.of(timezone.localdate()).monday - timedelta(weeks=2)


def at(week: date, day: int = 1, hour: int = 10) -> datetime:
    """`day` days after the Monday of `week`, at `hour` UTC."""
    return datetime(week.year, week.month, week.day, hour, tzinfo=UTC) + timedelta(days=day)


@pytest.fixture
def mkt():
    return SourceSystemFactory(slug="hubspot", name="HubSpot", role=SystemRole.MARKETING)


@pytest.fixture
def crm():
    return SourceSystemFactory(slug="salesforce", name="Salesforce", role=SystemRole.SALES)


def lead(system, email: str, **fields) -> SourceLead:
    fields.setdefault("created_at", at(W - timedelta(weeks=1)))
    return SourceLeadFactory(system=system, email=email, email_key=email.lower(), **fields)


def run(weeks: int = 8) -> ReconciliationRun:
    result = reconciliation.reconciliation_run_now(trigger="command", weeks=weeks)
    assert result.status == "completed", result.message
    return result


def found() -> set[tuple]:
    return set(
        Discrepancy.objects.filter(resolved_run__isnull=True).values_list(
            "object_type", "kind", "field", "golden_key", "system__slug"
        )
    )


# --- Record level ---------------------------------------------------------------------------------


def test_each_lead_discrepancy_kind_is_found_and_nothing_else(mkt, crm):
    lead(mkt, "same@acme.com", stage="mql", mql_at=at(W))
    lead(crm, "same@acme.com", stage="mql", mql_at=at(W))
    lead(mkt, "only-mkt@acme.com")
    lead(crm, "only-crm@acme.com")
    lead(mkt, "dup@acme.com", external_id="H1")
    lead(mkt, "DUP@acme.com", external_id="H2", created_at=at(W))  # the later copy
    lead(crm, "dup@acme.com")
    lead(mkt, "stage@acme.com", stage="mql")
    lead(crm, "stage@acme.com", stage="sql", sql_at=at(W))
    lead(mkt, "mql@acme.com", mql_at=at(W, day=1))
    lead(crm, "mql@acme.com", mql_at=at(W, day=3))
    lead(mkt, "source@acme.com", source="Webinar", owner="Ann")
    lead(crm, "source@acme.com", source="Outbound", owner="Bo")
    FieldAuthority.objects.create(object_type=ObjectType.LEAD, field="stage", system=crm)
    FieldAuthority.objects.create(object_type=ObjectType.LEAD, field="mql_at", system=mkt)
    golden_resolve()

    result = run()

    assert found() == {
        ("lead", "missing_in_sales", "", "only-mkt@acme.com", "salesforce"),
        ("lead", "missing_in_marketing", "", "only-crm@acme.com", "hubspot"),
        ("lead", "duplicate", "", "dup@acme.com", "hubspot"),
        # Stage: Salesforce is the authority, so HubSpot is the one to fix.
        ("lead", "mismatch", "stage", "stage@acme.com", "hubspot"),
        ("lead", "mismatch", "mql_at", "mql@acme.com", "salesforce"),
        # No rule: the golden record takes sales' value, as identity resolution does.
        ("lead", "mismatch", "sql_at", "stage@acme.com", "hubspot"),
        ("lead", "mismatch", "source", "source@acme.com", "hubspot"),
        ("lead", "mismatch", "owner", "source@acme.com", "hubspot"),
    }
    assert result.counts == {
        "lead.duplicate": 1,
        "lead.mismatch.mql_at": 1,
        "lead.mismatch.owner": 1,
        "lead.mismatch.source": 1,
        "lead.mismatch.sql_at": 1,
        "lead.mismatch.stage": 1,
        "lead.missing_in_marketing": 1,
        "lead.missing_in_sales": 1,
    }
    assert (result.open_count, result.new_count, result.resolved_count) == (8, 8, 0)
    assert result.compared == {
        "lead.marketing": 7,
        "lead.sales": 6,
        "deal.marketing": 0,
        "deal.sales": 0,
    }
    duplicate = Discrepancy.objects.get(kind="duplicate")
    # The kept record on the left, the later copy on the right.
    assert (duplicate.left_value, duplicate.right_value) == ("H1", "H2")
    mql = Discrepancy.objects.get(field="mql_at")
    assert (mql.left_value, mql.right_value) == (
        f"{at(W, day=1):%Y-%m-%d} 10:00",
        f"{at(W, day=3):%Y-%m-%d} 10:00",
    )
    assert (mql.week_start, mql.other_week_start) == (W, None)  # same week both sides


def test_deals_missing_in_marketing_only_when_marketing_sourced(mkt, crm):
    SourceDealFactory(system=crm, external_id="006A", source=DealSource.MARKETING, amount=1000)
    SourceDealFactory(system=mkt, external_id="H-A", crm_id="006A", source="marketing", amount=1200)
    SourceDealFactory(system=crm, external_id="006B", source=DealSource.MARKETING)
    SourceDealFactory(system=crm, external_id="006C", source=DealSource.SALES)
    SourceDealFactory(system=mkt, external_id="H-X", crm_id="006X", source="marketing")
    won = {"stage": DealStage.CLOSED_WON, "close_date": W, "source": "marketing"}
    SourceDealFactory(system=crm, external_id="006D", **won)
    SourceDealFactory(
        system=mkt,
        external_id="H-D",
        crm_id="006D",
        **{**won, "stage": DealStage.NEGOTIATION, "close_date": W + timedelta(days=9)},
    )
    golden_resolve()

    run()

    assert found() == {
        ("deal", "mismatch", "amount", "006A", "hubspot"),
        ("deal", "missing_in_marketing", "", "006B", "hubspot"),
        # 006C is sales-sourced: marketing is not expected to hold it.
        ("deal", "missing_in_sales", "", "006X", "salesforce"),
        ("deal", "mismatch", "stage", "006D", "hubspot"),
        ("deal", "mismatch", "close_date", "006D", "hubspot"),
    }
    close = Discrepancy.objects.get(field="close_date")
    # The close date falls in another week in each system: the discrepancy is in both.
    assert (close.week_start, close.other_week_start) == (W + timedelta(weeks=1), W)


def test_a_rerun_updates_last_seen_instead_of_adding_copies(mkt, crm):
    lead(mkt, "only-mkt@acme.com")
    lead(mkt, "x@acme.com", owner="Ann")
    lead(crm, "x@acme.com", owner="Bo")
    golden_resolve()
    first = run()
    before = list(Discrepancy.objects.order_by("id").values_list("id", "fingerprint"))

    second = run()

    after = list(Discrepancy.objects.order_by("id").values_list("id", "fingerprint"))
    assert after == before
    assert (second.new_count, second.resolved_count, second.open_count) == (0, 0, 2)
    for d in Discrepancy.objects.all():
        assert (d.first_seen_run_id, d.last_seen_run_id) == (first.pk, second.pk)


def test_same_data_gives_the_same_discrepancies_and_bridges(mkt, crm):
    lead(mkt, "a@acme.com", mql_at=at(W))
    lead(crm, "a@acme.com", mql_at=at(W, day=8))
    lead(mkt, "b@acme.com", mql_at=at(W))
    golden_resolve()

    def snapshot(r):
        weeks = ReconciledMetricWeek.objects.filter(run=r).order_by("metric_key", "week_start")
        steps = BridgeStep.objects.filter(metric_week__run=r).order_by(
            "metric_week__metric_key", "metric_week__week_start", "position"
        )
        return (
            list(weeks.values_list("metric_key", "week_start", "marketing_value", "sales_value",
                                   "golden_value", "unexplained")),
            list(steps.values_list("metric_week__metric_key", "metric_week__week_start",
                                   "reason", "field", "value", "records")),
            sorted(found()),
        )  # fmt: skip

    assert snapshot(run()) == snapshot(run())


def test_a_fixed_record_is_resolved_by_the_run_that_no_longer_finds_it_and_can_come_back(mkt, crm):
    lead(mkt, "x@acme.com", owner="Ann")
    crm_row = lead(crm, "x@acme.com", owner="Bo")
    golden_resolve()
    first = run()
    SourceLead.objects.filter(pk=crm_row.pk).update(owner="Ann")

    second = run()

    episode = Discrepancy.objects.get()
    assert (episode.resolved_run_id, second.resolved_count, second.open_count) == (second.pk, 1, 0)
    assert episode.first_seen_run_id == first.pk
    SourceLead.objects.filter(pk=crm_row.pk).update(owner="Cy")
    third = run()
    # Back again: a new episode; the resolved one stays as history.
    assert Discrepancy.objects.count() == 2
    assert third.new_count == 1
    assert Discrepancy.objects.get(resolved_run__isnull=True).right_value == "Cy"


def test_authority_names_for_every_compared_field_the_system_of_the_pair_it_follows(mkt, crm):
    success = SourceSystemFactory(slug="gainsight", role=SystemRole.CUSTOMER_SUCCESS)
    FieldAuthority.objects.create(object_type=ObjectType.LEAD, field="stage", system=mkt)
    FieldAuthority.objects.create(object_type=ObjectType.LEAD, field="owner", system=success)
    FieldAuthority.objects.create(object_type=ObjectType.ACCOUNT, field="health", system=success)
    authority = reconciliation._authority(mkt.pk, crm.pk)
    assert set(authority) == {(o, f) for o, fields in RECONCILED_FIELDS.items() for f in fields}
    assert authority[(ObjectType.LEAD, "stage")] == mkt.pk  # the rule's system
    assert authority[(ObjectType.LEAD, "sql_at")] == crm.pk  # no rule: sales, as identity does
    assert authority[(ObjectType.DEAL, "amount")] == crm.pk
    assert authority[(ObjectType.LEAD, "owner")] is None  # a third system: neither of the pair


def test_a_field_whose_authority_is_a_third_system_names_neither_system_to_fix(mkt, crm):
    success = SourceSystemFactory(slug="gainsight", role=SystemRole.CUSTOMER_SUCCESS)
    FieldAuthority.objects.create(object_type=ObjectType.LEAD, field="owner", system=success)
    FieldAuthority.objects.create(object_type=ObjectType.LEAD, field="source", system=mkt)
    lead(mkt, "a@acme.com", owner="Ann", source="Webinar", stage="mql")
    lead(crm, "a@acme.com", owner="Bo", source="Outbound", stage="sql")
    golden_resolve()
    run()
    fix_in = dict(Discrepancy.objects.values_list("field", "system__slug"))
    assert fix_in == {"owner": None, "source": "salesforce", "stage": "hubspot"}


def test_weeks_are_cut_in_the_company_time_zone(mkt, crm, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    # Sunday 23:30 UTC is Monday 00:30 in Berlin: the MQL counts in the next week there.
    sunday_night = at(W, day=6, hour=23) + timedelta(minutes=30)
    lead(mkt, "a@acme.com", mql_at=sunday_night)
    lead(crm, "a@acme.com", mql_at=sunday_night)
    golden_resolve()
    timezone.activate("Europe/Berlin")
    try:
        r = run()
    finally:
        timezone.deactivate()
    mqls = dict(
        ReconciledMetricWeek.objects.filter(run=r, metric_key="mqls").values_list(
            "week_start", "marketing_value"
        )
    )
    assert (mqls[W], mqls[W + timedelta(weeks=1)]) == (0, 1)


def test_a_run_covers_the_weeks_of_the_company_time_zone_whatever_zone_is_active(
    mkt, crm, settings, monkeypatch
):
    # Monday 06:00 in Berlin (2026-W11) is still Sunday in Los Angeles (2026-W10): the run
    # ends with Berlin's week, as the scorecard's weeks do.
    settings.TIME_ZONE = "Europe/Berlin"
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 3, 9, 5, tzinfo=UTC))
    timezone.activate("America/Los_Angeles")
    try:
        r = run(weeks=2)
    finally:
        timezone.deactivate()
    assert (r.first_week, r.last_week) == (date(2026, 3, 2), date(2026, 3, 9))


# --- Metric level -------------------------------------------------------------------------------


def test_bridge_parts_add_up_to_the_difference_and_the_rest_is_unexplained(mkt, crm):
    both = {"created_at": at(W - timedelta(weeks=1))}
    lead(mkt, "a@acme.com", mql_at=at(W), **both)  # the same in both
    lead(crm, "a@acme.com", mql_at=at(W), **both)
    lead(mkt, "b@acme.com", mql_at=at(W), **both)  # sales has it the week after
    lead(crm, "b@acme.com", mql_at=at(W, day=8), **both)
    lead(mkt, "c@acme.com", mql_at=at(W), **both)  # never reached the CRM
    lead(mkt, "d@acme.com", external_id="D1", mql_at=at(W), **both)
    lead(crm, "d@acme.com", mql_at=at(W), **both)
    lead(mkt, "D@acme.com", external_id="D2", mql_at=at(W), created_at=at(W))  # marketing's copy
    lead(crm, "e@acme.com", mql_at=at(W), **both)  # never reached marketing
    lead(mkt, "f@acme.com", **both)  # an MQL in sales only
    lead(crm, "f@acme.com", mql_at=at(W, day=2), **both)
    golden_resolve()
    # Imported after resolution: no golden key yet, so no record-level match to explain it.
    SourceLeadFactory(system=crm, email="g@acme.com", email_key="g@acme.com", mql_at=at(W))

    r = run()

    week = ReconciledMetricWeek.objects.get(run=r, metric_key="mqls", week_start=W)
    # Marketing: a, b, c, d, d's copy = 5. Sales: a, d, e, f, g = 5. Golden (sales' MQL date
    # first, no authority rule): a, c, d, e, f = 5 (b's is the week after; g is unresolved).
    assert (week.marketing_value, week.sales_value, week.golden_value) == (5, 5, 5)
    steps = [(s.reason, s.field, s.value, s.records) for s in week.steps.order_by("position")]
    assert steps == [
        ("missing_in_sales", "", -1, 1),  # c
        ("duplicate", "", -1, 1),  # d's copy
        ("other_week", "mql_at", -1, 1),  # b
        ("mismatch", "mql_at", 1, 1),  # f
        ("missing_in_marketing", "", 1, 1),  # e
    ]
    # 5 - 5 = 0 = (-1 - 1 - 1 + 1 + 1) + unexplained, so unexplained = +1: g.
    assert week.unexplained == 1
    after = ReconciledMetricWeek.objects.get(
        run=r, metric_key="mqls", week_start=W + timedelta(weeks=1)
    )
    # b counts the week after in sales only: 0 in marketing, 1 in sales, explained.
    assert (after.marketing_value, after.sales_value, after.unexplained) == (0, 1, 0)
    assert [(s.reason, s.value) for s in after.steps.all()] == [("other_week", 1)]


def test_every_week_of_every_metric_adds_up(mkt, crm, tmp_path):
    data = northwind.generate(scale=0.02, seed=3, today=timezone.localdate())
    from demo.pipeline import demo_load

    demo_load(scale=0.02, seed=3, today=timezone.localdate(), directory=tmp_path)
    r = run(weeks=104)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM pipeline_reconciledmetricweek mw
            WHERE mw.run_id = %s AND mw.sales_value - mw.marketing_value <> mw.unexplained
                + COALESCE((SELECT sum(value) FROM pipeline_bridgestep s
                            WHERE s.metric_week_id = mw.id), 0)
            """,
            [r.pk],
        )
        assert cursor.fetchone()[0] == 0
    assert ReconciledMetricWeek.objects.filter(run=r).count() == 6 * 104
    assert data.injected["lead_missing_in_sales"] > 0


def test_deal_bridges_explain_amounts_and_sales_sourced_deals(mkt, crm):
    week_day = at(W)
    SourceDealFactory(
        system=crm, external_id="006A", source="marketing", amount=1000, created_at=week_day
    )
    SourceDealFactory(
        system=mkt,
        external_id="H-A",
        crm_id="006A",
        source="marketing",
        amount=1200,
        created_at=week_day,
    )
    won = {"stage": DealStage.CLOSED_WON, "close_date": W + timedelta(days=2), "amount": 500}
    SourceDealFactory(system=crm, external_id="006S", source="sales", **won)
    golden_resolve()

    r = run()

    pipeline = ReconciledMetricWeek.objects.get(
        run=r, metric_key="pipeline_created_marketing", week_start=W
    )
    # 1,200 in HubSpot, 1,000 in Salesforce: -200 because the amount differs.
    assert (pipeline.marketing_value, pipeline.sales_value) == (1200, 1000)
    assert [(s.reason, s.field, s.value) for s in pipeline.steps.all()] == [
        ("mismatch", "amount", Decimal("-200"))
    ]
    won_week = ReconciledMetricWeek.objects.get(run=r, metric_key="deals_won", week_start=W)
    assert (won_week.marketing_value, won_week.sales_value, won_week.unexplained) == (0, 1, 0)
    assert [(s.reason, s.value) for s in won_week.steps.all()] == [("not_synced", 1)]


def test_the_scorecard_reads_the_current_run_per_week(mkt, crm):
    assert metric_reconciliation_for_week(W) == {}
    lead(mkt, "a@acme.com", mql_at=at(W))
    lead(mkt, "b@acme.com", mql_at=at(W))
    lead(crm, "a@acme.com", mql_at=at(W))
    golden_resolve()
    r = run()

    values = metric_reconciliation_for_week(W + timedelta(days=3))  # any day of the week

    assert set(values) == set(reconciliation.METRICS_BY_KEY)
    mqls = values["mqls"]
    assert (mqls.marketing_value, mqls.sales_value, mqls.golden_value, mqls.run_id) == (
        2,
        1,
        2,
        r.pk,
    )
    assert not mqls.agrees
    assert mqls.variance_pct == 100  # (2 - 1) / 1


# --- Runs: lock, failure, schedule --------------------------------------------------------------


def test_a_run_that_fails_half_way_leaves_the_previous_run_current(mkt, crm, monkeypatch):
    lead(mkt, "x@acme.com", owner="Ann")
    lead(crm, "x@acme.com", owner="Bo")
    golden_resolve()
    good = run()
    SourceLead.objects.filter(system=crm).update(owner="Cy")
    lead(mkt, "new@acme.com")
    golden_resolve()

    def crash(cursor, ctx):
        raise RuntimeError("worker lost its database connection")

    # After the comparison and the discrepancy writes, before the metrics.
    monkeypatch.setattr(reconciliation, "_totals_phase", crash)
    failed = reconciliation.reconciliation_run_now(trigger="command")

    assert failed.status == "failed"
    assert "worker lost its database connection" in failed.message
    assert reconciliation_run_current() == good
    # Nothing the failed run wrote survived: same discrepancies, last seen by the good run.
    assert found() == {("lead", "mismatch", "owner", "x@acme.com", "hubspot")}
    assert Discrepancy.objects.get().right_value == "Bo"
    assert Discrepancy.objects.get().last_seen_run == good
    assert not ReconciledMetricWeek.objects.filter(run=failed).exists()


def _hold_lock():
    settings_dict = connection.settings_dict
    other = psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or None,
        user=settings_dict["USER"],
        dbname=settings_dict["NAME"],
        autocommit=True,
    )
    other.execute("SELECT pg_advisory_lock(%s)", [advisory_lock_id(reconciliation.LOCK_NAME)])
    return other


def test_the_lock_refuses_a_second_run_and_says_which_one_runs(mkt, crm):
    running = ReconciliationRun.objects.create(trigger="schedule", status="running")
    other = _hold_lock()
    try:
        second = reconciliation.reconciliation_run_now(trigger="command")
        assert second.status == "skipped"
        assert second.message == f"Run #{running.pk} was running, so this one did nothing."
        with pytest.raises(ValidationError, match=rf"Run #{running.pk} is already running"):
            reconciliation.reconciliation_start(trigger="browser")
        with pytest.raises(CommandError, match="was running"):
            call_command("reconcile", stdout=io.StringIO())
    finally:
        other.close()
    assert not Discrepancy.objects.exists()


def test_a_run_left_running_by_a_killed_worker_is_marked_failed_by_the_next(mkt, crm):
    dead = ReconciliationRun.objects.create(trigger="schedule", status="running")
    # Nobody holds the lock, so the dead run does not block a new one.
    assert reconciliation.reconciliation_run_active() is None

    fresh = run()

    dead.refresh_from_db()
    assert dead.status == "failed"
    assert dead.message.startswith("Interrupted")
    assert reconciliation_run_current() == fresh


def test_a_redelivered_message_for_a_finished_run_does_nothing(mkt, crm):
    done = run()
    finished_at = done.finished_at

    again = reconciliation.reconciliation_execute(run_id=done.pk)

    assert (again.status, again.finished_at, again.attempts) == ("completed", finished_at, 1)
    assert ReconciledMetricWeek.objects.filter(run=done).count() == 6 * 8


def test_without_a_sales_system_no_run_starts_and_the_reason_is_a_sentence(mkt):
    with pytest.raises(ValidationError, match="There is no sales system yet"):
        reconciliation.reconciliation_run_now(trigger="command")
    with pytest.raises(ValidationError, match="There is no sales system yet"):
        reconciliation.reconciliation_start(trigger="api")
    assert not ReconciliationRun.objects.exists()


def test_weeks_out_of_range_are_refused():
    with pytest.raises(ValidationError, match="between 1 and 2600"):
        reconciliation.reconciliation_start(trigger="api", weeks=0)
    assert not ReconciliationRun.objects.exists()


def test_reconcile_command_prints_the_counts(mkt, crm):
    lead(mkt, "only-mkt@acme.com")
    golden_resolve()
    out = io.StringIO()
    call_command("reconcile", weeks=4, stdout=out)
    text = out.getvalue()
    assert "lead.missing_in_sales" in text
    assert "1 open discrepancies (1 new, 0 resolved), bridges for 4 weeks" in text
    assert ReconciledMetricWeek.objects.filter(run=reconciliation_run_current()).count() == 6 * 4


def test_reconciling_the_demo_finds_exactly_what_it_injected():
    today = timezone.localdate()
    injected = northwind.generate(scale=0.05, seed=7, today=today).injected
    call_command("seed_demo", scale=0.05, today=today, stdout=io.StringIO())
    r = run(weeks=104)
    expected = {
        "lead.missing_in_sales": injected["lead_missing_in_sales"],
        "lead.missing_in_marketing": injected["lead_missing_in_marketing"],
        "lead.duplicate": injected["lead_duplicate_in_marketing"],
        "lead.mismatch.stage": injected["lead_stage_mismatch"],
        # A lead whose stage lags in marketing has lost its SQL date there too.
        "lead.mismatch.sql_at": injected["lead_stage_mismatch"],
        "lead.mismatch.mql_at": injected["lead_mql_date_mismatch"],
        "lead.mismatch.source": injected["lead_source_mismatch"],
        "lead.mismatch.owner": injected["lead_owner_mismatch"],
        "deal.missing_in_marketing": injected["deal_missing_in_marketing"],
        "deal.mismatch.amount": injected["deal_amount_mismatch"],
        "deal.mismatch.stage": injected["deal_stage_mismatch"],
        "deal.mismatch.close_date": injected["deal_close_date_mismatch"],
    }
    assert {k: v for k, v in r.counts.items() if v} == {k: v for k, v in expected.items() if v}
    assert not ReconciledMetricWeek.objects.filter(run=r).exclude(unexplained=0).exists()
