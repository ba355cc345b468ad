"""`{% follow_button metric=metric %}` / `{% follow_button dispute=dispute %}`: a Follow or
Unfollow button for the signed-in person, posting back to the page it is on."""

from __future__ import annotations

from django import template
from django.urls import reverse

from follows.selectors import is_following
from revops.permissions import can

register = template.Library()


@register.inclusion_tag("follows/_follow_button.html", takes_context=True)
def follow_button(context, metric=None, dispute=None) -> dict:
    request = context["request"]
    user = request.user
    if not can(user, "follows.use"):
        return {"show": False}
    if metric is not None:
        action = reverse("follows:metric", args=[metric.key])
        what = "metric"
    else:
        action = reverse("follows:dispute", args=[dispute.pk])
        what = "dispute"
    return {
        "show": True,
        "action": action,
        "what": what,
        "following": is_following(user, metric=metric, dispute=dispute),
        "next": request.get_full_path(),
        "csrf_token": context.get("csrf_token"),
    }
