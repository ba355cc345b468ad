"""People read reconciliation in a real browser: an executive opens a run, its waterfall and a
discrepancy's two records; ops staff start a run and move the schedule."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from pipeline.models import Discrepancy, ReconciliationRun
from tests.browser.conftest import sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def demo_reconciled():
    call_command("seed_demo", scale=0.02, today=timezone.localdate(), stdout=io.StringIO())
    call_command("reconcile", stdout=io.StringIO())
    return ReconciliationRun.objects.get()


def test_an_executive_opens_a_run_its_bridge_and_a_discrepancy(
    live_server, page, screenshot, demo_reconciled
):
    run = demo_reconciled
    sign_in(page, live_server.url, "exec", "revops-demo")
    page.click("nav.nav >> text=Reconciliation")
    assert page.locator("h1").inner_text() == "Reconciliation"
    assert page.locator("text=Start a run").count() == 0  # executives read only
    screenshot(page, "reconciliation-runs-exec")

    page.click("[data-testid=current-run]")
    assert page.locator("h1").inner_text().startswith(f"Run #{run.pk}")
    missing = page.locator("[data-testid=counts-lead] .tile").first
    assert missing.locator(".tile-label").inner_text().lower() == "missing in salesforce"
    assert missing.locator(".tile-value").inner_text() == str(run.counts["lead.missing_in_sales"])
    # The waterfall: marketing's value, each step, unexplained, sales' value.
    steps = page.locator("[data-testid=bridge-steps] tbody tr").count()
    page.wait_for_selector("#waterfall .waterfalllayer .point", state="attached")
    assert page.locator("#waterfall .waterfalllayer .point").count() == steps
    screenshot(page, "reconciliation-run-detail")

    with page.expect_navigation():  # choosing a metric reloads the bridge
        page.select_option("#bridge-metric", "leads_created")
    assert "Leads created in HubSpot" in page.locator("[data-testid=bridge-sentence]").inner_text()
    sentence = page.locator("[data-testid=bridge-sentence]").inner_text()
    assert "= " in sentence

    page.goto(f"{live_server.url}/records/reconciliation/discrepancies/?kind=mismatch&field=owner")
    rows = page.locator("[data-testid=discrepancies] tbody tr")
    assert rows.count() == Discrepancy.objects.filter(field="owner").count() > 0
    screenshot(page, "reconciliation-discrepancies")
    rows.first.locator("a").first.click()
    owner = page.locator("tr.diff-focus[data-field=owner] td")
    hubspot, salesforce = owner.nth(0).inner_text(), owner.nth(1).inner_text()
    assert hubspot != salesforce
    assert page.locator("tr.diff").count() >= 1
    screenshot(page, "reconciliation-discrepancy-detail")


def test_ops_start_a_run_and_move_the_schedule(live_server, page, screenshot, demo_reconciled):
    sign_in(page, live_server.url, "ops", "revops-demo")
    page.goto(f"{live_server.url}/records/reconciliation/")
    page.fill("#id_weeks", "13")
    page.click("text=Start a run")
    page.wait_for_load_state("networkidle")
    latest = ReconciliationRun.objects.latest("id")
    assert (latest.status, latest.weeks, latest.started_by.username) == ("completed", 13, "ops")
    assert f"Run #{latest.pk} completed." in page.locator(".messages").inner_text()
    expect(page.locator(".chip-current")).to_have_count(1)

    page.goto(f"{live_server.url}/records/reconciliation/schedule/")
    screenshot(page, "reconciliation-schedule")
    page.fill("#id_at", "04:15")
    page.uncheck("input[name=days][value='6']")
    page.uncheck("input[name=days][value='7']")
    page.click("text=Save schedule")
    page.wait_for_load_state("networkidle")
    assert "Schedule saved." in page.locator(".messages").inner_text()
    assert "5 days a week at 04:15" in page.locator("[data-testid=schedule]").inner_text()
    screenshot(page, "reconciliation-runs-ops")
