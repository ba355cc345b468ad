"""The demo's five mechanisms: goals on real metrics, links, a log, actions and versions."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.management import call_command

from demo.mechanisms import mechanisms_demo_ensure
from demo.pipeline import demo_users_ensure
from mechanisms.models import Action, Goal, Link, LogEntry, Mechanism
from mechanisms.selectors import overdue_inspection_count
from mechanisms.versions import snapshot_list

pytestmark = pytest.mark.django_db

NAMES = [
    "Data dispute resolution",
    "Lead Capture",
    "Lead Routing",
    "MQL hand-off SLA",
    "Weekly scorecard review",
]


def test_the_demo_seeds_five_mechanisms_with_goals_on_scorecard_metrics():
    demo_users_ensure("revops-demo")
    today = date(2026, 11, 24)
    result = mechanisms_demo_ensure(today=today)
    assert sorted(Mechanism.objects.values_list("name", flat=True)) == NAMES
    assert len(result.created) == 5
    # Every mechanism has an SLA and a SMART goal, each on a metric of the catalog.
    assert Goal.objects.count() == 10
    routing = Mechanism.objects.get(slug="lead-routing")
    smart = routing.goals.get(kind="smart")
    assert (smart.metric.key, str(smart.target)) == ("speed_to_lead", "1.0000")
    # Lead Capture → Lead Routing → MQL hand-off → review → disputes → back to capture.
    assert Link.objects.count() == 5
    assert routing.incoming.get().source.slug == "lead-capture"
    assert LogEntry.objects.count() == 7
    # 10 actions: 3 + 3 + 1 + 1 + 2, of which one each of capture's and routing's are done.
    assert Action.objects.filter(done=False).count() == 8
    assert Action.objects.filter(done=True).count() == 2
    # Lead Routing has a history to compare: a draft, the full document, a tighter SLA.
    assert [s.number for s in snapshot_list(routing)] == [3, 2, 1]
    # Two are overdue for inspection, so the list and the scorecard footer have something to say.
    assert overdue_inspection_count(today=today) == 2


def test_running_the_demo_twice_changes_nothing():
    demo_users_ensure("revops-demo")
    call_command("mechanisms_demo", stdout=io.StringIO())
    versions = {m.slug: m.version for m in Mechanism.objects.all()}
    out = io.StringIO()
    call_command("mechanisms_demo", stdout=out)
    assert "0 created, 5 already there" in out.getvalue()
    assert {m.slug: m.version for m in Mechanism.objects.all()} == versions
    assert Link.objects.count() == 5
