"""The mechanisms API: reads for every role, writes for ops through the same services, the
optimistic lock as 409, and Markdown that never carries script."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from mechanisms.models import Link, LogEntry, Mechanism
from mechanisms.services.mechanisms import (
    MechanismData,
    action_add,
    link_create,
    log_entry_add,
    mechanism_update,
)
from revops.permissions import Role
from tests.mechanisms.conftest import reload

pytestmark = pytest.mark.django_db

READERS = [Role.EXECUTIVE, Role.SALES_LEAD, Role.MARKETING_LEAD]


def url(name: str, *args) -> str:
    return reverse(f"api:{name}", args=args)


@pytest.mark.parametrize("role", [*READERS, Role.OPS])
def test_every_role_reads_mechanisms_versions_links_log_and_actions(
    make_mechanism, client_as, role, make_user
):
    mechanism = make_mechanism()
    capture = make_mechanism("Lead Capture")
    link_create(source=capture, target=mechanism, label="new leads", by=None)
    log_entry_add(mechanism=mechanism, by=None, inspected_on=date(2026, 1, 5), found="ok")
    action_add(
        mechanism=mechanism, by=None, title="Do it", assignee=make_user(Role.OPS, "someone"),
        due_on=date(2026, 1, 9),
    )  # fmt: skip
    client = client_as(role)
    listing = client.get(url("mechanism-list")).json()
    assert [m["slug"] for m in listing["results"]] == ["lead-capture", "lead-routing"]
    detail = client.get(url("mechanism-detail", "lead-routing")).json()
    assert detail["inputs_from"] == [
        {"id": Link.objects.get().pk, "mechanism": "lead-capture", "label": "new leads"}
    ]
    assert detail["goals"][0]["metric"] == "speed_to_lead"
    assert detail["goals"][0]["health"] in {"on_track", "at_risk", "off_track", "no_data"}
    assert len(detail["goals"][0]["weeks"]) == 13
    assert client.get(url("mechanism-version-list", "lead-routing")).json()[0]["number"] == 1
    version = client.get(url("mechanism-version-detail", "lead-routing", 1)).json()
    assert version["document"]["goals"]["sla"]["metric"] == "speed_to_lead"
    assert (
        client.get(url("mechanism-link-list"), {"mechanism": "lead-capture"}).json()["results"][0][
            "target"
        ]
        == "lead-routing"
    )
    log = client.get(url("mechanism-log-list"), {"mechanism": "lead-routing"}).json()
    assert log["results"][0]["found"] == {"markdown": "ok", "html": "<p>ok</p>"}
    actions = client.get(url("mechanism-action-list"), {"assignee": "someone"}).json()
    assert [a["title"] for a in actions["results"]] == ["Do it"]


def test_the_list_filters_as_the_page_does(make_mechanism, client_as):
    make_mechanism("Lead Routing", tags=("sla",))
    make_mechanism("Lead Capture", tags=("intake",), status="draft")
    client = client_as(Role.EXECUTIVE)
    by_tag = client.get(url("mechanism-list"), {"tag": "sla"}).json()["results"]
    assert [m["name"] for m in by_tag] == ["Lead Routing"]
    drafts = client.get(url("mechanism-list"), {"status": "draft"}).json()["results"]
    assert [m["name"] for m in drafts] == ["Lead Capture"]
    bad = client.get(url("mechanism-list"), {"status": "paused"})
    assert bad.status_code == 400


def create_payload(**changes) -> dict:
    payload = {
        "name": "Lead Capture",
        "team": "marketing",
        "status": "active",
        "cadence": "weekly",
        "tags": ["Lead Flow"],
        "tenets": ["One lead per person."],
        "challenge": "Leads get lost.",
        "goals": {
            "sla": {
                "statement": "150 leads a week",
                "metric": "leads_created",
                "target": "150",
                "due_on": "2026-12-31",
            }
        },
    }
    payload.update(changes)
    return payload


def test_ops_create_update_and_restore_through_the_api(client_as):
    client = client_as(Role.OPS)
    created = client.post(url("mechanism-list"), create_payload(), content_type="application/json")
    assert created.status_code == 201
    body = created.json()
    assert (body["slug"], body["version"], body["tags"]) == ("lead-capture", 1, ["lead-flow"])
    assert body["goals"][0]["direction"] == "at_least"  # from the metric: more is better
    changed = client.patch(
        url("mechanism-detail", "lead-capture"),
        {"version": 1, "tool": "HubSpot forms.", "goals": {"smart": None}},
        content_type="application/json",
    )
    assert changed.status_code == 200
    assert changed.json()["version"] == 2
    assert changed.json()["parts"]["tool"]["html"] == "<p>HubSpot forms.</p>"
    assert changed.json()["parts"]["challenge"]["markdown"] == "Leads get lost."  # kept
    versions = client.get(url("mechanism-version-list", "lead-capture")).json()
    assert [(v["number"], v["comment"]) for v in versions] == [
        (2, "Changed tool"),
        (1, "Created"),
    ]
    restored = client.post(
        url("mechanism-version-restore", "lead-capture", 1),
        {"version": 2},
        content_type="application/json",
    )
    assert restored.status_code == 200
    assert (restored.json()["version"], restored.json()["parts"]["tool"]["markdown"]) == (3, "")


def test_a_stale_update_is_refused_with_409_and_changes_nothing(make_mechanism, client_as):
    mechanism = make_mechanism()
    mechanism_update(
        mechanism=mechanism,
        data=MechanismData.of(mechanism).with_changes(tool="First."),
        by=None,
        expected_version=1,
    )
    client = client_as(Role.OPS)
    stale = client.patch(
        url("mechanism-detail", mechanism.slug),
        {"version": 1, "tool": "Second."},
        content_type="application/json",
    )
    assert stale.status_code == 409
    assert stale.json()["current_version"] == 2
    assert "Your changes were not saved" in stale.json()["detail"]
    assert reload(mechanism).tool == "First."
    unversioned = client.patch(
        url("mechanism-detail", mechanism.slug), {"tool": "Third."}, content_type="application/json"
    )
    assert unversioned.status_code == 400
    assert "version" in unversioned.json()


def test_bad_input_is_a_400_naming_the_field(make_mechanism, client_as):
    make_mechanism("Lead Capture")
    client = client_as(Role.OPS)
    duplicate = client.post(
        url("mechanism-list"), create_payload(), content_type="application/json"
    )
    assert duplicate.status_code == 400
    assert "already called" in duplicate.json()["name"][0]
    unknown_metric = client.post(
        url("mechanism-list"),
        create_payload(name="Other", goals={"sla": {**create_payload()["goals"]["sla"],
                                                    "metric": "nope"}}),
        content_type="application/json",
    )  # fmt: skip
    assert unknown_metric.status_code == 400
    assert "metric" in unknown_metric.json()["goals"]["sla"]
    assert Mechanism.objects.count() == 1


@pytest.mark.parametrize("role", READERS)
def test_readers_get_403_for_every_write(make_mechanism, client_as, role):
    mechanism = make_mechanism()
    other = make_mechanism("Lead Capture")
    link = link_create(source=other, target=mechanism, by=None)
    client = client_as(role)
    json = "application/json"
    attempts = [
        client.post(url("mechanism-list"), create_payload(name="New"), content_type=json),
        client.patch(
            url("mechanism-detail", mechanism.slug), {"version": 1, "tool": "x"}, content_type=json
        ),
        client.post(
            url("mechanism-version-restore", mechanism.slug, 1), {"version": 1}, content_type=json
        ),
        client.post(
            url("mechanism-link-list"),
            {"source": mechanism.slug, "target": other.slug},
            content_type=json,
        ),
        client.delete(url("mechanism-link-detail", link.pk)),
        client.post(
            url("mechanism-log-list"),
            {"mechanism": mechanism.slug, "inspected_on": "2026-01-05", "found": "x"},
            content_type=json,
        ),
    ]
    assert [a.status_code for a in attempts] == [403] * len(attempts)
    assert (Mechanism.objects.count(), Link.objects.count(), LogEntry.objects.count()) == (2, 1, 0)
    assert reload(mechanism).version == 1


def test_a_link_to_itself_is_refused_and_a_link_can_be_removed(make_mechanism, client_as):
    mechanism = make_mechanism()
    other = make_mechanism("Lead Capture")
    client = client_as(Role.OPS)
    itself = client.post(
        url("mechanism-link-list"),
        {"source": mechanism.slug, "target": mechanism.slug},
        content_type="application/json",
    )
    assert itself.status_code == 400
    assert itself.json() == {
        "non_field_errors": [
            "Lead Routing cannot be linked to itself: a link takes one mechanism's output to "
            "another's input."
        ]
    }
    made = client.post(
        url("mechanism-link-list"),
        {"source": other.slug, "target": mechanism.slug, "label": "leads"},
        content_type="application/json",
    )
    assert made.status_code == 201
    assert client.delete(url("mechanism-link-detail", made.json()["id"])).status_code == 204
    assert not Link.objects.exists()


def test_ops_log_an_inspection_and_the_schedule_follows(make_mechanism, client_as):
    mechanism = make_mechanism()  # weekly
    client = client_as(Role.OPS)
    day = timezone.localdate() - timedelta(days=2)
    logged = client.post(
        url("mechanism-log-list"),
        {"mechanism": mechanism.slug, "inspected_on": day.isoformat(),
         "found": "Median 3 h", "changed": "Alert added"},
        content_type="application/json",
    )  # fmt: skip
    assert logged.status_code == 201
    assert logged.json()["inspected_by"] == "ops"
    detail = client.get(url("mechanism-detail", mechanism.slug)).json()
    assert detail["next_inspection_on"] == (day + timedelta(days=7)).isoformat()
    assert detail["inspection_overdue"] is False
    future = client.post(
        url("mechanism-log-list"),
        {"mechanism": mechanism.slug, "inspected_on": "2999-01-01", "found": "x"},
        content_type="application/json",
    )
    assert future.status_code == 400
    assert "inspected_on" in future.json()


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert('pwned')</script>",
        "[x](javascript:alert('pwned'))",
        "<img src=x onerror=\"alert('pwned')\">",
        "<svg onload=\"alert('pwned')\"></svg>",
    ],
)
def test_stored_script_never_leaves_the_api(make_mechanism, client_as, payload):
    mechanism = make_mechanism()
    # Stored raw, as an old row would be: the API cleans on the way out as well.
    Mechanism.objects.filter(pk=mechanism.pk).update(challenge=payload)
    log_entry_add(mechanism=mechanism, by=None, inspected_on=date(2026, 1, 5), found="x")
    LogEntry.objects.update(found=payload)
    client = client_as(Role.EXECUTIVE)
    for response in (
        client.get(url("mechanism-detail", mechanism.slug)),
        client.get(url("mechanism-log-list")),
    ):
        text = response.content.decode()
        assert "<script" not in text
        assert "<svg" not in text
        assert "<img" not in text
        assert "javascript:" not in text
