"""Canonical ids (SCENARIOS.md §2a): one spelling per entity, so that the audit log, the rolling
windows and the platform all mean the same entity by it.

A reference states the rule independently: an id is the decimal form of a positive int64 in ASCII
digits (``str(int(text)) == text``). Python's ``int()`` also reads "٩٠٠١", "９００１", " 9001"
and "0_9001" — every one of those must be refused, not converted.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError

from adpilot.tools.catalogue import GetPost, SetCampaignBudget

INT64_MAX = 2**63 - 1
BASE = {"customer_id": "1112223333", "budget_id": "9001", "amount_micros": "1000000"}


def canonical_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and str(int(text)) == text and 0 < int(text) <= INT64_MAX


def canonical_customer(text: str) -> bool:
    return canonical_id(text) and len(text) == 10


# Digits of several scripts, signs, spaces, separators: what int() would forgive.
ID_TEXT = st.text(alphabet="0123456789٠١٢٣٤٥٦٧٨٩０１２３４５６７８９۹߉ 0_+-.\t\n", min_size=0, max_size=22)


def accepts(field: str, value: object) -> str | None:
    try:
        return getattr(SetCampaignBudget.model_validate({**BASE, field: value}), field)
    except ValidationError:
        return None


@given(ID_TEXT)
@example("9001")
@example("09001")
@example("٩٠٠١")
@example("９００１")
@example(" 9001")
@example("9_001")
@example(str(INT64_MAX))
@example(str(INT64_MAX + 1))
def test_an_entity_id_string_is_accepted_exactly_when_it_is_canonical(text):
    assert (accepts("budget_id", text) == text) == canonical_id(text)
    assert accepts("budget_id", text) in (None, text)


@given(st.integers(min_value=-(2**70), max_value=2**70))
def test_an_integer_id_is_accepted_as_its_digits_when_positive_int64(number):
    expected = str(number) if 0 < number <= INT64_MAX else None
    assert accepts("budget_id", number) == expected


@given(st.one_of(ID_TEXT, st.integers(min_value=0, max_value=10**11).map(str)))
@example("1112223333")
@example("0112223333")
@example("١١١٢٢٢٣٣٣٣")
def test_a_customer_id_is_ten_canonical_ascii_digits(text):
    assert (accepts("customer_id", text) == text) == canonical_customer(text)


@pytest.mark.parametrize("value", [True, False, 9001.0, None, [9001], b"9001"])
def test_other_types_are_refused(value):
    assert accepts("budget_id", value) is None


@given(st.one_of(st.integers(min_value=-(2**40), max_value=2**40), ID_TEXT, st.booleans(), st.floats()))
def test_a_post_id_is_a_positive_integer(value):
    try:
        got: int | None = GetPost.model_validate({"post_id": value}).post_id
    except ValidationError:
        got = None
    if isinstance(value, bool | float):
        assert got is None
    elif isinstance(value, int):
        assert got == (value if 0 < value <= INT64_MAX else None)
    else:
        assert got == (int(value) if canonical_id(value) else None)


@given(value=st.one_of(ID_TEXT, st.booleans(), st.floats(allow_nan=False), st.none()))
def test_a_refused_id_is_explained_without_an_example_id(value: object) -> None:
    """The message is a model's correction: an example id in it ("9001") is what a model copies."""
    try:
        SetCampaignBudget.model_validate({**BASE, "budget_id": value})
    except ValidationError as exc:
        message = str(exc)
        assert "9001" not in message.replace(repr(value), "") and "ASCII digits" in message
