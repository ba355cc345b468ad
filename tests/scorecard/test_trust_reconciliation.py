"""Trust marks from a real reconciliation run: the scorecard says where marketing's and
sales' systems agree, and links a disagreement to the bridge that explains it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from pipeline.choices import SystemRole
from pipeline.services import reconciliation
from pipeline.services.identity import golden_resolve
from revops.permissions import Role
from revops.weeks import IsoWeek
from scorecard.selectors import scorecard_week
from tests.factories import SourceLeadFactory, SourceSystemFactory

pytestmark = pytest.mark.django_db


def test_reconciled_and_variance_marks_come_from_the_current_run(client_as):
    week = IsoWeek.current().shift(-2)
    monday = datetime.combine(week.start, datetime.min.time(), tzinfo=UTC)
    mkt = SourceSystemFactory(slug="hubspot", name="HubSpot", role=SystemRole.MARKETING)
    crm = SourceSystemFactory(slug="salesforce", name="Salesforce", role=SystemRole.SALES)
    created = monday - timedelta(days=10)  # created before the week: only MQLs fall in it
    mql = monday + timedelta(days=1, hours=10)
    for n, email in enumerate(["ana@acme.com", "bo@acme.com", "cy@acme.com"]):
        SourceLeadFactory(
            system=mkt,
            external_id=f"H{n}",
            email=email,
            email_key=email,
            created_at=created,
            mql_at=mql,
            stage="mql",
        )
    # Cy never reached the CRM: marketing counts 3 MQLs in the week, sales 2.
    for n, email in enumerate(["ana@acme.com", "bo@acme.com"]):
        SourceLeadFactory(
            system=crm,
            external_id=f"S{n}",
            email=email,
            email_key=email,
            created_at=created,
            mql_at=mql,
            stage="mql",
        )
    golden_resolve()
    run = reconciliation.reconciliation_run_now(trigger="command", weeks=8)
    assert run.status == "completed", run.message

    page = client_as(Role.EXECUTIVE).get(reverse("scorecard:week", args=[week]))

    bridge = f"/records/reconciliation/bridge/?metric=mqls&amp;week={week.label}"
    # (3 − 2) / 2 × 100 = +50%.
    assert f'class="trust trust-variance" href="{bridge}"' in page.text
    assert "Variance +50.0%" in page.text
    # No lead was created in the week in either system: 0 and 0 agree.
    rows = {row.metric.key: row for row in scorecard_week(week).rows}
    assert (rows["leads_created"].trust.state, rows["leads_created"].trust.label) == (
        "reconciled",
        "Reconciled",
    )
    bridge_page = client_as(Role.SALES_LEAD).get(bridge.replace("&amp;", "&"), follow=True)
    assert bridge_page.status_code == 200
    assert "never reached Salesforce" in bridge_page.text
