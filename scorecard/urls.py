from django.urls import path, register_converter

from scorecard import views
from scorecard.converters import IsoWeekConverter

register_converter(IsoWeekConverter, "isoweek")

app_name = "scorecard"

urlpatterns = [
    path("", views.scorecard_latest, name="latest"),
    path("metrics/", views.metric_catalog, name="metric-catalog"),
    path("metrics/new/", views.metric_new, name="metric-new"),
    path("metrics/quotas/import/", views.metric_quotas_import, name="metric-quotas-import"),
    path("metrics/<slug:key>/", views.metric_detail, name="metric-detail"),
    path("metrics/<slug:key>/edit/", views.metric_edit, name="metric-edit"),
    path("metrics/<slug:key>/targets/", views.metric_target_add, name="metric-target-add"),
    path(
        "metrics/<slug:key>/targets/<int:target_id>/delete/",
        views.metric_target_delete,
        name="metric-target-delete",
    ),
    path("metrics/<slug:key>/series/", views.metric_series_import, name="metric-series-import"),
    path("restatements/", views.restatement_list, name="restatements"),
    path("<isoweek:week>/", views.scorecard_week, name="week"),
    path("<isoweek:week>/print/", views.scorecard_print, name="week-print"),
    path("<isoweek:week>/publish/", views.scorecard_publish, name="week-publish"),
    path("<isoweek:week>/<slug:key>/", views.metric_week, name="metric-week"),
    path(
        "<isoweek:week>/<slug:key>/commentary/",
        views.metric_week_commentary,
        name="metric-week-commentary",
    ),
    path("<isoweek:week>/<slug:key>/records/", views.metric_records, name="metric-records"),
]
