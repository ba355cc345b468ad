"""The audit API under /api/v1/audit/."""

from django.urls import path

from audit.api import views

urlpatterns = [
    path("", views.AuditEventList.as_view(), name="audit-event-list"),
]
