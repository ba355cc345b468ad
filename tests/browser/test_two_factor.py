"""Two-factor sign-in in a real browser: set up from the profile, then asked for on sign-in."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.revops.test_two_factor import code

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_user_turns_on_two_factor_and_is_asked_for_a_code_next_time(
    live_server, page, screenshot, make_user
):
    make_user(None, username="erin", first_name="Erin")
    sign_in(page, live_server.url, "erin", PASSWORD)
    page.click("a.user-name")
    page.click("text=Set up two-factor sign-in")
    assert page.locator(".qr img").evaluate("img => img.naturalWidth") > 100  # the QR drew
    screenshot(page, "two-factor-setup")
    secret = page.locator("#two-factor-secret").inner_text()
    page.fill("#id_code", code(secret))
    page.click("text=Turn on")
    expect(page.locator("#backup-codes li")).to_have_count(10)
    page.click("text=I have saved them, continue")
    page.click("text=Sign out")

    sign_in(page, live_server.url, "erin", PASSWORD)
    assert "/accounts/two-factor/" in page.url
    assert page.locator("h1").inner_text() == "Enter your code"
    screenshot(page, "two-factor-verify")
    page.fill("#id_code", code(secret, 1))
    page.click("button:text('Verify')")
    assert page.locator("a.user-name").inner_text() == "Erin"
    assert "/accounts/two-factor/" not in page.url
