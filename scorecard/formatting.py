"""How numbers read on the scorecard: one function per unit, short forms for tiles and full
forms for tables and titles. Pure, but for the company currency amounts are in."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from revops.currencies import currency_prefix, money_format
from scorecard.choices import Unit

MINUS = "−"  # a real minus sign, the width of a plus


def _q(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _grouped(value: Decimal, places: int) -> str:
    text = f"{abs(_q(value, places)):,.{places}f}"
    return (MINUS if value < 0 and _q(value, places) != 0 else "") + text


_SCALES = ((Decimal("1e9"), "B"), (Decimal("1e6"), "M"), (Decimal("1e3"), "k"))


def _compact_money(value: Decimal) -> str:
    sign = MINUS if value < 0 else ""
    amount = abs(value)
    for i, (limit, suffix) in enumerate(_SCALES):
        if amount < limit:
            continue
        scaled = amount / limit
        places = 2 if scaled < 10 else 1 if scaled < 100 else 0
        if _q(scaled, places) >= 1000 and i > 0:
            # 999,960 rounds to 1000k: say $1.00M instead.
            limit, suffix = _SCALES[i - 1]
            scaled, places = amount / limit, 2
        return f"{sign}{currency_prefix()}{_q(scaled, places):.{places}f}{suffix}"
    return f"{sign}{currency_prefix()}{_q(amount, 0):,.0f}"


def _places(value: Decimal) -> int:
    return 0 if value == value.to_integral_value() else 1


def format_value(value: Decimal | None, unit: str, *, compact: bool = False) -> str:
    """`value` as a person reads it in `unit`: 1,234 · $1.23M · 23.4% · 3.1× · 41 days."""
    if value is None:
        return "—"
    if unit == Unit.COUNT:
        return _grouped(value, _places(_q(value, 1)))
    if unit == Unit.CURRENCY:
        if compact:
            return _compact_money(value)
        return money_format(value)
    if unit == Unit.PERCENT:
        return f"{_grouped(value, 1)}%"
    if unit == Unit.RATIO:
        return f"{_grouped(value, 2 if abs(value) < 10 else 1)}×"
    if unit == Unit.DAYS:
        text = _grouped(value, _places(_q(value, 1)))
        return f"{text} d" if compact else f"{text} days"
    if unit == Unit.HOURS:
        text = _grouped(value, 1)
        return f"{text} h" if compact else f"{text} hours"
    return _grouped(value, 2)


def format_change(change: Decimal | None, unit: str) -> str:
    """A week-over-week change with its sign: +12 · −$31.0k · +2.1 pts · −0.4 h."""
    if change is None:
        return "—"
    if change == 0:
        return "no change"
    sign = "+" if change > 0 else MINUS
    magnitude = abs(change)
    if unit == Unit.PERCENT:
        # A move too small for one decimal still shows which way it went: +0.03 pts, not +0.0.
        return f"{sign}{_grouped(magnitude, 1 if magnitude >= Decimal('0.05') else 2)} pts"
    if unit == Unit.CURRENCY:
        return sign + _compact_money(magnitude)
    return sign + format_value(magnitude, unit, compact=True)


def format_plain(value: Decimal | None) -> str:
    """A number for CSV and JSON: no grouping, no trailing zeros."""
    if value is None:
        return ""
    return f"{value.normalize():f}"
