"""Writes that belong to the project rather than to one app: API tokens, two-factor sign-in."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from revops.models import ApiToken

TOKEN_PREFIX = "rvo_"


def token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, by: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """A new token of `by`'s own, acting as them; returns it and its key, which is never shown
    again."""
    name = name.strip()
    if not name:
        raise ValidationError("Give the token a name, e.g. 'Weekly export'.")
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            token = ApiToken.objects.create(
                user=by, name=name[:100], prefix=key[:12], key_hash=token_hash(key)
            )
    except IntegrityError:
        raise ValidationError(f"You already have a token named {name!r}.") from None
    return token, key


def api_token_revoke(*, token: ApiToken, by: AbstractBaseUser) -> ApiToken:
    """Revoke one of `by`'s own tokens; it stops working at once."""
    if token.user_id != by.pk:
        raise ValidationError("That token is not yours.")
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db()
    return token


# --- Two-factor sign-in -------------------------------------------------------------------------

BACKUP_CODE_COUNT = 10
TWO_FACTOR_SESSION_KEY = "revops_two_factor"  # "<user id>:verify|setup|none", set per sign-in


def two_factor_required(user) -> bool:
    """Must `user` use two-factor sign-in? Ops staff and superusers, when the setting says so."""
    from revops.permissions import Role, user_roles

    if not settings.OTP_REQUIRED_FOR_OPS or not getattr(user, "is_authenticated", False):
        return False
    return user.is_superuser or Role.OPS in user_roles(user)


def two_factor_enabled(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def two_factor_needed(request) -> str:
    """What a signed-in, not yet verified user must do first: "verify" (enter a code), "setup"
    (required but not set up) or "none". Read once per sign-in and kept in the session."""
    user = request.user
    stored = request.session.get(TWO_FACTOR_SESSION_KEY, "")
    user_id, _, state = stored.partition(":")
    if user_id != str(user.pk) or state not in ("verify", "setup", "none"):
        if two_factor_enabled(user):
            state = "verify"
        elif two_factor_required(user):
            state = "setup"
        else:
            state = "none"
        request.session[TWO_FACTOR_SESSION_KEY] = f"{user.pk}:{state}"
    return state


def two_factor_forget(request) -> None:
    """Read the user's two-factor state again on the next request (after a change)."""
    request.session.pop(TWO_FACTOR_SESSION_KEY, None)


def two_factor_pending_device(user) -> TOTPDevice:
    """The authenticator-app key being set up: made once, shown until a code confirms it."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def _code(token: str) -> str:
    return "".join(str(token or "").split()).lower()


@transaction.atomic
def two_factor_confirm(*, request, device: TOTPDevice, token: str) -> list[str]:
    """Turn two-factor sign-in on with the key the user scanned, once they type a code it
    gives. Returns fresh backup codes (shown once). The session counts as verified."""
    user = request.user
    if device.user_id != user.pk or device.confirmed:
        raise ValidationError("That set-up has expired; start again.")
    if not device.verify_token(_code(token)):
        raise ValidationError(
            "That code does not match. Check the app shows “RevOps” and your user name, and that "
            "your phone's clock is right, then type the current code."
        )
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = two_factor_backup_codes_renew(by=user)
    otp_login(request, device)
    two_factor_forget(request)
    # A session that signed in with the password alone must not outlive the second factor.
    user_sessions_end(user=user, keep=request.session.session_key)
    return codes


def user_sessions_end(*, user: AbstractBaseUser, keep: str | None) -> int:
    """Sign `user` out everywhere but the session `keep`; returns how many were ended.
    Sessions are rows of their own with the user id inside the signed data, so each live one
    is read (a few per user; expired ones are skipped by the index on expire_date)."""
    ended = []
    for session in Session.objects.filter(expire_date__gt=timezone.now()).exclude(session_key=keep):
        if session.get_decoded().get(SESSION_KEY) == str(user.pk):
            ended.append(session.session_key)
    Session.objects.filter(session_key__in=ended).delete()
    return len(ended)


@transaction.atomic
def two_factor_backup_codes_renew(*, by: AbstractBaseUser) -> list[str]:
    """Replace `by`'s own backup codes with new ones; each works once, when the phone is lost."""
    StaticDevice.objects.filter(user=by).delete()
    device = StaticDevice.objects.create(user=by, name="Backup codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def two_factor_backup_codes_reissue(*, request) -> list[str]:
    """New backup codes from the profile page: only a session that passed the second factor
    may mint them (a password alone would otherwise buy a way past it)."""
    if not two_factor_enabled(request.user):
        raise ValidationError("Turn two-factor sign-in on first.")
    if not request.user.is_verified():
        raise ValidationError("Sign in again with a code from your app to get new backup codes.")
    return two_factor_backup_codes_renew(by=request.user)


def two_factor_verify(*, request, token: str) -> bool:
    """Check a code from the app (or a backup code) against the user's devices; on success the
    session is verified. Wrong codes slow down further tries (django-otp throttling)."""
    code = _code(token)
    if not code:
        return False
    with transaction.atomic():
        for device in devices_for_user(request.user, confirmed=True, for_verify=True):
            if device.verify_token(code):
                otp_login(request, device)
                return True
    return False


@transaction.atomic
def two_factor_disable(*, request, token: str) -> None:
    """Turn two-factor sign-in off, after a current code; refused where it is required."""
    if two_factor_required(request.user):
        raise ValidationError("Two-factor sign-in is required for ops staff; it cannot be off.")
    if not two_factor_verify(request=request, token=token):
        raise ValidationError("That code does not match; two-factor sign-in stays on.")
    TOTPDevice.objects.filter(user=request.user).delete()
    StaticDevice.objects.filter(user=request.user).delete()
    two_factor_forget(request)
