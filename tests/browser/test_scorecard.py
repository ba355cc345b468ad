"""An executive signs in, reads the week's scorecard, opens a metric's records and its trend,
on a laptop and on a phone."""

from __future__ import annotations

import importlib
import io
import re

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from playwright.sync_api import expect

from revops.weeks import IsoWeek
from tests.browser.conftest import sign_in

standard_metrics = importlib.import_module("scorecard.migrations.0002_standard_metrics")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def demo():
    # A transactional test before this one flushed what migrations created (and serialized
    # rollback cannot restore it once Playwright's event loop runs): seed the catalog again,
    # as its migration does, with get_or_create.
    standard_metrics.create_catalog(django_apps, None)
    call_command("seed_demo", scale=0.05, stdout=io.StringIO())
    call_command("scorecard_demo", scale=0.05, weeks=14, stdout=io.StringIO())


def charts_drawn(page) -> None:
    # Locator waits, not wait_for_function: the page's CSP forbids the eval that would need.
    expect(page.locator("[data-chart]").first).to_be_attached()
    expect(page.locator("[data-chart]:not([data-drawn])")).to_have_count(0)


def box(page, selector: str) -> dict:
    """Where the first element matching `selector` sits in the viewport, read in one step."""
    return page.evaluate(
        "s => { const r = document.querySelector(s).getBoundingClientRect();"
        " return {y: r.y, bottom: r.bottom, width: r.width}; }",
        selector,
    )


def test_an_executive_reads_the_scorecard_then_a_metrics_records_and_trend(
    live_server, page, screenshot, demo
):
    week = IsoWeek.last_completed()
    sign_in(page, live_server.url, "exec", "revops-demo")
    page.click("nav.nav >> text=Scorecard")
    assert page.url.endswith(f"/scorecard/{week.label}/")
    assert page.locator("h1").inner_text() == f"Scorecard {week.label}"
    assert page.locator(".sc-state").inner_text() == "Published"
    tiles = page.locator(".sc-topline .sc-tile")
    assert tiles.locator(".sc-name").all_inner_texts() == [
        "ARR", "NEW BOOKINGS", "PIPELINE COVERAGE", "NET REVENUE RETENTION",
    ]  # fmt: skip
    assert page.locator(".sc-section h2").all_inner_texts() == [
        "MARKETING", "SALES", "CUSTOMER SUCCESS",
    ]  # fmt: skip
    # Every sparkline is drawn by the server as SVG: no chart script is loaded on this page.
    sparks = page.locator(".sc-spark svg.spark")
    expect(sparks).to_have_count(page.locator(".sc-spark").count())
    assert sparks.count() >= 19
    assert page.evaluate("typeof window.Plotly") == "undefined"
    # The top line reads on a laptop without scrolling.
    assert box(page, ".sc-topline .sc-tile:last-child")["bottom"] <= 900
    screenshot(page, "scorecard-1440x900")

    mqls = page.locator('.sc-row[data-metric="mqls"]')
    shown = int(mqls.locator(".sc-value").inner_text().replace(",", ""))
    mqls.locator(".sc-value").click()
    assert page.url.endswith(f"/scorecard/{week.label}/mqls/records/")
    assert page.locator("h1").inner_text().startswith(f"MQLs: {shown}")
    assert page.locator("table#records tbody tr:not(:has(td.empty))").count() == min(shown, 50)
    assert page.locator("text=Export CSV").get_attribute("href").endswith("format=csv")
    screenshot(page, "scorecard-records")

    page.click("text=Trend and definition")
    charts_drawn(page)
    assert page.locator("#metric-value").inner_text() == str(shown)
    expect(page.locator("text=Leads that became marketing-qualified in the week")).to_have_count(1)
    page.click("text=The numbers")
    expect(page.locator("#trend-table tbody tr")).to_have_count(13)
    page.click("text=52 weeks")
    charts_drawn(page)
    expect(page.locator("#trend-table tbody tr")).to_have_count(52)
    screenshot(page, "scorecard-metric-trend")


def test_the_scorecard_reads_on_a_phone(live_server, browser, screenshot, demo):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, live_server.url, "exec", "revops-demo")
    page.goto(f"{live_server.url}/scorecard/")
    expect(page.locator(".sc-spark svg.spark").first).to_be_visible()
    # Nothing wider than the screen: no sideways scrolling to read a number.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    first_tile = box(page, ".sc-topline .sc-tile")
    assert first_tile["y"] < 844  # the top line starts on the first screen
    assert first_tile["width"] < 200  # two tiles a row
    screenshot(page, "scorecard-390x844")
    page.goto(f"{live_server.url}/scorecard/{IsoWeek.last_completed().label}/print/")
    expect(page.locator("table.table")).to_have_count(4)  # company and the three teams
    context.close()


def test_a_metrics_records_open_their_record_and_read_on_a_phone(
    live_server, browser, screenshot, demo
):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, live_server.url, "exec", "revops-demo")
    week = IsoWeek.last_completed()
    # Open deals closing this quarter: enough rows at any demo date, each with an amount.
    page.goto(f"{live_server.url}/scorecard/{week.label}/pipeline_coverage/records/")
    rows = page.locator("table#records tbody tr:not(:has(td.empty))")
    expect(rows.first).to_be_visible()
    # Nothing wider than the screen, and every cell of a record, its amounts too, on it.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    cells = page.evaluate(
        "() => [...document.querySelectorAll('#records tbody tr:first-child td')].map(td => {"
        " const r = td.getBoundingClientRect();"
        " return {label: td.dataset.label, left: r.left, right: r.right,"
        " clipped: td.scrollWidth > td.clientWidth + 1}; })"
    )
    amounts = [c for c in cells if c["label"] in ("Amount", "Amount in USD")]
    assert len(amounts) == 2
    for cell in cells:
        assert cell["left"] >= 0, cell
        assert cell["right"] <= 390, cell
        assert not cell["clipped"], cell
    amount = rows.first.locator('td[data-label="Amount"]')
    expect(amount).to_have_text(re.compile(r"^(\$|[A-Z]{3} )[0-9,]+$"))
    expect(page.locator("#records tfoot")).to_contain_text(re.compile(r"Total \$[0-9,]+"))
    rows.first.scroll_into_view_if_needed()
    screenshot(page, "scorecard-records-390x844")

    name = rows.first.locator("td").first.inner_text()
    rows.first.locator("a.record-link").click()
    expect(page).to_have_url(re.compile(r"/deals/\d+/$"))
    expect(page.locator("h1")).to_contain_text(name)
    screenshot(page, "deal-from-records-390x844")
    context.close()


def test_an_executive_narrows_the_scorecard_to_a_region_and_a_team_then_breaks_it_down(
    live_server, page, screenshot, demo
):
    week = IsoWeek.last_completed()
    sign_in(page, live_server.url, "exec", "revops-demo")
    page.goto(f"{live_server.url}/scorecard/{week.label}/")
    leads = page.locator('.sc-row[data-metric="leads_created"] .sc-value')
    company_leads = int(leads.inner_text().replace(",", ""))
    page.click("text=Narrow to…")
    page.select_option("select[name=region]", "EMEA")
    page.select_option("select[name=team]", "Enterprise")
    page.click("text=Show this slice")
    # The address names the slice and nothing else.
    assert page.url.endswith(f"/scorecard/{week.label}/?region=EMEA&team=Enterprise")
    header = page.locator("[data-testid=slice-header]")
    expect(header).to_contain_text("Narrowed to Region: EMEA · Team: Enterprise")
    assert int(leads.inner_text().replace(",", "")) < company_leads
    screenshot(page, "scorecard-slice")
    tile = page.locator('.sc-tile[data-metric="new_bookings"]')

    # The slice's metric opens the slice's trend; one click goes back to the company's.
    tile.locator(".sc-name").click()
    assert "/new_bookings/" in page.url
    assert "region=EMEA" in page.url
    expect(page.locator("[data-testid=slice-header]")).to_contain_text("Region: EMEA")
    page.click("[data-testid=company-view]")
    expect(page.locator("[data-testid=slice-header]")).to_have_count(0)
    page.locator('nav[aria-label="Break down by"] >> text="Team"').click()
    table = page.locator("[data-testid=breakdown]")
    expect(table).to_be_visible()
    labels = table.locator("tbody th").all_inner_texts()
    assert set(labels) >= {"Enterprise", "Mid-market", "SMB"}
    # Each team is judged against its own quota, and the rows add up to the company's number.
    for team in ("Enterprise", "Mid-market", "SMB"):
        status = table.locator(f'tr[data-value="{team}"] .rag').inner_text()
        assert status not in ("No target", "No data"), (team, status)
    expect(page.locator("[data-testid=breakdown-total]")).to_have_text(
        page.locator("#metric-value").inner_text()
    )
    screenshot(page, "scorecard-breakdown-by-team")
    # A team's row opens its deals.
    table.locator('tr[data-value="SMB"] >> text=Records').click()
    assert "team=SMB" in page.url
    expect(page.locator("[data-testid=slice-header]")).to_contain_text("Team: SMB")
    page.click("text=All the company's records")
    assert "team=" not in page.url
