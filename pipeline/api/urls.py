from django.urls import path
from rest_framework.routers import SimpleRouter

from pipeline.api import records, views

router = SimpleRouter()
router.register("leads", records.LeadViewSet, basename="lead")
router.register("accounts", records.AccountViewSet, basename="account")
router.register("deals", records.DealViewSet, basename="deal")
router.register("arr-changes", records.ArrChangeViewSet, basename="arr-change")
router.register("source/leads", records.SourceLeadViewSet, basename="source-lead")
router.register("source/accounts", records.SourceAccountViewSet, basename="source-account")
router.register("source/deals", records.SourceDealViewSet, basename="source-deal")
router.register("source/arr-changes", records.SourceArrChangeViewSet, basename="source-arr-change")
router.register("systems", records.SourceSystemViewSet, basename="system")
router.register("field-authority", records.FieldAuthorityViewSet, basename="field-authority")
router.register("reconciliation/runs", views.RunViewSet, basename="reconciliation-run")
router.register(
    "reconciliation/discrepancies", views.DiscrepancyViewSet, basename="reconciliation-discrepancy"
)
router.register("reconciliation/bridges", views.BridgeViewSet, basename="reconciliation-bridge")

urlpatterns = [
    path("imports/", views.ImportListCreate.as_view(), name="import-list"),
    path("imports/<int:pk>/", views.ImportDetail.as_view(), name="import-detail"),
    path("imports/<int:pk>/confirm/", views.ImportConfirm.as_view(), name="import-confirm"),
    path("imports/<int:pk>/retry/", views.ImportRetry.as_view(), name="import-retry"),
    path("imports/<int:pk>/errors/", views.ImportErrors.as_view(), name="import-errors"),
    path("presets/", views.PresetList.as_view(), name="preset-list"),
    path(
        "placeholder-emails/",
        views.PlaceholderEmailListCreate.as_view(),
        name="placeholder-email-list",
    ),
    path(
        "placeholder-emails/<int:pk>/",
        views.PlaceholderEmailDetail.as_view(),
        name="placeholder-email-detail",
    ),
    path("exchange-rates/", views.ExchangeRateListCreate.as_view(), name="exchange-rate-list"),
    path(
        "exchange-rates/<int:pk>/", views.ExchangeRateDetail.as_view(), name="exchange-rate-detail"
    ),
    path(
        "reconciliation/runs/start/",
        views.RunStartView.as_view(),
        name="reconciliation-run-start",
    ),
    *router.urls,
]
