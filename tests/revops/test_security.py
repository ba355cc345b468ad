"""Sign-in throttling and the headers every page carries."""

from __future__ import annotations

import pytest
from django.urls import reverse

from revops.permissions import Role
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client, username: str, password: str):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_repeated_wrong_passwords_lock_that_user_out_for_a_while(client, make_user, settings):
    make_user(Role.OPS, username="omar")
    make_user(Role.EXECUTIVE, username="erin")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "omar", "wrong").status_code == 200  # the form, with its error
    # The failure that reaches the limit locks the account...
    assert sign_in(client, "omar", "wrong").status_code == 429
    locked = sign_in(client, "omar", PASSWORD)  # ...even against the right password, for now
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.text
    assert not client.session.get("_auth_user_id")
    # Another user from the same address is not affected.
    assert sign_in(client, "erin", PASSWORD).status_code == 302


def test_a_successful_sign_in_clears_earlier_failures(client, make_user, settings):
    make_user(Role.OPS, username="omar")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "omar", "wrong")
    assert sign_in(client, "omar", PASSWORD).status_code == 302
    client.post(reverse("logout"))
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "omar", "wrong")
    assert sign_in(client, "omar", PASSWORD).status_code == 302


def test_pages_carry_a_content_security_policy_and_the_usual_security_headers(client_as):
    response = client_as(Role.EXECUTIVE).get(reverse("home"))
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
