"""URL wiring for the whole product: the only place revops/ reaches down into the apps."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from revops import views

urlpatterns = [
    path("", include("home.urls")),
    path("healthz", views.healthz, name="healthz"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/two-factor/", views.two_factor_verify_view, name="two-factor-verify"),
    path("accounts/two-factor/setup/", views.two_factor_setup_view, name="two-factor-setup"),
    path("records/", include("pipeline.urls")),
    path("scorecard/", include("scorecard.urls")),
    path("mechanisms/", include("mechanisms.urls")),
    path("disputes/", include("disputes.urls")),
    path("follows/", include("follows.urls")),
    path("audit/", include("audit.urls")),
    path("api/v1/", include("revops.api_urls")),
    path("admin/", admin.site.urls),
]
