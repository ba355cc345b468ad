"""Accepting a dispute republishes exactly what its correction moved: an unrelated import that
moved other published weeks since is not attributed to it, and stays pending."""

from __future__ import annotations

import pytest

from disputes.services import disputes as services
from revops.weeks import IsoWeek
from scorecard import restatements
from scorecard.choices import PublicationSource
from scorecard.models import SnapshotPublication, SnapshotValue, WeeklySnapshot
from scorecard.services.snapshots import snapshot_publish
from tests.disputes.conftest import W10, leads_file
from tests.pipeline.importing import lead_row, run_import

pytestmark = pytest.mark.django_db

W09 = IsoWeek(2026, 9)


def frozen(week: IsoWeek, key: str):
    return SnapshotValue.objects.get(metric__key=key, week_start=week.monday).value


@pytest.fixture
def two_weeks_published(published, ops):
    """W10 published with three leads; W09 published before any lead of it had arrived."""
    snapshot_publish(week=W09, by=ops, send_digest=False)
    assert frozen(W09, "leads_created") is None  # before the data: no data, not zero
    return published


def test_a_dispute_republishes_only_its_week_and_names_only_itself(
    two_weeks_published, sales, ops, tmp_path, django_capture_on_commit_callbacks
):
    # An unrelated late import: two leads created in W09, after W09 was published.
    late = run_import(
        tmp_path,
        leads_file(
            *(lead_row(i, CreatedDate="2026-02-24T10:00:00.000+0000") for i in range(10, 12))
        ),
        name="late.csv",
    )
    subject = services.subject_metric(metric_key="leads_created", week_label=W10.label)
    dispute = services.dispute_file(
        by=sales, subject=subject, claimed_value="2", explanation="person2 is from W11"
    )
    services.dispute_review(dispute=dispute, by=ops)
    with django_capture_on_commit_callbacks(execute=True):
        dispute = services.dispute_accept(
            dispute=dispute,
            by=ops,
            resolution="person2 was created on 10 March",
            correction=services.Correction(
                kind="override", object_type="lead", record_key="person2@acme.com",
                field="created_at", value="2026-03-10T09:00:00+00:00",
            ),
        )  # fmt: skip

    assert dispute.republished_weeks == ["2026-W10"]
    w10 = WeeklySnapshot.objects.get(week_start=W10.monday)
    assert w10.revision == 2
    publication = w10.publications.get(revision=2)
    assert publication.source == PublicationSource.DISPUTE
    assert publication.changes["leads_created"] == {"old": "3", "new": "2"}
    assert [c["kind"] for c in publication.causes] == ["dispute"]
    assert publication.causes[0]["label"].startswith(f"Dispute #{dispute.pk} accepted")
    assert "leads_created" in publication.causes[0]["metrics"]
    assert publication.causes[0]["url"] == f"/disputes/{dispute.pk}/"

    # W09 moved with the import, not the dispute: still frozen, and pending with its cause.
    w09 = WeeklySnapshot.objects.get(week_start=W09.monday)
    assert w09.revision == 1
    assert frozen(W09, "leads_created") is None
    pending = restatements.pending_compute()
    assert [p.week for p in pending] == [W09]
    moved = {c.key: (c.frozen, c.live) for c in pending[0].moved}
    assert moved["leads_created"] == (None, 2)
    imports = [c for c in pending[0].causes if c["kind"] == "import"]
    assert [c["url"] for c in imports] == [f"/records/imports/{late.pk}/"]
    assert "leads_created" in imports[0]["metrics"]
    assert SnapshotPublication.objects.filter(reason__contains="Dispute").count() == 1


def test_a_cell_that_had_drifted_as_well_names_both_causes(
    published, sales, ops, tmp_path, django_capture_on_commit_callbacks
):
    # Two late W10 leads move W10's leads created 3 → 5; the dispute then takes one away.
    late = run_import(
        tmp_path,
        leads_file(*(lead_row(i, CreatedDate="2026-03-03T10:00:00.000+0000") for i in range(7, 9))),
        name="late.csv",
    )
    subject = services.subject_metric(metric_key="leads_created", week_label=W10.label)
    dispute = services.dispute_file(
        by=sales, subject=subject, claimed_value="4", explanation="person2 is from W11"
    )
    services.dispute_review(dispute=dispute, by=ops)
    with django_capture_on_commit_callbacks(execute=True):
        services.dispute_accept(
            dispute=dispute,
            by=ops,
            resolution="person2 was created on 10 March",
            correction=services.Correction(
                kind="override", object_type="lead", record_key="person2@acme.com",
                field="created_at", value="2026-03-10T09:00:00+00:00",
            ),
        )  # fmt: skip
    publication = SnapshotPublication.objects.get(snapshot__week_start=W10.monday, revision=2)
    assert publication.changes["leads_created"] == {"old": "3", "new": "4"}
    kinds = {c["kind"]: c for c in publication.causes}
    assert set(kinds) == {"dispute", "import"}  # the new value holds the import's leads too
    assert kinds["import"]["url"] == f"/records/imports/{late.pk}/"
    assert restatements.pending_compute() == []


def test_a_correction_that_brings_a_drifted_cell_back_to_its_frozen_value_restates_nothing(
    published, sales, ops, tmp_path, django_capture_on_commit_callbacks
):
    run_import(
        tmp_path,
        leads_file(lead_row(7, CreatedDate="2026-03-03T10:00:00.000+0000")),
        name="late.csv",
    )
    subject = services.subject_metric(metric_key="leads_created", week_label=W10.label)
    dispute = services.dispute_file(
        by=sales, subject=subject, claimed_value="3", explanation="person2 is from W11"
    )
    services.dispute_review(dispute=dispute, by=ops)
    with django_capture_on_commit_callbacks(execute=True):
        dispute = services.dispute_accept(
            dispute=dispute,
            by=ops,
            resolution="person2 was created on 10 March",
            correction=services.Correction(
                kind="override", object_type="lead", record_key="person2@acme.com",
                field="created_at", value="2026-03-10T09:00:00+00:00",
            ),
        )  # fmt: skip
    # Frozen 3, 4 with the import, 3 with the import and the correction: nothing to restate.
    assert dispute.republished_weeks == []
    assert WeeklySnapshot.objects.get(week_start=W10.monday).revision == 1
    assert frozen(W10, "leads_created") == 3
    assert restatements.pending_compute() == []
