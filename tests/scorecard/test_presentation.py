"""How numbers read and how trends are drawn: pure functions, no database."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from scorecard.charts import RAG_COLOURS, TrendPoint, sparkline_svg, trend_figure
from scorecard.formatting import format_change, format_plain, format_value
from tests.scorecard.conftest import d


@pytest.mark.parametrize(
    ("value", "unit", "compact", "shown"),
    [
        ("1234", "count", False, "1,234"),
        ("1234.0000", "count", True, "1,234"),
        ("16832700", "currency", True, "$16.8M"),
        ("16832700", "currency", False, "$16,832,700"),
        ("999960", "currency", True, "$1.00M"),  # not $1000.0k
        ("52600", "currency", True, "$52.6k"),
        ("950", "currency", True, "$950"),
        ("-31000", "currency", True, "−$31.0k"),
        ("39.2430", "percent", False, "39.2%"),
        ("3.3175", "ratio", True, "3.32×"),
        ("47", "days", True, "47 d"),
        ("48.5", "days", False, "48.5 days"),
        ("2.1249", "hours", True, "2.1 h"),
        (None, "count", False, "—"),
    ],
)
def test_values_read_as_people_write_them(value, unit, compact, shown):
    amount = None if value is None else Decimal(value)
    assert format_value(amount, unit, compact=compact) == shown


@pytest.mark.parametrize(
    ("change", "unit", "shown"),
    [
        ("12", "count", "+12"),
        ("-9", "count", "−9"),
        ("0", "count", "no change"),
        ("-278000", "currency", "−$278k"),
        ("0.4", "percent", "+0.4 pts"),
        ("0.0297", "percent", "+0.03 pts"),
        ("-0.5", "hours", "−0.5 h"),
        (None, "count", "—"),
    ],
)
def test_changes_carry_their_sign_and_percent_changes_are_points(change, unit, shown):
    assert format_change(None if change is None else Decimal(change), unit) == shown


def test_plain_numbers_for_csv_and_json_drop_trailing_zeros():
    assert format_plain(Decimal("50.0000")) == "50"
    assert format_plain(Decimal("66.6667")) == "66.6667"
    assert format_plain(Decimal("1E+2")) == "100"
    assert format_plain(None) == ""


def points(*values, target="10"):
    return [
        TrendPoint(f"2026-W{i + 1:02d}", d("2026-01-05"), None if v is None else Decimal(v),
                   Decimal(target) if target else None, rag)
        for i, (v, rag) in enumerate(values)
    ]  # fmt: skip


def test_a_sparkline_is_svg_with_the_target_dotted_a_gap_and_the_last_point_in_its_colour():
    svg = str(sparkline_svg(points(("8", "red"), (None, "none"), ("12", "green")), unit="count"))
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert "<script" not in svg
    target = re.search(r'<path class="spark-target" d="([^"]+)"[^>]*stroke-dasharray', svg)
    assert target, svg
    # The value line starts again after the week with no value: two moves, no line between.
    value = re.search(r'<path class="spark-value" d="([^"]+)"', svg).group(1)
    assert value.count("M") == 2
    assert "L" not in value
    last = re.search(r'<path class="spark-last" d="[^"]+" stroke="([^"]+)"', svg)
    assert last.group(1) == RAG_COLOURS["green"]
    # Every week's value is its tooltip, the target beside it.
    assert re.findall(r"<title>([^<]+)</title>", svg) == [
        "2026-W01: 8 (target 10)", "2026-W02: — (target 10)", "2026-W03: 12 (target 10)",
    ]  # fmt: skip


def test_a_sparkline_puts_higher_values_higher_and_draws_nothing_without_numbers():
    svg = str(sparkline_svg(points(("1", "none"), ("5", "none"), target=None), unit="count"))
    assert "spark-target" not in svg
    moves = re.findall(r"[ML]([\d.]+) ([\d.]+)", re.search(r'spark-value" d="([^"]+)"', svg)[1])
    (x1, y1), (x2, y2) = [(float(x), float(y)) for x, y in moves]
    assert x1 < x2
    assert y2 < y1
    assert sparkline_svg(points((None, "none"), target=None), unit="count") == ""
    escaped = sparkline_svg(points(("3", "none"), target=None), unit="count")
    assert "<title>2026-W01: 3</title>" in escaped


def test_a_full_chart_has_axes_on_dates_and_no_target_line_when_there_is_none():
    figure = trend_figure(points(("0.25", "none"), target=None), unit="percent")
    assert len(figure["data"]) == 1
    assert figure["data"][0]["x"] == ["2026-01-05"]
    assert figure["layout"]["xaxis"]["type"] == "date"
    assert figure["layout"]["yaxis"]["ticksuffix"] == "%"
