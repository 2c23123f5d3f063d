"""What a model reads as a tool's answer: amounts as money text, never micros to misquote."""

import json

from hypothesis import given
from hypothesis import strategies as st

from adpilot.money import format_micros
from adpilot.tools.result import ToolResult, as_money


def test_every_micros_amount_is_shown_as_money_in_the_accounts_currency():
    data = [{"campaign_id": "111", "cost_micros": 138696300, "clicks": 205, "budget": {"amount_micros": "50000000"}}]
    shown = json.loads(ToolResult("get_performance", "allow", data=data).for_model("EUR"))["data"]
    assert shown == [{"campaign_id": "111", "cost": "138.70 EUR", "clicks": 205, "budget": {"amount": "50.00 EUR"}}]
    # without a currency (another account, none readable) the data is what the tool returned
    assert json.loads(ToolResult("get_performance", "allow", data=data).for_model())["data"] == data


@given(micros=st.integers(min_value=0, max_value=10**15), currency=st.sampled_from(["EUR", "JPY", "KWD", "USD"]))
def test_the_amount_shown_is_the_formatted_micros_and_nothing_else_changes(micros, currency):
    value = {"x_micros": micros, "y_micros": str(micros), "name": "a_micros", "n": micros, "flag_micros": True}
    shown = as_money(value, currency)
    assert shown == {
        "x": format_micros(micros, currency),
        "y": format_micros(micros, currency),
        "name": "a_micros",
        "n": micros,
        "flag_micros": True,
    }
