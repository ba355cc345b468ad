"""API authentication and rate limits: personal tokens beside the session."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.throttling import SimpleRateThrottle

from revops.models import ApiToken
from revops.services import token_hash

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
