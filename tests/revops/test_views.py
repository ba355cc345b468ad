"""Anonymous users see the login page only; each role sees the navigation it may use."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from revops.permissions import Role
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

OPEN_TO_ANONYMOUS = {"login", "healthz"}


def _named_patterns(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            namespace = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            yield from _named_patterns(entry, namespace)
        elif (
            isinstance(entry, URLPattern)
            and entry.name
            and not entry.pattern.converters
            and not entry.pattern.regex.groups  # the API router's detail routes take an id
        ):
            yield prefix + entry.name


# Pages, not the API: an anonymous API call gets 403 JSON (tests/pipeline/test_import_api.py).
PAGES = [
    *sorted(name for name in _named_patterns() if not name.startswith(("admin:", "api:"))),
    "admin:index",
    "api:docs",
]
# The API answers anonymous callers with JSON, not a login page. Its docs page sends them to
# sign in, and its schema answers 401 in OpenAPI's own media type (tests/revops/test_api_tokens).
API = sorted(
    name
    for name in _named_patterns()
    if name.startswith("api:") and name not in ("api:docs", "api:schema")
)


@pytest.mark.parametrize("name", API)
def test_anonymous_api_call_gets_a_json_refusal_not_a_login_page(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Token realm="api"'
    assert response.json() == {"detail": "Authentication credentials were not provided."}


@pytest.mark.parametrize("name", [p for p in PAGES if p not in OPEN_TO_ANONYMOUS])
def test_anonymous_user_is_sent_to_login(client, name):
    response = client.get(reverse(name), follow=True)
    assert response.request["PATH_INFO"] == reverse("login")
    assert response.context["next"] == reverse(name)


def test_login_page_and_health_check_are_open(client):
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("healthz")).json() == {"status": "ok"}


def test_signing_in_leads_home_and_signing_out_leads_back(client, exec_user):
    response = client.post(reverse("login"), {"username": "executive", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert "Erin" not in client.get(reverse("home")).text  # our user, not a demo one
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302


def test_wrong_password_is_refused_with_a_message(client, exec_user):
    response = client.post(reverse("login"), {"username": "executive", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.text


EVERYONE = [
    "Home",
    "Scorecard",
    "Leads",
    "Deals",
    "Accounts",
    "Currencies",
    "Owners",
    "Regions",
    "Reconciliation",
    "Mechanisms",
    "My actions",
    "Disputes",
]


def nav_labels(client) -> list[str]:
    # follow: on an empty install ops are led to the Systems page, under the same navigation.
    page = client.get(reverse("home"), follow=True)
    return [item["label"] for item in page.context["nav_items"]]


@pytest.mark.parametrize(
    ("role", "labels"),
    [
        (Role.EXECUTIVE, EVERYONE),
        (Role.SALES_LEAD, EVERYONE),
        (Role.MARKETING_LEAD, EVERYONE),
        (Role.OPS, [*EVERYONE, "Imports", "Audit", "Admin"]),
        (None, ["Home"]),
    ],
)
def test_navigation_shows_each_role_what_it_may_use(client_as, role, labels):
    assert nav_labels(client_as(role)) == labels


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.SALES_LEAD, Role.MARKETING_LEAD, None])
def test_only_ops_open_the_admin(client_as, role):
    assert client_as(role).get(reverse("admin:index")).status_code in (302, 403)


def test_ops_open_the_admin_and_records_there_are_read_only(client_as):
    client = client_as(Role.OPS)
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("admin:pipeline_lead_changelist")).status_code == 200
    assert client.get(reverse("admin:pipeline_lead_add")).status_code == 403


@pytest.mark.parametrize(
    "name", ["pipeline:lead-list", "pipeline:deal-list", "pipeline:account-list"]
)
def test_user_without_a_role_cannot_open_records(client_as, name):
    assert client_as(None).get(reverse(name)).status_code == 403


def test_lead_list_filters_and_reports_a_bad_date_instead_of_failing(client_as):
    from tests.factories import LeadFactory

    LeadFactory(email="ana@acme.com", email_key="ana@acme.com", stage="mql")
    LeadFactory(email="bo@acme.com", email_key="bo@acme.com", stage="new")
    client = client_as(Role.SALES_LEAD)
    page = client.get(reverse("pipeline:lead-list"), {"stage": "mql"})
    assert [lead.email for lead in page.context["page"]] == ["ana@acme.com"]
    bad = client.get(reverse("pipeline:lead-list"), {"created_after": "2026-13-40"})
    assert bad.status_code == 200
    assert "Enter a valid date" in bad.text


def test_the_week_label_filter_writes_every_week_one_way():
    from datetime import date

    from django.template import Context, Template

    rendered = Template("{{ day|week_label }}|{{ none|week_label }}").render(
        Context({"day": date(2027, 1, 27), "none": None})
    )
    assert rendered == "2027-W04|"
