"""Who may do what: the one place pages, the API and templates ask.

Roles are Django groups created by a data migration. `RULES` maps every action to the roles
that may take it; `can(user, action)` answers from it. Views use `@require(action)`, the API
uses `Can`, templates use `{% if user|can:"records.view" %}`. An action
missing from RULES raises KeyError: a typo must fail loudly, not deny.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import models
from rest_framework.permissions import BasePermission


class Role(models.TextChoices):
    EXECUTIVE = "executive", "Executive"
    OPS = "ops", "Ops staff"
    SALES_LEAD = "sales_lead", "Sales lead"
    MARKETING_LEAD = "marketing_lead", "Marketing lead"


EVERYONE = frozenset(Role)
OPS = frozenset({Role.OPS})
FILERS = frozenset({Role.OPS, Role.SALES_LEAD, Role.MARKETING_LEAD})

RULES: dict[str, frozenset[Role]] = {
    # Golden records and their source versions: every role reads them.
    "records.view": EVERYONE,
    # Which system wins which field: everyone may see the rules, ops staff change them.
    "authority.edit": OPS,
    # Exchange rates into the company currency: everyone who reads records reads them
    # ("records.view"); ops staff set, delete and import them.
    "exchange_rates.edit": OPS,
    # Source systems: everyone sees which there are; ops staff add, rename and retire them.
    # The same for what the app is told about the records' people and places (owners, teams
    # and regions, on the Owners and Regions pages): everyone reads them, ops staff change them.
    "systems.edit": OPS,
    # Imports are an ops tool: batches, their problems, presets and the upload itself.
    "imports.view": OPS,
    "imports.run": OPS,
    # The weekly scorecard, its metric catalog, trends and the records behind each number.
    "scorecard.view": EVERYONE,
    # Freezing a week's values, and republishing a week on purpose.
    "scorecard.publish": OPS,
    # Names, definitions' text, targets, thresholds, formulas and imported series of metrics.
    "scorecard.edit_metrics": OPS,
    # The Django admin: ops staff inspect every table there.
    "admin.use": OPS,
    # Reconciliation runs, discrepancies and bridges: every role reads them; only ops staff
    # start a run or change the nightly schedule.
    "reconciliation.view": EVERYONE,
    "reconciliation.run": OPS,
    "reconciliation.schedule": OPS,
    # Mechanisms: every role reads them, their versions, the map and the inspection panel;
    # ops staff write them (the document, goals, links, the inspection log, actions, restores).
    "mechanisms.view": EVERYONE,
    "mechanisms.edit": OPS,
    # Whoever is given an action may tick it off (or reopen it), whatever their role.
    "mechanisms.tick_own_actions": EVERYONE,
    # Data disputes: every role reads them; sales and marketing leads (and ops staff) file
    # them, and comment on and withdraw their own (the services check whose it is); ops staff
    # triage (take into review, assign), resolve (accept with the correction, reject with the
    # reason) and set the response SLA.
    "disputes.view": EVERYONE,
    "disputes.file": FILERS,
    "disputes.comment": FILERS,
    "disputes.withdraw_own": FILERS,
    "disputes.triage": OPS,
    "disputes.resolve": OPS,
    "disputes.settings": OPS,
    # The audit log: who changed which data, when, before and after. It shows everyone's
    # edits (users, roles and tokens too), so only ops staff read it.
    "audit.view": OPS,
    # Following a metric or a dispute, and choosing how one hears about it.
    "follows.use": EVERYONE,
}

User = AbstractBaseUser | AnonymousUser


def user_roles(user: Any) -> frozenset[Role]:
    """The roles of `user`, read once per request object and cached on it."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_revops_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        cached = frozenset(role for role in Role if role.value in names)
        user._revops_roles = cached
    return cached


def can(user: Any, action: str) -> bool:
    """May `user` take `action`? Superusers may do anything; inactive users nothing."""
    allowed = RULES[action]
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return not allowed.isdisjoint(user_roles(user))


def require(action: str) -> Callable:
    """View decorator: 403 unless the user may take `action` (login is required globally)."""
    RULES[action]  # fail at import time on an unknown action  # noqa: B018

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not can(request.user, action):
                raise PermissionDenied(f"Your role may not {action}.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


class Can(BasePermission):
    """DRF permission: the view names its action in `action_for_method` (by HTTP method) or
    `permission_action` (all methods)."""

    def has_permission(self, request, view) -> bool:
        per_method = getattr(view, "action_for_method", None)
        action = (per_method or {}).get(request.method) or getattr(view, "permission_action", None)
        if action is None:
            return False  # a view that names no action is closed, not open
        return can(request.user, action)
