from django.urls import path

from mechanisms import views

app_name = "mechanisms"

urlpatterns = [
    path("", views.mechanism_list, name="mechanism-list"),
    path("map/", views.mechanism_map, name="mechanism-map"),
    path("new/", views.mechanism_new, name="mechanism-new"),
    path("preview/", views.markdown_preview, name="mechanism-preview"),
    path("my-actions/", views.my_actions, name="my-actions"),
    path("actions/<int:action_id>/tick/", views.action_tick, name="mechanism-action-tick"),
    path("<slug:slug>/", views.mechanism_detail, name="mechanism-detail"),
    path("<slug:slug>/edit/", views.mechanism_edit, name="mechanism-edit"),
    path("<slug:slug>/history/", views.mechanism_history, name="mechanism-history"),
    path("<slug:slug>/history/compare/", views.mechanism_compare, name="mechanism-compare"),
    path(
        "<slug:slug>/history/<int:number>/restore/",
        views.mechanism_restore,
        name="mechanism-restore",
    ),
    path("<slug:slug>/links/", views.link_add, name="mechanism-link-add"),
    path(
        "<slug:slug>/links/<int:link_id>/delete/",
        views.link_delete,
        name="mechanism-link-delete",
    ),
    path("<slug:slug>/log/", views.log_add, name="mechanism-log-add"),
    path("<slug:slug>/log/<int:entry_id>/delete/", views.log_delete, name="mechanism-log-delete"),
    path("<slug:slug>/actions/", views.action_add, name="mechanism-action-add"),
    path(
        "<slug:slug>/actions/<int:action_id>/delete/",
        views.action_delete,
        name="mechanism-action-delete",
    ),
]
