from django.urls import path

from pipeline import sync_views, views

app_name = "pipeline"

urlpatterns = [
    path("systems/", views.system_list, name="system-list"),
    path("systems/<slug:slug>/edit/", views.system_edit, name="system-edit"),
    path("systems/placeholders/", views.placeholder_list, name="placeholder-list"),
    path(
        "systems/placeholders/<int:pk>/delete/",
        views.placeholder_delete,
        name="placeholder-delete",
    ),
    path("systems/<slug:slug>/retire/", views.system_retire_view, name="system-retire"),
    path("systems/<slug:slug>/connection/", sync_views.connection_detail, name="connection"),
    path(
        "systems/<slug:slug>/connection/save/",
        sync_views.connection_save,
        name="connection-save",
    ),
    path(
        "systems/<slug:slug>/connection/test/",
        sync_views.connection_test,
        name="connection-test",
    ),
    path(
        "systems/<slug:slug>/connection/sync/",
        sync_views.connection_sync,
        name="connection-sync",
    ),
    path(
        "systems/<slug:slug>/connection/remove/",
        sync_views.connection_remove,
        name="connection-remove",
    ),
    path("leads/", views.lead_list, name="lead-list"),
    path("leads/<int:pk>/", views.lead_detail, name="lead-detail"),
    path("deals/", views.deal_list, name="deal-list"),
    path("deals/<int:pk>/", views.deal_detail, name="deal-detail"),
    path("accounts/", views.account_list, name="account-list"),
    path("accounts/<int:pk>/", views.account_detail, name="account-detail"),
    path("authority/", views.authority, name="authority"),
    path("currencies/", views.exchange_rate_list, name="exchange-rate-list"),
    path("currencies/import/", views.exchange_rate_import, name="exchange-rate-import"),
    path(
        "currencies/<int:pk>/delete/",
        views.exchange_rate_delete_view,
        name="exchange-rate-delete",
    ),
    path("owners/", views.owner_list, name="owner-list"),
    path("owners/import/", views.owner_import, name="owner-import"),
    path("regions/", views.region_list, name="region-list"),
    path("regions/<int:pk>/edit/", views.region_edit, name="region-edit"),
    path("regions/<int:pk>/delete/", views.region_delete_view, name="region-delete"),
    path("imports/", views.import_list, name="import-list"),
    path("imports/new/", views.import_new, name="import-new"),
    path("imports/<int:pk>/", views.import_detail, name="import-detail"),
    path("imports/<int:pk>/mapping/", views.import_mapping, name="import-mapping"),
    path("imports/<int:pk>/values/", views.import_values, name="import-values"),
    path("imports/<int:pk>/status/", views.import_status, name="import-status"),
    path("imports/<int:pk>/confirm/", views.import_confirm, name="import-confirm"),
    path("imports/<int:pk>/retry/", views.import_retry, name="import-retry"),
    path("imports/<int:pk>/problems.csv", views.import_errors_csv, name="import-errors"),
    path("imports/<int:pk>/held.csv", views.import_held_csv, name="import-held"),
    path("systems/<slug:slug>/quality/", views.system_quality, name="system-quality"),
    path("reconciliation/", views.reconciliation_run_list, name="reconciliation-run-list"),
    path("reconciliation/start/", views.reconciliation_run_start, name="reconciliation-run-start"),
    path(
        "reconciliation/runs/<int:run_id>/",
        views.reconciliation_run_detail,
        name="reconciliation-run-detail",
    ),
    path(
        "reconciliation/runs/<int:run_id>/bridges.csv",
        views.reconciliation_run_export,
        name="reconciliation-run-export",
    ),
    path("reconciliation/bridge/", views.reconciliation_bridge, name="reconciliation-bridge"),
    path(
        "reconciliation/discrepancies/",
        views.reconciliation_discrepancy_list,
        name="reconciliation-discrepancy-list",
    ),
    path(
        "reconciliation/discrepancies.csv",
        views.reconciliation_discrepancy_export,
        name="reconciliation-discrepancy-export",
    ),
    path(
        "reconciliation/discrepancies/<int:discrepancy_id>/",
        views.reconciliation_discrepancy_detail,
        name="reconciliation-discrepancy-detail",
    ),
    path(
        "reconciliation/schedule/",
        views.reconciliation_schedule,
        name="reconciliation-schedule",
    ),
]
