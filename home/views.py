"""The home page: last week's headline for those who read the scorecard, the pipeline overview
and the recent imports for those who read the records. It sits above the apps it reads from, so
revops/ needs to import none of them."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe

from pipeline import selectors
from revops.permissions import can
from scorecard import selectors as scorecard_selectors


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
    context = {}
    if can(request.user, "scorecard.view"):
        # Executives come for the scorecard: last week's top line leads the page.
        context["headline"] = scorecard_selectors.scorecard_headline()
    if can(request.user, "records.view"):
        context["overview"] = selectors.pipeline_overview()
        context["batches"] = selectors.import_batch_recent()
    return render(request, "home.html", context)
