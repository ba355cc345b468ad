"""The evidence a dispute carries, gathered when it is filed and frozen as JSON: what the
system showed then, so later imports and runs do not change what the discussion is about.
Every value is stored as the text people saw."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.utils import timezone

from pipeline import selectors as pipeline_selectors
from pipeline.charts import step_label
from pipeline.choices import FIELD_LABELS, DiscrepancyKind
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
            marketing, sales = _system_names(run)
            evidence["reconciliation"] = {
                "run": run.id,
                "marketing_system": marketing,
                "sales_system": sales,
                "marketing_value": plain(row.marketing_value),
                "sales_value": plain(row.sales_value),
                "golden_value": plain(row.golden_value),
                "unexplained": plain(row.unexplained),
                "steps": [
                    {
                        "reason": step.reason,
                        "field": step.field,
                        "label": step_label(
                            step.reason, step.field, marketing=marketing, sales=sales
                        ),
                        "value": plain(step.value),
                        "records": step.records,
                    }
                    for step in row.steps.all()
                ],
            }
    return evidence


def _system_names(run) -> tuple[str, str]:
    return (
        run.marketing_system.name if run.marketing_system else "Marketing",
        run.sales_system.name if run.sales_system else "Sales",
    )


def evidence_labelled(frozen: dict) -> dict:
    """The frozen evidence with each bridge step and discrepancy in the bridge's words
    ("Never reached Salesforce"), not its codes. Evidence frozen before the labels were
    stored gets them here, from the system names it holds."""
    if frozen.get("kind") == "metric" and frozen.get("reconciliation"):
        rec = frozen["reconciliation"]
        marketing = rec.get("marketing_system") or "Marketing"
        sales = rec.get("sales_system") or "Sales"
        steps = [
            {**s, "label": s.get("label") or step_label(
                s.get("reason", ""), s.get("field", ""), marketing=marketing, sales=sales
            )}
            for s in rec.get("steps", [])
        ]  # fmt: skip
        return {**frozen, "reconciliation": {**rec, "steps": steps}}
    if frozen.get("kind") == "discrepancy" and frozen.get("discrepancy"):
        found = frozen["discrepancy"]
        if found.get("label"):
            return frozen
        # Evidence frozen before the code was stored holds the kind's label only.
        code = found.get("code") or {str(k.label): k.value for k in DiscrepancyKind}.get(
            found.get("kind", ""), ""
        )
        label = _discrepancy_label(code, found.get("field", ""), found) if code else ""
        return {**frozen, "discrepancy": {**found, "label": label or found.get("kind", "")}}
    return frozen


def _discrepancy_label(code: str, field: str, found: dict) -> str:
    """A discrepancy in the bridge's words; a field mismatch names the field as people do."""
    if code == DiscrepancyKind.MISMATCH:
        return f"{FIELD_LABELS.get(field, field)} differs"
    if code == DiscrepancyKind.DUPLICATE:
        return str(DiscrepancyKind.DUPLICATE.label)
    return step_label(
        code, field, marketing=found.get("left_system", ""), sales=found.get("right_system", "")
    )


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
            "code": discrepancy.kind,
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
