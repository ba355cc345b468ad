"""Helpers for the mechanism tests: a valid document to start from, made through the services
as a person would."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from mechanisms.choices import Cadence, Direction, GoalKind, Status, Team
from mechanisms.models import Mechanism
from mechanisms.services.mechanisms import GoalData, MechanismData, mechanism_create
from scorecard.models import Metric


def metric(key: str) -> Metric:
    """A metric of the standard catalog (its migration creates it)."""
    return Metric.objects.get(key=key)


def document(name: str = "Lead Routing", **changes) -> MechanismData:
    """A complete document: every part written, an SLA on speed to lead."""
    data = MechanismData(
        name=name,
        summary="Every MQL reaches the right rep fast.",
        challenge="MQLs wait **over a day** for a first touch.",
        outputs="Each MQL assigned within 5 minutes.",
        tool="Salesforce assignment rules.",
        adoption="SDRs work the New MQL queue first.",
        inspection="Weekly: speed to lead.",
        inputs="MQLs from Lead Capture.",
        iteration="Added the out-of-office check.",
        team=Team.REVOPS,
        status=Status.ACTIVE,
        cadence=Cadence.WEEKLY,
        tags=("lead-flow",),
        tenets=("Speed beats perfect routing.",),
        goals={
            GoalKind.SLA: GoalData(
                statement="Median speed to lead under 4 hours",
                metric=metric("speed_to_lead"),
                direction=Direction.AT_MOST,
                target=Decimal(4),
                due_on=date(2026, 12, 31),
            ),
            GoalKind.SMART: None,
        },
    )
    return data.with_changes(**changes) if changes else data


@pytest.fixture
def make_mechanism(db):
    def make(name: str = "Lead Routing", by=None, today: date | None = None, **changes):
        return mechanism_create(data=document(name, **changes), by=by, today=today)

    return make


def reload(mechanism: Mechanism) -> Mechanism:
    return Mechanism.objects.get(pk=mechanism.pk)
