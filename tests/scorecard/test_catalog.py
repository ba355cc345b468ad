"""Ops add metrics without code (formulas, imported series) and the catalog refuses what would
make no sense, saying why."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from revops.weeks import IsoWeek
from scorecard.choices import FormulaOperator, MetricKind
from scorecard.models import Metric, SeriesValue
from scorecard.series_csv import series_parse
from scorecard.services.catalog import (
    Formula,
    SeriesImportError,
    metric_create,
    metric_update,
    series_import,
    target_set,
)
from tests.scorecard.conftest import W10, compute, d


def series_metric(key: str, **extra) -> Metric:
    return metric_create(
        by=None, key=key, name=key.replace("_", " ").title(), team="marketing", unit="count",
        up_is_good=True, kind=MetricKind.SERIES, additive=True,
        definition="Imported weekly from the email tool.", **extra,
    )  # fmt: skip


def formula_metric(key: str, op: str, left: Metric, right: Metric, factor=1) -> Metric:
    return metric_create(
        by=None, key=key, name=key, team="marketing", unit="percent", up_is_good=True,
        kind=MetricKind.FORMULA, definition="A formula.",
        formula=Formula(op, left, right, Decimal(factor)),
    )  # fmt: skip


@pytest.mark.django_db
def test_click_through_rate_is_clicks_over_recipients_times_100_from_imported_series():
    recipients = series_metric("email_recipients")
    clicks = series_metric("email_clicks")
    series_import(metric=recipients, by=None, data=b"week,value\n2026-W10,4000\n")
    series_import(metric=clicks, by=None, data=b"week,value\n2026-03-04,140\n")  # a date in W10
    ctr = formula_metric("email_ctr", FormulaOperator.RATIO, clicks, recipients, 100)
    assert ctr.additive is False
    cell = compute(W10, "email_ctr")["email_ctr"]
    assert cell.value == Decimal("3.5")  # 140 / 4,000 × 100
    assert compute(IsoWeek(2026, 11), "email_ctr")["email_ctr"].value is None  # nothing imported


@pytest.mark.django_db
def test_sums_and_differences_of_counts_are_additive_and_chain_through_other_formulas():
    a, b = series_metric("calls"), series_metric("emails")
    series_import(metric=a, by=None, data=b"week,value\n2026-W10,30\n")
    series_import(metric=b, by=None, data=b"week,value\n2026-W10,12\n")
    touches = formula_metric("touches", FormulaOperator.SUM, a, b)
    gap = formula_metric("calls_minus_emails", FormulaOperator.DIFFERENCE, a, b)
    formula_metric("call_share", FormulaOperator.RATIO, a, touches, 100)
    assert touches.additive
    assert gap.additive
    cells = compute(W10, "touches", "calls_minus_emails", "call_share")
    assert cells["touches"].value == 42  # 30 + 12
    assert cells["calls_minus_emails"].value == 18  # 30 − 12
    assert cells["call_share"].value == Decimal("71.4286")  # 30 / 42 × 100


@pytest.mark.django_db
def test_a_formula_that_would_refer_to_itself_is_refused():
    a, b = series_metric("calls"), series_metric("emails")
    touches = formula_metric("touches", FormulaOperator.SUM, a, b)
    share = formula_metric("call_share", FormulaOperator.RATIO, a, touches, 100)
    with pytest.raises(ValidationError, match="cannot be computed from itself"):
        metric_update(
            metric=touches, by=None, name="t", team="marketing", definition="x",
            green_pct=Decimal(100), red_pct=Decimal(90), position=1, is_active=True,
            formula=Formula(FormulaOperator.SUM, a, share),
        )  # fmt: skip
    assert touches.definitions.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"key": "Bad Key"}, "lower-case letters"),
        ({"key": "mqls"}, "already a metric"),
        ({"key": "print"}, "addresses use"),
        ({"definition": "  "}, "plain language"),
        ({"red_pct": Decimal(120)}, "red .* must not be above green"),
        ({"up_is_good": False, "red_pct": Decimal(80)}, "must not be below green"),
        ({"kind": MetricKind.BUILTIN}, "either a formula or an imported series"),
    ],
)
def test_a_new_metric_that_makes_no_sense_is_refused_with_the_reason(changes, message):
    fields = {
        "by": None, "key": "demo_count", "name": "Demo", "team": "marketing", "unit": "count",
        "up_is_good": True, "kind": MetricKind.SERIES, "definition": "Imported.",
    }  # fmt: skip
    with pytest.raises(ValidationError, match=message):
        metric_create(**{**fields, **changes})
    assert not Metric.objects.filter(key="demo_count").exists()


@pytest.mark.django_db
def test_the_unit_and_direction_of_a_built_in_metric_cannot_be_changed():
    arr = Metric.objects.get(key="arr")
    with pytest.raises(ValidationError, match="come with its computation"):
        metric_update(
            metric=arr, by=None, name="ARR", team="company", definition=arr.definition,
            green_pct=Decimal(100), red_pct=Decimal(90), position=1, is_active=True,
            unit="count",
        )  # fmt: skip


@pytest.mark.django_db
def test_a_rate_has_no_quarterly_target_and_targets_are_not_negative():
    win_rate = Metric.objects.get(key="win_rate")
    with pytest.raises(ValidationError, match="no monthly or quarterly form"):
        target_set(metric=win_rate, by=None, starts_on=d("2026-01-01"), value=25, period="quarter")
    with pytest.raises(ValidationError, match="cannot be negative"):
        target_set(metric=win_rate, by=None, starts_on=d("2026-01-01"), value=Decimal(-1))
    target_set(metric=win_rate, by=None, starts_on=d("2026-01-01"), value=25)
    target_set(metric=win_rate, by=None, starts_on=d("2026-01-01"), value=27)  # same day: replaced
    assert list(win_rate.targets.values_list("value", flat=True)) == [Decimal(27)]


@pytest.mark.django_db
def test_a_series_file_with_any_bad_row_imports_nothing_and_names_every_problem():
    metric = series_metric("webinar_signups")
    series_import(metric=metric, by=None, data=b"week,value\n2026-W09,10\n")
    data = b"week,value\n2026-W10,12\n2026-W60,3\n2026-W11,lots\n2026-W10,13\n2026-W12,1,2\n"
    with pytest.raises(SeriesImportError) as refused:
        series_import(metric=metric, by=None, data=data, file_name="signups.csv")
    assert [str(e) for e in refused.value.row_errors] == [
        "line 3, week: '2026-W60': 2026 has no week 60",
        "line 4, value: 'lots' is not a number (write 1234.5, without separators)",
        "line 5, week: 2026-W10 is already on line 2.",
        "line 6: Expected 2 columns, found 3.",
    ]
    assert list(SeriesValue.objects.values_list("week_start", "value")) == [
        (d("2026-02-23"), Decimal(10))
    ]
    assert metric.imports.count() == 1


@pytest.mark.django_db
def test_a_later_import_replaces_weeks_it_repeats_and_counts_what_it_did():
    metric = series_metric("webinar_signups")
    series_import(metric=metric, by=None, data=b"week,value\n2026-W09,10\n2026-W10,11\n")
    batch = series_import(metric=metric, by=None, data=b"week,value\n2026-W10,15\n2026-W11,3\n")
    assert (batch.rows_created, batch.rows_updated) == (1, 1)
    assert dict(SeriesValue.objects.values_list("week_start", "value")) == {
        d("2026-02-23"): 10, d("2026-03-02"): 15, d("2026-03-09"): 3,
    }  # fmt: skip


@pytest.mark.django_db
def test_a_computed_metric_cannot_take_an_imported_series():
    with pytest.raises(ValidationError, match="computed, not imported"):
        series_import(metric=Metric.objects.get(key="mqls"), by=None, data=b"week,value\n")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "The file is empty"),
        (b"wk,val\n2026-W10,1\n", "The header must be week,value"),
        (b"week,value\n", "header but no rows"),
        (b"week,value\n\xff\xfe,1\n", "not UTF-8"),
        (b'week,value\n"2026-W10,1\n', "Unreadable CSV"),
        (b"week,value\n2026-W10,1e999\n", "too large"),
        (b"week,value\n2026-W10,NaN\n", "not a number"),
        (b"week,value\n10/03/2026,1\n", "neither an ISO week"),
    ],
)
def test_series_files_that_cannot_be_read_say_why(data, error):
    rows, errors = series_parse(data)
    assert rows == []
    assert error in str(errors[0])


def test_series_files_from_spreadsheets_are_read_as_meant():
    data = "\ufeffWeek,Value\r\n2026-w10,1234.5\r\n2026-03-09,-2\r\n,\r\n\r\n".encode()
    rows, errors = series_parse(data)
    assert errors == []
    assert [(r.week.label, r.value) for r in rows] == [
        ("2026-W10", Decimal("1234.5")),
        ("2026-W11", Decimal("-2")),
    ]
