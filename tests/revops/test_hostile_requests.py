"""What a hostile or unlucky request gets: a refusal that says so, never a 500 (issue 17)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from revops.permissions import Role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/disputes/new/?metric=%00&week=2026-W48",
        "/disputes/?status=%00",
        "/records/leads/?q=%00",
        "/records/reconciliation/discrepancies/?field=a%00b",
        "/scorecard/?week=%00",
        "/audit/?table=%00",
        "/mechanisms/?q=%00",
    ],
)
def test_a_nul_byte_in_a_page_query_string_is_a_400(client_as, url):
    response = client_as(Role.OPS).get(url)
    assert response.status_code == 400
    assert "NUL" in response.text


def test_a_nul_byte_in_a_page_form_field_is_a_400(client_as):
    response = client_as(Role.OPS).post(
        reverse("disputes:dispute-new"), {"metric": "mqls", "reason": "wrong\x00"}
    )
    assert response.status_code == 400


def test_a_nul_byte_in_an_api_query_string_is_a_400_in_json(client_as):
    response = client_as(Role.OPS).get("/api/v1/leads/?email=%00")
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


@pytest.mark.parametrize("url", ["/api/v1/disputes/", "/api/v1/presets/", "/api/v1/mechanisms/"])
def test_deeply_nested_json_is_a_400(client_as, url):
    response = client_as(Role.OPS).post(url, "[" * 100_000, content_type="application/json")
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]
