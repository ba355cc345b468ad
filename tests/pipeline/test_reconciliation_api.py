"""The reconciliation API: every endpoint with and without permission, the same filters as
the pages, runs started through it, and bridges as JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pipeline.choices import SystemRole
from pipeline.models import ReconciliationRun, SourceSystem
from pipeline.services import reconciliation
from pipeline.services.identity import golden_resolve
from revops.permissions import Role
from revops.weeks import IsoWeek
from tests.factories import SourceLeadFactory, SourceSystemFactory

pytestmark = pytest.mark.django_db

W = IsoWeek.of(timezone.localdate()).monday - timedelta(weeks=2)
MQL = datetime(W.year, W.month, W.day, 10, tzinfo=UTC) + timedelta(days=1)


@pytest.fixture
def reconciled():
    mkt = SourceSystemFactory(slug="hubspot", name="HubSpot", role=SystemRole.MARKETING)
    crm = SourceSystemFactory(slug="salesforce", name="Salesforce", role=SystemRole.SALES)
    SourceLeadFactory(system=mkt, email="a@acme.com", email_key="a@acme.com", mql_at=MQL)
    SourceLeadFactory(system=crm, email="a@acme.com", email_key="a@acme.com", mql_at=MQL)
    SourceLeadFactory(system=mkt, email="b@acme.com", email_key="b@acme.com", mql_at=MQL)
    golden_resolve()
    return reconciliation.reconciliation_run_now(trigger="command", weeks=4)


READ = [
    "api:reconciliation-run-list",
    "api:reconciliation-discrepancy-list",
    "api:reconciliation-bridge-list",
]


@pytest.mark.parametrize("name", READ)
@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.EXECUTIVE, True),
        (Role.OPS, True),
        (Role.SALES_LEAD, True),
        (Role.MARKETING_LEAD, True),
        (None, False),
    ],
)
def test_read_endpoints_by_role(client_as, reconciled, name, role, allowed):
    response = client_as(role).get(reverse(name))
    assert response.status_code == (200 if allowed else 403)


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.EXECUTIVE, 403),
        (Role.SALES_LEAD, 403),
        (Role.MARKETING_LEAD, 403),
        (None, 403),
        (Role.OPS, 202),
    ],
)
def test_only_ops_start_a_run_through_the_api(
    client_as, reconciled, role, status, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(role).post(
            reverse("api:reconciliation-run-start"), {"weeks": 4}, content_type="application/json"
        )
    assert response.status_code == status
    assert ReconciliationRun.objects.count() == (2 if status == 202 else 1)
    if status == 202:
        body = response.json()
        assert (body["trigger"], body["weeks"], body["started_by"]) == ("api", 4, "ops")


def test_starting_while_a_run_is_queued_is_a_conflict(client_as, reconciled):
    queued = ReconciliationRun.objects.create(trigger="browser")
    response = client_as(Role.OPS).post(
        reverse("api:reconciliation-run-start"), {}, content_type="application/json"
    )
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"Run #{queued.pk} is already queued (started by browser); wait for it to finish."
    }


def test_bad_input_to_start_is_a_400_that_names_the_field(client_as, reconciled):
    response = client_as(Role.OPS).post(
        reverse("api:reconciliation-run-start"), {"weeks": 9999}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "weeks" in response.json()


def test_the_api_enforces_csrf_for_session_writes(make_user, reconciled):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user(Role.OPS))
    response = client.post(
        reverse("api:reconciliation-run-start"), {}, content_type="application/json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_discrepancies_filter_like_the_page(client_as, reconciled):
    client = client_as(Role.EXECUTIVE)
    body = client.get(
        reverse("api:reconciliation-discrepancy-list"), {"kind": "missing_in_sales"}
    ).json()
    assert [(d["golden_key"], d["system"], d["status"]) for d in body["results"]] == [
        ("b@acme.com", "salesforce", "open")
    ]
    assert (
        client.get(reverse("api:reconciliation-discrepancy-list"), {"kind": "duplicate"}).json()[
            "results"
        ]
        == []
    )
    bad = client.get(reverse("api:reconciliation-discrepancy-list"), {"week": "nope"})
    assert bad.status_code == 400
    assert "week" in bad.json()


def test_bridges_come_from_the_current_run_with_labelled_steps(client_as, reconciled):
    body = (
        client_as(Role.SALES_LEAD)
        .get(
            reverse("api:reconciliation-bridge-list"),
            {"metric": "mqls", "week": IsoWeek.of(W).label},
        )
        .json()
    )
    # 2 MQLs in HubSpot, -1 never reached Salesforce = 1 in Salesforce.
    assert body["results"] == [
        {
            "run": reconciled.pk,
            "metric": "mqls",
            "week": IsoWeek.of(W).label,
            "week_start": W.isoformat(),
            "marketing_value": "2.00",
            "steps": [
                {
                    "position": 1,
                    "reason": "missing_in_sales",
                    "field": "",
                    "label": "Never reached Salesforce",
                    "value": "-1.00",
                    "records": 1,
                }
            ],
            "unexplained": "0.00",
            "sales_value": "1.00",
            "difference": "-1.00",
            "golden_value": "2.00",
        }
    ]


def test_run_detail_shows_counts_by_kind(client_as, reconciled):
    body = (
        client_as(Role.EXECUTIVE)
        .get(reverse("api:reconciliation-run-detail", args=[reconciled.pk]))
        .json()
    )
    assert (body["status"], body["counts"], body["marketing_system"]) == (
        "completed",
        {"lead.missing_in_sales": 1},
        "hubspot",
    )


def test_a_page_of_discrepancies_names_its_systems_in_the_same_queries_however_long(
    client_as, reconciled
):
    client = client_as(Role.EXECUTIVE)
    url = reverse("api:reconciliation-discrepancy-list")
    client.get(url)  # the session and the user's roles, read once
    with CaptureQueriesContext(connection) as few_queries:
        few = client.get(url).json()["results"]
    hubspot = SourceSystem.objects.get(slug="hubspot")
    for number in range(30):
        SourceLeadFactory(system=hubspot, email=f"n{number}@acme.com",
                          email_key=f"n{number}@acme.com", mql_at=MQL)  # fmt: skip
    golden_resolve()
    reconciliation.reconciliation_run_now(trigger="command", weeks=4)
    with CaptureQueriesContext(connection) as many_queries:
        many = client.get(url).json()["results"]
    assert len(many) >= len(few) + 30
    assert {(d["system"], d["left_system"], d["right_system"]) for d in many} == {
        ("salesforce", "hubspot", "salesforce")
    }
    assert len(many_queries) == len(few_queries)
