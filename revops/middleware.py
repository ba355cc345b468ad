"""Project middleware."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, reverse
from django.utils.cache import patch_cache_control
from django.views.defaults import page_not_found


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Django's login-required middleware, except for the API: there DRF authenticates (session
    or token) and answers an anonymous call with 401/403 JSON rather than a login redirect."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class TwoFactorMiddleware:
    """Until a code is accepted, a user with two-factor sign-in on sees only the code prompt,
    and one who must set it up (OTP_REQUIRED_FOR_OPS) only the set-up page; both may sign
    out. The API answers 403 to such a session (tokens are a credential of their own)."""

    ALLOWED = frozenset({"two-factor-verify", "two-factor-setup", "logout"})

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        from revops.services import two_factor_needed

        user = request.user
        if not user.is_authenticated or user.is_verified():
            return None
        if request.resolver_match.url_name in self.ALLOWED:
            return None
        needed = two_factor_needed(request)
        if needed == "none":
            return None
        if request.path_info.startswith("/api/"):
            return JsonResponse(
                {"detail": "Finish two-factor sign-in in the browser, or use an API token."},
                status=403,
            )
        target = "two-factor-verify" if needed == "verify" else "two-factor-setup"
        return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")


class RefuseNulMiddleware:
    """A NUL byte in a query string or a form field is a 400 before any view sees it:
    PostgreSQL cannot store or compare text containing one, so it would surface as a
    DataError (500) from whichever filter or form passed it on. The API's own parsers already
    refuse it in JSON bodies; its query strings are checked here too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request.GET) or (
            request.method == "POST"
            and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data")
            and _has_nul(request.POST)
        ):
            message = "The request contains a NUL character (%00), which no field accepts."
            if request.path_info.startswith("/api/"):
                return JsonResponse({"detail": message}, status=400)
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


def _has_nul(data) -> bool:
    return any("\x00" in key or any("\x00" in v for v in data.getlist(key)) for key in data)


class PrivateCacheMiddleware:
    """Every response to a signed-in user (session or API token) is `private, no-store`: pages,
    API answers and CSV exports hold company data that no shared proxy or browser disk cache
    should keep. Static files never get here (WhiteNoise answers them first, with their own
    long lifetimes). The one exception is a response that carries an ETag (the published
    scorecard, scorecard/caching.py): `private, no-cache`, so the user's own browser may keep
    it and asks each time whether it is still current (a 304 when it is)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Read after the view: DRF sets request.user from an API token while handling it.
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or "HTTP_AUTHORIZATION" in request.META:
            if response.has_header("ETag"):
                patch_cache_control(response, private=True, no_cache=True)
            else:
                patch_cache_control(response, private=True, no_store=True)
        return response


class ProductNotFoundMiddleware:
    """With DEBUG=1 (the demo, a developer's machine) Django answers a 404 with its debug page,
    which lists every URL pattern of the project to whoever mistypes an address. Answer with
    the product's own 404 page instead. Tracebacks of errors (500) stay a developer's tool."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # No view matched: the resolver's 404 never reaches process_exception.
        if settings.DEBUG and response.status_code == 404 and request.resolver_match is None:
            return page_not_found(request, Resolver404())
        return response

    def process_exception(self, request: HttpRequest, exception: Exception):
        if settings.DEBUG and isinstance(exception, Http404):
            return page_not_found(request, exception)
        return None
