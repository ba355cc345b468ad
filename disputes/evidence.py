"""The evidence a dispute carries, gathered when it is filed and frozen as JSON: what the
system showed then, so later imports and runs do not change what the discussion is about.
Every value is stored as the text people saw."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.utils import timezone

from pipeline import selectors as pipeline_selectors
from pipeline.models import Discrepancy
from revops.weeks import IsoWeek
from scorecard import selectors as scorecard_selectors
from scorecard.formatting import format_value
from scorecard.models import Metric


def plain(value: object) -> str:
    """A value as text: times to the minute in the company's zone, numbers without noise."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return f"{timezone.localtime(value):%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def metric_evidence(metric: Metric, week: IsoWeek) -> dict:
    """The metric's value that week (published or live), its target, and, for a metric that
    reconciliation compares, each system's value and the bridge between them."""
    cell = scorecard_selectors.metric_week_cell(metric, week)
    snapshot = scorecard_selectors.snapshot_get(week)
    evidence: dict = {
        "kind": "metric",
        "metric": {"key": metric.key, "name": metric.name, "unit": metric.unit},
        "week": week.label,
        "value": plain(cell.value),
        "value_display": format_value(cell.value, metric.unit),
        "target": plain(cell.target),
        "rag": cell.rag,
        "published": snapshot is not None and not cell.live,
        "revision": snapshot.revision if snapshot and not cell.live else None,
        "definition_version": cell.version,
        "reconciliation": None,
    }
    if metric.key in pipeline_selectors.RECONCILED_METRICS:
        run = pipeline_selectors.reconciliation_run_current()
        row = pipeline_selectors.metric_week_get(run, metric.key, week.monday) if run else None
        if row is not None:
            evidence["reconciliation"] = {
                "run": run.id,
                "marketing_value": plain(row.marketing_value),
                "sales_value": plain(row.sales_value),
                "golden_value": plain(row.golden_value),
                "unexplained": plain(row.unexplained),
                "steps": [
                    {
                        "reason": step.reason,
                        "field": step.field,
                        "value": plain(step.value),
                        "records": step.records,
                    }
                    for step in row.steps.all()
                ],
            }
    return evidence


def record_evidence(object_type: str, golden) -> dict:
    """The golden record beside every source record that resolved to it, field by field."""
    versions = pipeline_selectors.record_versions(object_type, golden)
    return {
        "kind": "record",
        "object_type": object_type,
        "record": str(golden),
        "sources": [
            {"system": s.system.name, "external_id": s.external_id, "batch": s.batch_id}
            for s in versions.sources
        ],
        "fields": [
            {
                "name": row.name,
                "label": str(row.label),
                "golden": plain(row.golden),
                "values": [plain(v) for v in row.values],
                "differs": row.differs,
                "authority": row.authority,
            }
            for row in versions.rows
        ],
    }


def discrepancy_evidence(discrepancy: Discrepancy) -> dict:
    """The discrepancy as reconciliation found it and its two source records side by side."""
    records = pipeline_selectors.discrepancy_records(discrepancy)
    return {
        "kind": "discrepancy",
        "discrepancy": {
            "id": discrepancy.id,
            "kind": discrepancy.get_kind_display(),
            "field": discrepancy.field,
            "object_type": discrepancy.object_type,
            "record": discrepancy.label or discrepancy.golden_key,
            "week": IsoWeek.of(discrepancy.week_start).label if discrepancy.week_start else "",
            "left_system": str(discrepancy.left_system),
            "right_system": str(discrepancy.right_system),
        },
        "fields": [
            {
                "name": row.name,
                "label": row.label,
                "left": row.left,
                "right": row.right,
                "golden": row.golden,
                "differs": row.differs,
            }
            for row in records.rows
        ],
    }
