"""The pages work under the Content-Security-Policy: charts draw, scripts run, and the browser
reports no violation."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.browser.conftest import sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_scorecard_reconciliation_and_api_docs_run_under_the_policy(live_server, page):
    out = io.StringIO()
    call_command("seed_demo", scale=0.02, today=timezone.localdate(), stdout=out)
    call_command("reconcile", stdout=out)
    call_command("scorecard_demo", scale=0.02, weeks=14, stdout=out)
    violations: list[str] = []
    page.on(
        "console",
        lambda m: (
            violations.append(m.text)
            if "Content Security Policy" in m.text or "Refused to" in m.text
            else None
        ),
    )
    page.on("pageerror", lambda e: violations.append(str(e)))

    sign_in(page, live_server.url, "ops", "revops-demo")
    page.goto(live_server.url + "/scorecard/")
    page.wait_for_selector(".sc-spark svg.spark")  # the server drew the sparklines
    page.click(".sc-row a.sc-name >> nth=0")
    page.wait_for_selector(".main-svg")  # plotly drew the metric's trend
    page.goto(live_server.url + "/records/reconciliation/")
    page.click("table.table tbody tr a >> nth=0")
    page.wait_for_selector(".main-svg")  # the waterfall
    shown = page.input_value("#bridge-metric")
    values = page.eval_on_selector_all("#bridge-metric option", "os => os.map(o => o.value)")
    # Another metric than the one shown, so the change autosubmits through app.js.
    page.select_option("#bridge-metric", next(v for v in values if v != shown))
    page.wait_for_url("**metric=**")  # the autosubmitted page, not a race with its start
    page.goto(live_server.url + "/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .info")  # Swagger UI started from its own script file
    assert violations == []
