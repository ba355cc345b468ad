"""Ops staff upload an export in the browser, see the check and the preview, confirm it, and
read the problem report of a file that is refused."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from pipeline.models import Lead
from revops.permissions import Role
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.pipeline.importing import crm, csv_text, lead_row

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_upload_preview_confirm_and_problem_report(
    live_server, page, screenshot, make_user, tmp_path
):
    make_user(Role.OPS, username="omar")
    crm()
    good = tmp_path / "leads.csv"
    good.write_text(csv_text([lead_row(1, Email="ana@acme.com"), lead_row(2, Email="bo@acme.com")]))
    bad = tmp_path / "broken.csv"
    bad.write_text(csv_text([lead_row(3, Email="not-an-address"), lead_row(4, CreatedDate="soon")]))

    sign_in(page, live_server.url, "omar", PASSWORD)
    page.click("nav.nav >> text=Imports")
    page.click("text=New import")
    page.select_option("#id_object_type", "lead")
    page.select_option("#id_preset", "salesforce-lead")
    page.set_input_files("#id_file", str(good))
    page.click("text=Upload and check")

    # Checked, nothing written yet, the first rows shown as they will be stored.
    page.wait_for_selector("text=Checked — awaiting confirmation")
    expect(page.locator("table.preview tbody tr")).to_have_count(2)
    assert "ana@acme.com" in page.locator("table.preview").inner_text()
    assert not Lead.objects.exists()
    screenshot(page, "import-preview")
    page.click("text=Confirm and apply 2 rows")
    page.wait_for_selector("#batch-status:has-text('Applied')")
    assert [t.strip() for t in page.locator(".tile-value").all_inner_texts()] == [
        "2",
        "2",
        "0",
        "0",
    ]
    assert set(Lead.objects.values_list("email_key", flat=True)) == {"ana@acme.com", "bo@acme.com"}

    page.goto(live_server.url + "/records/imports/new/")
    page.select_option("#id_preset", "salesforce-lead")
    page.set_input_files("#id_file", str(bad))
    page.click("text=Upload and check")
    page.wait_for_selector("text=Rejected (nothing applied)")
    problems = page.locator("#problems tbody tr").all_inner_texts()
    assert problems[0].split("\t") == [
        "2",
        "Email",
        "not-an-address",
        "Email is not a valid email address",
    ]
    assert problems[1].split("\t")[:3] == ["3", "CreatedDate", "soon"]
    screenshot(page, "import-problems")
    with page.expect_download() as download:
        page.click("text=Download all 2 as CSV")
    report = download.value.path().read_text()
    assert report.splitlines()[1] == "2,Email,not-an-address,Email is not a valid email address"
    assert Lead.objects.count() == 2
