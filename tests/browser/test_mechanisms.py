"""Ops staff write, link, inspect, compare and restore a mechanism in the browser; an executive
reads it and finds nothing to edit; two editors at once do not overwrite each other."""

from __future__ import annotations

import importlib
import io

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from playwright.sync_api import expect

from demo.mechanisms import mechanisms_demo_ensure
from mechanisms.models import Mechanism
from tests.browser.conftest import sign_in

standard_metrics = importlib.import_module("scorecard.migrations.0002_standard_metrics")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def demo():
    # A transactional test before this one flushed what migrations created: seed the catalog
    # again as its migration does, then the demo's records, users and mechanisms.
    standard_metrics.create_catalog(django_apps, None)
    call_command("seed_demo", scale=0.02, stdout=io.StringIO())
    mechanisms_demo_ensure()


def accept_dialogs(page) -> None:
    page.on("dialog", lambda dialog: dialog.accept())


def test_ops_create_edit_link_inspect_compare_and_restore_a_mechanism(
    live_server, page, screenshot, demo
):
    accept_dialogs(page)
    sign_in(page, live_server.url, "ops", "revops-demo")
    page.click("nav.nav >> text=Mechanisms")
    assert page.locator("h1").inner_text() == "Mechanisms"
    expect(page.locator("table.mx-list tbody tr")).to_have_count(5)
    page.click("text=New mechanism")

    # Write: the preview shows the Markdown as readers will see it, with the script as text.
    page.fill("#id_name", "Partner referral intake")
    page.fill("#id_summary", "Referrals from partners become leads the same day.")
    page.select_option("#id_status", "active")
    page.select_option("#id_cadence", "monthly")
    page.fill(
        "#id_challenge",
        "Partners send **referrals** by email and some are lost.\n\n- who benefits: sales\n"
        "\n<script>window.pwned = 1</script>",
    )
    preview = page.locator('[data-preview-for="id_challenge"]')
    preview.locator("strong").wait_for()
    assert preview.locator("strong").inner_text() == "referrals"
    assert preview.locator("li").inner_text() == "who benefits: sales"
    assert "<script>window.pwned = 1</script>" in preview.inner_text()  # shown, not run
    assert preview.locator("script").count() == 0
    page.fill("#id_tool", "A referral form on the partner portal.")
    page.fill("#id_sla_statement", "At least 150 new leads a week")
    page.select_option("#id_sla_metric", "leads_created")
    page.fill("#id_sla_target", "150")
    page.fill("#id_sla_due_on", "2026-12-31")
    page.fill("#id_tenets", "A referral is a promise to a partner.")
    page.click("text=Create mechanism")
    assert page.locator("h1").inner_text() == "Partner referral intake"
    assert "is saved as version 1" in page.locator(".messages").inner_text()
    assert page.evaluate("window.pwned") is None
    assert page.locator(".mx-goal h3").inner_text() == "At least 150 new leads a week"
    # Direction left alone: more leads is better, as the metric says.
    assert "at or above 150" in page.locator(".mx-goal").inner_text()

    # Edit: a second version, with the preview drawn for every part already written.
    page.click("a.button.primary:has-text('Edit')")
    page.locator('[data-preview-for="id_tool"] p').wait_for()
    page.fill("#id_tool", "A referral form on the partner portal, posting to the intake flow.")
    page.locator('[data-preview-for="id_tool"] p:has-text("intake flow")').wait_for()
    screenshot(page, "mechanism-edit")
    page.click("text=Save version 2")
    assert "Saved Partner referral intake as version 2." in page.locator(".messages").inner_text()

    # Link: it feeds Lead Routing; a link to itself is refused with a reason.
    page.click("#links summary")
    page.select_option("#id_link-direction", "feeds")
    page.select_option("#id_link-other", "lead-routing")
    page.fill("#id_link-label", "referred leads")
    page.click("#links form.mx-form button[type=submit]")
    assert "Linked: Partner referral intake → Lead Routing." in page.inner_text(".messages")
    assert page.locator("#links .mx-links a").all_inner_texts() == ["Lead Routing"]
    page.click("#links summary")
    page.select_option("#id_link-other", "partner-referral-intake")
    page.click("#links form.mx-form button[type=submit]")
    assert "cannot be linked to itself" in page.inner_text(".messages")

    # Inspect: log what was found and changed; the next inspection moves a month on.
    page.click("#log summary")
    page.fill("#id_log-found", "Three referrals waited **a week** for a reply.")
    page.fill("#id_log-changed", "Referrals now create a lead directly.")
    page.click("text=Save to the log")
    assert "logged; the next one is due" in page.inner_text(".messages")
    expect(page.locator(".mx-log-entry")).to_have_count(1)
    assert page.locator(".mx-log-entry .mx-markdown strong").first.inner_text() == "a week"

    # An action, ticked off on the page.
    page.click("#actions summary")
    page.fill("#id_action-title", "Brief the partner team")
    page.select_option("#id_action-assignee", label="Omar Reyes")
    page.fill("#id_action-due_on", "2026-12-15")
    page.click("#actions form.mx-form button[type=submit]")
    action = page.locator(".mx-action", has_text="Brief the partner team")
    action.wait_for()
    # The box submits through static/js/app.js, a deferred script: let it run first.
    page.wait_for_load_state("load")
    with page.expect_navigation():  # ticking the box saves it: the page posts and reloads
        action.locator("input[type=checkbox]").check()
    done = page.locator(".mx-action.mx-done", has_text="Brief the partner team")
    done.wait_for()
    assert done.locator("input[type=checkbox]").is_checked()

    # Compare the two versions, then restore the first.
    page.click("text=History")
    expect(page.locator("table.mx-history tbody tr")).to_have_count(2)
    page.click("text=Compare the two versions")
    assert page.locator("h1").inner_text() == "Version 1 and version 2"
    tool = page.locator('tr[data-field="The seven parts: Tool"]')
    assert tool.locator("ins").all_inner_texts() == ["portal, posting to the intake flow."]
    assert tool.locator("del").all_inner_texts() == ["portal."]
    screenshot(page, "mechanism-compare")
    page.click("text=Restore version 1")
    assert "Restored version 1 as version 3." in page.inner_text(".messages")
    mechanism = Mechanism.objects.get(slug="partner-referral-intake")
    assert (mechanism.version, mechanism.tool) == (3, "A referral form on the partner portal.")

    # The map draws it feeding Lead Routing, with its status and goal health.
    page.click("text=Map")
    node = page.locator("#node-partner-referral-intake")
    assert node.get_attribute("data-status") == "active"
    assert node.locator("[data-goal=sla]").text_content().startswith("● SLA:")
    expect(page.locator("g.mx-edge")).to_have_count(6)  # the demo's five links and this one
    screenshot(page, "mechanism-map")


def test_an_executive_reads_a_mechanism_and_finds_nothing_to_edit(live_server, page, demo):
    sign_in(page, live_server.url, "exec", "revops-demo")
    page.click("nav.nav >> text=Mechanisms")
    page.click("text=Lead Routing")
    assert page.locator("h1").inner_text() == "Lead Routing"
    expect(page.locator(".mx-goal")).to_have_count(2)
    main = page.locator("main")
    for control in ("Edit", "Log an inspection", "Add an action", "Link a mechanism"):
        assert main.get_by_text(control, exact=True).count() == 0, control
    assert main.locator("form").count() == 0
    page.click("text=History")
    assert page.locator("text=Restore").count() == 0
    response = page.goto(live_server.url + "/mechanisms/lead-routing/edit/")
    assert response.status == 403
    page.goto(live_server.url + "/mechanisms/my-actions/")
    # The demo gives the CRO one action of their own.
    assert page.locator("table.mx-my-actions tbody td:nth-child(2)").all_inner_texts() == [
        "Agree Q3 targets for pipeline coverage"
    ]


def test_two_editors_at_once_the_second_is_told_and_loses_nothing(live_server, browser, demo):
    pages = []
    for _ in range(2):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        pages.append(context.new_page())
    first, second = pages
    for each in pages:
        sign_in(each, live_server.url, "ops", "revops-demo")
        each.goto(live_server.url + "/mechanisms/lead-capture/edit/")
    first.fill("#id_tool", "HubSpot forms, one intake workflow.")
    first.click("text=Save version 3")
    assert "as version 3" in first.inner_text(".messages")
    second.fill("#id_adoption", "Agencies use the standard form.")
    second.click("text=Save version 3")
    assert "Not saved: someone else saved first." in second.inner_text(".mx-conflict")
    assert second.input_value("#id_adoption") == "Agencies use the standard form."
    mechanism = Mechanism.objects.get(slug="lead-capture")
    assert (mechanism.version, mechanism.tool) == (3, "HubSpot forms, one intake workflow.")
    for each in pages:
        each.context.close()
