"""Enumerations of the scorecard. Stored values are stable; labels are for people."""

from __future__ import annotations

from django.db import models


class Team(models.TextChoices):
    """Which section of the scorecard a metric sits in; company metrics form the top line."""

    COMPANY = "company", "Company"
    MARKETING = "marketing", "Marketing"
    SALES = "sales", "Sales"
    CUSTOMER_SUCCESS = "customer_success", "Customer success"


class Unit(models.TextChoices):
    COUNT = "count", "Count"
    CURRENCY = "currency", "Currency (USD)"
    PERCENT = "percent", "Percent"
    RATIO = "ratio", "Ratio (×)"
    DAYS = "days", "Days"
    HOURS = "hours", "Hours"


class MetricKind(models.TextChoices):
    """How a metric's weekly value comes about. Fixed when the metric is created."""

    BUILTIN = "builtin", "Computed from the golden records"
    FORMULA = "formula", "Formula over other metrics"
    SERIES = "series", "Imported weekly series"


class FormulaOperator(models.TextChoices):
    RATIO = "ratio", "A ÷ B"
    SUM = "sum", "A + B"
    DIFFERENCE = "difference", "A − B"


OPERATOR_SYMBOL = {
    FormulaOperator.RATIO: "÷",
    FormulaOperator.SUM: "+",
    FormulaOperator.DIFFERENCE: "−",
}


class TargetPeriod(models.TextChoices):
    """What a target value covers. A monthly or quarterly target of an additive metric (a count
    or an amount) is spread over its days, so a week gets 7/days of it."""

    WEEK = "week", "per week"
    MONTH = "month", "per month"
    QUARTER = "quarter", "per quarter"


class Rag(models.TextChoices):
    GREEN = "green", "On target"
    AMBER = "amber", "Near target"
    RED = "red", "Off target"
    NONE = "none", "No target"


class Pacing(models.TextChoices):
    """How the week in progress is judged: against its target prorated to the share of the
    week elapsed (counted in business days or calendar days), or not until it ends."""

    BUSINESS_DAYS = "business_days", "On pace, by business days elapsed"
    CALENDAR_DAYS = "calendar_days", "On pace, by calendar days elapsed"
    COMPLETE = "complete", "Only when the week is complete"


class PublicationSource(models.TextChoices):
    SCHEDULE = "schedule", "Weekly schedule"
    MANUAL = "manual", "Published by hand"
    BACKFILL = "backfill", "Backfill"
    DISPUTE = "dispute", "Accepted dispute"
