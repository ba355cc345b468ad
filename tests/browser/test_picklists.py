"""Ops staff map a Spanish org's stage names and a deal type the preset does not know, from the
values the check found, and the same file is checked again with the saved preset."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from pipeline.models import Deal, ImportPreset
from revops.permissions import Role
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.pipeline.importing import crm, csv_text
from tests.pipeline.test_picklists import SPANISH

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_map_the_unknown_values_of_a_rejected_file_and_check_it_again(
    live_server, page, screenshot, make_user, tmp_path
):
    make_user(Role.OPS, username="olga")
    crm()
    opps = tmp_path / "oportunidades.csv"
    opps.write_text(csv_text(SPANISH), encoding="utf-8")

    sign_in(page, live_server.url, "olga", PASSWORD)
    page.goto(live_server.url + "/records/imports/new/")
    page.select_option("#id_object_type", "deal")
    page.select_option("#id_preset", "salesforce-opportunity")
    page.set_input_files("#id_file", str(opps))
    page.click("text=Upload and check")
    page.wait_for_selector("text=Rejected (nothing applied)")
    warning = page.locator("#unmapped-values").inner_text()
    assert "Stage (StageName): 2 values in 3 rows the mapping does not know" in warning
    found = page.locator("table.values[data-field=stage] tbody tr").all_inner_texts()
    assert [r.split("\t") for r in found] == [
        ["Cerrada ganada", "2", "not mapped"],
        ["Closed Won", "1", "closed_won"],
        ["Prospección", "1", "not mapped"],
    ]
    screenshot(page, "picklist-rejected")

    page.click("#map-values")
    page.wait_for_selector("form#value-map")
    expect(page.locator("tr.unmapped")).to_have_count(3)  # two stages and one type
    page.fill("#id_name", "Salesforce ES")
    page.get_by_label("Cerrada ganada", exact=True).select_option("closed_won")
    page.get_by_label("Prospección", exact=True).select_option("qualification")
    page.get_by_label("Existing Business", exact=True).select_option("expansion")
    screenshot(page, "picklist-editor")
    page.click("text=Save and check the file again")

    page.wait_for_selector("text=Checked — awaiting confirmation")
    assert page.locator("#unmapped-values").count() == 0
    stages = page.locator("table.values[data-field=stage] tbody tr").all_inner_texts()
    assert [r.split("\t")[2] for r in stages] == ["closed_won", "closed_won", "qualification"]
    assert "Salesforce ES" in page.locator("p.muted").first.inner_text()
    page.click("text=Confirm and apply 4 rows")
    page.wait_for_selector("#batch-status:has-text('Applied')")
    assert sorted(Deal.objects.values_list("stage", "deal_type")) == [
        ("closed_won", "expansion"),
        ("closed_won", "expansion"),
        ("closed_won", "new"),
        ("qualification", "new"),
    ]
    assert ImportPreset.objects.get().mapping["extends"] == "salesforce-opportunity"
