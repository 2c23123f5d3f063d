from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.errors import MoneyError
from adpilot.money import (
    INT64_MAX,
    describe_micros,
    format_micros,
    minimum_unit_micros,
    parse_amount,
    parse_micros,
    round_to_unit,
    units_to_micros,
)

int64s = st.integers(min_value=-(2**63), max_value=INT64_MAX)


@given(int64s)
def test_parse_micros_accepts_the_wire_form_and_ints(value):
    assert parse_micros(str(value)) == value
    assert parse_micros(value) == value


@pytest.mark.parametrize("bad", [1.5, "1.5", "", "12e6", True, None, "0x10", str(2**63)])
def test_parse_micros_refuses_anything_but_integers(bad):
    with pytest.raises(MoneyError, match="amount_micros"):
        parse_micros(bad)


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False, allow_infinity=False))
def test_units_to_micros_is_exact(amount):
    micros = units_to_micros(amount)
    assert Decimal(micros) / 1_000_000 == amount


def test_units_to_micros_refuses_sub_micro_precision():
    with pytest.raises(MoneyError, match="precision"):
        units_to_micros("0.0000001")


@given(st.integers(min_value=0, max_value=10**15), st.sampled_from(["EUR", "JPY", "KWD", "USD"]))
def test_round_to_unit_lands_on_the_billable_unit_nearest(micros, currency):
    unit = minimum_unit_micros(currency)
    rounded = round_to_unit(micros, currency)
    assert rounded % unit == 0
    assert abs(rounded - micros) * 2 <= unit


@given(st.integers(min_value=0, max_value=10**12).map(lambda n: n * 10_000))
def test_format_then_parse_round_trips_in_eur(micros):
    text = format_micros(micros, "EUR")
    assert parse_amount(text) == (micros, "EUR")


def test_format_respects_currencies_without_minor_units():
    assert format_micros(1_500_000_000, "JPY") == "1500 JPY"
    assert format_micros(55_000_000, "EUR") == "55.00 EUR"
    assert format_micros(1_234_000, "KWD") == "1.234 KWD"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("55 EUR", 55_000_000), ("1,20 €", 1_200_000), ("70", 70_000_000), (" 0.05 eur ", 50_000)],
)
def test_parse_amount_reads_operator_text(text, expected):
    assert parse_amount(text)[0] == expected


@pytest.mark.parametrize("text", ["fifty", "55 EURO", "1.2.3", ""])
def test_parse_amount_names_the_bad_text(text):
    with pytest.raises(MoneyError, match="not an amount"):
        parse_amount(text)


def test_report_money_is_never_shown_in_a_guessed_currency():
    assert describe_micros("55000000", "EUR") == "55.00 EUR"
    assert describe_micros(26_000_000, "JPY") == "26 JPY"
    assert describe_micros(55_000_000, None) == "55000000 micros"
    assert describe_micros(55_000_000, "") == "55000000 micros"
    assert describe_micros("n/a", "EUR") == "n/a"
