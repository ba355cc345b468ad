"""A sales lead disputes a number on the scorecard; ops accept it with a correction; the number
and its mark change. Screenshots of the filing form, the timeline and the disputed mark go to
/tmp/disputes-*.png for a person to look at."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from playwright.sync_api import expect

from pipeline.choices import SystemRole
from pipeline.services.identity import golden_resolve
from revops.permissions import Role
from revops.weeks import IsoWeek
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.factories import SourceLeadFactory, SourceSystemFactory

standard_metrics = importlib.import_module("scorecard.migrations.0002_standard_metrics")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def shot(page, name: str) -> None:
    page.screenshot(path=f"/tmp/disputes-{name}.png", full_page=True)


def test_sales_lead_disputes_a_number_and_ops_accept_it(live_server, page, make_user):
    # An earlier transactional test may have flushed the catalog its migration made.
    standard_metrics.create_catalog(django_apps, None)
    week = IsoWeek.last_completed()
    crm = SourceSystemFactory(slug="salesforce", name="Salesforce", role=SystemRole.SALES)
    for i in range(3):
        SourceLeadFactory(
            system=crm, email=f"lead{i}@acme.com", created_at=week.start + timedelta(hours=10)
        )
    golden_resolve()
    make_user(Role.SALES_LEAD, "sam", first_name="Sam", last_name="Hale")
    make_user(Role.OPS, "olga", first_name="Olga", last_name="Ruiz")
    row = '[data-metric="leads_created"]'

    sign_in(page, live_server.url, "sam", PASSWORD)
    page.goto(f"{live_server.url}/scorecard/{week.label}/")
    assert page.locator(f"{row} .sc-value").first.inner_text() == "3"
    page.locator(f"{row} a.sc-name").first.click()
    page.click("text=Dispute this number")
    page.fill("#id_claimed_value", "2")
    page.fill("#id_explanation", "lead2@acme.com is a test lead created by the web team.")
    shot(page, "form")
    page.click("button:has-text('File dispute')")
    assert "Dispute #" in page.locator(".messages").inner_text()
    dispute_url = page.url

    page.goto(f"{live_server.url}/scorecard/{week.label}/")
    mark = page.locator(f"{row} .trust-disputed").first
    assert mark.inner_text() == "Disputed"
    assert mark.get_attribute("href") in dispute_url
    shot(page, "scorecard-mark")

    page.click("button:has-text('Sign out')")
    sign_in(page, live_server.url, "olga", PASSWORD)
    page.goto(dispute_url)
    page.click("button:has-text('Take into review')")
    page.fill("#id_resolution", "lead2 is a test lead: moved out of the week by hand.")
    page.select_option("#id_kind", "override")
    page.select_option("#id_object_type", "lead")
    page.fill("#id_field", "created_at")
    page.fill("#id_record_key", "lead2@acme.com")
    page.fill("#id_value", "2020-01-06T09:00:00")
    page.click("button:has-text('Accept')")
    assert page.locator(".dp-summary .dp-status").inner_text() == "Accepted"
    expect(page.locator(".dp-step-item")).to_have_count(4)
    shot(page, "timeline")

    page.goto(f"{live_server.url}/scorecard/{week.label}/")
    assert page.locator(f"{row} .sc-value").first.inner_text() == "2"
    assert page.locator(f"{row} .trust-disputed").count() == 0
    shot(page, "scorecard-after")
