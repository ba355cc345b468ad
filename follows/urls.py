from django.urls import path

from follows import views

app_name = "follows"

urlpatterns = [
    path("", views.follow_settings, name="settings"),
    path("test/", views.test_message, name="test"),
    path("metric/<slug:key>/", views.follow_metric, name="metric"),
    path("dispute/<int:pk>/", views.follow_dispute, name="dispute"),
]
