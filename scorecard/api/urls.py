"""The scorecard API under /api/v1/scorecard/. Views are exempt from the login redirect: the API
answers anonymous calls itself, with 403 JSON."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path

from scorecard.api import views

metric_list = views.MetricViewSet.as_view({"get": "list"})
metric_detail = views.MetricViewSet.as_view({"get": "retrieve"})
definition_list = views.MetricDefinitionViewSet.as_view({"get": "list"})
value_list = views.WeeklyValueViewSet.as_view({"get": "list"})

urlpatterns = [
    path("metrics/", login_not_required(metric_list), name="scorecard-metric-list"),
    path("metrics/<slug:key>/", login_not_required(metric_detail), name="scorecard-metric-detail"),
    path("definitions/", login_not_required(definition_list), name="scorecard-definition-list"),
    path("values/", login_not_required(value_list), name="scorecard-value-list"),
    path(
        "weeks/<str:week>/",
        login_not_required(views.WeekView.as_view()),
        name="scorecard-week",
    ),
    path(
        "weeks/<str:week>/publish/",
        login_not_required(views.WeekPublishView.as_view()),
        name="scorecard-week-publish",
    ),
    path(
        "weeks/<str:week>/restatement/",
        login_not_required(views.WeekRestatementView.as_view()),
        name="scorecard-week-restatement",
    ),
]
