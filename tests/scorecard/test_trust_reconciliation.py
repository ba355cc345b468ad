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
    # (3 − 2) / 2 × 100 = +50%, all of it explained: Cy never reached the CRM. Neutral, not
    # amber, with the reason one click away.
    assert f'class="trust trust-explained" href="{bridge}"' in page.text
    assert "Explained +50.0%" in page.text
    assert "Variance +" not in page.text
    # No lead was created in the week in either system: 0 and 0 agree.
    rows = {row.metric.key: row for row in scorecard_week(week).rows}
    assert (rows["leads_created"].trust.state, rows["leads_created"].trust.label) == (
        "reconciled",
        "Reconciled",
    )
    bridge_page = client_as(Role.SALES_LEAD).get(bridge.replace("&amp;", "&"), follow=True)
    assert bridge_page.status_code == 200
    assert "never reached Salesforce" in bridge_page.text
    # The bridge leads back to the scorecard week it came from.
    assert f'href="/scorecard/{week.label}/" data-testid="bridge-back"' in bridge_page.text


def _mqls_three_to_two(week):
    """Marketing counts 3 MQLs in `week`, sales 2, one of them explained (Cy never reached the
    CRM) and, when sales later gets a record nobody resolved, one left unexplained."""
    monday = datetime.combine(week.start, datetime.min.time(), tzinfo=UTC)
    mkt = SourceSystemFactory(slug="hubspot", name="HubSpot", role=SystemRole.MARKETING)
    crm = SourceSystemFactory(slug="salesforce", name="Salesforce", role=SystemRole.SALES)
    created, mql = monday - timedelta(days=10), monday + timedelta(days=1, hours=10)
    common = {"created_at": created, "mql_at": mql, "stage": "mql"}
    for n, email in enumerate(["ana@acme.com", "bo@acme.com", "cy@acme.com", "di@acme.com"]):
        SourceLeadFactory(system=mkt, external_id=f"H{n}", email=email, email_key=email, **common)
    for n, email in enumerate(["ana@acme.com", "bo@acme.com"]):
        SourceLeadFactory(system=crm, external_id=f"S{n}", email=email, email_key=email, **common)
    golden_resolve()
    # Imported after resolution: no golden key, so no record-level reason explains it.
    SourceLeadFactory(system=crm, external_id="S9", email="eve@acme.com",
                      email_key="eve@acme.com", **common)  # fmt: skip
    run = reconciliation.reconciliation_run_now(trigger="command", weeks=8)
    assert run.status == "completed", run.message


def test_an_unexplained_difference_is_a_variance_unless_within_the_metric_tolerance(client_as):
    from decimal import Decimal

    from scorecard.models import Metric

    week = IsoWeek.current().shift(-2)
    _mqls_three_to_two(week)
    # Marketing 4 (ana, bo, cy, di); sales 3 (ana, bo, eve). cy and di never reached the CRM
    # (−2 explained); eve is in sales only with no golden record (+1 unexplained).
    mark = {r.metric.key: r.trust for r in scorecard_week(week).rows}["mqls"]
    assert (mark.state, mark.label) == ("variance", "Variance +33.3%")
    assert "+1 is unexplained" in mark.detail
    assert "never reached" in mark.detail.lower() or "missing" in mark.detail.lower()

    mqls = Metric.objects.get(key="mqls")
    mqls.tolerance_abs = Decimal(1)  # one MQL of unexplained difference is expected
    mqls.save(update_fields=["tolerance_abs"])
    mark = {r.metric.key: r.trust for r in scorecard_week(week).rows}["mqls"]
    assert (mark.state, mark.label) == ("explained", "Explained +33.3%")
    assert "+1 unexplained, within tolerance" in mark.detail

    mqls.tolerance_abs, mqls.tolerance_pct = Decimal(0), Decimal(30)  # 1 of 3 is 33%: beyond
    mqls.save(update_fields=["tolerance_abs", "tolerance_pct"])
    mark = {r.metric.key: r.trust for r in scorecard_week(week).rows}["mqls"]
    assert mark.state == "variance"
    mqls.tolerance_pct = Decimal(34)
    mqls.save(update_fields=["tolerance_pct"])
    page = client_as(Role.EXECUTIVE).get(reverse("scorecard:week", args=[week]))
    assert "Explained +33.3%" in page.text
