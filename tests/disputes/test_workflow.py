"""The whole workflow on a hand-built fixture: filed from a number with its evidence frozen,
reviewed, accepted with a correction that changes the scorecard, every step on the timeline
and in the filer's inbox."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail

from disputes import selectors
from disputes.choices import DisputeStatus
from disputes.models import DisputeSettings
from disputes.services import disputes as services
from pipeline.models import FieldAuthority, FieldOverride, Lead
from scorecard.models import SnapshotPublication, SnapshotValue
from scorecard.trust import DISPUTED, trust_marks_for_week
from tests.disputes.conftest import W10, leads_file
from tests.pipeline.importing import csv_text, lead_row, run_import
from tests.pipeline.importing import marketing as marketing_system

pytestmark = pytest.mark.django_db


def leads_created_w10() -> Decimal:
    return SnapshotValue.objects.get(metric__key="leads_created", week_start=W10.monday).value


def file_leads_created(by, claimed="2", why="person2 is a test lead created the week after"):
    subject = services.subject_metric(metric_key="leads_created", week_label=W10.label)
    return services.dispute_file(by=by, subject=subject, claimed_value=claimed, explanation=why)


def test_accepting_a_dispute_with_an_override_republishes_the_week_naming_it(
    published, sales, ops, django_capture_on_commit_callbacks
):
    assert leads_created_w10() == 3
    with django_capture_on_commit_callbacks(execute=True):
        dispute = file_leads_created(sales)
    assert dispute.status == DisputeStatus.OPEN
    assert dispute.shown_value == "3"
    assert dispute.claimed_number == 2
    assert dispute.evidence["value"] == "3"
    assert dispute.evidence["published"] is True
    mark = trust_marks_for_week(W10, ["leads_created"])["leads_created"]
    assert (mark.state, mark.url) == (DISPUTED, f"/disputes/{dispute.pk}/")

    with django_capture_on_commit_callbacks(execute=True):
        services.dispute_review(dispute=dispute, by=ops)
    with django_capture_on_commit_callbacks(execute=True):
        dispute = services.dispute_accept(
            dispute=dispute,
            by=ops,
            resolution="person2 was created on 10 March; corrected by hand",
            correction=services.Correction(
                kind="override",
                object_type="lead",
                record_key="person2@acme.com",
                field="created_at",
                value="2026-03-10T09:00:00+00:00",
            ),
        )

    assert dispute.status == DisputeStatus.ACCEPTED
    assert dispute.republished_weeks == ["2026-W10"]  # the only published week it moved
    assert leads_created_w10() == 2
    publication = SnapshotPublication.objects.get(snapshot__week_start=W10.monday, revision=2)
    assert publication.reason.startswith(f"Dispute #{dispute.pk} accepted")
    assert publication.changes["leads_created"] == {"old": "3", "new": "2"}
    assert "leads_created" not in {
        k for k, m in trust_marks_for_week(W10, ["leads_created"]).items() if m.state == DISPUTED
    }
    steps = [(t.from_status, t.to_status, t.by_id) for t in dispute.transitions.all()]
    assert steps == [
        ("", "open", sales.pk),
        ("open", "in_review", ops.pk),
        ("in_review", "in_review", ops.pk),  # assigned to ops, who took it
        ("in_review", "accepted", ops.pk),
    ]
    # The filer hears of every step; the assignee of the assignment.
    assert [m.to for m in mail.outbox] == [
        ["sam@example.com"],
        ["olga@example.com"],
        ["sam@example.com"],
        ["sam@example.com"],
    ]
    assert "accepted" in mail.outbox[-1].subject


def test_rejecting_needs_a_reason_and_accepting_needs_what_was_corrected(published, sales, ops):
    dispute = file_leads_created(sales)
    services.dispute_review(dispute=dispute, by=ops)
    with pytest.raises(services.ValidationError):
        services.dispute_reject(dispute=dispute, by=ops, reason="  ")
    with pytest.raises(services.ValidationError):
        services.dispute_accept(dispute=dispute, by=ops, resolution="")
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.IN_REVIEW
    services.dispute_reject(dispute=dispute, by=ops, reason="person2 is real")
    dispute.refresh_from_db()
    assert (dispute.status, dispute.resolution) == (DisputeStatus.REJECTED, "person2 is real")
    assert dispute.resolved_at is not None


def test_a_failing_correction_changes_nothing(published, sales, ops):
    dispute = file_leads_created(sales)
    services.dispute_review(dispute=dispute, by=ops)
    with pytest.raises(services.ValidationError):
        services.dispute_accept(
            dispute=dispute,
            by=ops,
            resolution="fix",
            correction=services.Correction(
                kind="override", object_type="lead", record_key="person2@acme.com",
                field="created_at", value="not a date",
            ),
        )  # fmt: skip
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.IN_REVIEW
    assert not FieldOverride.objects.exists()
    assert leads_created_w10() == 3


def test_accepting_with_an_authority_rule_rebuilds_the_leads_and_republishes(
    published, sales, ops, imported
):
    """HubSpot says person2 signed up on 10 March (W11); once HubSpot decides created dates,
    W10 has two leads, not three."""
    hubspot = {"Record ID": "2", "Email": "person2@acme.com", "First Name": "Ana",
               "Last Name": "Smith", "Lifecycle Stage": "Lead", "Original Source": "Web",
               "Create Date": "2026-03-10 09:00", "Became a Marketing Qualified Lead Date": "",
               "Became a Sales Qualified Lead Date": "", "Associated Company": "Acme"}  # fmt: skip
    run_import(
        imported, csv_text([hubspot]), system=marketing_system(), preset="hubspot-contact",
        name="hs.csv",
    )  # fmt: skip
    dispute = file_leads_created(sales)
    services.dispute_review(dispute=dispute, by=ops)
    refused = services.Correction(
        kind="authority", object_type="lead", field="email", system="hubspot"
    )
    with pytest.raises(services.ValidationError, match="not a field of a lead that a rule"):
        services.dispute_accept(dispute=dispute, by=ops, resolution="fix", correction=refused)
    assert not FieldAuthority.objects.exists()

    dispute = services.dispute_accept(
        dispute=dispute,
        by=ops,
        resolution="HubSpot has the real sign-up dates",
        correction=services.Correction(
            kind="authority", object_type="lead", field="created_at", system="hubspot"
        ),
    )
    assert dispute.status == DisputeStatus.ACCEPTED
    rule = FieldAuthority.objects.get()
    assert (rule.field, rule.system.slug, rule.updated_by) == ("created_at", "hubspot", ops)
    assert Lead.objects.get(email_key="person2@acme.com").created_at.day == 10
    assert dispute.republished_weeks == ["2026-W10"]  # W11 was never published
    assert leads_created_w10() == 2


def test_evidence_stays_as_filed_when_later_imports_change_the_number(published, sales, imported):
    dispute = file_leads_created(sales)
    run_import(imported, leads_file(*(lead_row(i) for i in range(3, 6))), name="more.csv")
    assert Lead.objects.count() == 6
    dispute.refresh_from_db()
    assert dispute.evidence["value"] == "3"
    fresh = services.subject_metric(metric_key="leads_created", week_label=W10.label)
    assert fresh.evidence["value"] == "3"  # published: the snapshot still says 3 …
    live = services.subject_metric(metric_key="leads_created", week_label="2026-W11")
    assert live.evidence["published"] is False  # … and a live week is computed afresh


def test_record_evidence_freezes_each_systems_version(imported, sales, tmp_path):
    lead = Lead.objects.get(email_key="person1@acme.com")
    subject = services.subject_record(object_type="lead", record_id=lead.pk)
    dispute = services.dispute_file(
        by=sales, subject=subject, claimed_value="Owner should be Kim", explanation="Reassigned"
    )
    run_import(imported, leads_file(lead_row(1, FirstName="Anabel")), name="rename.csv")
    dispute.refresh_from_db()
    first_name = next(f for f in dispute.evidence["fields"] if f["name"] == "first_name")
    assert first_name["golden"] == "Ana"
    assert first_name["values"] == ["Ana"]
    assert Lead.objects.get(pk=lead.pk).first_name == "Anabel"


def test_the_due_time_follows_the_sla_in_business_days(published, sales, ops):
    from datetime import UTC, datetime

    friday = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    assert selectors.due_after(friday, 2).date().isoformat() == "2026-03-10"  # Tue
    services.dispute_settings_update(by=ops, response_business_days=5)
    assert DisputeSettings.objects.get().response_business_days == 5
    subject = services.subject_metric(metric_key="leads_created", week_label=W10.label)
    dispute = services.dispute_file(
        by=sales, subject=subject, claimed_value="2", explanation="x", now=friday
    )
    assert dispute.due_at.date().isoformat() == "2026-03-13"
    assert dispute.is_overdue()  # 2026-03-13 is long past
    assert selectors.dispute_counts().overdue == 1


def test_withdrawing_is_for_the_filer_while_unresolved(published, sales, marketing, ops):
    dispute = file_leads_created(sales)
    with pytest.raises(services.PermissionDenied):
        services.dispute_withdraw(dispute=dispute, by=marketing)
    services.dispute_withdraw(dispute=dispute, by=sales, note="my mistake")
    with pytest.raises(services.TransitionNotAllowed):
        services.dispute_review(dispute=dispute, by=ops)
    with pytest.raises(services.TransitionNotAllowed):
        services.dispute_withdraw(dispute=dispute, by=sales)
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.WITHDRAWN
    assert dispute.transitions.count() == 2
