"""The records behind a number are exactly the records the number counted."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse

from pipeline.choices import AccountHealth, ArrChangeKind, DealSource, DealStage, DealType
from revops.permissions import Role
from scorecard.drilldown import drilldown_for
from scorecard.models import Metric
from scorecard.selectors import definition_current_map
from scorecard.services.catalog import target_set
from tests.factories import AccountFactory, ArrChangeFactory, DealFactory, LeadFactory
from tests.scorecard.conftest import W10, compute, d, utc

pytestmark = pytest.mark.django_db


@pytest.fixture
def business():
    """A little of everything around 2026-W10, with records just inside and just outside."""
    created = utc(2025, 12, 1)
    leads = {
        "in": LeadFactory(email="in@x.com", email_key="in@x.com", created_at=utc(2026, 3, 2),
                          mql_at=utc(2026, 3, 3), sql_at=utc(2026, 3, 4),
                          first_touch_at=utc(2026, 3, 3, 2)),
        "edge": LeadFactory(email="edge@x.com", email_key="edge@x.com",
                            created_at=utc(2026, 3, 8, 23, 59), mql_at=utc(2026, 1, 10),
                            first_touch_at=utc(2026, 3, 5)),
        "out": LeadFactory(email="out@x.com", email_key="out@x.com",
                           created_at=utc(2026, 3, 9), mql_at=utc(2025, 12, 1)),
        "old": LeadFactory(email="old@x.com", email_key="old@x.com", created_at=created,
                           mql_at=utc(2026, 2, 2), sql_at=utc(2026, 3, 20)),
    }  # fmt: skip
    deal = DealFactory
    deal(amount=10_000, created_at=utc(2026, 3, 3), source=DealSource.MARKETING)
    deal(amount=4_000, created_at=utc(2026, 3, 4), deal_type=DealType.EXPANSION)
    deal(amount=7_000, created_at=utc(2026, 3, 9), source=DealSource.MARKETING)
    deal(amount=12_000, stage=DealStage.CLOSED_WON, close_date=d("2026-03-02"), created_at=created)
    deal(amount=8_000, stage=DealStage.CLOSED_WON, close_date=d("2026-03-08"), created_at=created)
    deal(amount=5_000, stage=DealStage.CLOSED_LOST, close_date=d("2026-02-02"), created_at=created)
    deal(amount=9_000, stage=DealStage.CLOSED_WON, close_date=d("2026-03-09"), created_at=created)
    deal(amount=30_000, stage=DealStage.NEGOTIATION, close_date=d("2026-03-25"), created_at=created)
    target_set(
        metric=Metric.objects.get(key="new_bookings"), by=None, starts_on=d("2026-01-01"),
        value=90_000, period="quarter",
    )  # fmt: skip
    good, risky = AccountFactory(health=AccountHealth.GOOD), AccountFactory(health="at_risk")
    ArrChangeFactory(
        account=good, kind=ArrChangeKind.NEW, amount=100, effective_date=d("2025-01-01")
    )
    ArrChangeFactory(
        account=risky, kind=ArrChangeKind.NEW, amount=50, effective_date=d("2025-01-01")
    )
    ArrChangeFactory(
        account=risky, kind=ArrChangeKind.CHURN, amount=50, effective_date=d("2026-03-08")
    )
    return leads


BUILTINS = [
    "leads_created", "mqls", "sqls", "mql_to_sql_rate", "mql_to_won_rate", "speed_to_lead",
    "pipeline_created",
    "pipeline_created_marketing", "pipeline_coverage", "win_rate", "avg_deal_size",
    "sales_cycle", "deals_won", "new_bookings", "arr", "nrr", "grr", "logo_churn",
    "healthy_accounts",
]  # fmt: skip


@pytest.mark.parametrize("key", BUILTINS)
def test_records_add_up_to_the_number(business, key):
    cell = compute(W10, key)[key]
    definition = next(d for d in definition_current_map().values() if d.metric.key == key)
    drill = drilldown_for(definition.builtin, W10, definition.window_weeks)
    records = drill.queryset
    if drill.numerator is not None:
        assert records.count() == cell.denominator
        assert records.filter(drill.numerator).count() == cell.numerator
    elif key in ("nrr", "grr"):
        assert records.aggregate(t=Sum("arr_then"))["t"] == cell.denominator
    elif key == "pipeline_coverage":
        assert records.aggregate(t=Sum("amount"))["t"] == cell.numerator
    elif key in ("speed_to_lead", "sales_cycle"):
        assert records.count() == cell.denominator  # the median is over exactly these
    elif key == "avg_deal_size":
        assert records.aggregate(t=Sum("amount"))["t"] == cell.numerator
    elif drill.sum_attr:
        assert (records.aggregate(t=Sum(drill.sum_attr))["t"] or 0) == cell.value
    else:
        assert records.count() == cell.value


def test_the_leads_behind_leads_created_are_exactly_the_two_in_the_week(business):
    drill = drilldown_for("leads_created", W10, None)
    assert set(drill.queryset.values_list("email", flat=True)) == {"in@x.com", "edge@x.com"}


def test_the_records_page_lists_them_and_the_csv_export_has_the_same_rows(business, client_as):
    client = client_as(Role.MARKETING_LEAD)
    url = reverse("scorecard:metric-records", args=[W10, "mql_to_sql_rate"])
    page = client.get(url)
    assert page.status_code == 200
    # MQLs from 8 Dec 2025 to the week's end: in (3 Mar), edge (10 Jan), old (2 Feb) = 3;
    # out's MQL (1 Dec) is before the window. Only "in" reached SQL by 9 Mar.
    # Newest first, as every lead list.
    first = [r["cells"][0]["text"] for r in page.context["rows"]]
    assert first == ["edge@x.com", "in@x.com", "old@x.com"]
    numerator = client.get(url, {"part": "numerator"})
    assert [r["cells"][0]["text"] for r in numerator.context["rows"]] == ["in@x.com"]

    export = client.get(url, {"part": "numerator", "format": "csv"})
    assert export["Content-Type"] == "text/csv; charset=utf-8"
    assert "mql_to_sql_rate-2026-W10-numerator.csv" in export["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    # The golden record's id first (no system holds these leads, so no system's id follows).
    assert rows[0][:3] == ["Id", "Email", "Name"]
    assert [r[:2] for r in rows[1:]] == [[str(business["in"].pk), "in@x.com"]]
    assert rows[1][-1] == "yes"  # the "SQL by week's end" column


def test_filters_narrow_the_records_and_a_bad_filter_is_reported_not_raised(business, client_as):
    client = client_as(Role.SALES_LEAD)
    url = reverse("scorecard:metric-records", args=[W10, "leads_created"])
    narrowed = client.get(url, {"q": "edge"})
    assert [r["cells"][0]["text"] for r in narrowed.context["rows"]] == ["edge@x.com"]
    bad = client.get(url, {"created_after": "2026-13-45"})
    assert bad.status_code == 200
    assert "Enter a valid date" in bad.text
    assert bad.context["rows"] == []


def test_deal_records_show_their_total(business, client_as):
    page = client_as(Role.EXECUTIVE).get(
        reverse("scorecard:metric-records", args=[W10, "new_bookings"])
    )
    assert page.context["total"] == Decimal("20000")  # 12,000 + 8,000
    assert "Total $20,000" in page.text  # as every amount in the company currency reads


def test_the_records_csv_starts_with_a_byte_order_mark_so_excel_reads_utf8(client_as):
    LeadFactory(email="zoë@y.com", created_at=utc(2026, 3, 3))
    export = client_as(Role.OPS).get(
        reverse("scorecard:metric-records", args=[W10, "leads_created"]), {"format": "csv"}
    )
    body = b"".join(export.streaming_content)
    assert body.startswith("\ufeffId,Email,".encode())
    assert "zoë@y.com" in body.decode("utf-8-sig")


def test_a_csv_cell_a_spreadsheet_would_run_as_a_formula_is_defused(client_as):
    LeadFactory(email="x@y.com", company='=HYPERLINK("http://evil")', created_at=utc(2026, 3, 3))
    export = client_as(Role.OPS).get(
        reverse("scorecard:metric-records", args=[W10, "leads_created"]), {"format": "csv"}
    )
    body = b"".join(export.streaming_content).decode("utf-8-sig")
    assert "'=HYPERLINK" in body
