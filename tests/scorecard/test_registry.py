"""The registry is the one declaration of each built-in metric: the catalog agrees with it, and
what people read about a metric is generated from it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pipeline import metrics
from pipeline.selectors import RECONCILED_METRICS
from revops.permissions import Role
from scorecard.models import Metric
from scorecard.selectors import definition_current_map
from tests.scorecard.conftest import W10

pytestmark = pytest.mark.django_db


def test_every_built_in_of_the_catalog_is_declared_once_with_its_unit_and_direction():
    current = definition_current_map()
    builtins = {d.metric.key: d for d in current.values() if d.builtin}
    assert set(builtins) == set(metrics.REGISTRY)
    for key, definition in builtins.items():
        spec, metric = metrics.REGISTRY[key], definition.metric
        assert definition.builtin == key
        assert (metric.unit, metric.up_is_good, metric.additive, metric.team) == (
            spec.unit,
            spec.up_is_good,
            spec.additive,
            spec.team,
        ), key
        assert definition.window_weeks == spec.window, key


def test_the_reconciled_metrics_are_the_declared_ones():
    assert set(RECONCILED_METRICS) == {k for k, s in metrics.REGISTRY.items() if s.reconciled}
    assert RECONCILED_METRICS["new_bookings"] == "New bookings"


def test_a_condition_is_one_parameter_never_a_spelled_value():
    sql = metrics.WON.sql("d.")
    assert sql == f"d.stage = %({metrics.WON.param})s"
    assert metrics.SQL_PARAMS[metrics.WON.param] == "closed_won"
    assert (
        metrics.NEW_OR_EXPANSION.sql() == f"deal_type = ANY(%({metrics.NEW_OR_EXPANSION.param})s)"
    )
    assert metrics.SQL_PARAMS[metrics.NEW_OR_EXPANSION.param] == ["new", "expansion"]


def test_how_a_metric_is_computed_is_said_on_its_pages_and_in_the_api(client_as):
    client = client_as(Role.EXECUTIVE)
    said = metrics.REGISTRY["win_rate"].computed_as()
    assert "won new-business deals as a percentage of the number of closed" in said
    assert "13 weeks" in said
    page = client.get(reverse("scorecard:metric-week", args=[W10, "win_rate"]))
    assert said in page.text
    detail = client.get(reverse("scorecard:metric-detail", args=["new_bookings"]))
    assert metrics.REGISTRY["new_bookings"].computed_as() in detail.text
    api = client.get("/api/v1/scorecard/definitions/", {"metric": "win_rate"}).json()
    rows = api if isinstance(api, list) else api["results"]
    assert rows[0]["computed_as"] == said


def test_a_redefined_window_is_said_with_the_new_window():
    spec = metrics.REGISTRY["win_rate"]
    assert "26 weeks" in spec.computed_as(26)
    assert Metric.objects.get(key="win_rate").definitions.get(version=1).computed_as() == (
        spec.computed_as(13)
    )
