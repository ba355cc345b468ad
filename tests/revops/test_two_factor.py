"""Two-factor sign-in (TOTP): optional for everyone, required for ops staff when the setting
says so; a signed-in but unverified session reaches nothing but the code prompt."""

from __future__ import annotations

import re
import time
from base64 import b32decode

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from revops.permissions import Role
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client, username: str, **extra):
    return client.post(reverse("login"), {"username": username, "password": PASSWORD, **extra})


def code(secret: str, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows for `secret`, `steps_ahead` 30 s steps from now
    (a code is accepted once: the next sign-in in the same step uses the next one)."""
    totp = TOTP(b32decode(secret.replace(" ", "")), step=30, digits=6)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def turn_on(client) -> tuple[str, list[str]]:
    """Set up two-factor sign-in as a user would; returns the key and the backup codes."""
    page = client.get(reverse("two-factor-setup"))
    assert page.status_code == 200
    secret = re.search(r'id="two-factor-secret">([A-Z2-7 ]+)<', page.text).group(1)
    done = client.post(reverse("two-factor-setup"), {"code": code(secret)})
    assert "Two-factor sign-in is on" in done.text
    return secret, re.findall(r"<li><code>([a-z0-9]+)</code></li>", done.text)


def test_turned_on_a_password_alone_no_longer_opens_anything(client, make_user):
    make_user(Role.EXECUTIVE, username="erin")
    sign_in(client, "erin")
    assert "Set up two-factor sign-in" in client.get(reverse("profile")).text
    secret, backup_codes = turn_on(client)
    assert len(backup_codes) == 10
    profile = client.get(reverse("profile")).text
    assert "Move to another phone" in profile
    assert "10 backup codes left" in profile
    client.post(reverse("logout"))

    assert sign_in(client, "erin").status_code == 302
    page = client.get(reverse("scorecard:latest"))
    assert page.status_code == 302
    assert page["Location"].startswith(reverse("two-factor-verify") + "?next=")
    api = client.get(reverse("api:reconciliation-run-list"))
    assert api.status_code == 403
    assert "two-factor" in api.json()["detail"]

    verified = client.post(
        page["Location"], {"code": code(secret, 1), "next": reverse("scorecard:latest")}
    )
    assert verified["Location"] == reverse("scorecard:latest")
    assert client.get(reverse("api:reconciliation-run-list")).status_code == 200


def test_a_wrong_code_is_refused_and_the_next_try_must_wait(client, make_user):
    make_user(Role.SALES_LEAD, username="sam")
    sign_in(client, "sam")
    secret, _ = turn_on(client)
    client.post(reverse("logout"))
    sign_in(client, "sam")

    wrong = client.post(reverse("two-factor-verify"), {"code": "000000"})
    assert "That code does not match" in wrong.text
    # Straight after a failure even the right code is refused: guessing is slowed down.
    assert (
        "does not match"
        in client.post(reverse("two-factor-verify"), {"code": code(secret, 1)}).text
    )
    assert client.get(reverse("home")).status_code == 302
    time.sleep(1.1)
    assert client.post(reverse("two-factor-verify"), {"code": code(secret, 1)}).status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_a_backup_code_signs_in_once(client, make_user):
    make_user(Role.MARKETING_LEAD, username="mia")
    sign_in(client, "mia")
    _, backup_codes = turn_on(client)
    client.post(reverse("logout"))
    sign_in(client, "mia")
    client.post(reverse("two-factor-verify"), {"code": backup_codes[0]})
    assert client.get(reverse("home")).status_code == 200
    assert "9 backup codes left" in client.get(reverse("profile")).text
    client.post(reverse("logout"))
    sign_in(client, "mia")
    used_again = client.post(reverse("two-factor-verify"), {"code": backup_codes[0]})
    assert "does not match" in used_again.text
    assert client.get(reverse("home")).status_code == 302


def test_a_password_thief_cannot_set_up_a_new_phone_or_escape_by_next(client, make_user):
    make_user(Role.OPS, username="omar")
    sign_in(client, "omar")
    turn_on(client)
    client.post(reverse("logout"))
    sign_in(client, "omar")
    setup = client.get(reverse("two-factor-setup"))
    assert setup.status_code == 302
    assert setup["Location"].startswith(reverse("two-factor-verify"))
    assert TOTPDevice.objects.filter(user__username="omar").count() == 1
    # A link that sends the code elsewhere after verifying is not followed.
    escaped = client.get(reverse("two-factor-verify"), {"next": "https://evil.example/"})
    assert 'value="https://evil.example/"' not in escaped.text


def test_ops_must_set_it_up_when_required_and_cannot_turn_it_off(client, make_user, settings):
    settings.OTP_REQUIRED_FOR_OPS = True
    make_user(Role.OPS, username="omar")
    make_user(Role.EXECUTIVE, username="erin")
    sign_in(client, "erin")
    assert client.get(reverse("home")).status_code == 200  # not required of executives
    client.post(reverse("logout"))

    sign_in(client, "omar")
    forced = client.get(reverse("pipeline:import-list"))
    assert forced["Location"].startswith(reverse("two-factor-setup") + "?next=")
    page = client.get(forced["Location"])
    assert "Ops staff must use two-factor sign-in" in page.text
    assert "Not now" not in page.text
    secret, _ = turn_on(client)
    assert client.get(reverse("pipeline:import-list")).status_code == 200
    profile = client.get(reverse("profile")).text
    assert "cannot be turned off" in profile
    refused = client.post(
        reverse("profile"), {"action": "disable-two-factor", "code": code(secret, 1)}, follow=True
    )
    assert "required for ops staff" in refused.text
    assert TOTPDevice.objects.filter(user__username="omar", confirmed=True).exists()


def test_turning_it_off_takes_a_current_code(client, make_user):
    make_user(Role.EXECUTIVE, username="erin")
    sign_in(client, "erin")
    secret, _ = turn_on(client)
    wrong = client.post(
        reverse("profile"), {"action": "disable-two-factor", "code": "123456"}, follow=True
    )
    assert "two-factor sign-in stays on" in wrong.text
    time.sleep(1.1)  # the wrong code slowed the next try
    off = client.post(
        reverse("profile"), {"action": "disable-two-factor", "code": code(secret, 1)}, follow=True
    )
    assert "Two-factor sign-in is off." in off.text
    client.post(reverse("logout"))
    sign_in(client, "erin")
    assert client.get(reverse("home")).status_code == 200


def test_new_backup_codes_replace_the_old_ones(client, make_user):
    make_user(Role.EXECUTIVE, username="erin")
    sign_in(client, "erin")
    _, old = turn_on(client)
    page = client.post(reverse("profile"), {"action": "renew-backup-codes"})
    new = re.findall(r"<li><code>([a-z0-9]+)</code></li>", page.text)
    assert len(new) == 10
    assert not set(new) & set(old)
    client.post(reverse("logout"))
    sign_in(client, "erin")
    client.post(reverse("two-factor-verify"), {"code": old[0]})
    assert client.get(reverse("home")).status_code == 302
    time.sleep(1.1)
    client.post(reverse("two-factor-verify"), {"code": new[0]})
    assert client.get(reverse("home")).status_code == 200


def test_an_api_token_is_its_own_credential(client, make_user):
    make_user(Role.OPS, username="omar")
    sign_in(client, "omar")
    turn_on(client)
    page = client.post(reverse("profile"), {"action": "create-token", "name": "Export"})
    key = re.search(r'id="new-token">(rvo_[A-Za-z0-9_-]+)<', page.text).group(1)
    script = Client()
    response = script.get(reverse("api:import-list"), HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200


def test_ops_can_remove_a_colleagues_lost_phone_in_the_admin_but_never_read_its_key(
    client, make_user
):
    make_user(Role.EXECUTIVE, username="erin")
    sign_in(client, "erin")
    secret, _ = turn_on(client)
    device = TOTPDevice.objects.get(user__username="erin")
    admin = Client()
    admin.force_login(make_user(Role.OPS, username="omar"))
    change = admin.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk]))
    assert change.status_code == 200
    assert device.key not in change.text
    assert secret.replace(" ", "") not in change.text
    config = admin.get(reverse("admin:otp_totp_totpdevice_config", args=[device.pk]))
    assert config.status_code == 403
    admin.post(reverse("admin:otp_totp_totpdevice_delete", args=[device.pk]), {"post": "yes"})
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()


def test_turning_it_on_ends_every_other_session_of_that_user(client, make_user):
    make_user(Role.EXECUTIVE, username="erin")
    other = Client()
    sign_in(other, "erin")
    assert other.get(reverse("profile")).status_code == 200
    sign_in(client, "erin")
    turn_on(client)

    # The session that only ever gave a password is signed out, not merely kept reading.
    after = other.get(reverse("profile"))
    assert after.status_code == 302
    assert after["Location"].startswith(reverse("login"))
    renewed = other.post(reverse("profile"), {"action": "renew-backup-codes"})
    assert "<li><code>" not in renewed.text
    # The session that turned it on stays signed in and verified.
    assert client.get(reverse("profile")).status_code == 200


def test_a_password_change_ends_every_other_session_of_that_user(client, make_user):
    user = make_user(Role.EXECUTIVE, username="erin")
    sign_in(client, "erin")
    user.set_password("another-long-passphrase")
    user.save()
    after = client.get(reverse("profile"))
    assert after.status_code == 302
    assert after["Location"].startswith(reverse("login"))


def test_renewing_backup_codes_needs_a_second_factor_in_this_session(client, make_user):
    make_user(Role.EXECUTIVE, username="erin")
    sign_in(client, "erin")
    turn_on(client)
    # A session that turned two-factor on before it existed elsewhere: password only, and
    # the stored state still says nothing is needed (as a session signed in earlier would).
    password_only = Client()
    sign_in(password_only, "erin")
    session = password_only.session
    session["revops_two_factor"] = f"{session['_auth_user_id']}:none"
    session.save()

    refused = password_only.post(reverse("profile"), {"action": "renew-backup-codes"})
    assert "<li><code>" not in refused.text
    assert "Sign in again with a code from your app" in refused.text
    assert StaticToken.objects.filter(device__user__username="erin").count() == 10
