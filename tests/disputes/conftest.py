"""A hand-built fixture for disputes: three CRM leads created in 2026-W10 through the real
importer, that week published, and users of every role with e-mail addresses."""

from __future__ import annotations

import pytest

from pipeline.models import Lead
from revops.permissions import Role
from revops.weeks import IsoWeek
from scorecard.services.snapshots import snapshot_publish
from tests.pipeline.importing import csv_text, lead_row, run_import

W10 = IsoWeek(2026, 10)


def leads_file(*rows: dict) -> str:
    return csv_text(list(rows))


@pytest.fixture
def imported(tmp_path):
    """person0..2@acme.com, created Monday 2 March 2026 (W10), from Salesforce."""
    run_import(tmp_path, leads_file(*(lead_row(i) for i in range(3))))
    assert Lead.objects.count() == 3
    return tmp_path


@pytest.fixture
def published(imported, ops):
    return snapshot_publish(week=W10, by=ops, send_digest=False)


@pytest.fixture
def ops(make_user):
    return make_user(Role.OPS, "olga", email="olga@example.com")


@pytest.fixture
def ops2(make_user):
    return make_user(Role.OPS, "oscar", email="oscar@example.com")


@pytest.fixture
def sales(make_user):
    return make_user(Role.SALES_LEAD, "sam", email="sam@example.com")


@pytest.fixture
def marketing(make_user):
    return make_user(Role.MARKETING_LEAD, "mia", email="mia@example.com")


@pytest.fixture
def executive(make_user):
    return make_user(Role.EXECUTIVE, "eve", email="eve@example.com")
