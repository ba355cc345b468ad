"""Each demo user signs in through the real login form and sees the navigation of their role."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.browser.conftest import sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

EVERYONE = [
    "Home",
    "Scorecard",
    "Leads",
    "Deals",
    "Accounts",
    "Currencies",
    "Reconciliation",
    "Mechanisms",
    "My actions",
    "Disputes",
]


@pytest.mark.parametrize(
    ("username", "role_badge", "nav"),
    [
        ("exec", "Executive", EVERYONE),
        ("ops", "Ops staff", [*EVERYONE, "Imports", "Audit", "Admin"]),
        ("sales", "Sales lead", EVERYONE),
        ("marketing", "Marketing lead", EVERYONE),
    ],
)
def test_demo_user_signs_in_and_sees_their_navigation(
    live_server, page, screenshot, username, role_badge, nav
):
    call_command("seed_demo", scale=0.02, today=date(2026, 11, 24), stdout=io.StringIO())

    page.goto(live_server.url + "/records/leads/")
    # Anonymous: sent to the login page, nothing else on show.
    assert "/accounts/login/" in page.url
    assert page.locator("nav.nav a").count() == 0

    sign_in(page, live_server.url, username, "revops-demo")
    assert page.locator("nav.nav a").all_inner_texts() == nav
    assert page.locator(".role-badge").inner_text() == role_badge
    assert page.locator(".tile-value").first.inner_text() == "400"  # 0.02 × 20,000 leads
    screenshot(page, f"home-{username}")

    page.click("text=Leads")
    expect(page.locator("table.table tbody tr")).to_have_count(50)
    if "Admin" in nav:
        page.click("nav.nav >> text=Admin")
        assert page.locator("#site-name").inner_text().startswith("RevOps")
        page.go_back()

    page.click("text=Sign out")
    assert "/accounts/login/" in page.url
