"""The README's walkthrough, as a new user runs it: a fresh install without the demo, two
systems added on the command line, three exports shaped like real public ones — a marketing
MQL file keyed by id with no email, a CRM opportunity file with its own stage names and deals
without an account, an account file with no website column — imported with the mappings in
docs/walkthrough/, then reconciled and published. Every number is checked against the files."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from pipeline.choices import BatchStatus, FindingKind, RunStatus
from pipeline.models import Account, Deal, ImportBatch, Lead, ReconciliationRun
from revops.permissions import Role

pytestmark = pytest.mark.django_db

FILES = Path(__file__).resolve().parent.parent / "fixtures" / "walkthrough"
MAPPINGS = Path(settings.BASE_DIR) / "docs" / "walkthrough"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def imported(system: str, obj: str, name: str) -> ImportBatch:
    run(
        "import_records", str(FILES / f"{name}.csv"), f"--system={system}", f"--object={obj}",
        f"--mapping={MAPPINGS / f'{name}.json'}",
    )  # fmt: skip
    return ImportBatch.objects.filter(file_name=f"{name}.csv").latest("id")


def metric(body: dict, key: str) -> dict:
    shown = [*body["top_line"], *(m for s in body["sections"] for m in s["metrics"])]
    return next(m for m in shown if m["key"] == key)


def test_three_real_shaped_exports_reach_a_reconciled_published_scorecard(client_as):
    run("system_add", "--name=Marketing", "--vendor=other", "--role=marketing", "--slug=marketing")
    run("system_add", "--name=CRM", "--vendor=other", "--role=sales", "--slug=crm")

    mqls = imported("marketing", "lead", "mqls")
    accounts = imported("crm", "account", "accounts")
    deals = imported("crm", "deal", "opportunities")
    for batch in (mqls, accounts, deals):
        assert batch.status == BatchStatus.APPLIED, batch.message
    assert Lead.objects.count() == 8  # no email, none merged
    assert Account.objects.count() == 5  # keyed by name: no website column
    assert Deal.objects.count() == 9  # prospecting deals without dates included
    assert deals.findings == {FindingKind.MISSING_ACCOUNT: 3}
    assert Deal.objects.filter(account__isnull=False).count() == 6

    run("reconcile", "--all")
    assert ReconciliationRun.objects.latest("id").status == RunStatus.COMPLETED
    assert "Published" in run("scorecard_backfill", "--all")

    client = client_as(Role.EXECUTIVE)
    w06, w07, w08 = (
        client.get(reverse("api:scorecard-week", args=[w])).json()
        for w in ("2026-W06", "2026-W07", "2026-W08")
    )
    assert w07["status"] == "published"
    assert [metric(w, "mqls")["value"] for w in (w06, w07, w08)] == ["3", "2", "3"]
    assert [metric(w, "deals_won")["value"] for w in (w07, w08)] == ["2", "2"]
    assert Decimal(metric(w07, "new_bookings")["value"]) == Decimal("1104")
    assert Decimal(metric(w08, "new_bookings")["value"]) == Decimal("5102")
    assert metric(w07, "mqls")["trust"]["state"] != "not_reconciled"
