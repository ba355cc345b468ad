"""The currencies page and the exchange-rates API: everyone who reads records reads them,
ops staff change them, and nothing a person can type is a server error."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from pipeline.models import ExchangeRate
from pipeline.services.currency import exchange_rate_set
from revops.permissions import Role
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db

PAGE = "pipeline:exchange-rate-list"
READERS = [Role.EXECUTIVE, Role.SALES_LEAD, Role.MARKETING_LEAD]


@pytest.fixture
def setter(make_user):
    return make_user(Role.OPS, username="rates-setter")


@pytest.fixture
def eur(setter) -> ExchangeRate:
    exchange_rate_set(by=setter, currency="EUR", valid_from=date(2026, 1, 1), rate="1.08")
    return exchange_rate_set(by=setter, currency="EUR", valid_from=date(2026, 2, 1), rate="1.1")


def upload(text: str, name: str = "rates.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


# --- The page -----------------------------------------------------------------------------------


def test_the_page_shows_the_company_currency_and_rates_newest_first(client_as, eur):
    response = client_as(Role.OPS).get(reverse(PAGE))
    assert response.status_code == 200
    body = response.content.decode()
    assert "<strong>USD</strong>" in body
    assert body.index("2026-02-01") < body.index("2026-01-01")
    assert "Save rate" in body
    assert "Delete" in body


def test_ops_add_a_rate_and_amounts_are_reconverted(client_as):
    deal = DealFactory(amount=Decimal("100"), currency="GBP", close_date=date(2026, 3, 1))
    response = client_as(Role.OPS).post(
        reverse(PAGE), {"currency": " gbp", "valid_from": "2026-01-01", "rate": "1.25"}
    )
    assert response.status_code == 302
    assert ExchangeRate.objects.get().currency == "GBP"
    deal.refresh_from_db()
    assert deal.amount_at_close == Decimal("125.000000")


@pytest.mark.parametrize(
    ("data", "field", "said"),
    [
        ({"currency": "XYZ", "valid_from": "2026-01-01", "rate": "1"}, "currency", "ISO 4217"),
        ({"currency": "USD", "valid_from": "2026-01-01", "rate": "1"}, "currency", "company"),
        ({"currency": "EUR", "valid_from": "2026-02-30", "rate": "1"}, "valid_from", "not a date"),
        ({"currency": "EUR", "valid_from": "99999-01-01", "rate": "1"}, "valid_from", "not a date"),
        ({"currency": "EUR", "valid_from": "2026-01-01", "rate": "9" * 50}, "rate", "below"),
        ({"currency": "EUR", "valid_from": "2026-01-01", "rate": "-1"}, "rate", "greater than 0"),
        ({"currency": "EUR", "valid_from": "2026-01-01", "rate": "1,5x"}, "rate", "not a number"),
        ({"currency": "€" * 41, "valid_from": "", "rate": ""}, "currency", "at most 40"),
    ],
)
def test_bad_input_is_refused_on_its_field_and_keeps_what_was_typed(client_as, data, field, said):
    response = client_as(Role.OPS).post(reverse(PAGE), data)
    assert response.status_code == 400
    form = response.context["form"]
    assert said in " ".join(form.errors[field])
    assert form[field].value() == data[field]
    assert not ExchangeRate.objects.exists()


def test_ops_delete_a_rate(client_as, eur):
    response = client_as(Role.OPS).post(reverse("pipeline:exchange-rate-delete", args=[eur.pk]))
    assert response.status_code == 302
    assert list(ExchangeRate.objects.values_list("rate", flat=True)) == [Decimal("1.08")]


@pytest.mark.parametrize("pk", [999999, 10**20])
def test_deleting_a_rate_that_is_gone_says_so(client_as, pk):
    client = client_as(Role.OPS)
    response = client.post(reverse("pipeline:exchange-rate-delete", args=[pk]), follow=True)
    assert "does not exist" in response.content.decode()
    api = client.delete(reverse("api:exchange-rate-detail", args=[pk]))
    assert api.status_code == 404


def test_an_uploaded_file_with_bad_rows_lists_each_and_applies_nothing(client_as, eur):
    text = "currency,date,rate\nEUR,2026-03-01,1.2\nXYZ,2026-03-01,1\nGBP,2026-13-01,0\n"
    response = client_as(Role.OPS).post(
        reverse("pipeline:exchange-rate-import"), {"file": upload(text)}
    )
    assert response.status_code == 400
    rows = [(e.row, e.column) for e in response.context["upload_errors"]]
    assert rows == [(3, "currency"), (4, "date"), (4, "rate")]
    body = response.content.decode()
    assert "XYZ is not an ISO 4217 currency code." in body
    assert "Nothing was imported" in body
    assert ExchangeRate.objects.count() == 2


def test_a_good_uploaded_file_is_applied(client_as, eur):
    text = "currency,date,rate\nEUR,2026-03-01,1.2\nGBP,2026-03-01,1.3\n"
    response = client_as(Role.OPS).post(
        reverse("pipeline:exchange-rate-import"), {"file": upload(text)}, follow=True
    )
    assert "2 new, 0 changed" in response.content.decode()
    assert ExchangeRate.objects.count() == 4


@pytest.mark.parametrize("role", READERS)
def test_other_roles_read_the_page_without_forms_and_may_not_write(client_as, role, eur):
    client = client_as(role)
    response = client.get(reverse(PAGE))
    assert response.status_code == 200
    body = response.content.decode()
    assert "1.1" in body
    assert "Save rate" not in body
    assert "Delete" not in body
    posted = {"currency": "GBP", "valid_from": "2026-01-01", "rate": "1.3"}
    assert client.post(reverse(PAGE), posted).status_code == 403
    delete = reverse("pipeline:exchange-rate-delete", args=[eur.pk])
    assert client.post(delete).status_code == 403
    file = {"file": upload("currency,date,rate\nGBP,2026-01-01,1.3\n")}
    assert client.post(reverse("pipeline:exchange-rate-import"), file).status_code == 403
    assert ExchangeRate.objects.count() == 2


def test_the_page_is_linked_from_the_navigation(client_as):
    response = client_as(Role.EXECUTIVE).get(reverse("home"))
    assert reverse(PAGE) in [item["url"] for item in response.context["nav_items"]]


# --- The API -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [*READERS, Role.OPS])
def test_every_role_lists_rates_filtered_by_currency(client_as, role, eur, setter):
    exchange_rate_set(by=setter, currency="GBP", valid_from=date(2026, 1, 1), rate="1.3")
    response = client_as(role).get(reverse("api:exchange-rate-list"), {"currency": "eur"})
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["currency"], r["valid_from"]) for r in rows] == [
        ("EUR", "2026-01-01"),
        ("EUR", "2026-02-01"),
    ]
    assert rows[1]["updated_by"] == "rates-setter"


def test_ops_create_change_and_delete_a_rate_through_the_api(client_as):
    client = client_as(Role.OPS)
    created = client.post(
        reverse("api:exchange-rate-list"),
        {"currency": "eur", "valid_from": "2026-01-01", "rate": "1.1"},
        content_type="application/json",
    )
    assert created.status_code == 201
    assert created.json()["currency"] == "EUR"
    detail = reverse("api:exchange-rate-detail", args=[created.json()["id"]])
    changed = client.put(detail, {"rate": "1.2"}, content_type="application/json")
    assert changed.status_code == 200
    assert Decimal(changed.json()["rate"]) == Decimal("1.2")
    assert client.delete(detail).status_code == 204
    assert not ExchangeRate.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"currency": "XYZ", "valid_from": "2026-01-01", "rate": "1"},
        {"currency": "USD", "valid_from": "2026-01-01", "rate": "1"},
        {"currency": "EUR", "valid_from": "2026-02-30", "rate": "1"},
        {"currency": "EUR", "valid_from": "2026-01-01", "rate": "0"},
        {"currency": "EUR", "valid_from": "2026-01-01", "rate": "1e30"},
    ],
)
def test_the_api_refuses_a_bad_rate_with_a_400(client_as, data):
    response = client_as(Role.OPS).post(
        reverse("api:exchange-rate-list"), data, content_type="application/json"
    )
    assert response.status_code == 400
    assert not ExchangeRate.objects.exists()


@pytest.mark.parametrize("role", READERS)
def test_other_roles_may_not_write_rates_through_the_api(client_as, role, eur):
    client = client_as(role)
    data = {"currency": "GBP", "valid_from": "2026-01-01", "rate": "1.3"}
    assert (
        client.post(reverse("api:exchange-rate-list"), data, content_type="application/json")
    ).status_code == 403
    detail = reverse("api:exchange-rate-detail", args=[eur.pk])
    assert client.put(detail, {"rate": "2"}, content_type="application/json").status_code == 403
    assert client.delete(detail).status_code == 403
    assert ExchangeRate.objects.count() == 2
