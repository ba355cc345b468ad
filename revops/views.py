"""Pages that belong to no single app: the health check, the profile and two-factor sign-in.

The home page reads from the apps, so it lives above them, in home/."""

from __future__ import annotations

import textwrap
from base64 import b32encode

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe
from django_otp.plugins.otp_static.models import StaticToken

from revops.models import ApiToken
from revops.services import (
    api_token_create,
    api_token_revoke,
    two_factor_backup_codes_reissue,
    two_factor_confirm,
    two_factor_disable,
    two_factor_enabled,
    two_factor_needed,
    two_factor_pending_device,
    two_factor_required,
    two_factor_verify,
)


@login_not_required
@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and docker-compose: the database answers a query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return JsonResponse({"status": "database unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    """The signed-in user's page: roles, API tokens (create, revoke) and two-factor sign-in."""
    new_key = None
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "create-token":
                _, new_key = api_token_create(by=request.user, name=request.POST.get("name", ""))
                messages.success(request, "Token created. Copy it now: it is not shown again.")
            elif action == "renew-backup-codes":
                codes = two_factor_backup_codes_reissue(request=request)
                return render(request, "registration/two_factor_codes.html", {"codes": codes})
            elif action == "disable-two-factor":
                two_factor_disable(request=request, token=request.POST.get("code", ""))
                messages.success(request, "Two-factor sign-in is off.")
                return redirect("profile")
            elif action == "revoke-token":
                token = get_object_or_404(ApiToken, pk=request.POST.get("token"), user=request.user)
                api_token_revoke(token=token, by=request.user)
                messages.success(request, f"Token “{token.name}” revoked.")
                return redirect("profile")
            else:
                return HttpResponseBadRequest("Unknown action.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    tokens = ApiToken.objects.filter(user=request.user, revoked_at__isnull=True)
    context = {
        "tokens": tokens,
        "new_key": new_key,
        "two_factor_on": two_factor_enabled(request.user),
        "two_factor_required": two_factor_required(request.user),
        "backup_codes_left": StaticToken.objects.filter(device__user=request.user).count(),
    }
    return render(request, "revops/profile.html", context)


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_verify_view(request: HttpRequest) -> HttpResponse:
    """The second step of signing in: a code from the authenticator app, or a backup code."""
    if request.user.is_verified() or two_factor_needed(request) != "verify":
        return redirect(_next_url(request))
    error = None
    if request.method == "POST":
        if two_factor_verify(request=request, token=request.POST.get("code", "")):
            return redirect(_next_url(request))
        error = (
            "That code does not match. Type the 6-digit code your app shows now, or one of your "
            "backup codes. After a wrong code, wait a moment before the next try."
        )
    context = {"error": error, "next": _next_url(request)}
    return render(request, "registration/two_factor_verify.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_setup_view(request: HttpRequest) -> HttpResponse:
    """Turn on two-factor sign-in: scan the key into an authenticator app, type its code."""
    if two_factor_enabled(request.user) and not request.user.is_verified():
        # With a device already set up, only a verified session may replace it.
        return redirect(f"{reverse('two-factor-verify')}?next={reverse('two-factor-setup')}")
    device = two_factor_pending_device(request.user)
    error = None
    if request.method == "POST":
        try:
            codes = two_factor_confirm(
                request=request, device=device, token=request.POST.get("code", "")
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            context = {"codes": codes, "next": _next_url(request)}
            return render(request, "registration/two_factor_codes.html", context)
    context = {
        "error": error,
        "qr": segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2),
        "secret": " ".join(textwrap.wrap(b32encode(device.bin_key).decode(), 4)),
        "required": two_factor_required(request.user),
        "replacing": two_factor_enabled(request.user),
        "next": _next_url(request),
    }
    return render(request, "registration/two_factor_setup.html", context)
