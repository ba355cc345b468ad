"""The inspection panel's chart: the scorecard's trend figure of a goal's metric, with the
goal's path as its dotted line. Pure: builds on scorecard.charts' figure dict."""

from __future__ import annotations

from mechanisms.selectors import GoalStatus
from scorecard.charts import trend_figure

HEIGHT = 230


def goal_figure(status: GoalStatus) -> dict:
    """Weekly values of the goal's metric; each week's point green when it meets the goal or is
    ahead of the path to it, amber when only better than the baseline, red otherwise. The
    dotted line is the path from the baseline to the target (the target itself when there is
    no baseline)."""
    figure = trend_figure(status.points, unit=status.goal.metric.unit)
    layout = figure["layout"]
    layout["height"] = HEIGHT
    layout["margin"] = {"l": 56, "r": 12, "t": 8, "b": 32}
    for trace in figure["data"]:
        if trace.get("name") == "Target":
            trace["name"] = "Goal path" if status.goal.baseline is not None else "Goal"
            trace["hovertemplate"] = (
                "path %{customdata}<extra></extra>"
                if status.goal.baseline is not None
                else "goal %{customdata}<extra></extra>"
            )
            trace["line"]["shape"] = "linear"
    return figure
