"""Charts built from selector output. Pure: no database, no plotly import.

The scorecard's sparklines are inline SVG drawn here (`sparkline_svg`): the page needs no
script to show 19 trends. Interactive charts (a metric's trend, a goal's weeks) are plotly
figures as plain dicts (`trend_figure`) that templates hand to plotly.js through json_script."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from revops.currencies import currency_prefix
from scorecard.choices import Rag, Unit
from scorecard.formatting import format_value

INK = "#17325c"
TARGET = "#8a94a6"
RAG_COLOURS = {Rag.GREEN: "#1e7d46", Rag.AMBER: "#c27c00", Rag.RED: "#b42318", Rag.NONE: "#6b7687"}


@dataclass(frozen=True)
class TrendPoint:
    label: str  # 2026-W46
    monday: date
    value: Decimal | None
    target: Decimal | None
    rag: str = Rag.NONE


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _axis_format(unit: str) -> dict:
    if unit == Unit.CURRENCY:
        return {"tickprefix": currency_prefix(), "tickformat": "~s"}
    if unit == Unit.PERCENT:
        return {"ticksuffix": "%", "tickformat": ".0f"}
    if unit == Unit.RATIO:
        return {"ticksuffix": "×", "tickformat": ".1f"}
    if unit == Unit.HOURS:
        return {"ticksuffix": " h", "tickformat": ".1f"}
    if unit == Unit.DAYS:
        return {"ticksuffix": " d", "tickformat": "~r"}
    return {"tickformat": "~s"}


def trend_figure(points: Sequence[TrendPoint], *, unit: str) -> dict:
    """A trend of weekly values on a date axis (Mondays, which plotly labels readably over a
    year), the target as a dotted line and each week's point in its RAG colour; hover text
    names the ISO week."""
    labels = [p.monday.isoformat() for p in points]
    shown = [f"{p.label}: {format_value(p.value, unit, compact=True)}" for p in points]
    data: list[dict] = []
    if any(p.target is not None for p in points):
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Target",
                "x": labels,
                "y": [_number(p.target) for p in points],
                "line": {"color": TARGET, "width": 1.5, "dash": "dot", "shape": "hv"},
                "customdata": [format_value(p.target, unit, compact=True) for p in points],
                "hovertemplate": "target %{customdata}<extra></extra>",
            }
        )
    data.append(
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "Value",
            "x": labels,
            "y": [_number(p.value) for p in points],
            "connectgaps": False,
            "line": {"color": INK, "width": 2.5},
            "marker": {
                "size": 8,
                "color": [RAG_COLOURS.get(p.rag, RAG_COLOURS[Rag.NONE]) for p in points],
            },
            "customdata": shown,
            "hovertemplate": "%{customdata}<extra></extra>",
        }
    )
    axis = {"fixedrange": True, "showgrid": True, "zeroline": False}
    layout = {
        "margin": {"l": 64, "r": 16, "t": 16, "b": 40},
        "height": 340,
        "showlegend": False,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "hovermode": "x unified",
        "xaxis": {**axis, "visible": True, "type": "date"},
        "yaxis": {
            **axis,
            "visible": True,
            "rangemode": "tozero",
            "gridcolor": "#e6e9ef",
            **_axis_format(unit),
        },
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
    }
    return {"data": data, "layout": layout}


# The sparkline's drawing box. The SVG stretches to its cell (preserveAspectRatio="none");
# strokes keep their width through vector-effect, and the last week's dot is a zero-length
# line with round caps, so it stays round however far the box is stretched.
SPARK_W = 120
SPARK_H = 44
SPARK_PAD = 5


def _spark_y(value: float, low: float, high: float) -> float:
    if high == low:
        return SPARK_H / 2
    usable = SPARK_H - 2 * SPARK_PAD
    return round(SPARK_PAD + usable * (high - value) / (high - low), 2)


def _spark_x(index: int, count: int) -> float:
    if count == 1:
        return SPARK_W - SPARK_PAD
    return round(SPARK_PAD + (SPARK_W - 2 * SPARK_PAD) * index / (count - 1), 2)


def sparkline_svg(points: Sequence[TrendPoint], *, unit: str) -> SafeString:
    """A trend as inline SVG for the scorecard grid: the weekly values as a line (broken where
    a week has no value), the target as a dotted step line, the last week's point in its RAG
    colour, and each week's value as a tooltip. Empty when no week has a value or a target."""
    values = [_number(p.value) for p in points]
    targets = [_number(p.target) for p in points]
    known = [v for v in values + targets if v is not None]
    if not known:
        return mark_safe("")
    low, high = min(known), max(known)
    count = len(points)
    xs = [_spark_x(i, count) for i in range(count)]
    parts = [
        f'<svg class="spark" viewBox="0 0 {SPARK_W} {SPARK_H}" preserveAspectRatio="none" '
        'aria-hidden="true" focusable="false">'
    ]
    if any(t is not None for t in targets):
        steps, previous = [], None
        for x, t in zip(xs, targets, strict=True):
            if t is None:
                previous = None
                continue
            y = _spark_y(t, low, high)
            # A step line: the target holds until the week it changes.
            steps.append(f"M{x} {y}" if previous is None else f"H{x}V{y}")
            previous = y
        parts.append(
            f'<path class="spark-target" d="{"".join(steps)}" fill="none" stroke="{TARGET}" '
            'stroke-width="1.5" stroke-dasharray="2 3" vector-effect="non-scaling-stroke"/>'
        )
    line, drawing = [], False
    for x, v in zip(xs, values, strict=True):
        if v is None:
            drawing = False
            continue
        line.append(f"{'L' if drawing else 'M'}{x} {_spark_y(v, low, high)}")
        drawing = True
    if line:
        parts.append(
            f'<path class="spark-value" d="{"".join(line)}" fill="none" stroke="{INK}" '
            'stroke-width="2" stroke-linejoin="round" stroke-linecap="round" '
            'vector-effect="non-scaling-stroke"/>'
        )
    last = points[-1]
    if values[-1] is not None:
        colour = RAG_COLOURS.get(last.rag, RAG_COLOURS[Rag.NONE])
        parts.append(
            f'<path class="spark-last" d="M{xs[-1]} {_spark_y(values[-1], low, high)}h0" '
            f'stroke="{colour}" stroke-width="7" stroke-linecap="round" '
            'vector-effect="non-scaling-stroke"/>'
        )
    # One invisible band per week carries that week's value as the tooltip.
    band = (SPARK_W - 2 * SPARK_PAD) / max(count - 1, 1)
    for x, p in zip(xs, points, strict=True):
        left = max(0.0, round(x - band / 2, 2))
        title = escape(f"{p.label}: {format_value(p.value, unit, compact=True)}")
        if p.target is not None:
            title += escape(f" (target {format_value(p.target, unit, compact=True)})")
        parts.append(
            f'<rect class="spark-week" x="{left}" y="0" width="{round(band, 2)}" '
            f'height="{SPARK_H}" fill="transparent"><title>{title}</title></rect>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))
