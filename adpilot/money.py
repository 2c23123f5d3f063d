"""Money as integer micros.

Google Ads carries money as int64 micros (1 EUR = 1,000,000 micros) serialised as JSON strings.
Floats never touch an amount here: decimal input is parsed with :class:`decimal.Decimal` and
rejected when it does not land on a whole micro.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from adpilot.errors import MoneyError

MICROS_PER_UNIT = 1_000_000
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

# Digits after the decimal point per ISO 4217 currency. Anything unknown falls back to 2,
# which is right for most currencies; JPY, KRW & co. have no minor unit at all.
_MINOR_DIGITS = {
    "JPY": 0,
    "KRW": 0,
    "CLP": 0,
    "ISK": 0,
    "HUF": 2,
    "VND": 0,
    "BHD": 3,
    "KWD": 3,
    "JOD": 3,
    "OMR": 3,
    "TND": 3,
}

_AMOUNT_RE = re.compile(
    r"^\s*(?P<number>[+-]?[0-9]+(?:[.,][0-9]+)?)\s*(?P<currency>[A-Za-z]{3}|€)?\s*$",
)


def minor_digits(currency: str) -> int:
    """Number of decimal places the currency is billed in (EUR 2, JPY 0, KWD 3)."""
    return _MINOR_DIGITS.get(currency.upper(), 2)


def minimum_unit_micros(currency: str) -> int:
    """The smallest billable amount in micros (0.01 EUR = 10,000 micros; 1 JPY = 1,000,000)."""
    return MICROS_PER_UNIT // 10 ** minor_digits(currency)


def parse_micros(value: object, *, field: str = "amount_micros") -> int:
    """Parse an int64 micros value given as int or decimal string (the API's wire form).

    Booleans, floats and non-integral strings are refused: a float amount is always a bug.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MoneyError(f"{field}: expected integer micros as int or string, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            raise MoneyError(f"{field}: expected integer micros such as '1200000', got {value!r}")
        number = int(text)
    else:
        number = value
    if not INT64_MIN <= number <= INT64_MAX:
        raise MoneyError(f"{field}: {value!r} is outside the int64 range")
    return number


def units_to_micros(amount: Decimal | int | str) -> int:
    """Convert an amount in currency units ("55", "1.20", Decimal("0.05")) to micros, exactly."""
    try:
        dec = Decimal(str(amount).replace(",", "."))
    except InvalidOperation as exc:
        raise MoneyError(f"not a number: {amount!r}") from exc
    if not dec.is_finite():
        raise MoneyError(f"not a finite amount: {amount!r}")
    micros = dec * MICROS_PER_UNIT
    if micros != micros.to_integral_value():
        raise MoneyError(f"{amount!r} has more precision than a micro")
    number = int(micros)
    if not INT64_MIN <= number <= INT64_MAX:
        raise MoneyError(f"{amount!r} is outside the int64 micros range")
    return number


def micros_to_units(micros: int) -> str:
    """Micros as an exact decimal amount in currency units, without trailing zeros:
    50000 → "0.05", 500000000 → "500" (the inverse of :func:`units_to_micros`)."""
    if isinstance(micros, bool) or not isinstance(micros, int):
        raise MoneyError(f"expected integer micros, got {micros!r}")
    sign, whole = ("-" if micros < 0 else ""), abs(micros)
    units, fraction = divmod(whole, MICROS_PER_UNIT)
    tail = f"{fraction:06d}".rstrip("0")
    return f"{sign}{units}.{tail}" if tail else f"{sign}{units}"


def parse_amount(text: str, *, default_currency: str = "EUR") -> tuple[int, str]:
    """Parse operator text such as "55 EUR", "1,20 €" or "70" into (micros, currency)."""
    match = _AMOUNT_RE.match(text)
    if not match:
        raise MoneyError(f"not an amount: {text!r} (expected e.g. '55 EUR' or '1.20')")
    currency = match.group("currency") or default_currency
    currency = "EUR" if currency == "€" else currency.upper()
    return units_to_micros(match.group("number")), currency


def format_micros(micros: int, currency: str = "EUR") -> str:
    """Render micros for people, in the currency's own precision: 55000000 → "55.00 EUR"."""
    digits = minor_digits(currency)
    quantum = Decimal(1).scaleb(-digits)
    units = (Decimal(micros) / MICROS_PER_UNIT).quantize(quantum, rounding=ROUND_HALF_EVEN)
    return f"{units:.{digits}f} {currency}"


SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


def format_money(micros: int, currency: str, language: str) -> str:
    """Micros as people read money in ``language``: "1.234,56 €" (``de``), "€1,234.56" (any other);
    a currency without a symbol goes after the amount ("1,234.56 CHF")."""
    digits = minor_digits(currency)
    units = Decimal(micros) / MICROS_PER_UNIT
    text = f"{abs(units):,.{digits}f}"
    if language == "de":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    sign = "-" if micros < 0 else ""
    symbol = SYMBOLS.get(currency.upper())
    if language != "de" and symbol:
        return f"{sign}{symbol}{text}"
    return f"{sign}{text} {symbol or currency.upper()}"


def describe_micros(value: object, currency: str | None) -> str:
    """Money for a report line: in ``currency`` when it is known, else as micros (never in a
    guessed currency); a value that is not an integer amount is shown as it is."""
    try:
        micros = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return str(value)
    return format_micros(micros, currency) if currency else f"{micros} micros"


def round_to_unit(micros: int, currency: str = "EUR") -> int:
    """Round micros to the currency's billable unit, half to even (budgets must be multiples)."""
    unit = minimum_unit_micros(currency)
    quotient, remainder = divmod(micros, unit)
    if remainder * 2 > unit or (remainder * 2 == unit and quotient % 2 == 1):
        quotient += 1
    return quotient * unit
