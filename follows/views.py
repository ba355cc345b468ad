"""Following a metric or a dispute (a button on its page), and the page where a person sees
what they follow and chooses how they hear about it."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from disputes.selectors import dispute_get
from follows import selectors, services
from follows.forms import NotificationSettingsForm
from revops.permissions import Role, require, user_roles
from scorecard.models import Metric
from scorecard.rendering import narrow_choices
from scorecard.services.digest import scope_of


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback)


def _following(request: HttpRequest) -> bool:
    return request.POST.get("follow", "1") != "0"


@require_POST
@require("follows.use")
def follow_metric(request: HttpRequest, key: str) -> HttpResponse:
    metric = Metric.objects.filter(key=key).first()
    if metric is None:
        raise Http404("No such metric.")
    now = services.follow_set(user=request.user, metric=metric, following=_following(request))
    if now:
        messages.success(request, f"You follow {metric.name}: you will hear when it turns red.")
    else:
        messages.info(request, f"You no longer follow {metric.name}.")
    return _back(request, reverse("follows:settings"))


@require_POST
@require("follows.use")
def follow_dispute(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = dispute_get(pk)
    if dispute is None:
        raise Http404("No such dispute.")
    now = services.follow_set(user=request.user, dispute=dispute, following=_following(request))
    if now:
        messages.success(
            request, f"You follow dispute #{dispute.pk}: you will hear of each step and comment."
        )
    else:
        messages.info(request, f"You no longer follow dispute #{dispute.pk}.")
    return _back(request, reverse("disputes:dispute-detail", args=[dispute.pk]))


SCOPE_PREFIX = "scope_"


@require_http_methods(["GET", "POST"])
@require("follows.use")
def follow_settings(request: HttpRequest) -> HttpResponse:
    current = services.settings_get(request.user)
    executive = Role.EXECUTIVE in user_roles(request.user)
    status = 200
    if request.method == "POST":
        form = NotificationSettingsForm(request.POST)
        if form.is_valid():
            scope = None  # an executive's digest scope: one select per dimension, "" for all
            if executive:
                scope = urlencode(
                    [
                        (key.removeprefix(SCOPE_PREFIX), value)
                        for key, value in request.POST.items()
                        if key.startswith(SCOPE_PREFIX) and value.strip()
                    ]
                )
            try:
                services.settings_update(user=request.user, **form.cleaned_data, digest_scope=scope)
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    for problem in problems:
                        form.add_error(field if field in form.fields else None, problem)
            else:
                messages.success(request, "Saved: this is how you will hear about what you follow.")
                return redirect("follows:settings")
        status = 400
    else:
        form = NotificationSettingsForm(initial={"email": current.email})
    context = {
        "form": form,
        "current": current,
        "metrics": selectors.followed_metrics(request.user),
        "disputes": selectors.followed_disputes(request.user),
        "alerts": selectors.alerts_recent(request.user),
        "executive": executive,
    }
    if executive:  # the digest goes to executives: the slice it covers
        scope = scope_of(current.digest_scope)
        context["scope"] = scope
        context["scope_choices"] = narrow_choices(scope)
        context["scope_prefix"] = SCOPE_PREFIX
    return render(request, "follows/follow_settings.html", context, status=status)


@require_POST
@require("follows.use")
def test_message(request: HttpRequest) -> HttpResponse:
    outcome = services.test_message_send(user=request.user)
    if not outcome:
        messages.warning(
            request, "Nothing to send to: turn e-mail on (with an address) or add a Slack webhook."
        )
    for channel, result in outcome.items():
        name = "E-mail" if channel == "email" else "Slack"
        if result == "sent":
            messages.success(request, f"{name}: test sent.")
        else:
            messages.error(request, f"{name}: not sent ({result.removeprefix('failed: ')}).")
    return redirect("follows:settings")
