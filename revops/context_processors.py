"""Context every page gets: the navigation, filtered to what the user's role may use."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse

from revops.permissions import can, user_roles


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    action: str | None  # None: every signed-in user
    section: str  # prefix of the view names ("namespace:name") under this item


NAV: tuple[NavItem, ...] = (
    NavItem("Home", "home", None, "home"),
    NavItem("Scorecard", "scorecard:latest", "scorecard.view", "scorecard:"),
    NavItem("Leads", "pipeline:lead-list", "records.view", "pipeline:lead-"),
    NavItem("Deals", "pipeline:deal-list", "records.view", "pipeline:deal-"),
    NavItem("Accounts", "pipeline:account-list", "records.view", "pipeline:account-"),
    NavItem("Currencies", "pipeline:exchange-rate-list", "records.view", "pipeline:exchange-rate"),
    NavItem("Owners", "pipeline:owner-list", "records.view", "pipeline:owner-"),
    NavItem("Regions", "pipeline:region-list", "records.view", "pipeline:region-"),
    NavItem(
        "Reconciliation",
        "pipeline:reconciliation-run-list",
        "reconciliation.view",
        "pipeline:reconciliation-",
    ),
    NavItem("Mechanisms", "mechanisms:mechanism-list", "mechanisms.view", "mechanisms:mechanism"),
    NavItem("My actions", "mechanisms:my-actions", "mechanisms.view", "mechanisms:my-actions"),
    NavItem("Disputes", "disputes:dispute-list", "disputes.view", "disputes:"),
    NavItem("Imports", "pipeline:import-list", "imports.view", "pipeline:import"),
    NavItem("Audit", "audit:event-list", "audit.view", "audit:"),
    NavItem("Admin", "admin:index", "admin.use", "admin:"),
)


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "user_roles": []}
    match = getattr(request, "resolver_match", None)
    current = match.view_name if match else ""
    items = [
        {
            "label": item.label,
            "url": reverse(item.url_name),
            "current": current.startswith(item.section),
        }
        for item in NAV
        if item.action is None or can(user, item.action)
    ]
    roles = sorted(role.label for role in user_roles(user))
    if user.is_superuser:
        roles.insert(0, "Superuser")
    return {"nav_items": items, "user_roles": roles}
