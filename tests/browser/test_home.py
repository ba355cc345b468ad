"""Each role's home in Chromium: the executive's week, a team lead's metrics, disputes and
actions, ops' work queue; on a laptop and on a phone."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from playwright.sync_api import expect

from revops.weeks import IsoWeek
from tests.browser.conftest import sign_in
from tests.demo_data import seed_small_demo

standard_metrics = importlib.import_module("scorecard.migrations.0002_standard_metrics")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def demo():
    standard_metrics.create_catalog(django_apps, None)
    seed_small_demo()


def test_each_role_lands_on_its_own_week(live_server, browser, screenshot, demo):
    week = IsoWeek.last_completed()
    for width, height in ((1440, 900), (390, 844)):
        for username in ("exec", "sales", "marketing", "ops"):
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.set_default_timeout(15_000)
            sign_in(page, live_server.url, username, "revops-demo")
            assert page.url == f"{live_server.url}/"
            if username == "exec":
                part = page.get_by_test_id("executive-week")
                expect(part.locator(".sc-tile")).to_have_count(4)
                expect(part.locator(".sc-tile svg.spark")).to_have_count(4)
                expect(part.locator("h2")).to_contain_text(f"Scorecard {week.label}")
                expect(page.get_by_text("ARR today")).to_have_count(0)
            elif username in ("sales", "marketing"):
                team = page.get_by_test_id("team-metrics")
                expect(team.locator("h2")).to_contain_text(
                    "Sales" if username == "sales" else "Marketing"
                )
                expect(team.locator(".sc-row").first).to_be_visible()
                expect(page.get_by_test_id("my-disputes")).to_be_visible()
                expect(page.get_by_test_id("my-actions")).to_be_visible()
                expect(page.get_by_test_id("work-queue")).to_have_count(0)
            else:
                queue = page.get_by_test_id("work-queue")
                expect(queue.locator("[data-part=disputes-to-triage] li")).to_have_count(1)
                expect(queue.locator("[data-part=inspections-due] li").first).to_be_visible()
                expect(page.get_by_test_id("executive-week")).to_have_count(0)
            # Nothing wider than the screen.
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            screenshot(page, f"home-{username}-{width}x{height}")
            if username == "ops" and width == 1440:
                # A queue item opens the thing to do.
                queue.locator("[data-part=disputes-to-triage] a").first.click()
                expect(page.locator("h1")).to_contain_text("MQLs")
            context.close()
