"""Money in the company currency: dated exchange rates, and the converted amounts of deals and
ARR changes they give.

A deal's `amount_at_close` is its amount at the rate in force on its close date (on its created
date, in the company time zone, while it has none); `amount_at_creation` at the rate on its
created date; an ARR change's `amount_converted` at the rate on its effective date. The rate in
force on a day is the latest `ExchangeRate` of the currency valid from that day or before. The
company currency converts at 1; a currency with no rate in force gives NULL, so the record is
never summed as if it were in the company currency.

`amounts_convert` is the one writer of those columns. Whatever writes deals or ARR changes
(identity resolution, the importer, the demo, the factories) calls it for the rows it wrote,
and every change to the rates calls it for the currencies that changed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date

from pipeline.models import ExchangeRate
from revops.currencies import currency_normalise, currency_parse

# Table → (its golden key column, {converted column: the day whose rate it takes}).
# A deal with neither date yet (an early deal) converts at the latest rate when it is written:
# it counts in open pipeline, and in no week's pipeline created.
_TODAY = "(now() AT TIME ZONE %(tz)s)::date"
_DEAL_CLOSE_DAY = f"coalesce(t.close_date, (t.created_at AT TIME ZONE %(tz)s)::date, {_TODAY})"
_DEAL_CREATED_DAY = f"coalesce((t.created_at AT TIME ZONE %(tz)s)::date, t.close_date, {_TODAY})"
_CONVERSIONS: dict[str, tuple[str, dict[str, str]]] = {
    "pipeline_deal": (
        "key",
        {"amount_at_close": _DEAL_CLOSE_DAY, "amount_at_creation": _DEAL_CREATED_DAY},
    ),
    "pipeline_sourcedeal": (
        "golden_key",
        {"amount_at_close": _DEAL_CLOSE_DAY, "amount_at_creation": _DEAL_CREATED_DAY},
    ),
    "pipeline_arrchange": ("key", {"amount_converted": "t.effective_date"}),
    "pipeline_sourcearrchange": ("golden_key", {"amount_converted": "t.effective_date"}),
}
CONVERTED_TABLES: tuple[str, ...] = tuple(_CONVERSIONS)
DEAL_TABLES = ("pipeline_deal", "pipeline_sourcedeal")
ARR_TABLES = ("pipeline_arrchange", "pipeline_sourcearrchange")

# A converted amount is numeric(24,6): 18 digits before the point. A product beyond that (an
# absurd amount at an absurd rate) is left unconverted rather than failing the whole write.
_CONVERTED_LIMIT = Decimal("1e18")
RATE_MAX = Decimal("1000000")  # one unit worth a million company units: nothing real is
RATE_DECIMALS = 10
RATES_FILE_MAX_BYTES = 5_000_000


def _conversion_sql(table: str, *, in_scope: bool, currencies: bool) -> str:
    """One UPDATE of `table`: each converted column from the rate in force on its day, found by
    a LATERAL probe of the (currency, valid_from) unique index; only rows that change."""
    key, columns = _CONVERSIONS[table]
    lookups, values = [], []
    for n, (column, day) in enumerate(columns.items()):
        lookups.append(
            f"LEFT JOIN LATERAL (SELECT r.rate FROM pipeline_exchangerate r "
            f"WHERE r.currency = t.currency AND r.valid_from <= {day} "
            f"ORDER BY r.valid_from DESC LIMIT 1) r{n} ON true"
        )
        values.append(
            f"CASE WHEN t.currency = %(company)s THEN t.amount "
            f"WHEN abs(t.amount * r{n}.rate) < %(limit)s THEN round(t.amount * r{n}.rate, 6) "
            f"END AS {column}"
        )
    where = ["true"]
    if in_scope:
        where.append(f"t.{key} IN (SELECT golden_key FROM _scope)")
    if currencies:
        where.append("t.currency = ANY(%(currencies)s)")
    names = list(columns)
    return (
        f"UPDATE {table} u SET {', '.join(f'{c} = c.{c}' for c in names)} "
        f"FROM (SELECT t.id, {', '.join(values)} FROM {table} t {' '.join(lookups)} "
        f"WHERE {' AND '.join(where)}) c "
        f"WHERE u.id = c.id AND ({', '.join(f'u.{c}' for c in names)}) "
        f"IS DISTINCT FROM ({', '.join(f'c.{c}' for c in names)})"
    )


def amounts_convert(
    *,
    currencies: Iterable[str] | None = None,
    tables: Iterable[str] = CONVERTED_TABLES,
    in_scope: bool = False,
) -> dict[str, int]:
    """Recompute the converted amounts of `tables` (all four by default), set-based: one UPDATE
    per table, touching only rows whose value changes. `currencies` limits it to rows in those
    currencies (after a rate change); `in_scope` to rows whose golden key is in the temp table
    `_scope` (identity resolution's). Returns the rows changed per table. Runs in the caller's
    transaction."""
    tables = tuple(tables)
    unknown = set(tables) - set(CONVERTED_TABLES)
    if unknown:
        raise ValueError(f"no converted amounts in {', '.join(sorted(unknown))}")
    wanted = None if currencies is None else sorted({currency_normalise(c) for c in currencies})
    params = {
        "company": settings.COMPANY_CURRENCY,
        "tz": settings.TIME_ZONE,
        "limit": _CONVERTED_LIMIT,
        "currencies": wanted,
    }
    counts: dict[str, int] = {}
    with connection.cursor() as cursor:
        for table in tables:
            if wanted == []:
                counts[table] = 0
                continue
            cursor.execute(
                _conversion_sql(table, in_scope=in_scope, currencies=wanted is not None), params
            )
            counts[table] = cursor.rowcount
    return counts


# --- Rates ----------------------------------------------------------------------------------


def rate_currency_check(raw: object) -> str:
    """The normalised code of a currency a rate may be given for; ValidationError otherwise."""
    code = currency_normalise(raw)
    if not code:
        raise ValidationError("Give a currency code such as EUR.")
    if currency_parse(code) is None:
        raise ValidationError(f"{code[:20]} is not an ISO 4217 currency code.")
    if code == settings.COMPANY_CURRENCY:
        raise ValidationError(
            f"{code} is the company currency: it always converts at 1 and takes no rate."
        )
    return code


def rate_value_check(raw: object) -> Decimal:
    """A rate as a Decimal: a number above 0, below RATE_MAX, at most 10 decimal places."""
    try:
        rate = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(f"{str(raw)[:40]!r} is not a number.") from None
    if not rate.is_finite():
        raise ValidationError(f"{str(raw)[:40]!r} is not a number.")
    if rate <= 0:
        raise ValidationError("The rate must be greater than 0.")
    if rate >= RATE_MAX:
        raise ValidationError(f"The rate must be below {RATE_MAX:,}.")
    if -rate.as_tuple().exponent > RATE_DECIMALS:
        raise ValidationError(f"The rate has more than {RATE_DECIMALS} decimal places.")
    return rate


def rate_date_check(raw: object) -> date:
    if isinstance(raw, date):
        return raw
    text = str(raw or "").strip()
    try:
        day = parse_date(text)
    except ValueError:  # the shape of a date, but not a real one (2026-02-30)
        day = None
    if day is None:
        raise ValidationError(f"{text[:40]!r} is not a date like 2026-03-31.")
    return day


def _after_rates_changed(currencies: Iterable[str]) -> dict[str, int]:
    """Reconvert what the changed currencies touch, and the ARR of accounts whose changes
    moved. Published scorecard weeks are frozen snapshots and live weeks are computed on every
    request (scorecard/caching.py caches only published ones), so no cached value needs
    dropping here."""
    # In-body import: identity resolution calls amounts_convert, so it imports this module.
    from pipeline.services.identity import account_arr_rollup

    counts = amounts_convert(currencies=currencies)
    if counts.get("pipeline_arrchange"):
        account_arr_rollup()
    return counts


@transaction.atomic
def exchange_rate_set(
    *, by: AbstractBaseUser | None, currency: str, valid_from: date | str, rate: Decimal | str
) -> ExchangeRate:
    """Set the rate of `currency` from `valid_from` on (a new row, or the rate of that day
    changed), then reconvert that currency's deals and ARR changes. Refuses an unknown code,
    the company currency, a rate that is not a number above 0, and a day that is not a date."""
    code = rate_currency_check(currency)
    day = rate_date_check(valid_from)
    value = rate_value_check(rate)
    exchange_rate, _ = ExchangeRate.objects.update_or_create(
        currency=code, valid_from=day, defaults={"rate": value, "updated_by": by}
    )
    _after_rates_changed([code])
    return exchange_rate


@transaction.atomic
def exchange_rate_delete(*, by: AbstractBaseUser | None, rate_id: int) -> None:
    """Remove one rate; the days it covered take the rate before it (or none), and its
    currency's amounts are reconverted. `by` is who asked (the audit log's request context
    records it)."""
    exchange_rate = ExchangeRate.objects.select_for_update().filter(pk=rate_id).first()
    if exchange_rate is None:
        raise ValidationError("That exchange rate does not exist (any more).")
    code = exchange_rate.currency
    exchange_rate.delete()
    _after_rates_changed([code])


@dataclass(frozen=True)
class RateRowError:
    row: int | None  # the file's line, the header being 1; None for the file as a whole
    column: str
    message: str


class ExchangeRatesRejected(ValidationError):
    """A rates file with problems: nothing was imported. `errors` lists every one."""

    def __init__(self, errors: list[RateRowError]) -> None:
        self.errors = errors
        super().__init__(
            [(f"Row {e.row}, {e.column}: " if e.row else "") + e.message for e in errors[:1000]]
        )


@dataclass
class RatesImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    currencies: list[str] = field(default_factory=list)


RATES_COLUMNS = ("currency", "date", "rate")


def _read_rates(content: bytes) -> tuple[list[tuple[int, str, date, Decimal]], list[RateRowError]]:
    """The rows of a rates file, checked: (line, currency, day, rate), and every problem."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [RateRowError(None, "", "The file is not UTF-8 text. Save it as CSV UTF-8.")]
    if "\x00" in text:
        return [], [RateRowError(None, "", "This is a binary file, not CSV text.")]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    errors: list[RateRowError] = []
    rows: list[tuple[int, str, date, Decimal]] = []
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        missing = [c for c in RATES_COLUMNS if c not in header]
        if missing:
            return [], [
                RateRowError(
                    1, c, f"The header has no column {c!r}: it must be currency,date,rate."
                )
                for c in missing
            ]
        at = {c: header.index(c) for c in RATES_COLUMNS}
        first_line: dict[tuple[str, date], int] = {}
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                errors.append(
                    RateRowError(line, "", f"has {len(cells)} fields; the header has {len(header)}")
                )
                continue
            values: dict[str, object] = {}
            for column, check in (
                ("currency", rate_currency_check),
                ("date", rate_date_check),
                ("rate", rate_value_check),
            ):
                try:
                    values[column] = check(cells[at[column]])
                except ValidationError as exc:
                    errors.append(RateRowError(line, column, exc.messages[0]))
            if len(values) < len(RATES_COLUMNS):
                continue
            pair = (values["currency"], values["date"])
            if pair in first_line:
                errors.append(
                    RateRowError(
                        line,
                        "date",
                        f"{pair[0]} on {pair[1]} is given twice (first on row {first_line[pair]}).",
                    )
                )
                continue
            first_line[pair] = line
            rows.append((line, *pair, values["rate"]))
    except csv.Error as exc:
        errors.append(
            RateRowError(reader.line_num, "", f"cannot be read ({exc}); is a quote left open?")
        )
    if not rows and not errors:
        errors.append(
            RateRowError(None, "", "The file has no rates: a header and then one row per rate.")
        )
    return rows, errors


@transaction.atomic
def exchange_rates_import(*, by: AbstractBaseUser | None, file) -> RatesImportResult:
    """Import a CSV of rates (header `currency,date,rate`) whole or not at all: any bad row (an
    unknown code, the company currency, a rate that is not a number above 0, a date that is not
    one, a currency and date given twice, a missing column) imports nothing and raises
    ExchangeRatesRejected listing every problem by row and column. A good file upserts on
    (currency, date) and reconverts the currencies whose rates changed."""
    content = file.read(RATES_FILE_MAX_BYTES + 1) if hasattr(file, "read") else bytes(file)
    if isinstance(content, str):
        content = content.encode()
    if len(content) > RATES_FILE_MAX_BYTES:
        raise ExchangeRatesRejected(
            [RateRowError(None, "", f"The file is over {RATES_FILE_MAX_BYTES // 1_000_000} MB.")]
        )
    rows, errors = _read_rates(content)
    if errors:
        raise ExchangeRatesRejected(errors)
    stored = {
        (r.currency, r.valid_from): r
        for r in ExchangeRate.objects.select_for_update().filter(
            currency__in={code for _, code, _, _ in rows}
        )
    }
    result = RatesImportResult()
    new, changed = [], []
    now = timezone.now()
    for _, code, day, rate in rows:
        existing = stored.get((code, day))
        if existing is None:
            new.append(ExchangeRate(currency=code, valid_from=day, rate=rate, updated_by=by))
        elif existing.rate != rate:
            existing.rate, existing.updated_by, existing.updated_at = rate, by, now
            changed.append(existing)
        else:
            result.unchanged += 1
    ExchangeRate.objects.bulk_create(new, batch_size=1000)
    ExchangeRate.objects.bulk_update(changed, ["rate", "updated_by", "updated_at"], batch_size=1000)
    result.created, result.updated = len(new), len(changed)
    result.currencies = sorted({r.currency for r in [*new, *changed]})
    if result.currencies:
        _after_rates_changed(result.currencies)
    return result
