"""The scorecard API: every endpoint with and without permission, and what it answers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from revops.permissions import Role
from revops.weeks import IsoWeek
from scorecard.models import Metric, WeeklySnapshot
from scorecard.services.catalog import target_set
from scorecard.services.snapshots import scorecard_backfill, snapshot_publish
from tests.factories import LeadFactory
from tests.scorecard.conftest import W10, d, utc

pytestmark = pytest.mark.django_db

READS = [
    ("api:scorecard-metric-list", []),
    ("api:scorecard-metric-detail", ["mqls"]),
    ("api:scorecard-definition-list", []),
    ("api:scorecard-value-list", []),
    ("api:scorecard-week", ["2026-W10"]),
]


@pytest.mark.parametrize(("name", "args"), READS)
@pytest.mark.parametrize("role", list(Role))
def test_every_role_reads_the_api(client_as, role, name, args):
    response = client_as(role).get(reverse(name, args=args))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize(("name", "args"), READS)
def test_anonymous_and_roleless_calls_are_refused_with_json(client, client_as, name, args):
    anonymous = client.get(reverse(name, args=args))
    assert anonymous.status_code == 401  # no credentials: say how to send them
    assert anonymous["WWW-Authenticate"] == 'Token realm="api"'
    roleless = client_as(None).get(reverse(name, args=args))
    assert roleless.status_code == 403  # credentials, but no role that may read this
    assert "detail" in anonymous.json()
    assert "detail" in roleless.json()


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.SALES_LEAD, Role.MARKETING_LEAD])
def test_only_ops_publish_through_the_api(client_as, role):
    url = reverse("api:scorecard-week-publish", args=["2026-W10"])
    assert client_as(role).post(url, {}, content_type="application/json").status_code == 403
    assert not WeeklySnapshot.objects.exists()


def test_ops_publish_and_republish_through_the_api_with_csrf(make_user):
    ops = make_user(Role.OPS)
    client = Client(enforce_csrf_checks=True)
    client.force_login(ops)
    url = reverse("api:scorecard-week-publish", args=["2026-W10"])
    assert client.post(url, {}, content_type="application/json").status_code == 403  # no token
    client.get(reverse("scorecard:week", args=[W10]))  # sets the CSRF cookie
    token = {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}
    created = client.post(url, {}, content_type="application/json", **token)
    assert created.status_code == 201
    assert (created.json()["status"], created.json()["revision"]) == ("published", 1)
    refused = client.post(url, {}, content_type="application/json", **token)
    assert refused.status_code == 400
    assert "already published" in refused.json()["detail"]
    again = client.post(
        url, {"republish": True, "reason": "late sync"}, content_type="application/json", **token
    )
    assert (again.status_code, again.json()["revision"]) == (200, 2)


def test_the_week_endpoint_gives_the_snapshot_with_targets_status_and_links(client_as):
    for day in (2, 3, 4):
        LeadFactory(created_at=utc(2026, 3, day))
    LeadFactory(created_at=utc(2026, 2, 2))  # the data starts in W06: W09 has none, not no data
    target_set(metric=Metric.objects.get(key="leads_created"), by=None, starts_on=d("2026-01-01"),
               value=Decimal(4))  # fmt: skip
    snapshot_publish(week=W10, by=None)
    body = client_as(Role.EXECUTIVE).get(reverse("api:scorecard-week", args=["2026-W10"])).json()
    assert (body["week"], body["start"], body["end"]) == ("2026-W10", "2026-03-02", "2026-03-08")
    assert (body["status"], body["in_progress"], body["revision"]) == ("published", False, 1)
    assert [m["key"] for m in body["top_line"]] == [
        "arr",
        "new_bookings",
        "pipeline_coverage",
        "nrr",
    ]
    marketing = next(s for s in body["sections"] if s["team"] == "marketing")
    leads = next(m for m in marketing["metrics"] if m["key"] == "leads_created")
    assert leads | {"links": None} == {
        "key": "leads_created", "name": "Leads created", "team": "marketing", "unit": "count",
        "up_is_good": True, "value": "3", "display": "3", "target": "4", "rag": "red",
        "previous": "0", "change": "3", "numerator": None, "denominator": None, "note": "",
        "definition_version": 1, "live": False,
        "trust": {"state": "not_reconciled", "label": "Not reconciled",
                  "detail": "There is no marketing and no sales system yet",
                  "url": None, "also": None},
        "links": None, "status": "Off target", "on_pace_for": None,
        "owner": None, "commentary": None,
    }  # fmt: skip
    assert leads["links"]["records"] == "/scorecard/2026-W10/leads_created/records/"


def test_a_week_not_published_is_live_and_a_bad_week_is_a_404(client_as):
    client = client_as(Role.EXECUTIVE)
    live = client.get(reverse("api:scorecard-week", args=["2026-W10"])).json()
    assert (live["status"], live["revision"]) == ("live", None)
    assert client.get(reverse("api:scorecard-week", args=["2026-W99"])).status_code == 404
    assert client.get(reverse("api:scorecard-week", args=["next-week"])).status_code == 404


def test_weekly_values_filter_by_metric_and_weeks_and_refuse_a_bad_week(client_as):
    scorecard_backfill(weeks=4)
    client = client_as(Role.SALES_LEAD)
    last = IsoWeek.last_completed()
    since = last.shift(-1).label
    body = client.get(reverse("api:scorecard-value-list"), {"metric": "arr", "since": since})
    results = body.json()["results"]
    assert [(r["metric"], r["week"]) for r in results] == [
        ("arr", last.shift(-1).label),
        ("arr", last.label),
    ]
    assert results[0]["definition_version"] == 1
    bad = client.get(reverse("api:scorecard-value-list"), {"since": "2026-W99"})
    assert bad.status_code == 400
    assert bad.json() == {"since": ["'2026-W99': 2026 has no week 99"]}


def test_the_catalog_and_definitions_list_versions_and_targets(client_as):
    target_set(metric=Metric.objects.get(key="mqls"), by=None, starts_on=d("2026-01-01"), value=80)
    client = client_as(Role.MARKETING_LEAD)
    metrics = client.get(reverse("api:scorecard-metric-list"), {"team": "marketing"}).json()
    assert {m["key"] for m in metrics} == {
        "leads_created", "mqls", "mql_to_sql_rate", "mql_to_won_rate",
        "pipeline_created_marketing",
    }  # fmt: skip
    mqls = client.get(reverse("api:scorecard-metric-detail", args=["mqls"])).json()
    assert mqls["current_version"] == 1
    assert mqls["targets"] == [{"starts_on": "2026-01-01", "period": "week", "value": "80.0000"}]
    definitions = client.get(reverse("api:scorecard-definition-list"), {"metric": "win_rate"})
    assert [(x["version"], x["builtin"], x["window_weeks"]) for x in definitions.json()] == [
        (1, "win_rate", 13)
    ]
