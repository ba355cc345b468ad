"""Each demo user signs in through the real login form and sees the navigation of their role."""

from __future__ import annotations

import io
import re
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
    "Owners",
    "Regions",
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
    # Each lands on their own home: ops on the records as they are (0.02 × 20,000 leads), the
    # executive on the scorecard's week, the leads on their disputes and actions.
    if username == "ops":
        expect(page.locator(".tile-value").first).to_have_text("400")
    elif username == "exec":
        expect(page.get_by_test_id("executive-week")).to_be_visible()
        expect(page.locator(".tile-value")).to_have_count(0)
    else:
        expect(page.get_by_test_id("my-disputes")).to_be_visible()
        expect(page.locator(".tile-value")).to_have_count(0)
    screenshot(page, f"home-{username}")

    page.click("text=Leads")
    expect(page.locator("table.table tbody tr")).to_have_count(50)
    if "Admin" in nav:
        page.click("nav.nav >> text=Admin")
        assert page.locator("#site-name").inner_text().startswith("RevOps")
        page.go_back()

    page.click("text=Sign out")
    assert "/accounts/login/" in page.url


def test_phone_navigation_shows_that_more_items_exist_and_focus_is_visible(
    live_server, browser, make_user, screenshot
):
    from revops.permissions import Role
    from tests.conftest import PASSWORD

    make_user(Role.OPS, "olga")
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, live_server.url, "olga", PASSWORD)
        page.goto(live_server.url + "/disputes/")
        wrap = page.locator(".nav-wrap")
        nav = page.locator("nav.nav")
        # Thirteen items do not fit in 390 px: the bar says more are to the right.
        assert nav.evaluate("n => n.scrollWidth > n.clientWidth")
        expect(wrap).to_have_class(re.compile(r"nav-has-right"))
        expect(page.locator(".nav-more-right")).to_be_visible()
        screenshot(page, "phone-nav")
        # Scrolled to the end, the arrow moves to the left.
        nav.evaluate("n => { n.scrollLeft = n.scrollWidth; }")
        expect(wrap).not_to_have_class(re.compile(r"nav-has-right"))
        expect(wrap).to_have_class(re.compile(r"nav-has-left"))
        expect(page.locator(".nav-more-left")).to_be_visible()

        # Tab to the brand link: its focus ring is light on the dark bar.
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const s = getComputedStyle(document.activeElement);"
            " return [document.activeElement.className, s.outlineStyle, s.outlineColor]; }"
        )
        assert focused == ["brand", "solid", "rgb(255, 255, 255)"]
    finally:
        context.close()
