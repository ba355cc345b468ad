from django.urls import path

from disputes import views

app_name = "disputes"

urlpatterns = [
    path("", views.dispute_list, name="dispute-list"),
    path("new/", views.dispute_new, name="dispute-new"),
    path("settings/", views.dispute_settings, name="dispute-settings"),
    path("<int:pk>/", views.dispute_detail, name="dispute-detail"),
    path("<int:pk>/attachment/", views.dispute_attachment, name="dispute-attachment"),
    path("<int:pk>/comment/", views.dispute_comment, name="dispute-comment"),
    path("<int:pk>/review/", views.dispute_review, name="dispute-review"),
    path("<int:pk>/assign/", views.dispute_assign, name="dispute-assign"),
    path("<int:pk>/accept/", views.dispute_accept, name="dispute-accept"),
    path("<int:pk>/reject/", views.dispute_reject, name="dispute-reject"),
    path("<int:pk>/withdraw/", views.dispute_withdraw, name="dispute-withdraw"),
]
