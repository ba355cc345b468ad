"""The SQL the metrics, reconciliation and ARR roll-up run never spells a choice value: it
names a parameter (%(won)s) whose value comes from the TextChoices, so renaming a stage or a
deal type changes the queries with it instead of silently counting nothing."""

from __future__ import annotations

import ast
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from pipeline.choices import (
    AccountHealth,
    ArrChangeKind,
    DealSource,
    DealStage,
    DealType,
    LeadStage,
    SystemRole,
)
from pipeline.services import reconciliation
from pipeline.services.identity import account_arr_rollup, golden_resolve
from revops.weeks import IsoWeek
from scorecard.compute import BUILTINS, metric_values_compute
from scorecard.selectors import definition_current_map
from tests.factories import SourceDealFactory, SourceLeadFactory, SourceSystemFactory

# The values metrics filter on. (Values a statement only writes, like a discrepancy's kind,
# are interpolated from their enum and follow a rename by construction.)
GUARDED = {
    str(value)
    for choices in (DealStage, DealType, DealSource, ArrChangeKind, AccountHealth, LeadStage)
    for value in choices.values
}
_QUOTED = re.compile(r"'((?:[^']|'')*)'")

ROOT = Path(__file__).resolve().parents[2]
MODULES = [
    "pipeline/charts.py",
    "pipeline/selectors.py",
    "pipeline/services/identity.py",
    "pipeline/services/reconciliation.py",
    "scorecard/compute.py",
    "scorecard/drilldown.py",
    "scorecard/selectors.py",
    "scorecard/trust.py",
]


def _spelled(sql: str) -> set[str]:
    return {text for text in _QUOTED.findall(sql) if text in GUARDED}


@pytest.mark.parametrize("module", MODULES)
def test_no_string_in_the_modules_that_build_metric_sql_quotes_a_choice_value(module):
    tree = ast.parse((ROOT / module).read_text())
    found = {
        (node.lineno, text)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        for text in _spelled(node.value)
    }
    assert not found, f"{module} spells choice values in SQL; pass them as parameters"


@pytest.mark.django_db
def test_the_statements_metrics_reconciliation_and_arr_run_pass_choice_values_as_parameters():
    marketing = SourceSystemFactory(slug="hubspot", role=SystemRole.MARKETING)
    sales = SourceSystemFactory(slug="salesforce", role=SystemRole.SALES)
    week = IsoWeek.current().shift(-2)
    when = week.start + timedelta(days=1)
    for system in (marketing, sales):
        SourceLeadFactory(system=system, email="a@acme.com", email_key="a@acme.com", mql_at=when)
        SourceDealFactory(
            system=system, crm_id="D1", stage=DealStage.CLOSED_WON, close_date=when.date()
        )
    golden_resolve()

    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        account_arr_rollup(today=timezone.localdate())
        run = reconciliation.reconciliation_run_now(trigger="command", weeks=4)
        current = definition_current_map()
        builtins = [d for d in current.values() if d.builtin in BUILTINS]
        metric_values_compute(weeks=[week], definitions=builtins, catalog=current)

    assert run.status == "completed", run.message
    assert len(builtins) == len(BUILTINS)
    spelled = {text for sql in statements for text in _spelled(sql)}
    assert not spelled, f"choice values spelled in SQL: {sorted(spelled)}"
    # And the parameters carry them: the won deal is counted on both sides.
    won = run.metrics.get(metric_key="deals_won", week_start=week.monday)
    assert (won.marketing_value, won.sales_value) == (1, 1)
