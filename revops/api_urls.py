"""The REST API, version 1: each app's api/urls.py mounted under /api/v1/."""

from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The docs are a page for people: an anonymous visitor is sent to sign in. The split view
    # serves Swagger UI's start-up script as a file, as the Content-Security-Policy needs.
    path(
        "docs/",
        login_required(SpectacularSwaggerSplitView.as_view(url_name="api:schema")),
        name="docs",
    ),
    path("", include("pipeline.api.urls")),
    path("scorecard/", include("scorecard.api.urls")),
    path("mechanisms/", include("mechanisms.api.urls")),
    path("disputes/", include("disputes.api.urls")),
    path("audit/", include("audit.api.urls")),
]
