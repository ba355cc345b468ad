"""Ops staff edit a mechanism, open the audit log and read what changed, before → after."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pytest
from django.apps import apps as django_apps

from mechanisms.services.mechanisms import mechanism_create
from revops.permissions import Role
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.mechanisms.conftest import document

standard_metrics = importlib.import_module("scorecard.migrations.0002_standard_metrics")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_ops_edit_a_mechanism_and_read_the_change_in_the_audit_log(
    live_server, page, screenshot, make_user
):
    standard_metrics.create_catalog(django_apps, None)  # a flush may have removed it
    make_user(Role.OPS, "ana", first_name="Ana")
    mechanism = mechanism_create(data=document(), by=None)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if "Refused to" in m.text else None)

    sign_in(page, live_server.url, "ana", PASSWORD)
    page.goto(f"{live_server.url}/mechanisms/{mechanism.slug}/edit/")
    page.fill("#id_tool", "HubSpot workflows route each MQL.")
    page.click("text=Save version 2")
    page.wait_for_load_state("networkidle")

    page.click("nav.nav >> text=Audit")
    assert page.locator("h1").inner_text() == "Audit log"
    page.select_option("#id_model", "mechanisms.mechanism")
    page.select_option("#id_operation", "update")
    page.click("form.filters button[type=submit]")
    row = page.locator("table.audit-list tbody tr").first
    assert row.locator("td >> nth=1").inner_text().startswith("ana")
    assert "Lead Routing" in row.inner_text()
    assert row.locator(".audit-before >> nth=0").inner_text() == "Salesforce assignment rules."
    assert row.locator(".audit-after >> nth=0").inner_text() == "HubSpot workflows route each MQL."
    path = screenshot(page, "audit-log")
    shutil.copy(path, Path("/tmp/audit.png"))
    assert errors == []
