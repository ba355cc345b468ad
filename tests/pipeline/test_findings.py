"""Data-quality findings: rows that import but that someone should look at, counted per batch
and listed by row."""

from __future__ import annotations

import pytest

from pipeline.choices import BatchStatus, FindingKind
from tests.pipeline.importing import csv_text, run_import

pytestmark = pytest.mark.django_db

DEAL_MAPPING = {
    "object": "deal",
    "fields": {
        "external_id": "Id",
        "name": "Name",
        "stage": "Stage",
        "amount": "Amount",
        "created_at": "Created",
        "account_external_id": {"column": "AccountId", "optional": True},
    },
}


def deals(tmp_path, accounts: list[str], mapping=DEAL_MAPPING, apply=True):
    rows = [
        {
            "Id": f"D{i}",
            "Name": f"Deal {i}",
            "Stage": "qualification",
            "Amount": "100",
            "Created": "2026-03-02",
            "AccountId": a,
        }
        for i, a in enumerate(accounts)
    ]
    return run_import(
        tmp_path, csv_text(rows), object_type="deal", mapping=mapping, preset=None, apply=apply
    )


def test_deals_without_an_account_import_and_are_counted_and_listed_by_row(tmp_path):
    batch = deals(tmp_path, ["A1", "", "A2", " "])
    assert batch.status == BatchStatus.APPLIED
    assert batch.rows_created == 4
    assert batch.findings == {FindingKind.MISSING_ACCOUNT: 2}
    stored = [(f.row, f.column, f.message) for f in batch.row_findings.all()]
    assert stored == [(3, "AccountId", "names no account"), (5, "AccountId", "names no account")]


def test_a_checked_batch_already_shows_its_findings(tmp_path):

    batch = deals(tmp_path, ["", "A2"], apply=False)
    assert batch.status == BatchStatus.PENDING
    assert batch.findings == {FindingKind.MISSING_ACCOUNT: 1}
    assert batch.row_findings.count() == 1


def test_a_file_without_the_account_column_counts_every_deal(tmp_path):
    mapping = {**DEAL_MAPPING, "fields": {**DEAL_MAPPING["fields"]}}
    del mapping["fields"]["account_external_id"]
    batch = deals(tmp_path, ["x", "y", "z"], mapping=mapping)
    assert batch.findings == {FindingKind.MISSING_ACCOUNT: 3}


def test_a_clean_file_has_no_findings(tmp_path):
    batch = deals(tmp_path, ["A1", "A2"])
    assert batch.findings == {}
    assert not batch.row_findings.exists()


def test_the_batch_page_lists_each_kind_of_finding_with_its_rows(tmp_path, client_as):
    from django.urls import reverse

    from revops.permissions import Role

    batch = deals(tmp_path, ["", "A2", ""])
    html = client_as(Role.OPS).get(reverse("pipeline:import-detail", args=[batch.pk]))
    text = html.content.decode()
    assert "Data-quality findings" in text
    assert "No account</strong>: 2 rows" in text
    assert text.count("names no account") == 2


def test_the_data_quality_page_counts_findings_week_over_week_once_per_week(tmp_path, client_as):
    from datetime import timedelta

    from django.urls import reverse
    from django.utils import timezone

    from pipeline.models import ImportBatch
    from pipeline.services.findings import quality_weeks
    from revops.permissions import Role

    weeks = quality_weeks()
    old = deals(tmp_path, ["", "", "", "A"])  # three without an account, two weeks ago
    ImportBatch.objects.filter(pk=old.pk).update(
        finished_at=timezone.make_aware(
            timezone.datetime.combine(weeks[-3], timezone.datetime.min.time())
        )
        + timedelta(hours=12)
    )
    first = deals(tmp_path, ["", "", "B", "A"])  # this week: two, then the same file again
    second = deals(tmp_path, ["", "C", "B", "A"])  # this week's last file: one
    assert first.findings == {FindingKind.MISSING_ACCOUNT: 2}
    assert second.findings == {FindingKind.MISSING_ACCOUNT: 1}
    page = client_as(Role.SALES_LEAD).get(reverse("pipeline:system-quality", args=["salesforce"]))
    assert page.status_code == 200
    rows = page.context["rows"]
    assert [(r["object_type"], r["kind"]) for r in rows] == [("deal", "missing_account")]
    counts = rows[0]["counts"]
    assert counts[-1] == 1  # the last file applied this week, not 2 + 1
    assert counts[-3] == 3
    assert counts[-2] is None  # no file that week
    assert (
        client_as(Role.EXECUTIVE).get(reverse("pipeline:system-quality", args=["nope"])).status_code
        == 404
    )
