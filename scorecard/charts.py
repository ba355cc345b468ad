"""Plotly figures as plain dicts, built from selector output. Pure: no database, no plotly
import; templates hand the dicts to plotly.js through json_script."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

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


def trend_figure(points: Sequence[TrendPoint], *, unit: str, compact: bool = True) -> dict:
    """A trend of weekly values with the target as a dotted line and each week's point in its
    RAG colour. Compact figures are sparklines for the scorecard grid; full ones carry axes."""
    # Full charts put weeks on a date axis (Mondays), which plotly labels readably over a year;
    # hover text names the ISO week either way.
    labels = [p.label for p in points] if compact else [p.monday.isoformat() for p in points]
    values = [_number(p.value) for p in points]
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
            "y": values,
            "connectgaps": False,
            "line": {"color": INK, "width": 2 if compact else 2.5},
            "marker": {
                "size": [0] * (len(points) - 1) + [7] if compact else 8,
                "color": [RAG_COLOURS.get(p.rag, RAG_COLOURS[Rag.NONE]) for p in points],
            },
            "customdata": shown,
            "hovertemplate": "%{customdata}<extra></extra>",
        }
    )
    axis = {"fixedrange": True, "showgrid": not compact, "zeroline": False}
    layout = {
        "margin": {"l": 4, "r": 6, "t": 6, "b": 4}
        if compact
        else {"l": 64, "r": 16, "t": 16, "b": 40},
        "height": 44 if compact else 340,
        "showlegend": False,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "hovermode": "closest" if compact else "x unified",
        "xaxis": {**axis, "visible": not compact, "type": "category" if compact else "date"},
        "yaxis": {**axis, "visible": not compact, **_axis_format(unit)},
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
    }
    if not compact:
        layout["yaxis"]["rangemode"] = "tozero"
        layout["yaxis"]["gridcolor"] = "#e6e9ef"
    return {"data": data, "layout": layout}
