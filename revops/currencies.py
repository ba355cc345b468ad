"""ISO 4217 currency codes, and the one way to read a currency a person or a file gives.

The list is written in (no dependency for a list that changes once a year or two): the
active alphabetic codes of ISO 4217 list one, as of 2026, funds and precious metals included.
Left out on purpose: XTS (for testing) and XXX (no currency), which no amount is ever in.
When ISO adds or withdraws a code, edit the set; a withdrawn code that old records still
carry (HRK, say) may stay so that they keep importing."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ISO_4217: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN
    BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP
    ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR
    ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA
    MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK
    PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC
    SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND
    VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG
    """.split()  # noqa: SIM905 - a block of codes reads better than 176 quoted strings
)


def currency_normalise(value: object) -> str:
    """The code as it is stored: stripped and upper-cased ('' for nothing)."""
    return str(value or "").strip().upper()


def currency_known(value: object) -> bool:
    """Is `value`, once normalised, an ISO 4217 code?"""
    return currency_normalise(value) in ISO_4217


def currency_parse(value: object) -> str | None:
    """The normalised code, or None when it is not an ISO 4217 code."""
    code = currency_normalise(value)
    return code if code in ISO_4217 else None


def company_currency() -> str:
    """The company currency (settings.COMPANY_CURRENCY): the default of a record's currency."""
    from django.conf import settings

    return settings.COMPANY_CURRENCY


# How an amount in the company currency is prefixed on the page; any other code is written
# out ("CHF 1,200"), which no reader mistakes for another currency.
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "KRW": "₩"}


def currency_prefix(code: str | None = None) -> str:
    """The prefix of an amount in `code` (default: the company currency): `$`, `€`, or the
    code and a space."""
    from django.conf import settings

    code = code or settings.COMPANY_CURRENCY
    return _SYMBOLS.get(code, f"{code} ")


MINUS = "−"  # a real minus sign, the width of a plus


def money_format(value: object, code: str | None = None, *, signed: bool = False) -> str:
    """An amount as every page writes it, in whole units rounded half up: `$24,100` in the
    company currency, `EUR 1,200` in any other (the code, so no reader takes it for the
    company's), `−$300` below zero; `signed` writes a plus too. "" for what is not a number."""
    from django.conf import settings

    try:
        amount = Decimal(value or 0)
    except (InvalidOperation, TypeError, ValueError):
        return ""
    if not amount.is_finite():
        return ""
    whole = abs(amount).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    sign = ""
    if whole and amount < 0:
        sign = MINUS
    elif whole and signed:
        sign = "+"
    code = currency_normalise(code) or settings.COMPANY_CURRENCY
    prefix = currency_prefix() if code == settings.COMPANY_CURRENCY else f"{code} "
    return f"{sign}{prefix}{whole:,.0f}"
