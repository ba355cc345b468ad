"""An executive reads the owner's commentary beside a red number; late data leaves the week's
restatement pending; an ops user previews it on the week and confirms it with a reason.
Screenshots go to var/screenshots/restatement-*.png for a person to look at."""

from __future__ import annotations

import importlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps as django_apps

from revops.permissions import Role
from revops.weeks import IsoWeek
from scorecard.models import Metric, SnapshotValue
from scorecard.services.catalog import target_set
from scorecard.services.commentary import commentary_set
from scorecard.services.snapshots import restatements_check, snapshot_publish
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.factories import LeadFactory

standard_metrics = importlib.import_module("scorecard.migrations.0002_standard_metrics")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_commentary_on_a_red_number_and_a_previewed_restatement(
    live_server, page, make_user, screenshot
):
    standard_metrics.create_catalog(django_apps, None)
    week = IsoWeek.last_completed()
    owner = make_user(Role.MARKETING_LEAD, "mia", first_name="Mia", email="mia@example.com")
    make_user(Role.EXECUTIVE, "eve")
    make_user(Role.OPS, "olga")
    leads = Metric.objects.get(key="leads_created")
    leads.owner = owner
    leads.save(update_fields=["owner"])
    target_set(metric=leads, by=None, starts_on=week.monday - timedelta(days=70), value=Decimal(10))
    for hours in (10, 30):
        LeadFactory(created_at=week.start + timedelta(hours=hours))
    commentary_set(
        metric=leads,
        week=week,
        by=owner,
        body="Webinar moved to next week; **two** campaigns added.",
    )
    snapshot_publish(week=week, by=None, send_digest=False)
    row = '[data-metric="leads_created"]'

    sign_in(page, live_server.url, "eve", PASSWORD)
    page.goto(f"{live_server.url}/scorecard/{week.label}/")
    assert page.locator(f"{row} .rag").first.inner_text() == "Off target"
    words = page.locator(f"{row} [data-testid=commentary]").first
    assert words.inner_text() == "Webinar moved to next week; two campaigns added."
    assert words.locator("strong").inner_text() == "two"
    screenshot(page, "restatement-commentary")

    LeadFactory(created_at=week.start + timedelta(hours=50))  # arrives late
    restatements_check()
    page.reload()
    assert (
        "Restatement pending: 1 value"
        in page.locator("[data-testid=restatement-pending]").inner_text()
    )
    assert page.locator(f"{row} .sc-value").first.inner_text() == "2"  # still the frozen number

    page.click("button:has-text('Sign out')")
    sign_in(page, live_server.url, "olga", PASSWORD)
    page.goto(f"{live_server.url}/scorecard/{week.label}/")
    page.click("summary:has-text('Republish')")
    preview = page.locator("[data-testid=republish-preview]")
    assert preview.locator('tr[data-metric="leads_created"] td').first.inner_text() == "2 → 3"
    screenshot(page, "restatement-preview")
    page.fill("#id_reason", "Late Salesforce sync")
    page.click("button:has-text('Republish this change')")
    assert "Republished" in page.locator(".messages").inner_text()
    assert page.locator(f"{row} .sc-value").first.inner_text() == "3"
    assert page.locator("[data-testid=restatement-pending]").count() == 0
    page.click("summary:has-text('Revision history')")
    assert "Late Salesforce sync" in page.locator(".sc-revisions").inner_text()
    screenshot(page, "restatement-done")
    assert SnapshotValue.objects.get(week_start=week.monday, metric=leads).value == 3
