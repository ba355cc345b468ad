"""Personal API tokens: created and revoked on the profile page, used as `Authorization:
Token <key>`, limited per token, never stored in clear."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from revops.auth import TokenRateThrottle
from revops.models import ApiToken
from revops.permissions import Role
from revops.services import token_hash

pytestmark = pytest.mark.django_db


def create_token(client, name: str = "Weekly export") -> str:
    page = client.post(reverse("profile"), {"action": "create-token", "name": name})
    match = re.search(r'id="new-token">(rvo_[A-Za-z0-9_-]+)<', page.text)
    assert match, page.text
    return match.group(1)


def test_a_token_is_shown_once_stored_hashed_and_lets_a_script_act_with_the_users_role(
    client_as, client
):
    ops = client_as(Role.OPS)
    key = create_token(ops)
    token = ApiToken.objects.get()
    assert token.key_hash == token_hash(key)
    assert key not in ops.get(reverse("profile")).text  # never shown again
    response = client.get(reverse("api:import-list"), HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    response = client.get(reverse("api:import-list"), HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_token_has_its_users_role_no_more(client_as, client):
    key = create_token(client_as(Role.SALES_LEAD))
    assert (
        client.get(reverse("api:import-list"), HTTP_AUTHORIZATION=f"Token {key}").status_code == 403
    )


def test_a_revoked_token_stops_working_at_once(client_as, client):
    ops = client_as(Role.OPS)
    key = create_token(ops)
    token = ApiToken.objects.get()
    ops.post(reverse("profile"), {"action": "revoke-token", "token": token.pk})
    response = client.get(reverse("api:import-list"), HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401
    assert response.json() == {"detail": "The token is not valid or has been revoked."}


@pytest.mark.parametrize("header", ["Token", "Token a b", "Token nonsense", "Bearer rvo_x"])
def test_a_malformed_or_unknown_token_is_refused_with_401(client, header):
    response = client.get(reverse("api:import-list"), HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Token realm="api"'


def test_nobody_can_revoke_someone_elses_token(client_as, make_user):
    key_owner = client_as(Role.OPS)
    create_token(key_owner)
    other = client_as(Role.EXECUTIVE)
    response = other.post(
        reverse("profile"), {"action": "revoke-token", "token": ApiToken.objects.get().pk}
    )
    assert response.status_code == 404
    assert ApiToken.objects.get().revoked_at is None


def test_two_live_tokens_cannot_share_a_name(client_as):
    ops = client_as(Role.OPS)
    create_token(ops, "Export")
    page = ops.post(reverse("profile"), {"action": "create-token", "name": "Export"})
    assert "You already have a token named &#x27;Export&#x27;." in page.text
    assert ApiToken.objects.count() == 1


def test_tokens_are_rate_limited_and_the_pages_are_not(client_as, client, monkeypatch):
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "3/minute"})
    ops = client_as(Role.OPS)
    key = create_token(ops)
    codes = [
        client.get(reverse("api:import-list"), HTTP_AUTHORIZATION=f"Token {key}").status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    assert all(ops.get(reverse("api:import-list")).status_code == 200 for _ in range(5))


def test_the_openapi_schema_and_its_docs_page_are_served_without_a_cdn(client_as, client):
    reader = client_as(Role.EXECUTIVE)
    schema = reader.get(reverse("api:schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    spec = schema.json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/imports/" in spec["paths"]
    docs = reader.get(reverse("api:docs"))
    assert docs.status_code == 200
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs.text
    assert "cdn" not in docs.text.lower()
    assert client.get(reverse("api:schema")).status_code == 401  # anonymous
