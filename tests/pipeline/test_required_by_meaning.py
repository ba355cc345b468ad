"""Required means required by meaning, not by column: a CRM pipeline export whose prospecting
deals have no engage date and no close date, and some no account, imports; a closed deal
without its dates does not."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from pipeline.choices import BatchStatus, FindingKind
from pipeline.models import Deal
from revops.permissions import Role
from revops.weeks import IsoWeek
from tests.pipeline.importing import csv_text, run_import
from tests.scorecard.conftest import compute

pytestmark = pytest.mark.django_db

HEADER = [
    "opportunity_id", "sales_agent", "product", "account", "deal_stage", "engage_date",
    "close_date", "close_value",
]  # fmt: skip
MAPPING = {
    "object": "deal",
    "fields": {
        "external_id": "opportunity_id",
        "name": "product",
        "owner": "sales_agent",
        "account_external_id": "account",
        "stage": {
            "column": "deal_stage",
            "values": {
                "prospecting": "qualification",
                "engaging": "discovery",
                "won": "closed_won",
                "lost": "closed_lost",
            },
        },
        "created_at": "engage_date",
        "close_date": "close_date",
        "amount": "close_value",
    },
}


def row(i, stage, engage="", close="", value="", account="Acme"):
    return {
        "opportunity_id": f"OPP{i:04d}",
        "sales_agent": "Moses Frase",
        "product": "GTX Plus Basic",
        "account": account,
        "deal_stage": stage,
        "engage_date": engage,
        "close_date": close,
        "close_value": value,
    }


PIPELINE = [
    row(1, "Prospecting", account=""),
    row(2, "Prospecting"),
    row(3, "Engaging", engage="2026-03-03", account=""),
    row(4, "Won", engage="2026-03-02", close="2026-03-05", value="1054"),
    row(5, "Lost", engage="2026-03-03", close="2026-03-04", value="0"),
]


def crm_import(tmp_path, rows):
    return run_import(
        tmp_path, csv_text(rows, header=HEADER), object_type="deal", mapping=MAPPING, preset=None
    )


def test_early_deals_import_without_dates_and_deals_without_an_account_are_findings(tmp_path):
    batch = crm_import(tmp_path, PIPELINE)
    assert batch.status == BatchStatus.APPLIED, batch.message
    assert batch.rows_created == 5
    assert batch.findings == {FindingKind.MISSING_ACCOUNT: 2}
    dates = dict(Deal.objects.values_list("source_records__external_id", "created_at"))
    assert dates["OPP0001"] is None
    assert dates["OPP0002"] is None
    assert dates["OPP0003"] is not None


def test_a_closed_deal_without_its_dates_is_refused_naming_row_column_and_why(tmp_path):
    rows = [
        *PIPELINE,
        row(6, "Won", engage="2026-03-02", value="10"),  # no close date
        row(7, "Lost", close="2026-03-04"),  # no engage date
    ]
    batch = crm_import(tmp_path, rows)
    assert batch.status == BatchStatus.REJECTED
    problems = [(e.row, e.column, e.message) for e in batch.row_errors.all()]
    assert problems == [
        (7, "close_date", "is required for a closed deal"),
        (8, "engage_date", "is required for a closed deal"),
    ]


def test_a_file_without_the_date_column_imports_open_deals_and_refuses_closed_ones(tmp_path):
    mapping = {**MAPPING, "fields": {**MAPPING["fields"]}}
    del mapping["fields"]["created_at"]
    header = [c for c in HEADER if c != "engage_date"]
    open_only = run_import(
        tmp_path, csv_text(PIPELINE[:3], header=header), object_type="deal", mapping=mapping,
        preset=None,
    )  # fmt: skip
    assert open_only.status == BatchStatus.APPLIED, open_only.message
    closed = run_import(
        tmp_path, csv_text(PIPELINE[3:], header=header), object_type="deal", mapping=mapping,
        preset=None, name="closed.csv",
    )  # fmt: skip
    assert closed.status == BatchStatus.REJECTED
    assert {e.message for e in closed.row_errors.all()} == {"is required for a closed deal"}


def test_undated_deals_count_nowhere_by_week_and_their_pages_show_a_dash(tmp_path, client_as):
    crm_import(tmp_path, PIPELINE)
    week = IsoWeek.of(date(2026, 3, 3))
    cells = compute(week, "pipeline_created", "new_bookings", "deals_won")
    # Engaged deals 3 (no amount), 4 and 5 were created that week; 1 and 2 in no week.
    assert cells["pipeline_created"].value == Decimal("1054")
    assert cells["new_bookings"].value == Decimal("1054")
    assert cells["deals_won"].value == 1
    client = client_as(Role.OPS)
    listing = client.get(reverse("pipeline:deal-list"))
    assert listing.status_code == 200
    undated = Deal.objects.filter(created_at__isnull=True).first()
    assert client.get(reverse("pipeline:deal-detail", args=[undated.pk])).status_code == 200
    # Newest first, the undated ones last.
    shown = [d.created_at for d in listing.context["page"].object_list]
    assert shown[-2:] == [None, None]
