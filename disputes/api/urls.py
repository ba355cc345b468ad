"""The disputes API under /api/v1/disputes/."""

from django.urls import path

from disputes.api import views

urlpatterns = [
    path("", views.DisputeListCreate.as_view(), name="dispute-list"),
    path("settings/", views.DisputeSettingsView.as_view(), name="dispute-settings"),
    path("<int:pk>/", views.DisputeDetail.as_view(), name="dispute-detail"),
    path("<int:pk>/comments/", views.CommentListCreate.as_view(), name="dispute-comments"),
    path("<int:pk>/transitions/", views.TransitionList.as_view(), name="dispute-transitions"),
    path("<int:pk>/review/", views.DisputeReview.as_view(), name="dispute-review"),
    path("<int:pk>/assign/", views.DisputeAssign.as_view(), name="dispute-assign"),
    path("<int:pk>/accept/", views.DisputeAccept.as_view(), name="dispute-accept"),
    path("<int:pk>/reject/", views.DisputeReject.as_view(), name="dispute-reject"),
    path("<int:pk>/withdraw/", views.DisputeWithdraw.as_view(), name="dispute-withdraw"),
]
