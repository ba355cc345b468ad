"""The API takes a preset that extends a built-in one, and a batch lists its files' values."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from pipeline.models import Deal, ImportPreset
from revops.permissions import Role
from tests.pipeline.importing import crm, csv_text
from tests.pipeline.test_picklists import SPANISH

pytestmark = pytest.mark.django_db

EXTENSION = {
    "extends": "salesforce-opportunity",
    "fields": {
        "stage": {"values": {"Cerrada ganada": "closed_won", "Prospección": "qualification"}},
        "deal_type": {"values": {"Existing Business": "expansion"}},
    },
}


def test_a_preset_extending_a_builtin_is_saved_listed_and_imports_with(
    client_as, django_capture_on_commit_callbacks
):
    client = client_as(Role.OPS)
    created = client.post(
        reverse("api:preset-list"),
        {"name": "Salesforce ES", "mapping": EXTENSION},
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["object_type"] == "deal"
    assert created.json()["mapping"] == {"object": "deal", **EXTENSION}
    listed = {p["name"]: p for p in client.get(reverse("api:preset-list")).json()}
    assert listed["Salesforce ES"]["mapping"]["extends"] == "salesforce-opportunity"
    crm()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("api:import-list"),
            {
                "system": "salesforce",
                "object_type": "deal",
                "preset": "Salesforce ES",
                "file": SimpleUploadedFile("opps.csv", csv_text(SPANISH).encode()),
            },
        )
    batch = client.get(reverse("api:import-detail", args=[response.json()["id"]])).json()
    assert batch["status"] == "applied", batch["message"]
    assert sorted(Deal.objects.values_list("stage", "deal_type")) == [
        ("closed_won", "expansion"),
        ("closed_won", "expansion"),
        ("closed_won", "new"),
        ("qualification", "new"),
    ]
    stage = next(v for v in batch["values"] if v["field"] == "stage")
    assert stage["values"] == [
        ["Cerrada ganada", 2, "closed_won"],
        ["Closed Won", 1, "closed_won"],
        ["Prospección", 1, "qualification"],
    ]


def test_an_extension_of_an_unknown_preset_is_a_400_in_words(client_as):
    response = client_as(Role.OPS).post(
        reverse("api:preset-list"),
        {"name": "ES", "mapping": {**EXTENSION, "extends": "salesforce-opp"}},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "'extends' names a built-in preset" in str(response.json())
    assert not ImportPreset.objects.exists()
