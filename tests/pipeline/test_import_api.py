"""The import API: POST a file, get a batch id, poll it; the same rules as the pages."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from pipeline.models import ImportBatch, ImportPreset, SourceLead
from revops.permissions import Role
from tests.pipeline.importing import crm, csv_text, lead_row

pytestmark = pytest.mark.django_db


def post_file(client, content: str, **fields):
    crm()
    data = {
        "system": "salesforce",
        "object_type": "lead",
        "file": SimpleUploadedFile("leads.csv", content.encode(), content_type="text/csv"),
    }
    data.update(fields)
    return client.post(reverse("api:import-list"), data)


def test_posting_a_file_returns_the_batch_to_poll_and_it_applies(
    client_as, django_capture_on_commit_callbacks
):
    client = client_as(Role.OPS)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_file(client, csv_text([lead_row(1)]), preset="salesforce-lead")
    assert response.status_code == 202
    batch_id = response.json()["id"]
    polled = client.get(reverse("api:import-detail", args=[batch_id])).json()
    assert (polled["status"], polled["rows_created"]) == ("applied", 1)
    assert SourceLead.objects.count() == 1


def test_a_mapping_can_be_sent_instead_of_a_preset(client_as, django_capture_on_commit_callbacks):
    mapping = {
        "object": "lead",
        "fields": {"external_id": "Id", "email": "Mail", "created_at": "When"},
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = post_file(
            client_as(Role.OPS), "Id,Mail,When\n1,a@b.co,2026-01-05\n", mapping=json.dumps(mapping)
        )
    assert response.status_code == 202
    assert ImportBatch.objects.get().status == "applied"


def test_problems_are_listed_row_by_row(client_as, django_capture_on_commit_callbacks):
    client = client_as(Role.OPS)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_file(client, csv_text([lead_row(1, Email="x")]), preset="salesforce-lead")
    errors = client.get(response.json()["errors_url"]).json()["results"]
    assert [(e["row"], e["column"], e["value"], e["message"]) for e in errors] == [
        (2, "Email", "x", "is not a valid email address"),
    ]


def test_check_only_then_confirm(client_as, django_capture_on_commit_callbacks):
    client = client_as(Role.OPS)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_file(
            client, csv_text([lead_row(1)]), preset="salesforce-lead", apply="false"
        )
    batch_id = response.json()["id"]
    assert client.get(reverse("api:import-detail", args=[batch_id])).json()["status"] == "pending"
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(reverse("api:import-confirm", args=[batch_id]))
    assert confirmed.status_code == 202
    assert client.get(reverse("api:import-detail", args=[batch_id])).json()["status"] == "applied"
    again = client.post(reverse("api:import-confirm", args=[batch_id]))
    assert again.status_code == 400
    assert "only a checked batch awaiting confirmation" in again.json()["non_field_errors"][0]


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({}, "Give either a preset or a mapping."),
        ({"preset": "nope"}, "No preset 'nope'"),
        ({"preset": "hubspot-deal"}, "reads deals, not leads"),
        ({"mapping": "{not json"}, "Value must be valid JSON."),
        (
            {"mapping": json.dumps({"object": "lead", "fields": {"email": "E"}})},
            "Required field 'external_id'",
        ),
    ],
)
def test_bad_requests_get_400_with_the_reason_and_create_nothing(client_as, fields, said):
    response = post_file(client_as(Role.OPS), csv_text([lead_row(1)]), **fields)
    assert response.status_code == 400
    assert said in json.dumps(response.json())
    assert not ImportBatch.objects.exists()


def test_anonymous_callers_get_401_json_not_a_login_page(client):
    response = client.get(reverse("api:import-list"))
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.SALES_LEAD, Role.MARKETING_LEAD])
def test_other_roles_cannot_import_through_the_api(client_as, role):
    client = client_as(role)
    assert post_file(client, csv_text([lead_row(1)]), preset="salesforce-lead").status_code == 403
    assert client.get(reverse("api:import-list")).status_code == 403


def test_presets_list_has_the_builtins_and_ops_can_save_one(client_as):
    client = client_as(Role.OPS)
    names = [p["name"] for p in client.get(reverse("api:preset-list")).json()]
    assert {"salesforce-lead", "hubspot-contact", "hubspot-deal"} <= set(names)
    mapping = {
        "object": "arr",
        "fields": {
            "external_id": "Id",
            "account_external_id": "Acct",
            "kind": "Kind",
            "amount": "ARR",
            "effective_date": "On",
        },
    }
    created = client.post(
        reverse("api:preset-list"),
        {"name": "Churnzero ARR", "mapping": mapping},
        content_type="application/json",
    )
    assert created.status_code == 201
    duplicate = client.post(
        reverse("api:preset-list"),
        {"name": "Churnzero ARR", "mapping": mapping},
        content_type="application/json",
    )
    assert duplicate.status_code == 400


def test_the_batch_says_who_confirmed_it(client_as, django_capture_on_commit_callbacks):
    client = client_as(Role.OPS)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_file(
            client, csv_text([lead_row(1)]), preset="salesforce-lead", apply="false"
        )
    batch_id = response.json()["id"]
    pending = client.get(reverse("api:import-detail", args=[batch_id])).json()
    assert (pending["confirmed_by"], pending["confirmed_at"]) == (None, None)
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(reverse("api:import-confirm", args=[batch_id])).json()
    assert confirmed["confirmed_by"] == "ops"
    assert confirmed["confirmed_at"] is not None
    listed = client.get(reverse("api:import-list")).json()["results"][0]
    assert listed["confirmed_by"] == "ops"


def test_a_preset_is_saved_by_the_same_rules_as_on_the_page(client_as):
    client = client_as(Role.OPS)
    mapping = {
        "object": "lead",
        "fields": {"external_id": "Id", "email": "Mail", "created_at": "On"},
    }

    def save(name: str, body: dict = mapping):
        return client.post(
            reverse("api:preset-list"),
            {"name": name, "mapping": body},
            content_type="application/json",
        )

    assert save("salesforce-lead").json() == {
        "name": ["A preset with this name exists; choose another name."]
    }
    assert save("x" * 101).json() == {"name": ["A preset name has at most 100 characters."]}
    missing = save("Half", {"object": "lead", "fields": {"external_id": "Id"}})
    assert missing.status_code == 400
    assert "is not mapped" in missing.json()["non_field_errors"][0]
    created = save("  Web leads ")
    assert created.status_code == 201
    assert created.json()["name"] == "Web leads"
    assert ImportPreset.objects.get().created_by.username == "ops"
