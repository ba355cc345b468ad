"""Every built-in metric, every week of the demo: the invariants a user relies on.

The weekly SQL and the drill-down are two derivations of one declaration (pipeline/metrics.py);
these tests hold them to each other over the whole demo history, and hold reconciliation's
golden value, the API, the metric page and the records CSV to the same number."""

from __future__ import annotations

import csv
import io
import statistics
from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse

from pipeline import metrics
from pipeline.models import Lead, ReconciledMetricWeek
from pipeline.services.reconciliation import reconciliation_run_now
from revops.permissions import Role
from revops.weeks import IsoWeek, week_range
from scorecard.compute import metric_values_compute
from scorecard.drilldown import drilldown_for
from scorecard.formatting import format_value
from scorecard.models import Metric
from scorecard.selectors import definition_current_map

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

DEMO_TODAY = date(2026, 11, 24)  # the small demo's "today" (tests/conftest.py)


@pytest.fixture(scope="module")
def demo_weeks(_small_demo_for_module, django_db_blocker) -> list[IsoWeek]:
    with django_db_blocker.unblock():
        first = Lead.objects.order_by("created_at").values_list("created_at", flat=True)[0]
    return week_range(IsoWeek.of(first.date()), IsoWeek.of(DEMO_TODAY).shift(-1))


@pytest.fixture(scope="module")
def computed(_small_demo_for_module, django_db_blocker, demo_weeks):
    """(definitions by key, cells by key and week) for every built-in over every demo week:
    the backfill path, all metrics and weeks in one computation."""
    with django_db_blocker.unblock():
        current = definition_current_map()
        builtins = {d.metric.key: d for d in current.values() if d.builtin in metrics.REGISTRY}
        values = metric_values_compute(
            weeks=demo_weeks, definitions=list(builtins.values()), catalog=current
        )
    return builtins, {key: values[d.metric_id] for key, d in builtins.items()}


def _money(x) -> Decimal:
    return Decimal(x or 0).quantize(Decimal("0.0001"))


def _check(key: str, definition, week: IsoWeek, cell) -> None:
    """The drill-down's records give back the value shown, its parts, or its median."""
    spec = metrics.REGISTRY[key]
    drill = drilldown_for(definition.builtin, week, definition.window_weeks)
    rows = drill.queryset
    where = f"{key} {week.label}"
    if cell.note.startswith("No data"):  # a week before the first record it reads
        assert cell.value is None, where
        assert not rows.exists(), where
        return
    if spec.shape == metrics.TOTAL:
        if spec.measure.is_count:
            assert rows.count() == cell.value, where
        else:
            assert _money(rows.aggregate(t=Sum(spec.measure.sum))["t"]) == cell.value, where
    elif spec.shape == metrics.RATIO and spec.numerator.is_count:
        assert rows.count() == cell.denominator, where
        assert rows.filter(drill.numerator).count() == cell.numerator, where
    elif spec.shape == metrics.RATIO:  # an average: a sum over a count of the same records
        assert rows.count() == cell.denominator, where
        assert _money(rows.aggregate(t=Sum(drill.sum_attr))["t"]) == cell.numerator, where
    elif spec.shape in (metrics.COHORT, metrics.HEALTHY_SHARE):
        assert rows.count() == (cell.denominator or 0), where
        assert rows.filter(drill.numerator).count() == (cell.numerator or 0), where
    elif spec.shape == metrics.MEDIAN:
        values = [float(v) for v in rows.values_list("median_value", flat=True)]
        if not values:
            assert cell.value is None, where
            return
        assert len(values) == cell.denominator, where
        assert abs(Decimal(str(statistics.median(values))) - cell.value) < Decimal("0.001"), where
    elif spec.shape == metrics.COVERAGE:
        assert _money(rows.aggregate(t=Sum(drill.sum_attr))["t"]) == cell.numerator, where
    elif spec.shape == metrics.ARR_TOTAL:
        assert _money(rows.aggregate(t=Sum("arr_at_end"))["t"]) == cell.value, where
    elif spec.shape in (metrics.RETENTION_NET, metrics.RETENTION_GROSS):
        pairs = list(rows.values_list("arr_then", "arr_at_end"))
        if not pairs:
            assert cell.value is None, where
            return
        assert _money(sum(then for then, _ in pairs)) == cell.denominator, where
        kept = [
            now if spec.shape == metrics.RETENTION_NET else min(now, then) for then, now in pairs
        ]
        assert _money(sum(max(k, 0) for k in kept)) == cell.numerator, where
    elif spec.shape == metrics.LOGOS_LOST:
        assert rows.count() == cell.value, where
    else:  # pragma: no cover - a new shape must say what its records add up to
        raise AssertionError(f"no invariant for the shape {spec.shape}")


def test_the_demo_has_history_for_every_metric(computed, demo_weeks):
    _, cells = computed
    assert len(demo_weeks) > 100
    assert set(cells) == set(metrics.REGISTRY)
    for key, by_week in cells.items():
        shown = [c.value for c in by_week.values() if c.value is not None]
        assert shown, f"{key} has no value in any demo week: the walk below would prove nothing"
    # And nearly all have weeks above zero (the small demo may lose no logo at all).
    nonzero = [key for key, by_week in cells.items() if any(c.value for c in by_week.values())]
    assert len(nonzero) >= len(cells) - 1, sorted(set(cells) - set(nonzero))


@pytest.mark.parametrize("key", list(metrics.REGISTRY))
def test_every_week_the_records_behind_a_number_give_back_that_number(
    small_demo, computed, demo_weeks, key
):
    definitions, cells = computed
    for week in demo_weeks:
        _check(key, definitions[key], week, cells[key][week])


def test_one_week_alone_computes_what_the_backfill_computed(small_demo, computed, demo_weeks):
    definitions, cells = computed
    current = definition_current_map()
    for week in demo_weeks[::17]:
        alone = metric_values_compute(
            weeks=[week], definitions=list(definitions.values()), catalog=current
        )
        for key, definition in definitions.items():
            assert alone[definition.metric_id][week] == cells[key][week], f"{key} {week.label}"


def test_the_bridge_golden_value_is_the_scorecard_value(small_demo, computed, demo_weeks):
    _, cells = computed
    # A run over today's data (the demo's accepted disputes corrected records after its run).
    run = reconciliation_run_now(trigger="command", weeks=len(demo_weeks) + 4)
    assert run.status == "completed", run.message
    checked = 0
    for row in ReconciledMetricWeek.objects.filter(run=run):
        week = IsoWeek.of(row.week_start)
        if week not in cells[row.metric_key]:
            continue
        cell = cells[row.metric_key][week]
        # A week before the data: the bridge counts nothing, the scorecard says "No data".
        expected = Decimal(0) if cell.note.startswith("No data") else cell.value
        assert row.golden_value == expected, f"{row.metric_key} {week.label}"
        checked += 1
    assert set(ReconciledMetricWeek.objects.filter(run=run).values_list("metric_key", flat=True))
    assert checked >= len(metrics.RECONCILED) * 50


def _csv_rows(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_the_api_the_page_and_the_csv_show_the_same_number(
    small_demo, computed, demo_weeks, client_as
):
    _, cells = computed
    client = client_as(Role.EXECUTIVE)
    units = dict(Metric.objects.values_list("key", "unit"))
    for week in demo_weeks[-1::-9]:
        api = client.get(f"/api/v1/scorecard/weeks/{week.label}/").json()
        rows = [*api["top_line"], *(m for s in api["sections"] for m in s["metrics"])]
        by_key = {m["key"]: m for m in rows}
        for key, by_week in cells.items():
            cell = by_week[week]
            shown = format_value(cell.value, units[key])
            where = f"{key} {week.label}"
            assert by_key[key]["display"] == shown, where
            assert (by_key[key]["value"] is None) == (cell.value is None), where
            if cell.value is not None:
                assert Decimal(by_key[key]["value"]) == cell.value, where
            page = client.get(reverse("scorecard:metric-week", args=[week, key]))
            assert page.context["value_display"] == shown, where
            spec = metrics.REGISTRY[key]
            if spec.shape == metrics.TOTAL:
                export = client.get(
                    reverse("scorecard:metric-records", args=[week, key]), {"format": "csv"}
                )
                rows = _csv_rows(export)
                if spec.measure.is_count:
                    assert len(rows) == (cell.value or 0), where
                else:
                    column = next(
                        c.label for c in drilldown_for(key, week, None).columns
                        if c.attr == spec.measure.sum
                    )  # fmt: skip
                    total = sum(Decimal(r[column] or 0) for r in rows)
                    assert _money(total) == _money(cell.value), where
