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


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/scorecard/",
        "/records/reconciliation/discrepancies.csv",
        "/api/v1/leads/",
        "/accounts/profile/",
    ],
)
def test_signed_in_responses_are_never_stored_by_a_cache(client_as, url):
    response = client_as(Role.OPS).get(url, follow=True)
    assert response.status_code == 200
    directives = {d.strip() for d in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= directives


def test_static_files_keep_their_own_cache_lifetime(client_as, settings):
    settings.WHITENOISE_USE_FINDERS = True  # serve from the source folders, as with DEBUG=1
    settings.WHITENOISE_AUTOREFRESH = True
    response = client_as(Role.OPS).get("/static/css/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


def test_a_non_ops_user_opening_the_admin_is_told_it_is_not_allowed(client_as):
    response = client_as(Role.SALES_LEAD).get("/admin/", follow=True)
    assert response.status_code == 403
    assert "Not allowed" in response.text


def test_an_anonymous_visitor_opening_the_admin_is_sent_to_sign_in(client):
    response = client.get("/admin/", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0].startswith("/accounts/login/")


def test_with_debug_on_a_mistyped_url_shows_the_products_404_page(client_as, settings):
    settings.DEBUG = True
    client = client_as(Role.EXECUTIVE)
    for url in ("/no-such-page/", "/disputes/999999/"):
        response = client.get(url)
        assert response.status_code == 404
        assert "There is nothing at this address" in response.text
        assert "URLconf" not in response.text
        assert "admin/" not in response.text
