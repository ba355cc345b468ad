"""The home page: last week's headline for those who read the scorecard, the pipeline overview
and the recent imports for those who read the records. It sits above the apps it reads from, so
revops/ needs to import none of them."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from pipeline import selectors
from revops.permissions import can
from scorecard import selectors as scorecard_selectors


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    context = {}
    if can(request.user, "scorecard.view"):
        # Executives come for the scorecard: last week's top line leads the page.
        context["headline"] = scorecard_selectors.scorecard_headline()
    if can(request.user, "records.view"):
        context["overview"] = selectors.pipeline_overview()
        context["batches"] = selectors.import_batch_recent()
    return render(request, "home.html", context)
