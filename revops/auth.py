"""Authentication: signed-in users read from the shared cache, and for the API personal
tokens beside the session, with their rate limits."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.throttling import SimpleRateThrottle

from revops.models import ApiToken
from revops.services import token_hash


class CachedModelBackend(ModelBackend):
    """The model backend, reading the signed-in user (with their roles) from the shared cache
    instead of two queries per request, when there is a shared cache (Redis:
    settings.USER_CACHE_SECONDS > 0). Saving or deleting a user and changing their groups
    drop the cached copy at once (the signals below); a change that bypasses the ORM shows
    within USER_CACHE_SECONDS. Every check Django makes still runs on the cached copy: the
    session's password hash, `is_active`."""

    def get_user(self, user_id):
        seconds = settings.USER_CACHE_SECONDS
        if not seconds:
            return super().get_user(user_id)
        key = user_cache_key(user_id)
        user = cache.get(key)
        if user is None:
            user = super().get_user(user_id)
            if user is None:
                return None
            from revops.permissions import user_roles

            user_roles(user)  # read once, kept on the object and cached with it
            cache.set(key, user, seconds)
        return user if self.user_can_authenticate(user) else None


def user_cache_key(user_id) -> str:
    return f"auth:user:{user_id}"


def _forget_user(sender, instance, **kwargs) -> None:
    if settings.USER_CACHE_SECONDS:
        cache.delete(user_cache_key(instance.pk))


def _forget_members(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """user.groups or group.user_set changed: forget the users whose roles it changed."""
    if not settings.USER_CACHE_SECONDS:
        return
    if not reverse:
        if action.startswith("post_"):
            cache.delete(user_cache_key(instance.pk))
    elif action == "pre_clear":  # the members are known only before the clear
        members = instance.user_set.values_list("pk", flat=True)
        cache.delete_many([user_cache_key(pk) for pk in members])
    elif action.startswith("post_") and pk_set:
        cache.delete_many([user_cache_key(pk) for pk in pk_set])


def connect_user_cache() -> None:
    """Called once from the app config's ready()."""
    User = get_user_model()
    post_save.connect(_forget_user, sender=User, dispatch_uid="revops-user-cache-save")
    post_delete.connect(_forget_user, sender=User, dispatch_uid="revops-user-cache-delete")
    m2m_changed.connect(
        _forget_members, sender=User.groups.through, dispatch_uid="revops-user-cache-groups"
    )


# Writing "last used" on every call would turn each read into a write; once a minute is enough.
LAST_USED_GRANULARITY = timedelta(minutes=1)


class TokenAuthentication(BaseAuthentication):
    """`Authorization: Token <key>` (or `Bearer <key>`) with a key from the profile page."""

    keywords = (b"token", b"bearer")

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in self.keywords:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the header as 'Authorization: Token <key>'."
            )
        try:
            key = parts[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token is not valid.") from None
        token = ApiToken.objects.select_related("user").filter(key_hash=token_hash(key)).first()
        if token is None or token.revoked_at is not None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token is not valid or has been revoked.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_GRANULARITY:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Token realm="api"'


class TokenRateThrottle(SimpleRateThrottle):
    """A rate limit per token (settings API_TOKEN_RATE); session calls from the pages are not
    limited here."""

    scope = "token"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, ApiToken):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
