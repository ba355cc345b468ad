"""Trust marks: reconciled, explained and variance (with the bridge link), disputed, not
reconciled."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from pipeline.selectors import RECONCILED_METRICS, MetricReconciliation
from revops.permissions import Role
from revops.weeks import IsoWeek
from scorecard import trust
from scorecard.trust import (
    DISPUTED,
    EXPLAINED,
    NOT_RECONCILED,
    RECONCILED,
    VARIANCE,
    TrustMark,
    reconciliation_mark,
    trust_marks_for_week,
)
from tests.scorecard.conftest import W10


def result(
    key: str, marketing: str, sales: str, unexplained: str | None = None, steps=()
) -> MetricReconciliation:
    """A result whose bridge explains nothing by default: all of the difference unexplained."""
    difference = Decimal(sales) - Decimal(marketing)
    return MetricReconciliation(
        metric_key=key,
        week_start=date(2026, 3, 2),
        marketing_value=Decimal(marketing),
        sales_value=Decimal(sales),
        golden_value=Decimal(sales),
        run_id=1,
        unexplained=difference if unexplained is None else Decimal(unexplained),
        steps=tuple((label, Decimal(value)) for label, value in steps),
    )


def test_agreeing_systems_earn_a_reconciled_mark():
    mark = reconciliation_mark(result("mqls", "389", "389"), W10)
    assert (mark.state, mark.label) == (RECONCILED, "Reconciled")
    assert mark.url is None


def test_differing_systems_show_the_variance_linking_to_the_bridge_of_the_metric_and_week():
    mark = reconciliation_mark(result("mqls", "412", "389"), W10)
    # (412 − 389) / 389 × 100 = 5.91%.
    assert mark.state == VARIANCE
    assert mark.label == "Variance +5.9%"
    assert mark.detail == "Marketing's system says 412, sales' system 389. −23 is unexplained."
    assert mark.url == "/records/reconciliation/bridge/?metric=mqls&week=2026-W10"


def test_a_variance_against_zero_has_no_percentage():
    mark = reconciliation_mark(result("deals_won", "3", "0"), W10)
    assert (mark.state, mark.label, mark.variance_pct) == (VARIANCE, "Variance", None)


def test_a_difference_the_bridge_explains_in_full_is_explained_not_a_variance():
    mark = reconciliation_mark(
        result(
            "new_bookings", "4000", "10000", "0", [("Sales-sourced, not synced to HubSpot", 6000)]
        ),
        W10,
    )
    assert (mark.state, mark.label) == (EXPLAINED, "Explained −60.0%")
    assert mark.detail == (
        "Marketing's system says 4,000, sales' system 10,000. The bridge explains it: "
        "Sales-sourced, not synced to HubSpot +6,000"
    )
    assert mark.url == "/records/reconciliation/bridge/?metric=new_bookings&week=2026-W10"


def test_an_unexplained_rest_beyond_the_tolerance_is_a_variance_and_within_it_explained():
    # 10 − 4 = 6: the bridge explains 5, 1 is unexplained.
    partly = result("mqls", "4", "10", "1", [("Never reached Salesforce", 5)])
    assert reconciliation_mark(partly, W10).state == VARIANCE
    assert reconciliation_mark(partly, W10).detail == (
        "Marketing's system says 4, sales' system 10. The bridge explains +5 (Never reached "
        "Salesforce +5). +1 is unexplained."
    )
    # Absolute: 1 ≤ 1.
    within = reconciliation_mark(partly, W10, tolerance_abs=Decimal(1))
    assert within.state == EXPLAINED
    assert within.detail.endswith("; +1 unexplained, within tolerance")
    assert reconciliation_mark(partly, W10, tolerance_abs=Decimal("0.5")).state == VARIANCE
    # Relative, of sales' value: 10% of 10 = 1 ≤ 1; 5% = 0.5 < 1.
    assert reconciliation_mark(partly, W10, tolerance_pct=Decimal(10)).state == EXPLAINED
    assert reconciliation_mark(partly, W10, tolerance_pct=Decimal(5)).state == VARIANCE
    # Both add up: 0.5 + 5% of 10 = 1.
    both = reconciliation_mark(partly, W10, tolerance_abs=Decimal("0.5"), tolerance_pct=Decimal(5))
    assert both.state == EXPLAINED


def test_a_disputed_number_that_also_differs_keeps_its_bridge_one_click_away():
    def disputes(week: IsoWeek, keys: frozenset[str]) -> dict[str, TrustMark]:
        return {
            "mqls": TrustMark(DISPUTED, "Disputed", "Dispute #7 is open", "/disputes/7/"),
            "sqls": TrustMark(DISPUTED, "Disputed", "Dispute #8 is open", "/disputes/8/"),
        }

    def reconciliation(week: IsoWeek, keys: frozenset[str]) -> dict[str, TrustMark]:
        return {
            "mqls": reconciliation_mark(result("mqls", "12", "10"), week),
            "sqls": reconciliation_mark(result("sqls", "10", "10"), week),
        }

    marks = trust_marks_for_week(W10, ["mqls", "sqls"], sources=[disputes, reconciliation])
    assert marks["mqls"].state == DISPUTED
    assert (marks["mqls"].also.state, marks["mqls"].also.label) == (VARIANCE, "Variance +20.0%")
    assert marks["mqls"].also.url == "/records/reconciliation/bridge/?metric=mqls&week=2026-W10"
    assert marks["sqls"].also is None  # reconciled: no bridge to keep


@pytest.mark.django_db
def test_reconciled_metrics_without_a_run_are_marked_not_reconciled_and_others_get_no_mark():
    marks = trust_marks_for_week(W10, ["mqls", "new_bookings", "arr", "win_rate"])
    assert marks["mqls"].state == NOT_RECONCILED
    assert marks["new_bookings"].state == NOT_RECONCILED
    assert "arr" not in marks  # one system measures it: nothing to reconcile
    assert "win_rate" not in marks
    assert set(RECONCILED_METRICS) >= {"mqls", "new_bookings"}


def test_an_open_dispute_outranks_what_reconciliation_says():
    def disputes(week: IsoWeek, keys: frozenset[str]) -> dict[str, TrustMark]:
        return {"mqls": TrustMark(DISPUTED, "Disputed", "Dispute #7 is open", "/disputes/7/")}

    def reconciliation(week: IsoWeek, keys: frozenset[str]) -> dict[str, TrustMark]:
        return {
            "mqls": reconciliation_mark(result("mqls", "389", "389"), week),
            "sqls": reconciliation_mark(result("sqls", "10", "11"), week),
        }

    marks = trust_marks_for_week(W10, ["mqls", "sqls"], sources=[disputes, reconciliation])
    assert marks["mqls"].state == DISPUTED
    assert marks["mqls"].url == "/disputes/7/"
    assert marks["sqls"].state == VARIANCE


@pytest.mark.django_db
def test_the_scorecard_shows_the_mark_its_trust_sources_give(client_as, monkeypatch):
    from scorecard.services.snapshots import snapshot_publish

    def disputes(week, keys):
        return {"mqls": TrustMark(DISPUTED, "Disputed", "Dispute #7 is open", "/disputes/7/")}

    # The one place a new kind of evidence plugs in (the disputes app adds itself here).
    monkeypatch.setattr(trust, "TRUST_SOURCES", [disputes, *trust.TRUST_SOURCES])
    snapshot_publish(week=W10, by=None)
    page = client_as(Role.EXECUTIVE).get(reverse("scorecard:week", args=[W10]))
    html = page.text
    assert 'class="trust trust-disputed" href="/disputes/7/"' in html
    assert 'class="trust trust-not_reconciled"' in html  # the other reconciled metrics
