"""A change to a built-in's declaration is the metric's next definition version; published
weeks keep the version they were computed with."""

from __future__ import annotations

import dataclasses

import pytest

from pipeline import metrics
from scorecard.models import MetricDefinition
from scorecard.selectors import definition_current_map
from scorecard.services.catalog import builtin_definitions_sync

pytestmark = pytest.mark.django_db


def _current(key: str) -> MetricDefinition:
    return next(d for d in definition_current_map().values() if d.metric.key == key)


def test_after_migrate_every_built_in_version_carries_its_declarations_fingerprint():
    for key, spec in metrics.REGISTRY.items():
        assert _current(key).builtin_fingerprint == spec.fingerprint, key
    assert builtin_definitions_sync() == []  # nothing changed: nothing made


def test_a_changed_declaration_makes_the_next_version_once(monkeypatch):
    before = _current("deals_won")
    spec = metrics.REGISTRY["deals_won"]
    narrower = dataclasses.replace(
        spec,
        measure=metrics.Measure(
            metrics.Records("deal", "close_date", (metrics.WON, metrics.NEW_BUSINESS))
        ),
    )
    assert narrower.fingerprint != spec.fingerprint
    # Words alone are not the computation.
    assert dataclasses.replace(spec, name="Wins").fingerprint == spec.fingerprint
    monkeypatch.setitem(metrics.REGISTRY, "deals_won", narrower)

    made = builtin_definitions_sync()

    assert [(d.metric.key, d.version) for d in made] == [("deals_won", before.version + 1)]
    after = _current("deals_won")
    assert after.builtin_fingerprint == narrower.fingerprint
    assert "won new-business deals" in after.note
    assert MetricDefinition.objects.get(pk=before.pk).builtin_fingerprint == spec.fingerprint
    assert builtin_definitions_sync() == []
