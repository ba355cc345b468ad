"""The mechanisms API under /api/v1/mechanisms/. Fixed paths come before `<slug>/` (and the
services keep those words out of slugs)."""

from django.urls import path

from mechanisms.api import views

urlpatterns = [
    path("", views.MechanismListCreate.as_view(), name="mechanism-list"),
    path("links/", views.LinkListCreate.as_view(), name="mechanism-link-list"),
    path("links/<int:pk>/", views.LinkDetail.as_view(), name="mechanism-link-detail"),
    path("log-entries/", views.LogEntryListCreate.as_view(), name="mechanism-log-list"),
    path("actions/", views.ActionList.as_view(), name="mechanism-action-list"),
    path("<slug:slug>/", views.MechanismDetail.as_view(), name="mechanism-detail"),
    path("<slug:slug>/versions/", views.VersionList.as_view(), name="mechanism-version-list"),
    path(
        "<slug:slug>/versions/<int:number>/",
        views.VersionDetail.as_view(),
        name="mechanism-version-detail",
    ),
    path(
        "<slug:slug>/versions/<int:number>/restore/",
        views.VersionRestore.as_view(),
        name="mechanism-version-restore",
    ),
]
