"""Imports: what users really export goes in, whole or not at all, and every refused cell says
which row, which column, which value and why."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from pipeline.choices import BatchStatus
from pipeline.models import ImportBatch, Lead, SourceDeal, SourceLead
from pipeline.services.imports import row_errors_csv
from tests.pipeline.importing import (
    LEAD_HEADER,
    crm,
    csv_text,
    lead_row,
    marketing,
    problems,
    run_import,
)

pytestmark = pytest.mark.django_db


def applied(batch: ImportBatch) -> ImportBatch:
    assert batch.status == BatchStatus.APPLIED, (batch.message, problems(batch))
    return batch


def rejected(batch: ImportBatch) -> ImportBatch:
    assert batch.status == BatchStatus.REJECTED, batch.status
    assert not SourceLead.objects.exists()
    assert not Lead.objects.exists()
    return batch


# --- Encodings, delimiters, line endings ------------------------------------------------------


def test_utf8_with_and_without_bom_read_the_same(tmp_path):
    applied(
        run_import(tmp_path, "\ufeff" + csv_text([lead_row(1, FirstName="José")]), name="bom.csv")
    )
    applied(run_import(tmp_path, csv_text([lead_row(2, FirstName="José")]), name="plain.csv"))
    assert sorted(SourceLead.objects.values_list("first_name", flat=True)) == ["José", "José"]


def test_windows_1252_file_is_read_as_windows_1252(tmp_path):
    # “José” with curly quotes: bytes 0x93 and 0x94 only mean quotes in Windows-1252.
    text = csv_text([lead_row(1, FirstName="José", Company="“Acme”")])
    batch = applied(run_import(tmp_path, text.encode("cp1252")))
    lead = SourceLead.objects.get()
    assert (lead.first_name, lead.company) == ("José", "“Acme”")
    assert batch.rows_created == 1


def test_latin1_file_with_a_byte_windows_1252_lacks_is_read_as_latin1(tmp_path):
    # 0x81 is undefined in Windows-1252; in Latin-1 it is a (control) character.
    content = csv_text([lead_row(1, LastName="Ångström")]).encode("latin-1")
    content = content.replace(b"Acme", b"Ac\x81me")
    applied(run_import(tmp_path, content))
    lead = SourceLead.objects.get()
    assert lead.last_name == "Ångström"
    assert lead.company == "Ac\x81me"


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_separated_files_import(tmp_path, delimiter):
    applied(run_import(tmp_path, csv_text([lead_row(1), lead_row(2)], delimiter=delimiter)))
    assert SourceLead.objects.count() == 2


def test_crlf_line_endings_import(tmp_path):
    batch = applied(
        run_import(tmp_path, csv_text([lead_row(1), lead_row(2)], lineterminator="\r\n"))
    )
    assert batch.rows_total == 2
    assert not SourceLead.objects.filter(owner__contains="\r").exists()


def test_quoted_field_with_embedded_newlines_reads_as_one_line_and_row_numbers_stay_right(
    tmp_path,
):
    rows = [lead_row(1, Company="Acme\nWest\r\nWing"), lead_row(2, Email="not-an-email")]
    batch = rejected(run_import(tmp_path, csv_text(rows)))
    # The second data row is row 3 of the spreadsheet, whatever the first row's newlines.
    assert problems(batch) == [(3, "Email", "is not a valid email address")]
    applied(run_import(tmp_path, csv_text([rows[0]]), name="ok.csv"))
    # A company is a single line: its line breaks become spaces (a CONTROL_CHARACTERS finding).
    assert SourceLead.objects.get().company == "Acme West Wing"


# --- Columns ------------------------------------------------------------------------------------


def test_missing_required_columns_are_refused_before_any_row_is_read(tmp_path):
    header = [c for c in LEAD_HEADER if c not in ("Email", "CreatedDate")]
    batch = rejected(run_import(tmp_path, csv_text([lead_row(1)], header=header)))
    assert "'Email', 'CreatedDate'" in batch.message
    assert batch.rows_total == 0


def test_unknown_extra_columns_are_ignored_and_listed(tmp_path):
    rows = [lead_row(1, Zip="02134", Favourite_Colour="teal")]
    batch = applied(run_import(tmp_path, csv_text(rows)))
    assert batch.unknown_columns == ["Zip", "Favourite_Colour"]


def test_empty_file_is_refused(tmp_path):
    batch = rejected(run_import(tmp_path, b""))
    assert batch.message == "The file is empty. Nothing was imported."


def test_header_only_file_is_refused(tmp_path):
    batch = rejected(run_import(tmp_path, ",".join(LEAD_HEADER) + "\n"))
    assert "header but no rows" in batch.message


def test_duplicate_ids_within_a_file_are_refused_naming_the_rows(tmp_path):
    rows = [lead_row(1), lead_row(2), lead_row(1, Email="other@acme.com")]
    batch = rejected(run_import(tmp_path, csv_text(rows)))
    assert problems(batch) == [
        (2, "Id", "appears 2 times in this file (rows 2, 4)"),
        (4, "Id", "appears 2 times in this file (rows 2, 4)"),
    ]


# --- Dates and time zones -----------------------------------------------------------------------

LEAD_MAPPING = {
    "object": "lead",
    "fields": {"external_id": "Id", "email": "Email", "created_at": "Created", "mql_at": "MQL"},
}


def date_import(tmp_path, values: list[str], order: str, tz: str = "UTC"):
    rows = [
        {"Id": str(i), "Email": f"p{i}@acme.com", "Created": v, "MQL": ""}
        for i, v in enumerate(values)
    ]
    mapping = {**LEAD_MAPPING, "date_order": order, "timezone": tz}
    return run_import(tmp_path, csv_text(rows), mapping=mapping, preset=None)


def created(external_id: str) -> datetime:
    return SourceLead.objects.get(external_id=external_id).created_at


def test_iso_us_and_eu_dates_read_in_the_order_the_mapping_gives(tmp_path):
    applied(
        date_import(tmp_path, ["2026-03-04", "2026-03-04T10:15:00Z", "03/04/2026 10:15 PM"], "us")
    )
    assert created("0") == datetime(2026, 3, 4, tzinfo=UTC)
    assert created("1") == datetime(2026, 3, 4, 10, 15, tzinfo=UTC)
    assert created("2") == datetime(2026, 3, 4, 22, 15, tzinfo=UTC)  # month first
    SourceLead.objects.all().delete()
    applied(date_import(tmp_path, ["03/04/2026", "31.12.2025 23:59"], "eu"))
    assert created("0") == datetime(2026, 4, 3, tzinfo=UTC)  # day first
    assert created("1") == datetime(2025, 12, 31, 23, 59, tzinfo=UTC)


def test_ambiguous_slash_dates_are_refused_not_guessed(tmp_path):
    batch = rejected(date_import(tmp_path, ["13/04/2026", "03/04/2026"], "auto"))
    # 13/04 can only be 13 April; 03/04 could be 3 April or 4 March.
    assert problems(batch) == [
        (
            3,
            "Created",
            "is ambiguous: it could be day/month or month/day; set the date order (US or EU)",
        ),
    ]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2026-02-30", "is not a real date or time"),
        ("2026-13-01T10:00:00Z", "is not a real date or time"),
        ("2026-03-04T25:00:00", "is not a real date or time"),
        ("31/02/2026", "is not a real date"),
        ("03/04/26", "has a two-digit year; use four digits"),
        ("yesterday", "is not a date like 2025-03-31 or 31/03/2025 (day first)"),
    ],
)
def test_impossible_or_malformed_dates_are_refused_with_the_reason(tmp_path, value, reason):
    batch = rejected(date_import(tmp_path, [value], "eu"))
    assert problems(batch) == [(2, "Created", reason)]


def test_offsets_are_honoured_and_naive_times_read_in_the_mappings_time_zone(tmp_path):
    values = ["2026-07-01T09:00:00+02:00", "2026-07-01 09:00", "2026-01-15 09:00"]
    applied(date_import(tmp_path, values, "iso", tz="Europe/Berlin"))
    assert created("0") == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    assert created("1") == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)  # CEST, UTC+2
    assert created("2") == datetime(2026, 1, 15, 8, 0, tzinfo=UTC)  # CET, UTC+1


# --- Amounts ------------------------------------------------------------------------------------

DEAL_MAPPING = {
    "object": "deal",
    "decimal_separator": ".",
    "fields": {
        "external_id": "Id",
        "name": "Name",
        "stage": {"column": "Stage"},
        "amount": "Amount",
        "created_at": "Created",
    },
}


def deal_import(tmp_path, amounts: list[str], decimal: str = "."):
    rows = [
        {
            "Id": f"D{i}",
            "Name": f"Deal {i}",
            "Stage": "qualification",
            "Amount": a,
            "Created": "2026-03-02",
        }
        for i, a in enumerate(amounts)
    ]
    mapping = {**DEAL_MAPPING, "decimal_separator": decimal}
    return run_import(tmp_path, csv_text(rows), object_type="deal", mapping=mapping, preset=None)


def amount(external_id: str) -> Decimal:
    return SourceDeal.objects.get(external_id=external_id).amount


def test_amounts_with_currency_symbols_and_thousands_separators_are_read(tmp_path):
    applied(deal_import(tmp_path, ["$1,234.50", "USD 12,000", "€ 99.9", "1234.567", ""]))
    assert [amount(f"D{i}") for i in range(5)] == [
        Decimal("1234.50"),
        Decimal("12000.00"),
        Decimal("99.90"),
        Decimal("1234.567"),  # kept as written, never rounded to cents
        Decimal("0.00"),  # blank amount: nothing yet
    ]


def test_decimal_comma_files_read_with_a_comma_mapping(tmp_path):
    applied(deal_import(tmp_path, ["1.234,50", "EUR 12.000"], decimal=","))
    assert [amount("D0"), amount("D1")] == [Decimal("1234.50"), Decimal("12000.00")]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("-500", "is negative"),
        ("(1,200.00)", "is negative"),
        ("NaN", "is not a number"),
        ("Infinity", "is not a number"),
        ("inf", "is not a number"),
        ("12 apples", "is not a number"),
        ("5000000000000", "is too large"),
    ],
)
def test_negative_nan_infinite_and_nonsense_amounts_are_refused(tmp_path, value, reason):
    batch = deal_import(tmp_path, [value])
    assert batch.status == BatchStatus.REJECTED
    assert problems(batch) == [(2, "Amount", reason)]
    assert not SourceDeal.objects.exists()


# --- Emails -------------------------------------------------------------------------------------


def test_case_and_idna_forms_of_one_address_are_one_lead(tmp_path):
    rows = [lead_row(1, Email="JOSE@EXÄMPLE.COM"), lead_row(2, Email="jose@xn--exmple-cua.com")]
    applied(run_import(tmp_path, csv_text(rows)))
    lead = Lead.objects.get()
    assert lead.email_key == "jose@xn--exmple-cua.com"
    assert lead.source_records.count() == 2


@pytest.mark.parametrize(
    "address",
    ["josé@example.com", "not-an-email", "a..b@acme.com", "ana@", "@acme.com", "ana@acme"],
)
def test_addresses_djangos_validator_refuses_are_refused_with_the_reason(tmp_path, address):
    batch = rejected(run_import(tmp_path, csv_text([lead_row(1, Email=address)])))
    assert problems(batch) == [(2, "Email", "is not a valid email address")]


def test_unusual_but_valid_addresses_take_the_exact_path_and_pass(tmp_path):
    rows = [lead_row(1, Email="o'brien+crm@sub-domain.acme.io"), lead_row(2, Email="A-.b@Acme.com")]
    applied(run_import(tmp_path, csv_text(rows)))
    assert set(Lead.objects.values_list("email_key", flat=True)) == {
        "o'brien+crm@sub-domain.acme.io",
        "a-.b@acme.com",
    }


# --- Text kept verbatim -------------------------------------------------------------------------


def test_values_pandas_would_coerce_are_kept_verbatim(tmp_path):
    rows = [
        lead_row(1, Id="001", Company="02134", FirstName="NA", LastName="null", LeadSource="1e3")
    ]
    applied(run_import(tmp_path, csv_text(rows)))
    lead = SourceLead.objects.get()
    assert (lead.external_id, lead.company, lead.first_name, lead.last_name, lead.source) == (
        "001",
        "02134",
        "NA",
        "null",
        "1e3",
    )


def test_formula_like_cells_are_stored_as_text_and_escaped_in_csv_we_write(tmp_path):
    rows = [
        lead_row(1, Company='=HYPERLINK("http://x")', FirstName="+1", LastName="-2"),
        lead_row(2, Email="@bad", Company="@SUM(A1)"),
    ]
    batch = rejected(run_import(tmp_path, csv_text(rows)))
    report = row_errors_csv(batch).getvalue()
    assert "'@bad" in report  # the value column of the problem report, made inert
    applied(run_import(tmp_path, csv_text([rows[0]]), name="ok.csv"))
    assert SourceLead.objects.get().company == '=HYPERLINK("http://x")'


# --- Broken files -------------------------------------------------------------------------------


def test_unterminated_quote_is_refused_with_its_row_and_swallows_nothing(tmp_path):
    good = csv_text([lead_row(1), lead_row(2), lead_row(3)])
    lines = good.splitlines()
    lines[2] = lines[2].replace("Acme", '"Acme', 1)  # row 3 opens a quote it never closes
    batch = rejected(run_import(tmp_path, "\n".join(lines) + "\n"))
    assert [(row, message.split(";")[0]) for row, _, message in problems(batch)] == [
        (3, "cannot be read (unexpected end of data)"),
    ]


def test_rows_with_too_many_fields_are_refused_naming_each_and_short_rows_are_padded(tmp_path):
    good = csv_text([lead_row(i) for i in range(1, 5)]).splitlines()
    good[2] += ",extra"
    good[4] = good[4].rsplit(",", 2)[0]  # as Excel writes a row whose last cells are empty
    batch = rejected(run_import(tmp_path, "\n".join(good) + "\n"))
    assert [(row, message) for row, _, message in problems(batch)] == [
        (3, "has 13 fields; the header has 12"),
    ]


def test_a_ten_megabyte_cell_is_refused_with_the_columns_limit(tmp_path):
    batch = rejected(run_import(tmp_path, csv_text([lead_row(1, Company="x" * 10_000_000)])))
    assert problems(batch) == [
        (2, "Company", "is 10000000 characters long; the limit for this column is 255"),
    ]


def test_a_file_over_the_size_limit_is_refused_naming_the_limit(tmp_path, settings):
    settings.IMPORT_MAX_BYTES = 2_000
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match=r"the limit is 2 kB"):
        run_import(tmp_path, csv_text([lead_row(i) for i in range(50)]))
    assert not ImportBatch.objects.exists()


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 100, "an Excel workbook or a zip archive"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "a PNG image"),
        (b"%PDF-1.7\n" + b"x" * 100, "a PDF document"),
        (b"<!DOCTYPE html><html><body>Login</body></html>", "a web page"),
        (b"\x00\x01\x02binary\x00", "a binary file"),
    ],
)
def test_a_file_that_is_not_csv_at_all_is_refused(tmp_path, content, said):
    batch = rejected(run_import(tmp_path, content))
    assert said in batch.message


# --- Whole or nothing, and twice is once --------------------------------------------------------


def test_importing_the_same_file_twice_reports_zero_changes(tmp_path):
    text = csv_text([lead_row(i) for i in range(1, 6)])
    first = applied(run_import(tmp_path, text))
    second = applied(run_import(tmp_path, text, name="again.csv"))
    assert (first.rows_created, first.rows_updated) == (5, 0)
    assert (second.rows_created, second.rows_updated, second.rows_unchanged) == (0, 0, 5)
    assert second.file_sha256 == first.file_sha256


def test_a_changed_row_is_updated_and_its_golden_record_follows(tmp_path):
    applied(run_import(tmp_path, csv_text([lead_row(1), lead_row(2)])))
    batch = applied(
        run_import(
            tmp_path,
            csv_text([lead_row(1), lead_row(2, Status="Working - Contacted")]),
            name="v2.csv",
        )
    )
    assert (batch.rows_created, batch.rows_updated, batch.rows_unchanged) == (0, 1, 1)
    assert Lead.objects.get(email_key="person2@acme.com").stage == "sal"
    change = Lead.objects.get(email_key="person2@acme.com").stage_changes.get()
    assert (change.from_stage, change.to_stage) == ("new", "sal")


def test_an_email_change_moves_the_record_to_a_new_lead_and_retires_the_old(tmp_path):
    applied(run_import(tmp_path, csv_text([lead_row(1)])))
    applied(run_import(tmp_path, csv_text([lead_row(1, Email="new@acme.com")]), name="v2.csv"))
    assert list(Lead.objects.values_list("email_key", flat=True)) == ["new@acme.com"]


@pytest.mark.slow
def test_one_bad_row_at_the_end_of_a_large_file_leaves_nothing_written(tmp_path):
    rows = [lead_row(i) for i in range(1, 1_000_000)]
    rows[-1]["CreatedDate"] = "2026-02-30T00:00:00Z"  # row 999,999 of the data, file row 1,000,000
    batch = rejected(run_import(tmp_path, csv_text(rows)))
    assert problems(batch) == [(1_000_000, "CreatedDate", "is not a real date or time")]
    assert batch.rows_total == 999_999


def test_a_failure_while_writing_rolls_the_whole_batch_back(tmp_path, monkeypatch):
    import pipeline.services.imports.batch as imports

    applied(run_import(tmp_path, csv_text([lead_row(1)])))

    def crash(**kwargs):
        raise RuntimeError("worker lost mid-write")

    monkeypatch.setattr(imports, "golden_refresh_dependents", crash)
    batch = run_import(
        tmp_path, csv_text([lead_row(1, FirstName="Changed"), lead_row(2)]), name="v2.csv"
    )
    assert batch.status == BatchStatus.FAILED
    assert "worker lost mid-write" in batch.message
    assert list(SourceLead.objects.values_list("first_name", flat=True)) == ["Ana"]
    assert Lead.objects.count() == 1


def test_a_check_only_batch_writes_nothing_and_can_be_confirmed_later(
    tmp_path, django_capture_on_commit_callbacks
):
    from pipeline.services.imports import import_batch_confirm

    batch = run_import(tmp_path, csv_text([lead_row(1), lead_row(2)]), apply=False)
    assert batch.status == BatchStatus.PENDING
    assert batch.preview["rows"][0][:3] == [2, "00Q000000000000001", "person1@acme.com"]
    assert not SourceLead.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        import_batch_confirm(batch=batch, by=None)  # queued on commit; eager here
    batch.refresh_from_db()
    assert batch.status == BatchStatus.APPLIED
    assert SourceLead.objects.count() == 2


# --- Every preset on a file shaped like the real export -----------------------------------------

PRESET_FILES = {
    "salesforce-account": (
        "account",
        crm,
        [
            {
                "Id": "001A",
                "Name": "Acme Corp",
                "Website": "https://www.Acme.com/about",
                "Industry": "Software",
                "NumberOfEmployees": "1,200",
                "OwnerId": "005X",
            }
        ],
    ),
    "hubspot-company": (
        "account",
        marketing,
        [
            {
                "Record ID": "9001",
                "Company name": "Acme",
                "Company Domain Name": "acme.com",
                "Industry": "SOFTWARE",
                "Number of Employees": "1200",
            }
        ],
    ),
    "salesforce-lead": (
        "lead",
        crm,
        [
            lead_row(
                1,
                Email="ana@acme.com",
                Status="Closed - Converted",
                ConvertedDate="2026-03-10",
                ConvertedOpportunityId="006A",
                IsConverted="true",
            )
        ],
    ),
    "hubspot-contact": (
        "lead",
        marketing,
        [
            {
                "Record ID": "101",
                "Email": "ana@acme.com",
                "First Name": "Ana",
                "Last Name": "Smith",
                "Lifecycle Stage": "Marketing Qualified Lead",
                "Original Source": "Paid Search",
                "Create Date": "2026-03-02 10:14",
                "Became a Marketing Qualified Lead Date": "2026-03-03 09:00",
                "Became a Sales Qualified Lead Date": "",
                "Associated Company": "Acme",
            }
        ],
    ),
    "salesforce-opportunity": (
        "deal",
        crm,
        [
            {
                "Id": "006A",
                "AccountId": "001A",
                "Name": "Acme — New",
                "StageName": "Negotiation/Review",
                "Amount": "48000",
                "CloseDate": "2026-04-30",
                "CreatedDate": "2026-03-10T09:00:00.000+0000",
                "IsClosed": "false",
                "IsWon": "false",
                "LeadSource": "Web",
                "Type": "New Customer",
                "OwnerId": "005X",
            }
        ],
    ),
    "hubspot-deal": (
        "deal",
        marketing,
        [
            {
                "Record ID": "501",
                "Deal Name": "Acme — New",
                "Deal Stage": "Contract Sent",
                "Amount": "45000",
                "Close Date": "2026-04-30",
                "Create Date": "2026-03-10 09:00",
                "Pipeline": "Sales Pipeline",
                "Deal Type": "New Business",
                "Original Source": "Paid Search",
                "Salesforce Opportunity ID": "006A",
            }
        ],
    ),
}


def test_every_preset_reads_its_vendors_export_into_one_joined_up_set_of_records(tmp_path):
    for key, (object_type, system, rows) in PRESET_FILES.items():
        batch = run_import(
            tmp_path,
            csv_text(rows),
            system=system(),
            object_type=object_type,
            preset=key,
            name=f"{key}.csv",
        )
        assert batch.status == BatchStatus.APPLIED, (key, batch.message, problems(batch))
        assert batch.unknown_columns == [], key

    from pipeline.models import Account, Deal

    account = Account.objects.get()
    assert (account.domain, account.name, account.employees) == ("acme.com", "Acme Corp", 1200)
    lead = Lead.objects.get()
    assert lead.account == account
    assert lead.stage == "opportunity"  # the CRM's word; marketing still says MQL
    assert lead.mql_at is None  # no rule: the CRM decides, and it has no MQL date
    deal = Deal.objects.get()
    assert (deal.key, deal.stage, deal.amount, deal.source, deal.deal_type) == (
        "006A",
        "negotiation",
        Decimal("48000.00"),
        "marketing",
        "new",
    )
    assert (deal.account, deal.lead, deal.close_date) == (account, lead, date(2026, 4, 30))
    assert deal.source_records.count() == 2


def test_the_identical_file_again_is_recognised_without_rechecking(tmp_path):
    text = csv_text([lead_row(1), lead_row(2)])
    first = applied(run_import(tmp_path, text))
    again = applied(run_import(tmp_path, text, name="again.csv"))
    assert (again.rows_total, again.rows_unchanged, again.rows_created) == (2, 2, 0)
    assert f"Identical to import #{first.pk}" in again.message
    # Reordered rows are another file: checked and compared row by row, still no change.
    reordered = csv_text([lead_row(2), lead_row(1)])
    third = applied(run_import(tmp_path, reordered, name="reordered.csv"))
    assert (third.rows_unchanged, third.message) == (2, "")
