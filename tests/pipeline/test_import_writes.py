"""How an import writes: new rows inserted, changed rows updated, unchanged rows untouched, each
phase timed on the batch; and the database still refuses to delete a system with records."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError
from django.template.defaultfilters import floatformat  # as the page rounds
from django.urls import reverse

from pipeline.choices import BatchStatus, SystemRole
from pipeline.models import IMPORT_PHASES, Lead, LeadStageChange, SourceLead, SourceSystem
from revops.permissions import Role
from tests.pipeline.importing import crm, csv_text, lead_row, run_import

pytestmark = pytest.mark.django_db


def test_a_second_file_inserts_the_new_rows_updates_the_changed_and_leaves_the_rest(tmp_path):
    first = run_import(tmp_path, csv_text([lead_row(1), lead_row(2), lead_row(3)]))
    assert (first.status, first.rows_created) == (BatchStatus.APPLIED, 3)
    untouched = SourceLead.objects.get(external_id=lead_row(3)["Id"])

    second = run_import(
        tmp_path,
        csv_text(
            [
                lead_row(1),
                lead_row(2, LastName="Okafor", Status="Working - Contacted"),
                lead_row(3),
                lead_row(4),
            ]
        ),
        name="second.csv",
    )

    assert second.status == BatchStatus.APPLIED, second.message
    assert (second.rows_created, second.rows_updated, second.rows_unchanged) == (1, 1, 2)
    changed = Lead.objects.get(email_key="person2@acme.com")
    assert changed.last_name == "Okafor"
    assert changed.source_records.get().batch_id == second.pk
    # The stage change is recorded from the same write that made it.
    assert list(LeadStageChange.objects.values_list("lead_id", "to_stage")) == [
        (changed.pk, changed.stage)
    ]
    assert changed.stage != "new"
    new = SourceLead.objects.get(external_id=lead_row(4)["Id"])
    assert new.lead.email_key == "person4@acme.com"
    assert new.batch_id == second.pk
    again = SourceLead.objects.get(pk=untouched.pk)
    assert (again.batch_id, again.updated_at) == (first.pk, untouched.updated_at)
    assert Lead.objects.count() == 4


def test_each_phase_of_an_import_is_timed_and_shown_on_its_page(tmp_path, client_as):
    batch = run_import(tmp_path, csv_text([lead_row(1), lead_row(2)]))

    assert batch.status == BatchStatus.APPLIED
    assert {"sniff", "copy", "normalise", "stage", "golden upsert", "source upsert", "commit"} <= (
        set(batch.phases)
    )
    assert set(batch.phases) <= set(IMPORT_PHASES)
    assert all(seconds >= 0 for seconds in batch.phases.values())
    labels = [label for label, _ in batch.phase_times]
    assert labels.index("loading the file") < labels.index("source records")
    assert labels[-1] == "commit"
    page = client_as(Role.OPS).get(reverse("pipeline:import-detail", args=[batch.pk]))
    text = page.content.decode()
    assert f"Loading the file {floatformat(batch.phases['copy'], 2)} s" in text
    assert f"Source records {floatformat(batch.phases['source upsert'], 2)} s" in text


def test_a_system_with_records_cannot_be_deleted_even_by_sql(tmp_path):
    run_import(tmp_path, csv_text([lead_row(1)]))
    system = crm()

    with pytest.raises(ProtectedError):
        system.delete()
    with (
        pytest.raises(IntegrityError, match="still has source records"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM pipeline_sourcesystem WHERE id = %s", [system.pk])
    assert SourceSystem.objects.filter(pk=system.pk).exists()

    unused = SourceSystem.objects.create(name="Pardot", slug="pardot", role=SystemRole.MARKETING)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM pipeline_sourcesystem WHERE id = %s", [unused.pk])
    assert not SourceSystem.objects.filter(pk=unused.pk).exists()
