"""`make demo` shows disputes with no extra step: one in each state, seeded once."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from disputes.models import Dispute
from revops.weeks import IsoWeek
from scorecard.trust import DISPUTED, trust_marks_for_week

pytestmark = pytest.mark.django_db


def test_demo_seeds_a_dispute_in_every_state_once(settings, tmp_path):
    settings.BASE_DIR = tmp_path
    call_command("demo", no_serve=True, scale=0.01, stdout=io.StringIO())
    states = sorted(Dispute.objects.values_list("status", flat=True))
    assert states == ["accepted", "in_review", "open", "rejected", "withdrawn"]
    assert Dispute.objects.get(status="in_review").is_overdue()
    accepted = Dispute.objects.get(status="accepted")
    assert accepted.correction["field"] == "mql_at"
    marks = trust_marks_for_week(IsoWeek.last_completed(), ["mqls"])
    assert marks["mqls"].state == DISPUTED

    call_command("disputes_demo", stdout=io.StringIO())
    assert Dispute.objects.count() == 5
