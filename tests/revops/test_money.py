"""Money reads one way on every page: the company currency by its symbol, any other by its
code, whole units rounded half up, a real minus sign."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.urls import reverse

from revops.currencies import money_format
from revops.permissions import Role
from scorecard.choices import Unit
from scorecard.formatting import format_value
from tests.factories import AccountFactory, ArrChangeFactory, DealFactory


@pytest.mark.parametrize(
    ("value", "code", "text"),
    [
        (Decimal("24100"), None, "$24,100"),
        (Decimal("24100"), "USD", "$24,100"),
        (Decimal("24100"), "usd", "$24,100"),
        (Decimal("13600.5"), None, "$13,601"),  # half up, not to even
        (Decimal("12.5"), None, "$13"),
        (Decimal("1200"), "EUR", "EUR 1,200"),  # another currency: its code, not €
        (Decimal("67160000"), "COP", "COP 67,160,000"),
        (Decimal("-300"), None, "−$300"),
        (Decimal("-0.4"), None, "$0"),  # no minus on a zero
        (0, None, "$0"),
        (None, None, "$0"),
        ("52600.00", None, "$52,600"),
        ("not a number", None, ""),
        ("NaN", None, ""),
    ],
)
def test_money_format_writes_an_amount_the_one_way(value, code, text):
    assert money_format(value, code) == text


def test_money_format_signed_writes_a_plus():
    assert money_format(Decimal("1500"), signed=True) == "+$1,500"
    assert money_format(Decimal("-1500"), signed=True) == "−$1,500"


def test_money_in_the_company_currency_takes_its_symbol_or_its_code(settings):
    settings.COMPANY_CURRENCY = "EUR"
    assert money_format(Decimal("1200")) == "€1,200"
    assert money_format(Decimal("1200"), "USD") == "USD 1,200"
    settings.COMPANY_CURRENCY = "CHF"
    assert money_format(Decimal("1200")) == "CHF 1,200"


def test_the_money_filter_and_the_scorecard_write_the_same_text():
    amount = Decimal("52600.4")
    rendered = Template("{{ a|money }} {{ a|money:'EUR' }}").render(Context({"a": amount}))
    assert rendered == "$52,600 EUR 52,600"
    assert format_value(amount, Unit.CURRENCY) == money_format(amount) == "$52,600"


@pytest.mark.django_db
def test_deal_list_and_record_pages_write_money_the_one_way(client_as):
    account = AccountFactory(name="Acme", arr=Decimal("36000"))
    deal = DealFactory(name="Big", account=account, amount=Decimal("24100"))
    DealFactory(name="Euro", account=account, amount=Decimal("1200"), currency="EUR")
    ArrChangeFactory(account=account, deal=deal, kind="churn", amount=Decimal("500"))
    client = client_as(Role.SALES_LEAD)

    listing = client.get(reverse("pipeline:deal-list")).text
    assert "$24,100" in listing
    assert "USD 24,100" not in listing  # the company currency by its symbol
    assert "EUR 1,200" in listing

    deal_page = client.get(reverse("pipeline:deal-detail", args=[deal.pk])).text
    assert "$24,100" in deal_page
    assert "24,100.00" not in deal_page
    assert "$500" in deal_page  # the ARR change it brought

    account_page = client.get(reverse("pipeline:account-detail", args=[account.pk])).text
    assert "ARR $36,000" in account_page
    assert "−$500" in account_page  # churn reduces ARR
    assert "EUR 1,200" in account_page
