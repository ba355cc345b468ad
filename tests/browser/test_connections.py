"""Ops connect HubSpot in a real browser, against a local fake of its API: save the token,
test the connection, sync now and read what the sync did."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from pipeline.models import ImportBatch, Lead
from pipeline.services.systems import system_add
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_ops_connect_hubspot_test_it_and_sync(live_server, page, screenshot, make_user, hubspot):
    from revops.permissions import Role

    hubspot.demo_portal()
    make_user(Role.OPS, "ops")
    system_add(by=None, name="HubSpot", role="marketing", vendor="hubspot")
    sign_in(page, live_server.url, "ops", PASSWORD)
    page.goto(f"{live_server.url}/records/systems/")
    page.click("[data-testid=connection-link]")
    expect(page.locator("h1")).to_have_text("HubSpot's API connection")

    page.fill("#id_url", hubspot.base)
    page.fill("#id_token", "pat-na1-test")
    page.click("text=Save connection")
    expect(page.locator("[data-testid=connection-status]")).to_have_count(1)
    assert "pat-na1-test" not in page.content()
    page.click("text=Test connection")
    expect(page.locator("[data-testid=test-result]")).to_contain_text("Connected to HubSpot")

    page.click("button:has-text('Sync now')")
    run = page.locator("[data-testid=sync-run]")
    expect(run).to_have_count(1)
    expect(run).to_contain_text("Succeeded")
    expect(run).to_contain_text("20 pulled")
    screenshot(page, "connection-hubspot-synced")
    assert Lead.objects.count() == 20

    batch = ImportBatch.objects.get(object_type="lead", sync_run__isnull=False)
    page.click(f"[data-testid=sync-run] >> text=batch #{batch.pk}")
    expect(page.locator("h1")).to_contain_text(f"#{batch.pk}")
    expect(page.locator("[data-testid=from-sync]")).to_contain_text("HubSpot's API by sync #")
