"""Exchange rates and the converted amounts they give: services and the importer."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from pipeline.models import ArrChange, Deal, ExchangeRate, SourceArrChange, SourceDeal
from pipeline.services.currency import (
    ExchangeRatesRejected,
    _conversion_sql,
    amounts_convert,
    exchange_rate_delete,
    exchange_rate_set,
    exchange_rates_import,
)
from revops.currencies import currency_known, currency_normalise, currency_parse
from tests.factories import ArrChangeFactory, DealFactory
from tests.pipeline.importing import csv_text, problems, run_import

pytestmark = pytest.mark.django_db


def rates_file(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode("utf-8-sig"))


def test_currency_codes_are_normalised_and_checked_against_iso_4217():
    assert currency_normalise("  eur ") == "EUR"
    assert currency_known(" gbp")
    assert currency_known("USD")
    assert not currency_known("XYZ")
    assert not currency_known("US$")
    assert not currency_known("")
    assert currency_parse("cop") == "COP"
    assert currency_parse("XXX") is None


# --- Conversion ----------------------------------------------------------------------------


def test_a_company_currency_deal_converts_at_one_without_any_rate():
    deal = DealFactory(amount=Decimal("9225.225"), currency="USD")
    assert deal.amount_at_close == deal.amount_at_creation == Decimal("9225.225")


def test_a_deal_converts_at_the_rate_in_force_on_its_close_and_created_dates(ops_user):
    exchange_rate_set(by=ops_user, currency="EUR", valid_from=date(2026, 1, 1), rate="1.10")
    exchange_rate_set(by=ops_user, currency="EUR", valid_from=date(2026, 3, 1), rate="1.20")
    deal = DealFactory(
        amount=Decimal("1000"),
        currency="EUR",
        created_at=datetime(2026, 1, 20, 10, tzinfo=UTC),
        close_date=date(2026, 3, 1),  # the first day of the new rate counts
    )
    assert deal.amount_at_creation == Decimal("1100.000000")
    assert deal.amount_at_close == Decimal("1200.000000")


def test_an_open_deal_with_no_close_date_converts_at_its_created_date_in_company_time(
    ops_user, settings
):
    settings.TIME_ZONE = "America/New_York"
    exchange_rate_set(by=ops_user, currency="GBP", valid_from=date(2026, 1, 1), rate="1.25")
    exchange_rate_set(by=ops_user, currency="GBP", valid_from=date(2026, 2, 1), rate="1.30")
    # 02:00 UTC on 1 February is still 31 January in New York: January's rate.
    deal = DealFactory(
        amount=Decimal("100"),
        currency="GBP",
        created_at=datetime(2026, 2, 1, 2, tzinfo=UTC),
        close_date=None,
    )
    assert deal.amount_at_close == deal.amount_at_creation == Decimal("125.000000")


def test_a_deal_with_no_rate_in_force_has_null_converted_amounts(ops_user):
    exchange_rate_set(by=ops_user, currency="EUR", valid_from=date(2026, 6, 1), rate="1.1")
    before = DealFactory(currency="EUR", close_date=date(2026, 5, 31))
    never = DealFactory(currency="COP", close_date=date(2026, 7, 1))
    assert (before.amount_at_close, before.amount_at_creation) == (None, None)
    assert (never.amount_at_close, never.amount_at_creation) == (None, None)


def test_an_arr_change_converts_at_the_rate_on_its_effective_date(ops_user):
    exchange_rate_set(by=ops_user, currency="EUR", valid_from=date(2026, 1, 1), rate="1.5")
    change = ArrChangeFactory(
        amount=Decimal("12000"), currency="EUR", effective_date=date(2026, 1, 5)
    )
    early = ArrChangeFactory(currency="EUR", effective_date=date(2025, 12, 31))
    assert change.amount_converted == Decimal("18000.000000")
    assert early.amount_converted is None


def test_a_rate_change_moves_the_arr_of_accounts_with_changes_in_that_currency(ops_user):
    change = ArrChangeFactory(
        amount=Decimal("1000"), currency="EUR", effective_date=date(2026, 1, 5)
    )
    exchange_rate_set(by=ops_user, currency="EUR", valid_from=date(2026, 1, 1), rate="1.2")
    change.account.refresh_from_db()
    assert change.account.arr == Decimal("1200.00")
    exchange_rate_set(by=ops_user, currency="EUR", valid_from=date(2026, 1, 1), rate="1.1")
    change.account.refresh_from_db()
    assert change.account.arr == Decimal("1100.00")


def test_a_rate_change_reconverts_only_the_rows_of_that_currency_and_period(ops_user):
    exchange_rate_set(by=ops_user, currency="EUR", valid_from=date(2026, 1, 1), rate="1.1")
    exchange_rate_set(by=ops_user, currency="GBP", valid_from=date(2026, 1, 1), rate="1.3")
    january = DealFactory(amount=Decimal("100"), currency="EUR", close_date=date(2026, 1, 10))
    april = DealFactory(
        amount=Decimal("100"),
        currency="EUR",
        created_at=datetime(2026, 4, 2, tzinfo=UTC),
        close_date=date(2026, 4, 10),
    )
    pound = DealFactory(amount=Decimal("100"), currency="GBP", close_date=date(2026, 4, 10))
    # Nothing is stale, so a full pass changes nothing.
    assert set(amounts_convert().values()) == {0}

    exchange_rate_set(by=ops_user, currency="EUR", valid_from=date(2026, 4, 1), rate="1.2")
    for deal in (january, april, pound):
        deal.refresh_from_db()
    assert january.amount_at_close == Decimal("110.000000")
    assert april.amount_at_close == april.amount_at_creation == Decimal("120.000000")
    assert pound.amount_at_close == Decimal("130.000000")
    # Only EUR rows are even looked at, and only the April deal's values changed.
    assert amounts_convert(currencies=["EUR"])["pipeline_deal"] == 0

    exchange_rate_delete(by=ops_user, rate_id=ExchangeRate.objects.get(rate="1.2").pk)
    april.refresh_from_db()
    assert april.amount_at_close == Decimal("110.000000")


def test_conversion_updates_only_the_rows_whose_value_changes(ops_user):
    DealFactory.create_batch(3, amount=Decimal("10"), currency="EUR")
    DealFactory(amount=Decimal("10"), currency="EUR", created_at=datetime(2025, 6, 1, tzinfo=UTC))
    exchange_rate_set(by=ops_user, currency="EUR", valid_from=date(2026, 1, 1), rate="2")
    assert Deal.objects.filter(amount_at_creation=Decimal("20")).count() == 3
    # A later rate moves no deal: none is dated after it.
    exchange_rate_set(by=ops_user, currency="EUR", valid_from=date(2026, 9, 1), rate="3")
    assert amounts_convert(currencies=["EUR"]) == {
        "pipeline_deal": 0,
        "pipeline_sourcedeal": 0,
        "pipeline_arrchange": 0,
        "pipeline_sourcearrchange": 0,
    }


# --- Setting rates --------------------------------------------------------------------------


def test_setting_a_rate_twice_for_one_day_changes_it_and_the_audit_log_records_both(ops_user):
    first = exchange_rate_set(by=ops_user, currency=" eur", valid_from="2026-01-01", rate="1.1")
    second = exchange_rate_set(by=ops_user, currency="EUR", valid_from="2026-01-01", rate="1.2")
    assert first.pk == second.pk
    assert second.rate == Decimal("1.2")
    assert second.updated_by == ops_user
    assert second.currency == "EUR"
    events = AuditEvent.objects.filter(pgh_obj_model="audit.ExchangeRateAudit")
    assert sorted(events.values_list("pgh_label", flat=True)) == ["insert", "update"]


@pytest.mark.parametrize(
    ("currency", "day", "rate", "said"),
    [
        ("XYZ", "2026-01-01", "1", "XYZ is not an ISO 4217 currency code"),
        ("USD", "2026-01-01", "1", "USD is the company currency"),
        ("EUR", "2026-02-30", "1", "is not a date"),
        ("EUR", "soon", "1", "is not a date"),
        ("EUR", "2026-01-01", "0", "greater than 0"),
        ("EUR", "2026-01-01", "-1.5", "greater than 0"),
        ("EUR", "2026-01-01", "one", "is not a number"),
        ("EUR", "2026-01-01", "NaN", "is not a number"),
        ("EUR", "2026-01-01", "1e40", "must be below"),
        ("EUR", "2026-01-01", "0.000000000001", "more than 10 decimal places"),
    ],
)
def test_a_bad_rate_is_refused_with_the_reason(ops_user, currency, day, rate, said):
    with pytest.raises(ValidationError, match=said):
        exchange_rate_set(by=ops_user, currency=currency, valid_from=day, rate=rate)
    assert not ExchangeRate.objects.exists()


def test_deleting_a_rate_that_is_gone_is_refused(ops_user):
    with pytest.raises(ValidationError, match="does not exist"):
        exchange_rate_delete(by=ops_user, rate_id=123456)


# --- Importing a rates file -------------------------------------------------------------------


def test_a_good_rates_file_upserts_and_reconverts(ops_user):
    exchange_rate_set(by=ops_user, currency="EUR", valid_from=date(2026, 1, 1), rate="1.0")
    deal = DealFactory(amount=Decimal("100"), currency="EUR", close_date=date(2026, 2, 5))
    result = exchange_rates_import(
        by=ops_user,
        file=rates_file(
            "Currency,Date,Rate\neur,2026-01-01,1.1\nEUR,2026-02-01,1.15\nGBP,2026-01-01,1.3\n"
        ),
    )
    assert (result.created, result.updated, result.unchanged) == (2, 1, 0)
    assert result.currencies == ["EUR", "GBP"]
    deal.refresh_from_db()
    assert deal.amount_at_close == Decimal("115.000000")
    assert deal.amount_at_creation == Decimal("110.000000")
    again = exchange_rates_import(
        by=ops_user, file=rates_file("currency,date,rate\nGBP,2026-01-01,1.3\n")
    )
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)


def test_a_rates_file_with_bad_rows_imports_nothing_and_lists_every_problem(ops_user):
    text = (
        "currency,date,rate\n"
        "EUR,2026-01-01,1.1\n"  # good, but the file is refused
        "XYZ,2026-01-01,1\n"
        "USD,2026-01-01,1\n"
        "GBP,2026-01-01,-2\n"
        "GBP,2026-02-01,0\n"
        "GBP,2026-03-01,abc\n"
        "GBP,2026-02-30,1.3\n"
        "GBP,01/04/2026,1.3\n"
        "EUR,2026-01-01,1.2\n"  # the same currency and day as row 2
        "CHF,2026-01-01\n"
    )
    with pytest.raises(ExchangeRatesRejected) as caught:
        exchange_rates_import(by=ops_user, file=rates_file(text))
    found = [(e.row, e.column) for e in caught.value.errors]
    assert found == [
        (3, "currency"),
        (4, "currency"),
        (5, "rate"),
        (6, "rate"),
        (7, "rate"),
        (8, "date"),
        (9, "date"),
        (10, "date"),
        (11, ""),
    ]
    messages = [e.message for e in caught.value.errors]
    assert "XYZ is not an ISO 4217 currency code." in messages
    assert any("first on row 2" in m for m in messages)
    assert not ExchangeRate.objects.exists()


def test_a_rates_file_without_a_required_column_is_refused_naming_it(ops_user):
    with pytest.raises(ExchangeRatesRejected) as caught:
        exchange_rates_import(by=ops_user, file=rates_file("currency,valid_from,rate\nEUR,x,1\n"))
    assert [(e.row, e.column) for e in caught.value.errors] == [(1, "date")]


def test_a_rates_file_that_is_not_utf8_text_is_refused(ops_user):
    with pytest.raises(ExchangeRatesRejected, match="not UTF-8"):
        exchange_rates_import(by=ops_user, file=io.BytesIO(b"currency,date,rate\nEUR,\xff,1\n"))


# --- The importer -------------------------------------------------------------------------------

DEAL_MAPPING = {
    "object": "deal",
    "fields": {
        "external_id": "Id",
        "name": "Name",
        "stage": "Stage",
        "amount": "Amount",
        "currency": {"column": "Currency", "optional": True},
        "created_at": "Created",
        "close_date": {"column": "Close", "optional": True},
    },
}


def deal_rows(*rows: tuple[str, str]) -> str:
    return csv_text(
        [
            {
                "Id": f"D{i}",
                "Name": f"Deal {i}",
                "Stage": "closed_won",
                "Amount": amount,
                "Currency": currency,
                "Created": "2026-01-05",
                "Close": "2026-02-10",
            }
            for i, (amount, currency) in enumerate(rows)
        ]
    )


def test_import_normalises_currency_defaults_blank_and_keeps_six_decimals(tmp_path, ops_user):
    exchange_rate_set(by=ops_user, currency="EUR", valid_from=date(2026, 1, 1), rate="1.1")
    batch = run_import(
        tmp_path,
        deal_rows(("9225.225", " usd "), ("100", ""), ("100", "eur")),
        object_type="deal",
        mapping=DEAL_MAPPING,
    )
    assert batch.status == "applied", problems(batch)
    rows = {s.external_id: s for s in SourceDeal.objects.all()}
    assert (rows["D0"].currency, rows["D0"].amount) == ("USD", Decimal("9225.225"))
    assert rows["D0"].amount_at_close == Decimal("9225.225")
    assert rows["D1"].currency == "USD"
    assert (rows["D2"].currency, rows["D2"].amount_at_close) == ("EUR", Decimal("110.000000"))
    golden = Deal.objects.get(key="D2")
    assert (golden.currency, golden.amount_at_close, golden.amount_at_creation) == (
        "EUR",
        Decimal("110.000000"),
        Decimal("110.000000"),
    )


def test_import_uses_the_company_currency_for_a_blank_currency(tmp_path, settings):
    settings.COMPANY_CURRENCY = "EUR"
    batch = run_import(tmp_path, deal_rows(("50", "")), object_type="deal", mapping=DEAL_MAPPING)
    assert batch.status == "applied", problems(batch)
    deal = Deal.objects.get()
    assert (deal.currency, deal.amount_at_close) == ("EUR", Decimal("50.000000"))


def test_import_refuses_an_unknown_currency_code_naming_it(tmp_path):
    batch = run_import(
        tmp_path,
        deal_rows(("1", "XYZ"), ("1", "us$"), ("1", "EUR")),
        object_type="deal",
        mapping=DEAL_MAPPING,
    )
    assert batch.status == "rejected"
    assert problems(batch) == [
        (2, "Currency", "XYZ is not an ISO 4217 currency code"),
        (3, "Currency", "US$ is not an ISO 4217 currency code"),
    ]
    assert not SourceDeal.objects.exists()


def test_import_refuses_an_amount_with_more_than_six_decimals_never_rounding_it(tmp_path):
    batch = run_import(
        tmp_path, deal_rows(("1.1234567", "USD")), object_type="deal", mapping=DEAL_MAPPING
    )
    assert problems(batch) == [(2, "Amount", "has more than 6 decimal places")]
    assert not SourceDeal.objects.exists()


def test_imported_arr_changes_carry_their_currency_and_converted_amount(tmp_path, ops_user):
    exchange_rate_set(by=ops_user, currency="GBP", valid_from=date(2026, 1, 1), rate="1.25")
    accounts = csv_text([{"Id": "A1", "Name": "Acme", "Website": "acme.com"}])
    account_mapping = {
        "object": "account",
        "fields": {"external_id": "Id", "name": "Name", "domain": "Website"},
    }
    run_import(tmp_path, accounts, object_type="account", mapping=account_mapping, name="a.csv")
    changes = csv_text(
        [
            {"Id": "C1", "Account": "A1", "Kind": "new", "Amount": "1000", "Currency": "gbp",
             "Date": "2026-02-01"},
            {"Id": "C2", "Account": "A1", "Kind": "expansion", "Amount": "500", "Currency": "",
             "Date": "2026-03-01"},
        ]
    )  # fmt: skip
    mapping = {
        "object": "arr",
        "fields": {
            "external_id": "Id",
            "account_external_id": "Account",
            "kind": "Kind",
            "amount": "Amount",
            "currency": {"column": "Currency", "optional": True},
            "effective_date": "Date",
        },
    }
    batch = run_import(tmp_path, changes, object_type="arr", mapping=mapping, name="c.csv")
    assert batch.status == "applied", problems(batch)
    assert dict(SourceArrChange.objects.values_list("external_id", "amount_converted")) == {
        "C1": Decimal("1250.000000"),
        "C2": Decimal("500.000000"),
    }
    golden = ArrChange.objects.get(key__endswith=":C1")
    assert (golden.currency, golden.amount_converted) == ("GBP", Decimal("1250.000000"))
    assert golden.account.arr == Decimal("1750.00")


def test_the_conversion_sql_reads_as_one_update_with_a_lateral_rate_lookup():
    assert _conversion_sql("pipeline_arrchange", in_scope=True, currencies=True) == (
        "UPDATE pipeline_arrchange u SET amount_converted = c.amount_converted "
        "FROM (SELECT t.id, CASE WHEN t.currency = %(company)s THEN t.amount "
        "WHEN abs(t.amount * r0.rate) < %(limit)s THEN round(t.amount * r0.rate, 6) "
        "END AS amount_converted FROM pipeline_arrchange t "
        "LEFT JOIN LATERAL (SELECT r.rate FROM pipeline_exchangerate r "
        "WHERE r.currency = t.currency AND r.valid_from <= t.effective_date "
        "ORDER BY r.valid_from DESC LIMIT 1) r0 ON true "
        "WHERE true AND t.key IN (SELECT golden_key FROM _scope) "
        "AND t.currency = ANY(%(currencies)s)) c "
        "WHERE u.id = c.id AND (u.amount_converted) IS DISTINCT FROM (c.amount_converted)"
    )
