"""Pure parts: when the next inspection falls due, and how the map is laid out."""

from __future__ import annotations

from datetime import date

import pytest

from mechanisms import graph
from mechanisms.choices import Cadence
from mechanisms.schedule import add_months, next_inspection


@pytest.mark.parametrize(
    ("last", "cadence", "due"),
    [
        (date(2026, 3, 2), Cadence.WEEKLY, date(2026, 3, 9)),  # + 7 days
        (date(2026, 12, 29), Cadence.WEEKLY, date(2027, 1, 5)),  # across the year
        (date(2026, 1, 31), Cadence.MONTHLY, date(2026, 2, 28)),  # February is shorter
        (date(2028, 1, 31), Cadence.MONTHLY, date(2028, 2, 29)),  # leap year
        (date(2026, 11, 30), Cadence.QUARTERLY, date(2027, 2, 28)),  # 30 Feb does not exist
        (date(2026, 10, 15), Cadence.QUARTERLY, date(2027, 1, 15)),
    ],
)
def test_next_inspection_is_one_cadence_after_the_last(last, cadence, due):
    assert next_inspection(last, cadence) == due


def test_adding_twelve_months_lands_on_the_same_day_next_year():
    assert add_months(date(2026, 5, 17), 12) == date(2027, 5, 17)


def test_a_chain_is_drawn_left_to_right_one_column_per_step():
    drawing = graph.layout(
        {1: "Capture", 2: "Routing", 3: "Hand-off"}, [(1, 2, "leads"), (2, 3, "MQLs")]
    )
    assert [drawing.nodes[i].layer for i in (1, 2, 3)] == [0, 1, 2]
    assert drawing.nodes[1].x < drawing.nodes[2].x < drawing.nodes[3].x
    assert not any(e.back for e in drawing.edges)


def test_a_loop_back_to_the_start_is_an_arc_and_pushes_nothing_right():
    # Capture → Routing → Review → Disputes → Capture: the last link closes the loop.
    drawing = graph.layout(
        {1: "Capture", 2: "Routing", 3: "Review", 4: "Disputes"},
        [(1, 2, ""), (2, 3, ""), (3, 4, ""), (4, 1, "fixes")],
    )
    assert [drawing.nodes[i].layer for i in (1, 2, 3, 4)] == [0, 1, 2, 3]
    back = [e for e in drawing.edges if e.back]
    assert [(e.source, e.target) for e in back] == [(4, 1)]
    # The arc runs below every box.
    lowest_box = max(n.y + graph.NODE_H for n in drawing.nodes.values())
    assert back[0].label_y > lowest_box
    assert drawing.height > lowest_box


def test_a_mechanism_fed_by_two_sits_right_of_both_and_between_them():
    drawing = graph.layout({1: "A", 2: "B", 3: "C"}, [(1, 3, ""), (2, 3, "")])
    a, b, c = (drawing.nodes[i] for i in (1, 2, 3))
    assert (a.layer, b.layer, c.layer) == (0, 0, 1)
    assert min(a.y, b.y) < c.y < max(a.y, b.y) + graph.NODE_H


def test_long_names_and_labels_wrap_instead_of_overflowing():
    drawing = graph.layout(
        {1: "Weekly scorecard review with the whole leadership team", 2: "B"},
        [(1, 2, "MQL → SQL conversion rate by week")],
    )
    assert len(drawing.nodes[1].lines) == 2
    assert drawing.nodes[1].lines[-1].endswith("…")
    assert all(len(line) <= 20 for line in drawing.nodes[1].lines)
    assert drawing.edges[0].label_lines == ["MQL → SQL", "conversion…"]
    # The gap between the columns fits the label.
    gap = drawing.nodes[2].x - (drawing.nodes[1].x + graph.NODE_W)
    assert gap >= drawing.edges[0].label_w


def test_unlinked_mechanisms_stack_in_the_first_column():
    drawing = graph.layout({1: "A", 2: "B"}, [])
    assert {n.layer for n in drawing.nodes.values()} == {0}
    assert drawing.nodes[1].y != drawing.nodes[2].y


def test_a_loop_starts_at_its_oldest_mechanism_even_when_a_newer_one_feeds_it():
    # 1 (oldest) → 2 → 3 → 1 is the loop; 4, added later, feeds 2 from outside it.
    drawing = graph.layout(
        {1: "Capture", 2: "Routing", 3: "Disputes", 4: "Referrals"},
        [(1, 2, ""), (2, 3, ""), (3, 1, ""), (4, 2, "")],
    )
    assert [(e.source, e.target) for e in drawing.edges if e.back] == [(3, 1)]
    assert [drawing.nodes[i].layer for i in (1, 2, 3, 4)] == [0, 1, 2, 0]
