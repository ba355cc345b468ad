"""Every paged API list answers a cursor it never gave out with a 400 that says so: one that
does not decode, one whose position does not fit the ordering (a word where an id goes), and
one holding a NUL byte. None of them reaches the database as a query it refuses."""

from __future__ import annotations

import base64

import pytest
from django.test import Client
from django.urls import reverse

from revops.permissions import Role

LISTS = [
    "import-list",
    "lead-list",
    "account-list",
    "deal-list",
    "arr-change-list",
    "source-lead-list",
    "source-account-list",
    "source-deal-list",
    "source-arr-change-list",
    "system-list",
    "field-authority-list",
    "reconciliation-run-list",
    "reconciliation-discrepancy-list",
    "reconciliation-bridge-list",
    "scorecard-value-list",
    "mechanism-list",
    "mechanism-link-list",
    "mechanism-log-list",
    "mechanism-action-list",
    "dispute-list",
    "audit-event-list",
]


def _cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# Mechanisms page by name, where any word is a position: the word case is for the others.
ORDERED_BY_TEXT = {"mechanism-list"}
A_WORD = _cursor("p=abc")

TAMPERED = {
    "a NUL byte": _cursor("p=\x00"),
    "not base64 at all": "%%%not-a-cursor",
    "an offset that is no number": _cursor("o=many&p=1"),
}


@pytest.fixture
def ops_client(client_as):
    return client_as(Role.OPS)


@pytest.mark.django_db
@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize("cursor", list(TAMPERED.values()), ids=list(TAMPERED))
def test_a_tampered_cursor_is_a_400_that_names_the_cursor(ops_client, name, cursor):
    response = ops_client.get(reverse(f"api:{name}"), {"cursor": cursor})
    assert response.status_code == 400, response.content[:300]
    assert "Invalid cursor" in response.json()["cursor"][0]


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(set(LISTS) - ORDERED_BY_TEXT))
def test_a_word_where_the_ordering_wants_a_number_or_an_instant_is_a_400(ops_client, name):
    response = ops_client.get(reverse(f"api:{name}"), {"cursor": A_WORD})
    assert response.status_code == 400, response.content[:300]
    assert "Invalid cursor" in response.json()["cursor"][0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["lead-list", "mechanism-list", "dispute-list", "audit-event-list"]
)
def test_a_cursor_the_api_gave_out_still_pages(small_demo, make_user, name):
    ops_client = Client()
    ops_client.force_login(make_user(Role.OPS, "cursor-ops"))  # the demo has its own "ops"
    first = ops_client.get(reverse(f"api:{name}"), {"page_size": 1})
    assert first.status_code == 200
    second = ops_client.get(first.json()["next"])
    assert second.status_code == 200
    assert second.json()["results"] != first.json()["results"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("reconciliation-bridge-list", {"week": "Green at % of target"}),
        ("scorecard-value-list", {"since": "100%"}),
        ("dispute-list", {"week": "%s%d"}),
    ],
)
def test_a_percent_sign_in_a_bad_filter_value_is_a_400_naming_the_filter(
    client, make_user, name, params
):
    client.force_login(make_user(Role.OPS, username="percent-ops"))  # the demo has an "ops"
    response = client.get(reverse(f"api:{name}"), params)
    assert response.status_code == 400, response.content[:300]
    assert set(response.json()) == set(params)
