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
    page.select_option("#id_field", label="Created")
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


def test_accept_with_a_bad_correction_keeps_what_ops_typed(live_server, page, make_user):
    standard_metrics.create_catalog(django_apps, None)
    from disputes.services import disputes as services

    week = IsoWeek.last_completed()
    crm = SourceSystemFactory(slug="salesforce", name="Salesforce", role=SystemRole.SALES)
    SourceLeadFactory(system=crm, email="lead0@acme.com", created_at=week.start)
    golden_resolve()
    sam = make_user(Role.SALES_LEAD, "sam")
    olga = make_user(Role.OPS, "olga")
    subject = services.subject_metric(metric_key="leads_created", week_label=week.label)
    dispute = services.dispute_file(by=sam, subject=subject, claimed_value="0", explanation="x")
    services.dispute_review(dispute=dispute, by=olga)

    sign_in(page, live_server.url, "olga", PASSWORD)
    page.goto(f"{live_server.url}/disputes/{dispute.pk}/")
    page.fill("#id_resolution", "lead0 is a test lead: moved out of the week.")
    page.select_option("#id_kind", "override")
    page.select_option("#id_field", label="Created")
    page.fill("#id_record_key", "nobody@acme.com")
    page.fill("#id_value", "2020-01-06T09:00:00")
    page.click("button:has-text('Accept')")

    expect(page.locator(".messages")).to_contain_text("There is no lead nobody@acme.com")
    expect(page.locator("#id_resolution")).to_have_value(
        "lead0 is a test lead: moved out of the week."
    )
    expect(page.locator("#id_kind")).to_have_value("override")
    expect(page.locator("#id_field")).to_have_value("lead.created_at")
    expect(page.locator("#id_record_key")).to_have_value("nobody@acme.com")
    expect(page.locator("#id_value")).to_have_value("2020-01-06T09:00:00")
    assert page.locator(".dp-summary .dp-status").inner_text() == "In review"
    shot(page, "accept-error")
