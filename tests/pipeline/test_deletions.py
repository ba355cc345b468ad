"""Deletions in the source: a full export marks what its system no longer holds as deleted,
the metrics leave out what every system deleted, and a later export brings it back."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format

from pipeline.choices import ArrChangeKind, BatchStatus, ObjectType, SystemRole
from pipeline.models import (
    Discrepancy,
    FieldAuthority,
    ImportBatch,
    Lead,
    SourceLead,
    SourceSystem,
)
from pipeline.selectors import metric_reconciliation_for_week
from pipeline.services import reconciliation
from pipeline.services.identity import golden_resolve
from pipeline.services.imports import import_batch_create, import_batch_run, mapping_for
from revops.permissions import Role
from revops.weeks import IsoWeek
from scorecard.drilldown import drilldown_for
from tests.factories import AccountFactory, ArrChangeFactory, SourceLeadFactory
from tests.pipeline.importing import crm, csv_text, lead_row, marketing
from tests.scorecard.conftest import compute, d

pytestmark = pytest.mark.django_db

# lead_row's leads are created on 2 March 2026, in ISO week 10.
W10 = IsoWeek(2026, 10)
A, B, C, D = 1, 2, 3, 4
NOW = datetime(2026, 5, 3, 9, tzinfo=UTC)


def export(
    tmp_path: Path,
    ids: list[int],
    *,
    kind: str = "full",
    system: SourceSystem | None = None,
    confirmed: bool = False,
    **overrides,
) -> ImportBatch:
    """Import the leads `ids` as the command line does (checked and applied in-process)."""
    path = tmp_path / "leads.csv"
    path.write_text(csv_text([lead_row(i, **overrides) for i in ids]))
    rules, preset = mapping_for(object_type="lead", preset="salesforce-lead")
    batch = import_batch_create(
        system=system or crm(),
        object_type="lead",
        mapping=rules,
        preset=preset,
        apply=True,
        path=path,
        export_kind=kind,
        deletions_confirmed=confirmed,
    )
    return import_batch_run(batch.id, path=path)


def golden(i: int) -> Lead:
    return Lead.objects.get(email_key=f"person{i}@acme.com")


def source(i: int, system: SourceSystem | None = None) -> SourceLead:
    return SourceLead.objects.get(system=system or crm(), email_key=f"person{i}@acme.com")


def leads_created() -> int:
    return compute(W10, "leads_created")["leads_created"].value


def drilled() -> set[str]:
    drill = drilldown_for("leads_created", W10, None)
    return set(drill.queryset.values_list("email_key", flat=True))


# --- The round trip ----------------------------------------------------------------------------


def test_a_record_a_full_export_drops_is_deleted_left_out_and_restored_when_it_returns(
    tmp_path, client_as
):
    first = export(tmp_path, [A, B, C])
    assert (first.status, first.rows_created, first.rows_deleted) == ("applied", 3, 0)
    assert leads_created() == 3

    second = export(tmp_path, [A, B])

    assert (second.status, second.rows_deleted, second.rows_unchanged) == ("applied", 1, 2)
    gone = source(C)
    assert gone.deleted_at is not None
    assert gone.deleted_batch_id == second.pk
    assert golden(C).deleted_at is not None
    assert golden(A).deleted_at is None
    assert SourceLead.objects.count() == 3  # kept, not removed
    assert leads_created() == 2
    assert drilled() == {"person1@acme.com", "person2@acme.com"}

    client = client_as(Role.SALES_LEAD)
    page = client.get(reverse("pipeline:lead-detail", args=[golden(C).pk])).content.decode()
    day = date_format(timezone.localtime(gone.deleted_at), "j F")
    assert f"Deleted in Salesforce by import #{second.pk}" in page
    assert f"on {day}; kept for history" in page
    listed = client.get(reverse("pipeline:lead-list")).content.decode()
    assert "person3@acme.com" not in listed
    assert "person1@acme.com" in listed
    shown = client.get(reverse("pipeline:lead-list"), {"deleted": "with"}).content.decode()
    assert "person3@acme.com" in shown
    assert "deleted in the source" in shown
    only = client.get(reverse("pipeline:lead-list"), {"deleted": "only"}).content.decode()
    assert "person3@acme.com" in only
    assert "person1@acme.com" not in only

    third = export(tmp_path, [A, B, C])  # C unchanged since it was deleted

    assert (third.status, third.rows_restored, third.rows_deleted) == ("applied", 1, 0)
    assert (third.rows_created, third.rows_updated, third.rows_unchanged) == (0, 0, 2)
    back = source(C)
    assert (back.deleted_at, back.deleted_batch_id) == (None, None)
    assert golden(C).deleted_at is None
    assert leads_created() == 3
    assert "person3@acme.com" in drilled()
    page = client.get(reverse("pipeline:lead-detail", args=[golden(C).pk])).content.decode()
    assert "kept for history" not in page


def test_a_delta_never_deletes(tmp_path):
    export(tmp_path, [A, B, C])

    delta = export(tmp_path, [A], kind="delta", FirstName="Ann")

    assert (delta.status, delta.rows_updated, delta.rows_deleted) == ("applied", 1, 0)
    assert not SourceLead.objects.filter(deleted_at__isnull=False).exists()
    assert leads_created() == 3


def test_a_delta_that_holds_a_deleted_record_brings_it_back(tmp_path):
    export(tmp_path, [A, B, C])
    export(tmp_path, [A, B])

    delta = export(tmp_path, [C], kind="delta")

    assert (delta.rows_restored, delta.rows_deleted) == (1, 0)
    assert golden(C).deleted_at is None
    assert leads_created() == 3


def test_the_same_file_sent_again_as_a_full_export_deletes_what_it_lacks(tmp_path):
    export(tmp_path, [A, B, C], kind="delta")
    export(tmp_path, [A, B], kind="delta")

    full = export(tmp_path, [A, B])  # byte for byte the last file, now said to be complete

    assert (full.status, full.rows_deleted) == ("applied", 1)
    assert golden(C).deleted_at is not None


# --- Per system --------------------------------------------------------------------------------


def test_a_record_deleted_in_marketing_but_held_by_sales_stays_live_with_sales_values(tmp_path):
    hubspot = marketing()
    # Marketing is the authority for the owner: while it holds the lead, its value wins.
    FieldAuthority.objects.create(object_type=ObjectType.LEAD, field="owner", system=hubspot)
    export(tmp_path, [A], system=crm(), OwnerId="sales-owner")
    export(tmp_path, [A, B], system=hubspot, OwnerId="marketing-owner")
    assert golden(A).owner == "marketing-owner"

    dropped = export(tmp_path, [B], system=hubspot, OwnerId="marketing-owner")

    assert dropped.rows_deleted == 1
    assert source(A, hubspot).deleted_at is not None
    assert source(A, crm()).deleted_at is None
    lead = golden(A)
    assert lead.deleted_at is None
    assert lead.owner == "sales-owner"  # live sources first
    assert leads_created() == 2


def test_a_full_export_of_one_system_leaves_the_other_systems_records_alone(tmp_path):
    export(tmp_path, [A, B], system=crm())
    export(tmp_path, [C], system=marketing())

    export(tmp_path, [A], system=crm())

    assert source(C, marketing()).deleted_at is None
    assert golden(C).deleted_at is None
    assert golden(B).deleted_at is not None


def test_the_account_page_shows_the_system_that_still_holds_a_record(tmp_path, client_as):
    export(tmp_path, [A], system=crm())
    export(tmp_path, [A, B], system=marketing())
    export(tmp_path, [B], system=marketing())

    page = client_as(Role.OPS).get(reverse("pipeline:lead-detail", args=[golden(A).pk]))

    text = page.content.decode()
    assert "HubSpot deleted its record" in text
    assert "Salesforce still holds it, so it counts in the metrics." in text
    assert "kept for history" not in text


# --- Safety ------------------------------------------------------------------------------------


def test_a_full_export_missing_most_records_is_refused_unless_the_deletions_are_confirmed(
    tmp_path,
):
    export(tmp_path, [A, B, C, D])

    refused = export(tmp_path, [A])

    assert refused.status == BatchStatus.REJECTED
    assert "does not hold 3 of the 4 lead records Salesforce has (75%)" in refused.message
    assert "--confirm-deletions" in refused.message
    assert not SourceLead.objects.filter(deleted_at__isnull=False).exists()
    assert leads_created() == 4

    confirmed = export(tmp_path, [A], confirmed=True)

    assert (confirmed.status, confirmed.rows_deleted) == ("applied", 3)
    assert leads_created() == 1


def test_half_of_the_records_missing_applies_without_confirmation(tmp_path):
    export(tmp_path, [A, B, C, D])

    half = export(tmp_path, [A, B])

    assert (half.status, half.rows_deleted) == ("applied", 2)


# --- The command -------------------------------------------------------------------------------


def _command(tmp_path: Path, ids: list[int], *args: str) -> str:
    path = tmp_path / "cmd.csv"
    path.write_text(csv_text([lead_row(i) for i in ids]))
    out = io.StringIO()
    call_command(
        "import_records", str(path), "--system", "salesforce", "--object", "lead",
        "--preset", "salesforce-lead", *args, stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    return out.getvalue()


def test_the_command_imports_a_full_export_and_says_what_it_deleted(tmp_path):
    crm()
    _command(tmp_path, [A, B, C], "--full")

    said = _command(tmp_path, [A, B], "--full")

    assert "1 marked deleted" in said
    assert ImportBatch.objects.latest("id").export_kind == "full"
    assert golden(C).deleted_at is not None
    said = _command(tmp_path, [A, B, C])  # a delta by default
    assert "1 restored" in said
    assert ImportBatch.objects.latest("id").export_kind == "delta"


def test_the_command_refuses_a_mass_deletion_until_confirmed(tmp_path):
    crm()
    _command(tmp_path, [A, B, C], "--full")

    with pytest.raises(CommandError, match="does not hold 2 of the 3"):
        _command(tmp_path, [A], "--full")
    assert golden(B).deleted_at is None

    said = _command(tmp_path, [A], "--full", "--confirm-deletions")
    assert "2 marked deleted" in said
    with pytest.raises(CommandError, match="goes with --full"):
        _command(tmp_path, [A], "--confirm-deletions")


# --- The API -----------------------------------------------------------------------------------


def _post(client, ids: list[int], **fields):
    data = {
        "system": "salesforce",
        "object_type": "lead",
        "preset": "salesforce-lead",
        "file": SimpleUploadedFile(
            "leads.csv", csv_text([lead_row(i) for i in ids]).encode(), content_type="text/csv"
        ),
        **fields,
    }
    return client.post(reverse("api:import-list"), data)


def test_the_api_takes_a_full_export_and_lists_deleted_records_only_when_asked(
    client_as, django_capture_on_commit_callbacks
):
    crm()
    client = client_as(Role.OPS)
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, [A, B, C], export_kind="full")
        response = _post(client, [A, B], export_kind="full")

    body = client.get(response.json()["url"]).json()
    assert (body["status"], body["export_kind"], body["rows_deleted"]) == ("applied", "full", 1)
    listed = client.get(reverse("api:lead-list")).json()["results"]
    assert {r["email"] for r in listed} == {"person1@acme.com", "person2@acme.com"}
    everything = client.get(reverse("api:lead-list"), {"deleted": "with"}).json()["results"]
    deleted = [r for r in everything if r["deleted_at"]]
    assert [r["email"] for r in deleted] == ["person3@acme.com"]
    detail = client.get(reverse("api:lead-detail", args=[golden(C).pk])).json()
    assert detail["sources"][0]["deleted_batch"] == body["id"]
    assert client.get(reverse("api:lead-list"), {"deleted": "bogus"}).status_code == 400


def test_the_api_holds_a_mass_deletion_until_it_is_confirmed(
    client_as, django_capture_on_commit_callbacks
):
    crm()
    client = client_as(Role.OPS)
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, [A, B, C], export_kind="full")
        held = _post(client, [A], export_kind="full")
    batch = ImportBatch.objects.get(pk=held.json()["id"])
    assert (batch.status, batch.rows_deleted) == (BatchStatus.PENDING, 2)
    assert "Nothing was applied" in batch.message
    assert golden(B).deleted_at is None

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(reverse("api:import-confirm", args=[batch.pk]))

    assert confirmed.status_code == 202
    batch.refresh_from_db()
    assert (batch.status, batch.rows_deleted) == (BatchStatus.APPLIED, 2)
    assert golden(B).deleted_at is not None


def test_the_api_refuses_an_unknown_export_kind(client_as):
    crm()
    response = _post(client_as(Role.OPS), [A], export_kind="weekly")
    assert response.status_code == 400
    assert "export_kind" in response.json()


# --- The pages ---------------------------------------------------------------------------------


def _upload(client, ids: list[int], export_kind: str | None):
    data = {
        "system": crm().pk,
        "object_type": "lead",
        "preset": "salesforce-lead",
        "file": SimpleUploadedFile(
            "leads.csv", csv_text([lead_row(i) for i in ids]).encode(), content_type="text/csv"
        ),
    }
    if export_kind is not None:
        data["export_kind"] = export_kind
    return client.post(reverse("pipeline:import-new"), data)


def test_the_import_page_checks_a_full_export_shows_what_it_deletes_and_applies_on_confirm(
    client_as, django_capture_on_commit_callbacks
):
    client = client_as(Role.OPS)
    form = client.get(reverse("pipeline:import-new")).content.decode()
    assert 'name="export_kind"' in form
    assert "full export" in form
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client, [A, B, C], "full")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("pipeline:import-confirm", args=[ImportBatch.objects.get().pk]))
    assert leads_created() == 3

    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, [A, B], "full")
    batch = ImportBatch.objects.latest("id")
    assert (batch.status, batch.export_kind) == (BatchStatus.PENDING, "full")
    page = client.get(response.url).content.decode()
    assert "applying it marks 1 lead record of Salesforce that it does not hold" in page
    assert golden(C).deleted_at is None  # checked, not applied

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("pipeline:import-confirm", args=[batch.pk]))

    batch.refresh_from_db()
    assert (batch.status, batch.rows_deleted) == (BatchStatus.APPLIED, 1)
    page = client.get(reverse("pipeline:import-detail", args=[batch.pk])).content.decode()
    assert "Marked deleted" in page
    assert leads_created() == 2


def test_a_mass_deletion_waits_on_the_checked_page_and_applies_once_confirmed(
    client_as, django_capture_on_commit_callbacks
):
    client = client_as(Role.OPS)
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client, [A, B, C, D], "full")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("pipeline:import-confirm", args=[ImportBatch.objects.get().pk]))
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, [A], "full")
    held = ImportBatch.objects.latest("id")

    page = client.get(response.url).content.decode()
    assert "applying it marks 3 lead records of Salesforce" in page

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("pipeline:import-confirm", args=[held.pk]))

    held.refresh_from_db()
    assert (held.status, held.rows_deleted) == ("applied", 3)


def test_an_upload_without_an_export_kind_is_a_delta(client_as, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client_as(Role.OPS), [A], None)
    assert ImportBatch.objects.get().export_kind == "delta"


@pytest.mark.parametrize("role", [Role.SALES_LEAD, Role.MARKETING_LEAD, Role.EXECUTIVE])
def test_only_ops_send_a_full_export_from_the_page(client_as, role):
    response = _upload(client_as(role), [A], "full")
    assert response.status_code == 403
    assert not ImportBatch.objects.exists()


# --- Reconciliation ----------------------------------------------------------------------------

W = IsoWeek.of(timezone.localdate()).monday - timedelta(weeks=2)


def _at(day: int = 1) -> datetime:
    return datetime(W.year, W.month, W.day, 10, tzinfo=UTC) + timedelta(days=day)


def test_reconciliation_reads_what_each_system_still_holds():
    hubspot = SourceSystem.objects.create(slug="hubspot", name="HubSpot", role=SystemRole.MARKETING)
    sfdc = SourceSystem.objects.create(slug="salesforce", name="Salesforce", role=SystemRole.SALES)
    gone = timezone.now()

    def lead(system, email: str, **fields):
        fields.setdefault("created_at", _at() - timedelta(weeks=1))
        return SourceLeadFactory(
            system=system, email=email, email_key=email, mql_at=_at(), **fields
        )

    lead(hubspot, "both@acme.com")
    lead(sfdc, "both@acme.com")
    lead(hubspot, "gone@acme.com", deleted_at=gone)  # deleted in both: nothing to report
    lead(sfdc, "gone@acme.com", deleted_at=gone)
    lead(hubspot, "left-mkt@acme.com", deleted_at=gone)  # marketing deleted, sales holds it
    lead(sfdc, "left-mkt@acme.com")
    golden_resolve()
    assert Lead.objects.get(email_key="gone@acme.com").deleted_at is not None
    assert Lead.objects.get(email_key="left-mkt@acme.com").deleted_at is None

    result = reconciliation.reconciliation_run_now(trigger="command", weeks=8)

    assert result.status == "completed", result.message
    assert set(Discrepancy.objects.values_list("kind", "golden_key")) == {
        ("missing_in_marketing", "left-mkt@acme.com")
    }
    mqls = metric_reconciliation_for_week(W)["mqls"]
    assert (mqls.marketing_value, mqls.sales_value, mqls.golden_value) == (1, 2, 2)


# --- ARR ---------------------------------------------------------------------------------------


def test_arr_leaves_out_changes_and_accounts_deleted_in_the_source():
    kept, dropped, gone = AccountFactory(), AccountFactory(), AccountFactory(deleted_at=NOW)
    ArrChangeFactory(
        account=kept, kind=ArrChangeKind.NEW, amount=100, effective_date=d("2025-01-01")
    )
    ArrChangeFactory(
        account=dropped, kind=ArrChangeKind.NEW, amount=40, effective_date=d("2025-01-01"),
        deleted_at=NOW,
    )  # fmt: skip
    ArrChangeFactory(account=gone, kind=ArrChangeKind.NEW, amount=7, effective_date=d("2025-01-01"))

    assert compute(W10, "arr")["arr"].value == Decimal("100")
