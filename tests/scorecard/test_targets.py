"""Targets per week, month or quarter, and the RAG status a value earns against them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from revops.weeks import IsoWeek
from scorecard.choices import Rag
from scorecard.targets import TargetBook, TargetRow, rag_status
from tests.scorecard.conftest import W10, d

UP = {"up_is_good": True, "green_pct": Decimal(100), "red_pct": Decimal(90)}
DOWN = {"up_is_good": False, "green_pct": Decimal(100), "red_pct": Decimal(110)}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", Rag.GREEN),
        ("100", Rag.GREEN),  # exactly on target
        ("99.99", Rag.AMBER),
        ("90", Rag.AMBER),  # exactly on the red line is still amber
        ("89.99", Rag.RED),
        ("0", Rag.RED),
    ],
)
def test_rag_when_up_is_good_target_100(value, expected):
    assert rag_status(Decimal(value), Decimal(100), **UP) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2", Rag.GREEN),
        ("10", Rag.GREEN),  # at target
        ("10.01", Rag.AMBER),
        ("11", Rag.AMBER),  # 110% of 10
        ("11.01", Rag.RED),
    ],
)
def test_rag_when_down_is_good_target_10_hours(value, expected):
    assert rag_status(Decimal(value), Decimal(10), **DOWN) == expected


def test_rag_with_custom_thresholds_and_without_a_target_or_value():
    strict = {"up_is_good": True, "green_pct": Decimal(105), "red_pct": Decimal(100)}
    assert rag_status(Decimal(104), Decimal(100), **strict) == Rag.AMBER  # 104 < 105
    assert rag_status(Decimal(99), Decimal(100), **strict) == Rag.RED
    assert rag_status(None, Decimal(100), **UP) == Rag.NONE
    assert rag_status(Decimal(5), None, **UP) == Rag.NONE
    # A down-is-good target of 0 (no churn at all): anything above it is red.
    assert rag_status(Decimal(0), Decimal(0), **DOWN) == Rag.GREEN
    assert rag_status(Decimal(1), Decimal(0), **DOWN) == Rag.RED


def test_a_week_gets_its_share_of_a_monthly_or_quarterly_target_for_additive_metrics():
    book = TargetBook(
        [
            TargetRow(1, d("2026-01-01"), "quarter", Decimal(90_000)),
            TargetRow(2, d("2026-03-01"), "month", Decimal(3_100)),
            TargetRow(3, d("2026-01-01"), "week", Decimal(250)),
        ]
    )
    # Q1 2026 has 31 + 28 + 31 = 90 days: 90,000 × 7 / 90 = 7,000 a week.
    assert book.for_week(1, W10, additive=True) == Decimal(7_000)
    # March has 31 days: 3,100 × 7 / 31 = 700 a week.
    assert book.for_week(2, W10, additive=True) == Decimal(700)
    assert book.for_week(3, W10, additive=True) == Decimal(250)
    # For a rate or a level the target is the level itself.
    assert book.for_week(1, W10, additive=False) == Decimal(90_000)


def test_a_week_is_held_to_the_target_in_force_on_its_sunday():
    book = TargetBook(
        [
            TargetRow(1, d("2026-01-01"), "week", Decimal(100)),
            TargetRow(1, d("2026-03-08"), "week", Decimal(150)),  # a Sunday
            TargetRow(1, d("2026-03-16"), "week", Decimal(200)),
        ]
    )
    assert book.for_week(1, IsoWeek(2026, 9), additive=True) == Decimal(100)
    assert book.for_week(1, W10, additive=True) == Decimal(150)  # in force on Sunday 8 March
    assert book.for_week(1, IsoWeek(2026, 11), additive=True) == Decimal(150)
    assert book.for_week(1, IsoWeek(2026, 12), additive=True) == Decimal(200)
    assert book.for_week(1, IsoWeek(2025, 52), additive=True) is None  # before any target
    assert book.for_week(99, W10, additive=True) is None
