"""Every standard metric against a small fixture whose answer is worked out by hand.

The week is 2026-W10: Monday 2 March 00:00 to Monday 9 March 00:00 (UTC unless a test says
otherwise). Trailing 13-week windows start on Monday 8 December 2025 (2025-W50); the NRR
cohort is taken at the end of 2025-W10 (Sunday 9 March 2025)."""

from __future__ import annotations

from decimal import Decimal
from typing import get_args, get_origin, get_type_hints

import numpy as np
import pytest
from django.db import connection

from pipeline.choices import AccountHealth, ArrChangeKind, DealSource, DealStage, DealType
from pipeline.metrics import REGISTRY
from scorecard.compute import Sources, weighted_median
from scorecard.models import Metric
from scorecard.services.catalog import target_set
from scorecard.targets import TargetBook
from tests.factories import AccountFactory, ArrChangeFactory, DealFactory, LeadFactory
from tests.scorecard.conftest import W10, compute, d, utc

pytestmark = pytest.mark.django_db

WON, LOST, OPEN = DealStage.CLOSED_WON, DealStage.CLOSED_LOST, DealStage.NEGOTIATION


def test_the_standard_catalog_ships_every_metric_the_issue_names():
    keys = set(Metric.objects.values_list("key", flat=True))
    assert keys >= {
        "leads_created", "mqls", "sqls", "mql_to_sql_rate", "speed_to_lead",
        "pipeline_created", "pipeline_created_marketing", "pipeline_coverage", "win_rate",
        "avg_deal_size", "sales_cycle", "deals_won", "new_bookings", "arr", "nrr", "grr",
        "logo_churn", "healthy_accounts",
    }  # fmt: skip
    for metric in Metric.objects.all():
        assert metric.definitions.get(version=1).definition == metric.definition
        assert len(metric.definition) > 40, f"{metric.key} needs a real definition"


def test_leads_mqls_and_sqls_count_by_the_week_of_each_date():
    LeadFactory(
        created_at=utc(2026, 3, 2, 0, 0), mql_at=utc(2026, 3, 3, 9), sql_at=utc(2026, 3, 4, 9)
    )
    LeadFactory(created_at=utc(2026, 3, 8, 23, 59), mql_at=utc(2026, 2, 25, 9))  # MQL week before
    LeadFactory(created_at=utc(2026, 3, 9, 0, 0))  # next week
    LeadFactory(created_at=utc(2026, 3, 1, 23, 59, 59), sql_at=utc(2026, 3, 6, 12))
    cells = compute(W10, "leads_created", "mqls", "sqls")
    assert cells["leads_created"].value == 2  # created 2 Mar 00:00 and 8 Mar 23:59
    assert cells["mqls"].value == 1  # only the 3 Mar MQL; 25 Feb is W09
    assert cells["sqls"].value == 2  # 4 Mar and 6 Mar, whatever week the lead was created


def test_mql_to_sql_conversion_follows_the_13_week_mql_cohort_to_the_end_of_the_week():
    created = utc(2025, 11, 1)
    LeadFactory(created_at=created, mql_at=utc(2026, 3, 3), sql_at=utc(2026, 3, 5))  # reached
    LeadFactory(created_at=created, mql_at=utc(2026, 1, 5), sql_at=utc(2026, 3, 10))  # too late
    LeadFactory(created_at=created, mql_at=utc(2025, 12, 8), sql_at=utc(2025, 12, 20))  # reached
    LeadFactory(created_at=created, mql_at=utc(2025, 12, 7, 23, 59), sql_at=utc(2025, 12, 10))
    LeadFactory(created_at=created, mql_at=utc(2026, 2, 1))  # never SQL
    cell = compute(W10, "mql_to_sql_rate")["mql_to_sql_rate"]
    # MQLs from 8 Dec 2025 00:00 to 9 Mar 2026: 3 Mar, 5 Jan, 8 Dec, 1 Feb = 4 (7 Dec is out).
    # SQL by 9 Mar 00:00: the 3 Mar and 8 Dec leads = 2. 2 / 4 × 100 = 50%.
    assert (cell.numerator, cell.denominator, cell.value) == (2, 4, Decimal("50"))


def test_speed_to_lead_is_the_median_hours_over_mqls_first_touched_in_the_week():
    created = utc(2026, 2, 1)
    LeadFactory(created_at=created, mql_at=utc(2026, 3, 2, 8), first_touch_at=utc(2026, 3, 2, 10))
    LeadFactory(created_at=created, mql_at=utc(2026, 2, 27, 12), first_touch_at=utc(2026, 3, 3, 12))
    LeadFactory(created_at=created, mql_at=utc(2026, 3, 4, 9), first_touch_at=utc(2026, 3, 4, 8))
    LeadFactory(created_at=created, mql_at=utc(2026, 3, 5), first_touch_at=utc(2026, 3, 5, 6, 30))
    LeadFactory(created_at=created, first_touch_at=utc(2026, 3, 5))  # no MQL: not counted
    LeadFactory(created_at=created, mql_at=utc(2026, 3, 6), first_touch_at=utc(2026, 3, 9, 1))
    cell = compute(W10, "speed_to_lead")["speed_to_lead"]
    # Hours: 2, 96 (27 Feb 12:00 → 3 Mar 12:00), 0 (touched before the MQL), 6.5.
    # Median of 0, 2, 6.5, 96 = (2 + 6.5) / 2 = 4.25 hours, over 4 MQLs.
    assert cell.value == Decimal("4.25")
    assert cell.denominator == 4


def test_pipeline_created_sums_new_and_expansion_deals_and_marketing_counts_every_type():
    week = utc(2026, 3, 4, 12)
    DealFactory(created_at=week, amount=10_000, deal_type=DealType.NEW, source=DealSource.MARKETING)
    DealFactory(created_at=week, amount=5_000, deal_type=DealType.EXPANSION, source="sales")
    DealFactory(created_at=week, amount=20_000, deal_type=DealType.RENEWAL, source="sales")
    DealFactory(created_at=week, amount=3_000, deal_type=DealType.RENEWAL, source="marketing")
    DealFactory(created_at=utc(2026, 3, 1, 23), amount=99_000, deal_type=DealType.NEW)
    cells = compute(W10, "pipeline_created", "pipeline_created_marketing")
    assert cells["pipeline_created"].value == Decimal("15000")  # 10,000 + 5,000; renewals out
    assert cells["pipeline_created_marketing"].value == Decimal("13000")  # 10,000 + 3,000


def _closed(amount: int, close: str, *, stage=WON, deal_type=DealType.NEW, created=None):
    return DealFactory(
        amount=amount,
        stage=stage,
        deal_type=deal_type,
        close_date=d(close),
        created_at=created or utc(2026, 1, 1, 10),
    )


def test_deals_won_and_new_bookings_count_deals_closed_in_the_week():
    _closed(12_000, "2026-03-02")
    _closed(8_000, "2026-03-08")
    _closed(4_000, "2026-03-05", deal_type=DealType.EXPANSION)
    _closed(30_000, "2026-03-04", deal_type=DealType.RENEWAL)
    _closed(9_000, "2026-03-03", stage=LOST)
    _closed(7_000, "2026-03-09")  # next week
    DealFactory(amount=50_000, stage=OPEN, close_date=d("2026-03-04"))  # open, not won
    cells = compute(W10, "deals_won", "new_bookings")
    assert cells["deals_won"].value == 4  # 12k, 8k, the expansion and the renewal
    assert cells["new_bookings"].value == Decimal("20000")  # 12,000 + 8,000


def test_win_rate_deal_size_and_sales_cycle_use_new_business_closed_in_13_weeks():
    _closed(12_000, "2026-03-02", created=utc(2026, 1, 1, 10))  # 60 days
    _closed(8_000, "2026-03-08", created=utc(2026, 2, 26, 10))  # 10 days
    _closed(4_000, "2026-02-10", created=utc(2026, 2, 1, 10))  # 9 days
    _closed(6_000, "2025-12-08", created=utc(2025, 11, 18, 10))  # 20 days, first day of window
    _closed(9_000, "2026-03-03", stage=LOST)
    _closed(9_000, "2026-01-15", stage=LOST)
    _closed(70_000, "2025-12-07")  # the day before the window
    _closed(70_000, "2026-03-04", deal_type=DealType.EXPANSION)
    cells = compute(W10, "win_rate", "avg_deal_size", "sales_cycle")
    # Won 4, closed 6: 4 / 6 × 100 = 66.6667%.
    assert cells["win_rate"].value == Decimal("66.6667")
    # (12,000 + 8,000 + 4,000 + 6,000) / 4 = 7,500.
    assert cells["avg_deal_size"].value == Decimal("7500")
    # Days 9, 10, 20, 60: median (10 + 20) / 2 = 15.
    assert cells["sales_cycle"].value == Decimal("15")


def test_pipeline_coverage_divides_open_pipeline_closing_this_quarter_by_target_left():
    new_bookings = Metric.objects.get(key="new_bookings")
    target_set(
        metric=new_bookings, by=None, starts_on=d("2026-01-01"), value=90_000, period="quarter"
    )
    # Booked in Q1 up to the week's end: 12,000 + 8,000 + 4,000 = 24,000 (December is Q4).
    _closed(12_000, "2026-03-02")
    _closed(8_000, "2026-03-08")
    _closed(4_000, "2026-02-10")
    _closed(6_000, "2025-12-08")
    # Open at the end of the week, closing in Q1:
    DealFactory(amount=30_000, stage=OPEN, created_at=utc(2026, 2, 1), close_date=d("2026-03-20"))
    _closed(3_000, "2026-03-12", stage=LOST, created=utc(2026, 2, 15))  # lost after the week
    DealFactory(amount=6_000, stage=OPEN, created_at=utc(2026, 1, 2), close_date=d("2026-01-20"))
    # Not counted: created after the week, closing next quarter, not new business.
    DealFactory(amount=10_000, stage=OPEN, created_at=utc(2026, 3, 9), close_date=d("2026-03-25"))
    DealFactory(amount=5_000, stage=OPEN, created_at=utc(2026, 2, 1), close_date=d("2026-04-02"))
    DealFactory(
        amount=50_000, stage=OPEN, deal_type=DealType.EXPANSION, created_at=utc(2026, 2, 1),
        close_date=d("2026-03-15"),
    )  # fmt: skip
    cell = compute(W10, "pipeline_coverage")["pipeline_coverage"]
    # Open: 30,000 + 3,000 + 6,000 = 39,000. Left: 90,000 − 24,000 = 66,000.
    # 39,000 / 66,000 = 0.590909… → 0.5909.
    assert cell.numerator == Decimal("39000")
    assert cell.denominator == Decimal("66000")
    assert cell.value == Decimal("0.5909")


def test_pipeline_coverage_is_empty_without_a_target_or_once_the_target_is_met():
    DealFactory(amount=30_000, stage=OPEN, created_at=utc(2026, 2, 1), close_date=d("2026-03-20"))
    assert compute(W10, "pipeline_coverage")["pipeline_coverage"].value is None
    target_set(
        metric=Metric.objects.get(key="new_bookings"), by=None, starts_on=d("2026-01-01"),
        value=10_000, period="quarter",
    )  # fmt: skip
    _closed(12_000, "2026-03-02")
    cell = compute(W10, "pipeline_coverage")["pipeline_coverage"]
    assert cell.value is None
    assert "already met" in cell.note


@pytest.fixture
def customers():
    """Five accounts whose ARR history is worked through in the tests below."""
    a = AccountFactory(name="A", health=AccountHealth.GOOD)
    b = AccountFactory(name="B", health=AccountHealth.GOOD)
    c = AccountFactory(name="C", health=AccountHealth.AT_RISK)
    dd = AccountFactory(name="D", health=AccountHealth.GOOD)
    e = AccountFactory(name="E", health=AccountHealth.GOOD)
    new, exp = ArrChangeKind.NEW, ArrChangeKind.EXPANSION
    ArrChangeFactory(account=a, kind=new, amount=100_000, effective_date=d("2024-06-01"))
    ArrChangeFactory(account=a, kind=exp, amount=20_000, effective_date=d("2025-09-01"))
    ArrChangeFactory(account=b, kind=new, amount=50_000, effective_date=d("2025-01-15"))
    ArrChangeFactory(
        account=b, kind=ArrChangeKind.CHURN, amount=50_000, effective_date=d("2026-03-04")
    )
    ArrChangeFactory(account=c, kind=new, amount=40_000, effective_date=d("2025-03-09"))
    ArrChangeFactory(
        account=c, kind=ArrChangeKind.CONTRACTION, amount=10_000, effective_date=d("2025-12-01")
    )
    ArrChangeFactory(account=dd, kind=new, amount=60_000, effective_date=d("2025-03-10"))
    ArrChangeFactory(account=e, kind=new, amount=10_000, effective_date=d("2026-03-09"))
    return {"A": a, "B": b, "C": c, "D": dd, "E": e}


def test_arr_sums_every_account_at_the_end_of_the_week(customers):
    # A 120,000 + B 0 (churned 4 Mar) + C 30,000 + D 60,000 = 210,000; E starts next week.
    assert compute(W10, "arr")["arr"].value == Decimal("210000")


def test_nrr_and_grr_follow_the_customers_of_52_weeks_earlier(customers):
    cells = compute(W10, "nrr", "grr")
    # Cohort at the end of 2025-W10 (Sunday 9 March 2025): A 100k, B 50k, C 40k = 190k
    # (D started 10 March 2025). Now: A 120k, B 0, C 30k.
    # NRR = 150 / 190 = 78.9474%. GRR caps A at 100k: (100 + 0 + 30) / 190 = 68.4211%.
    assert cells["nrr"].denominator == Decimal("190000")
    assert cells["nrr"].value == Decimal("78.9474")
    assert cells["grr"].value == Decimal("68.4211")


def test_logo_churn_counts_customers_lost_in_the_week(customers):
    assert compute(W10, "logo_churn")["logo_churn"].value == 1  # B, on 4 March


def test_healthy_accounts_is_the_share_of_customers_in_good_health(customers):
    cell = compute(W10, "healthy_accounts")["healthy_accounts"]
    # Customers at the week's end: A (good), C (at risk), D (good) = 2 / 3 = 66.6667%.
    assert (cell.numerator, cell.denominator, cell.value) == (2, 3, Decimal("66.6667"))


def test_two_account_sets_of_one_size_each_get_their_own_health():
    good = AccountFactory(health=AccountHealth.GOOD)
    at_risk = AccountFactory(health=AccountHealth.AT_RISK)
    sources = Sources(TargetBook.load(), {})
    assert sources.healthy(np.array([good.id])).tolist() == [True]
    assert sources.healthy(np.array([at_risk.id])).tolist() == [False]
    assert sources.healthy(np.array([good.id])).tolist() == [True]  # asked again: from cache


def _is(value, hint) -> bool:
    if get_origin(hint) is tuple:
        return (
            isinstance(value, tuple)
            and len(value) == len(get_args(hint))
            and all(_is(v, h) for v, h in zip(value, get_args(hint), strict=False))
        )
    return isinstance(value, hint)


@pytest.mark.parametrize(
    ("source", "first"),
    [("totals", "lead"), ("totals", "deal"), ("cohort", REGISTRY["mql_to_sql_rate"]),
     ("weekly_median", REGISTRY["speed_to_lead"]), ("histogram", REGISTRY["sales_cycle"]),
     ("coverage", REGISTRY["pipeline_coverage"]), ("arr_matrix", None)],
)  # fmt: skip
def test_every_source_returns_what_its_annotation_says(customers, source, first):
    LeadFactory(created_at=utc(2026, 2, 2), mql_at=utc(2026, 2, 3), sql_at=utc(2026, 3, 3))
    hint = get_type_hints(getattr(Sources, source))["return"]
    args = [first] if first is not None else []
    value = getattr(Sources(TargetBook.load(), {}), source)(*args, d("2026-02-02"), W10.monday)
    hint = get_origin(hint) or hint  # a dict[...] is checked as a dict
    assert _is(value, hint), f"{source} returned {type(value).__name__}, annotated {hint}"


def test_a_metric_over_an_empty_window_says_why_it_has_no_value():
    cells = compute(W10, "win_rate", "speed_to_lead", "nrr", "leads_created")
    assert cells["win_rate"].value is None
    assert cells["win_rate"].note == "No new business closed"
    assert cells["speed_to_lead"].value is None
    assert cells["nrr"].value is None
    assert cells["leads_created"].value == 0  # a count of nothing is 0, not unknown


@pytest.mark.parametrize(
    "values",
    [[5], [1, 2], [3, 1, 2], [9, 10, 20, 60], [1, 1, 1, 7, 7], [2, 2, 3, 3, 3, 100, 4, 0.5]],
)
def test_the_median_of_a_histogram_matches_postgresql_percentile_cont(values):
    unique, counts = np.unique(np.array(values, dtype=float), return_counts=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v) FROM unnest(%s::float8[]) v",
            [[float(v) for v in values]],
        )
        expected = cursor.fetchone()[0]
    assert weighted_median(unique, counts) == pytest.approx(expected)
