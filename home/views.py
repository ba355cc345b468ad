"""The home page: each role lands on what it does this week. Executives get the top line, what
turned red and the restatements; sales and marketing leads their team's metrics, the disputes
they filed and what changed on them, and their actions; ops their work queue. A person with
several roles sees each part. It sits above the apps it reads from, so revops/ needs to import
none of them."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe

from follows import selectors as follow_selectors
from home import selectors as home_selectors
from pipeline import selectors
from revops.permissions import Role, can, user_roles
from revops.weeks import IsoWeek
from scorecard import selectors as scorecard_selectors
from scorecard.charts import sparkline_svg
from scorecard.choices import Team
from scorecard.rendering import link_rows

# The scorecard section each team lead reads first.
TEAM_OF_ROLE = {Role.SALES_LEAD: Team.SALES, Role.MARKETING_LEAD: Team.MARKETING}


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    if (
        can(request.user, "systems.edit")
        and not request.session.get("systems_setup_shown")
        and not selectors.source_systems_exist()
    ):
        # A fresh install: the first thing to do is say which systems the data comes from.
        # Once a session: the home page stays reachable for whoever wants it.
        request.session["systems_setup_shown"] = True
        messages.info(request, "Welcome. Start by adding the systems your exports come from.")
        return redirect("pipeline:system-list")
    roles = user_roles(request.user) if not request.user.is_superuser else frozenset({Role.OPS})
    context: dict = {"roles": roles}
    week = IsoWeek.last_completed()
    teams = [TEAM_OF_ROLE[role] for role in (Role.SALES_LEAD, Role.MARKETING_LEAD) if role in roles]
    if Role.EXECUTIVE in roles or teams:
        card = scorecard_selectors.scorecard_week(week)
        link_rows(card)
        for row in card.rows:
            row.spark = sparkline_svg(row.trend, unit=row.metric.unit)
        context["card"] = card
        context["team_sections"] = [s for s in card.sections if s.team in teams]
    if Role.EXECUTIVE in roles:
        context["turned_red"] = scorecard_selectors.turned_red(week)
        context["republished"] = home_selectors.republished_recently()
        context["pending"] = home_selectors.restatements_pending()
    if teams:
        context["my_disputes"] = home_selectors.disputes_of(request.user)
        context["my_actions"] = home_selectors.actions_of(request.user)
    if roles:
        context["followed_metrics"] = follow_selectors.followed_metrics(request.user)
        context["followed_disputes"] = follow_selectors.followed_disputes(request.user)
    if Role.OPS in roles:
        context["queue"] = home_selectors.work_queue()
        context["overview"] = selectors.pipeline_overview()
    return render(request, "home.html", context)
