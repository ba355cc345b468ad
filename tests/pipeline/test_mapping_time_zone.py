"""A mapping's time zone defaults to the company's TIME_ZONE: a HubSpot export's wall-clock
times are the portal's, not UTC's (with TIME_ZONE=America/Sao_Paulo and the default left alone,
45 of 76 weeks shifted)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.models import SourceLead
from pipeline.presets import mapping_from_dict
from pipeline.services.imports import mapping_for
from tests.pipeline.importing import csv_text, marketing, run_import

pytestmark = pytest.mark.django_db

HEADER = ["Record ID", "Email", "First Name", "Last Name", "Lifecycle Stage", "Original Source",
          "Create Date", "Became a Marketing Qualified Lead Date",
          "Became a Sales Qualified Lead Date", "Associated Company"]  # fmt: skip


def test_a_mapping_without_a_time_zone_reads_times_in_the_company_time_zone(settings, tmp_path):
    settings.TIME_ZONE = "America/Sao_Paulo"
    rules, _ = mapping_for(object_type="lead", preset="hubspot-contact", mapping=None)
    assert rules.timezone == "America/Sao_Paulo"
    row = dict(zip(HEADER, ["101", "ana@acme.com", "Ana", "Lima", "Lead", "Organic Search",
                            "2026-03-08 22:30", "", "", "Acme"], strict=True))  # fmt: skip
    batch = run_import(
        tmp_path, csv_text([row], HEADER), system=marketing(), preset="hubspot-contact"
    )
    assert batch.status == "applied", batch.message
    lead = SourceLead.objects.get(external_id="101")
    # 22:30 on Sunday in São Paulo (UTC−3) is 01:30 on Monday in UTC: the week it counts in
    # is the company's Sunday's, not the next one.
    assert lead.created_at == datetime(2026, 3, 9, 1, 30, tzinfo=UTC)
    assert batch.mapping["timezone"] == "America/Sao_Paulo"  # the batch keeps what it read with


def test_a_mapping_that_names_a_time_zone_keeps_it(settings):
    settings.TIME_ZONE = "America/Sao_Paulo"
    rules = mapping_from_dict(
        {"object": "lead", "timezone": "UTC",
         "fields": {"external_id": "Id", "email": "Email", "created_at": "Created"}}
    )  # fmt: skip
    assert rules.timezone == "UTC"
