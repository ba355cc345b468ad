"""Ops send a full export that no longer holds a lead: the checked page says what it will
delete, the lead leaves the list and its page says where and when it was deleted."""

from __future__ import annotations

import pytest

from pipeline.models import Lead
from revops.permissions import Role
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.pipeline.importing import csv_text, lead_row
from tests.pipeline.test_deletions import export

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_full_export_marks_the_missing_lead_deleted_and_its_page_says_so(
    live_server, page, screenshot, make_user, tmp_path
):
    make_user(Role.OPS, username="omar")
    export(tmp_path, [1, 2, 3])
    smaller = tmp_path / "full.csv"
    smaller.write_text(csv_text([lead_row(1), lead_row(2)]))

    sign_in(page, live_server.url, "omar", PASSWORD)
    page.goto(live_server.url + "/records/imports/new/")
    page.select_option("#id_object_type", "lead")
    page.select_option("#id_preset", "salesforce-lead")
    page.select_option("#id_export_kind", "full")
    page.set_input_files("#id_file", str(smaller))
    page.click("text=Upload and check")

    page.wait_for_selector("text=Checked — awaiting confirmation")
    warning = page.locator("#deletions-warning").inner_text()
    assert "applying it marks 1 lead record of Salesforce that it does not hold" in warning
    assert Lead.objects.filter(deleted_at__isnull=False).count() == 0
    page.click("text=Confirm and apply 2 rows")
    page.wait_for_selector("#batch-status:has-text('Applied')")
    tiles = page.locator(".tiles").inner_text().lower().split("\n")
    assert tiles[-2:] == ["marked deleted", "1"]

    page.goto(live_server.url + "/records/leads/")
    assert "person3@acme.com" not in page.locator("table").inner_text()
    page.select_option("#id_deleted", "with")
    page.click("form.filters >> text=Filter")
    page.wait_for_selector("text=deleted in the source")
    page.click("text=person3@acme.com")
    banner = page.locator(".deleted-banner").inner_text()
    assert "Deleted in Salesforce by import #" in banner
    assert "kept for history" in banner
    screenshot(page, "lead-deleted-in-source")
