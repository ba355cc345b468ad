"""Money that adds up across currencies: a Salesforce org selling in Colombian and Mexican
pesos, Peruvian soles and US dollars, imported as it exports, with dated exchange rates.
Each amount metric sums every deal converted at the rate in force on the date it counts by,
computed here independently of the app; a deal with no rate is left out and says so."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from pipeline.services.currency import exchange_rates_import
from revops.permissions import Role
from scorecard.trust import UNCONVERTED, trust_marks_for_week
from tests.pipeline.importing import csv_text, run_import
from tests.scorecard.conftest import W10, compute

pytestmark = pytest.mark.django_db

HEADER = ["Id", "AccountId", "Name", "StageName", "Amount", "CloseDate", "CreatedDate",
          "LeadSource", "Type", "OwnerId", "CurrencyIsoCode"]  # fmt: skip

# (id, stage, amount, currency, created, close): W10 is 2 to 8 March 2026.
DEALS = [
    ("006A", "Closed Won", "67160000", "COP", "2026-01-12T09:00:00.000+0000", "2026-03-03"),
    ("006B", "Closed Won", "9225.225", "USD", "2026-02-02T09:00:00.000+0000", "2026-03-06"),
    ("006C", "Closed Won", "185000.50", "MXN", "2026-03-03T09:00:00.000+0000", "2026-03-08"),
    ("006D", "Closed Won", "41000", "PEN", "2026-02-20T09:00:00.000+0000", "2026-03-04"),
    ("006E", "Closed Lost", "99999", "COP", "2026-03-02T09:00:00.000+0000", "2026-03-05"),
    ("006F", "Prospecting", "12000000", "COP", "2026-03-04T09:00:00.000+0000", "2026-06-30"),
]

# Rates to USD, each in force from its date: COP moved on 1 March, MXN on 5 March.
RATES = """currency,date,rate
COP,2026-01-01,0.000240
COP,2026-03-01,0.000251
MXN,2026-01-01,0.0580
MXN,2026-03-05,0.0592
PEN,2026-01-01,0.2650
"""


def _in_force(rates: str, currency: str, day: date) -> Decimal:
    if currency == "USD":
        return Decimal(1)
    rows = [line.split(",") for line in rates.strip().splitlines()[1:]]
    dated = sorted((date.fromisoformat(d), Decimal(r)) for c, d, r in rows if c == currency)
    return [rate for valid_from, rate in dated if valid_from <= day][-1]


def _import_deals(tmp_path, deals=DEALS):
    rows = [
        dict(zip(HEADER, [i, "001X", f"Deal {i}", stage, amount, close, created, "Web",
                          "New Customer", "005A", currency], strict=True))
        for i, stage, amount, currency, created, close in deals
    ]  # fmt: skip
    batch = run_import(
        tmp_path, csv_text(rows, HEADER), object_type="deal", preset="salesforce-opportunity"
    )
    assert batch.status == "applied", batch.message


def _rates(text: str = RATES):
    exchange_rates_import(by=None, file=text.encode())


def test_bookings_are_each_deal_converted_at_its_close_dates_rate_to_the_cent(tmp_path):
    _rates()
    _import_deals(tmp_path)
    expected = sum(
        Decimal(amount) * _in_force(RATES, currency, date.fromisoformat(close))
        for _, stage, amount, currency, _, close in DEALS
        if stage == "Closed Won"
    )
    cells = compute(W10, "new_bookings", "deals_won", "avg_deal_size")
    assert cells["new_bookings"].value.quantize(Decimal("0.01")) == expected.quantize(
        Decimal("0.01")
    )
    # The peso deal is 16,857 dollars, not 67 million: nothing is summed unconverted.
    assert cells["new_bookings"].value < 100_000
    assert cells["deals_won"].value == 4


def test_pipeline_created_converts_at_the_created_dates_rate(tmp_path):
    _rates()
    _import_deals(tmp_path)
    created_in_w10 = [
        d for d in DEALS if d[4].startswith(("2026-03-02", "2026-03-03", "2026-03-04"))
    ]
    expected = sum(
        Decimal(amount) * _in_force(RATES, currency, date.fromisoformat(created[:10]))
        for _, _, amount, currency, created, _ in created_in_w10
    )
    cell = compute(W10, "pipeline_created")["pipeline_created"]
    assert cell.value == expected.quantize(Decimal("0.0001"))


def test_three_decimal_amounts_are_kept(tmp_path):
    _import_deals(tmp_path, [DEALS[1]])
    cells = compute(W10, "new_bookings")
    assert cells["new_bookings"].value == Decimal("9225.2250")


def test_a_deal_without_a_rate_is_left_out_and_the_mark_says_so_until_rates_arrive(
    tmp_path, client_as
):
    _rates("currency,date,rate\nCOP,2026-01-01,0.000240\nCOP,2026-03-01,0.000251\n")
    _import_deals(tmp_path)  # MXN and PEN have no rate yet
    cell = compute(W10, "new_bookings")["new_bookings"]
    usd_and_cop = Decimal("9225.225") + Decimal(67160000) * Decimal("0.000251")
    assert cell.value == usd_and_cop.quantize(Decimal("0.0001"))
    mark = trust_marks_for_week(W10, ["new_bookings", "deals_won"])
    assert "deals_won" not in mark or mark["deals_won"].state != UNCONVERTED  # a count
    assert mark["new_bookings"].state == UNCONVERTED
    assert mark["new_bookings"].detail.startswith("1 deal in MXN, 1 deal in PEN have no")
    assert mark["new_bookings"].url == reverse("pipeline:exchange-rate-list")
    page = client_as(Role.EXECUTIVE).get(
        reverse("scorecard:metric-week", args=[W10, "new_bookings"])
    )
    assert "1 deal in MXN" in page.text

    _rates(
        "currency,date,rate\nMXN,2026-01-01,0.0580\nMXN,2026-03-05,0.0592\nPEN,2026-01-01,0.2650\n"
    )

    cell = compute(W10, "new_bookings")["new_bookings"]
    assert cell.value > usd_and_cop  # the rates file recomputed what moved
    assert "new_bookings" not in trust_marks_for_week(W10, ["new_bookings"]) or (
        trust_marks_for_week(W10, ["new_bookings"])["new_bookings"].state != UNCONVERTED
    )


def test_the_records_page_shows_original_and_converted_amounts_and_the_totals_currency(
    tmp_path, client_as
):
    _rates()
    _import_deals(tmp_path)
    page = client_as(Role.EXECUTIVE).get(
        reverse("scorecard:metric-records", args=[W10, "new_bookings"])
    )
    labels = [c.label for c in page.context["drilldown"].columns]
    assert labels[labels.index("Amount") : labels.index("Amount") + 3] == [
        "Amount", "Currency", "Amount in USD",
    ]  # fmt: skip
    # The page writes each amount with its currency, as every page does (the CSV keeps the
    # Currency column apart); the total is in the company currency.
    peso = next(r for r in page.context["rows"] if r["cells"][0]["text"] == "Deal 006A")
    shown = [cell["text"] for cell in peso["cells"]]
    at = shown.index("COP 67,160,000")
    assert shown[at : at + 2] == ["COP 67,160,000", "$16,857"]
    assert "Currency" not in [c.label for c in page.context["columns"]]
    assert "<strong>Total $" in page.text  # the total says its currency


def test_the_deal_pages_show_the_original_amount_beside_its_company_currency_value(
    tmp_path, client_as
):
    _rates("currency,date,rate\nCOP,2026-01-01,0.000240\nCOP,2026-03-01,0.000251\n")
    _import_deals(tmp_path)
    page = client_as(Role.SALES_LEAD).get(reverse("pipeline:deal-list"))
    assert "COP 67,160,000" in page.text
    assert "≈ $16,857" in page.text
    assert "no exchange rate yet" in page.text  # the MXN and PEN deals
