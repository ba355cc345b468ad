"""Bridges as people read them: step labels and the plotly waterfall figure. Pure functions
over selector output; templates `json_script` the figure."""

from __future__ import annotations

from decimal import Decimal

from pipeline import metrics
from pipeline.choices import FIELD_LABELS, BridgeReason
from pipeline.models import BridgeStep, ReconciledMetricWeek
from pipeline.selectors import RECONCILED_METRICS
from revops.currencies import currency_prefix, money_format
from revops.weeks import IsoWeek


def metric_is_money(metric_key: str) -> bool:
    spec = metrics.spec_get(metric_key)
    return spec is not None and spec.is_money


def format_value(metric_key: str, value: Decimal, *, signed: bool = False) -> str:
    """`$1,234` for money metrics (in the company currency), `1,234` for counts; `signed`
    writes + and −."""
    if metric_is_money(metric_key):
        return money_format(value, signed=signed)
    sign = ""
    if signed and value > 0:
        sign = "+"
    elif value < 0:
        sign = "−"
    return f"{sign}{abs(value):,.0f}"


def step_label(reason: str, field: str, *, marketing: str, sales: str) -> str:
    """What a bridge step means, in the systems' own names."""
    field_label = FIELD_LABELS.get(field, field)
    if reason == BridgeReason.MISSING_IN_SALES:
        return f"Never reached {sales}"
    if reason == BridgeReason.MISSING_IN_MARKETING:
        return f"Never reached {marketing}"
    if reason == BridgeReason.NOT_SYNCED:
        return f"Sales-sourced, not synced to {marketing}"
    if reason == BridgeReason.DUPLICATE:
        return "Duplicates"
    if reason == BridgeReason.OTHER_WEEK:
        return f"Counted in another week ({field_label})"
    return f"{field_label} differs"


def waterfall_figure(
    metric_week: ReconciledMetricWeek,
    steps: list[BridgeStep],
    *,
    marketing: str,
    sales: str,
) -> dict:
    """A plotly waterfall from marketing's value through each step (and the unexplained
    rest, always shown) to sales' value. The last bar is plotly's running total, which equals
    sales' value because the parts add up to the difference."""
    key = metric_week.metric_key
    labels = [f"{marketing}"]
    values = [float(metric_week.marketing_value)]
    measures = ["absolute"]
    texts = [format_value(key, metric_week.marketing_value)]
    for step in steps:
        labels.append(step_label(step.reason, step.field, marketing=marketing, sales=sales))
        values.append(float(step.value))
        measures.append("relative")
        texts.append(format_value(key, step.value, signed=True))
    labels.append("Unexplained")
    values.append(float(metric_week.unexplained))
    measures.append("relative")
    texts.append(format_value(key, metric_week.unexplained, signed=True))
    labels.append(f"{sales}")
    values.append(0.0)
    measures.append("total")
    texts.append(format_value(key, metric_week.sales_value))
    title = f"{RECONCILED_METRICS.get(key, key)} · {IsoWeek.of(metric_week.week_start).label}"
    return {
        "data": [
            {
                "type": "waterfall",
                "orientation": "v",
                "x": labels,
                "y": values,
                "measure": measures,
                "text": texts,
                "textposition": "outside",
                "cliponaxis": False,
                "connector": {"line": {"color": "#9aa5b5", "width": 1, "dash": "dot"}},
                "increasing": {"marker": {"color": "#2d5fa8"}},
                "decreasing": {"marker": {"color": "#c2410c"}},
                "totals": {"marker": {"color": "#17325c"}},
                "hovertemplate": "%{x}: %{text}<extra></extra>",
            }
        ],
        "layout": {
            "title": {"text": title, "font": {"size": 15}},
            "showlegend": False,
            "margin": {"l": 60, "r": 20, "t": 50, "b": 90},
            "height": 380,
            "yaxis": {
                "tickprefix": currency_prefix() if metric_is_money(key) else "",
                "separatethousands": True,
                "rangemode": "tozero",
                "gridcolor": "#eef0f3",
            },
            "xaxis": {"automargin": True},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"},
        },
    }
