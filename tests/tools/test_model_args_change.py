"""Money as a relative change ("+5", "-25 %"): computed from the platform's current value, exactly."""

import json
import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.errors import PlatformError
from adpilot.money import micros_to_units
from adpilot.tools.langchain_tools import governed_tools
from adpilot.tools.model_args import ArgumentProblem, ModelArguments, RunIds, changed_micros, model_facing
from tests.conftest import AT, DE

EXPECTED = "'+5', '-2.50'"  # the expected form every refused change names


async def _layer(guard, role="bidding"):
    return await ModelArguments.for_run(guard, role)


def _tool(tools, name):
    return next(t for t in tools if t.name == name)


async def _budget(layer, budget_id, change, **more):
    return await layer.contract(
        "set_campaign_budget", {"customer_id": DE, "budget_id": budget_id, "change": change, **more}
    )


async def test_five_euros_more_on_the_jackets_budget_is_written_as_35_euros(make_guard, sandbox, audit):
    """'Tagesbudget der Jacken-Kampagne um 5 Euro erhöhen' (30 EUR today)."""
    guard = make_guard(accounts=(DE,))
    tool = _tool(governed_tools(guard, "bidding", arguments=await _layer(guard)), "set_campaign_budget")
    answer = json.loads(await tool.ainvoke({"customer_id": DE, "budget_id": "9002", "change": "+5"}))
    assert answer["ok"], answer
    assert sandbox.world.customer(DE).campaign_budgets["9002"].amount_micros == "35000000"
    (row,) = audit.records(kind="result")
    assert row.args["amount_micros"] == 35_000_000 and "change" not in row.args  # the Guard saw the contract


@pytest.mark.parametrize("change", ["-25%", "-25 %", "-25,00%", "- 25 %", "-5", "-5 €", "EUR -5", "-€5.00"])
async def test_a_quarter_or_five_euros_off_a_20_euro_budget_is_15_euros(make_guard, change):
    args = await _budget(await _layer(make_guard(accounts=(DE,))), "9003", change)
    assert args == {"customer_id": DE, "budget_id": "9003", "amount_micros": "15000000"}


async def test_a_percentage_of_a_keyword_bid_is_rounded_to_the_cent(make_guard):
    layer = await _layer(make_guard(accounts=(DE,)))
    args = await layer.contract(
        "set_keyword_bid", {"customer_id": DE, "criterion_id": "2101~41002", "change": "+11.11%"}
    )
    assert args["cpc_bid_micros"] == "1000000"  # 0.90 EUR * 1.1111 = 0.99999 EUR
    assert "change" not in args and args["ad_group_id"] == "2101"


async def test_the_change_is_relative_to_the_value_the_platform_has_now(make_guard, sandbox):
    layer = await _layer(make_guard(accounts=(DE,)))  # the run's ids (with 30 EUR) are read here
    sandbox.world.customer(DE).campaign_budgets["9002"].amount_micros = "40000000"  # changed in the Ads UI since
    assert (await _budget(layer, "9002", "+10%"))["amount_micros"] == "44000000"


def test_a_half_cent_rounds_up():
    assert changed_micros(500_000, "+1%", "EUR") == 510_000  # 0.505 EUR; half to even would be 0.50
    assert changed_micros(1_005_000, "+1", "EUR") == 2_010_000  # a current value off the cent, too
    assert changed_micros(3_000_000_000, "-0.05%", "JPY") == 2_999_000_000  # 2998.5 JPY: yen are whole
    # beyond a float's precision: a float computes 101000000000.50 EUR
    assert changed_micros(100_000_000_000_500_000, "+1%", "EUR") == 101_000_000_000_510_000


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"amount": "35"}, "change and amount"),
        ({"amount_micros": "35000000"}, "change and amount_micros"),
        ({"amount": "35", "amount_micros": "1"}, "change and amount and amount_micros"),
    ],
)
async def test_a_change_with_an_amount_is_refused(make_guard, fields, named):
    layer = await _layer(make_guard(accounts=(DE,)))
    with pytest.raises(ArgumentProblem, match=f"change: give one of change, amount or amount_micros; .* {named}$"):
        await _budget(layer, "9002", "+5", **fields)
    with pytest.raises(ArgumentProblem, match=r"change and cpc_bid$"):
        await layer.contract(
            "set_keyword_bid", {"customer_id": DE, "criterion_id": "2101~41002", "change": "+5%", "cpc_bid": "1"}
        )


@pytest.mark.parametrize("unused", [None, "", " "])
async def test_an_unused_change_leaves_the_amount_as_it_is(make_guard, unused):
    layer = await _layer(make_guard(accounts=(DE,)))
    args = await _budget(layer, "9002", unused, amount="60", amount_micros=None)
    assert args == {"customer_id": DE, "budget_id": "9002", "amount_micros": "60000000"}
    with pytest.raises(ArgumentProblem, match=r"amount: missing: .* \(or change: '\+5', '-10%'\)"):
        await _budget(layer, "9002", unused)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("-30", "would leave 0.00 EUR; give a positive amount"),
        ("-35", "would leave -5.00 EUR; give a positive amount"),
        ("-100%", "would leave 0.00 EUR; give a positive amount"),
        ("-150 %", "would leave -15.00 EUR"),
        ("+0", "is no change"),
        ("-0.00%", "is no change"),
        ("+0.01%", "changes 30.00 EUR by less than 0.01 EUR"),
        ("+100000000000000%", "more than the platform can hold"),
    ],
)
async def test_a_change_to_nothing_or_below_is_refused_and_nothing_is_written(make_guard, sandbox, audit, change, says):
    guard = make_guard(accounts=(DE,))
    tool = _tool(governed_tools(guard, "bidding", arguments=await _layer(guard)), "set_campaign_budget")
    answer = json.loads(await tool.ainvoke({"customer_id": DE, "budget_id": "9002", "change": change}))
    assert answer["error"]["type"] == "invalid_arguments"
    assert answer["error"]["message"].startswith("change:") and says in answer["error"]["message"]
    assert sandbox.world.customer(DE).campaign_budgets["9002"].amount_micros == "30000000"
    assert audit.records(kind="result") == []


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("five euros", "is not a signed change"),
        ("5", "is not a signed change"),  # up or down?
        ("x", "is not a signed change"),
        (5, "is not a signed change"),
        ("+5 USD", "'5 USD' is in USD, but the account bills in EUR"),
        ("+5.005", "has 3 decimals, but EUR is billed in steps of 0.01 EUR"),
        ("+-5", "is negative"),
        ("+5 * 2", "is not an amount"),
        ("+5%%", "is not a signed percentage"),
        ("10%", "is not a signed percentage"),
        ("€+5%", "is not a signed percentage"),
        ("+12.345%", "has 3 decimals"),
    ],
)
async def test_garbage_is_refused_with_the_expected_form(make_guard, change, says):
    layer = await _layer(make_guard(accounts=(DE,)))
    with pytest.raises(ArgumentProblem) as refused:
        await _budget(layer, "9002", change)
    assert refused.value.field == "change" and says in refused.value.message
    assert EXPECTED in refused.value.message and "'-12.5 %'" in refused.value.message and "EUR" in refused.value.message


async def test_yen_changes_in_whole_yen(make_guard, sandbox):
    sandbox.world.customer(AT).currency_code = "JPY"
    layer = await _layer(make_guard(accounts=(AT,)))
    args = await layer.contract("set_campaign_budget", {"customer_id": AT, "budget_id": "9101", "change": "+5 ¥"})
    assert args["amount_micros"] == "30000000"  # 25 + 5 JPY
    with pytest.raises(ArgumentProblem, match="1 decimals, but JPY is billed in steps of 1 JPY"):
        await layer.contract("set_campaign_budget", {"customer_id": AT, "budget_id": "9101", "change": "+0.5"})


async def test_an_unknown_budget_is_refused_with_the_runs_budgets(make_guard):
    layer = await _layer(make_guard(accounts=(DE,)))
    with pytest.raises(ArgumentProblem) as refused:
        await _budget(layer, "your_budget_id", "+5")
    assert refused.value.field == "budget_id" and "9001" in refused.value.message


async def test_a_budget_the_role_could_not_list_is_refused_when_its_value_is_read(make_guard):
    layer = ModelArguments(make_guard(accounts=(DE,)), "bidding", RunIds())  # no list read: ids left to the Guard
    with pytest.raises(ArgumentProblem, match="budget_id: no campaign of account 1112223333 has budget 9999"):
        await _budget(layer, "9999", "+5")
    with pytest.raises(ArgumentProblem, match="criterion_id: keyword 2101~49999 does not exist in account"):
        await layer.contract("set_keyword_bid", {"customer_id": DE, "criterion_id": "2101~49999", "change": "+5%"})


async def test_a_keyword_without_its_own_bid_needs_an_absolute_bid(make_guard, sandbox):
    sandbox.world.customer(DE).ad_group_criteria["2101~41002"].cpc_bid_micros = None  # the ad group's 1.00 applies
    layer = await _layer(make_guard(accounts=(DE,)))
    with pytest.raises(ArgumentProblem, match="change: keyword 2101~41002 has no own bid; give cpc_bid"):
        await layer.contract("set_keyword_bid", {"customer_id": DE, "criterion_id": "2101~41002", "change": "+10%"})


async def test_a_value_that_cannot_be_read_is_a_problem_not_a_guess(make_guard, monkeypatch):
    guard = make_guard(accounts=(DE,))
    layer = await _layer(guard)

    async def down(customer_id):
        raise PlatformError("google_ads", "unavailable", retryable=True)

    monkeypatch.setattr(guard.context, "fresh_campaigns", down)
    with pytest.raises(ArgumentProblem, match=r"change: the current value could not be read \(.*\); give amount"):
        await _budget(layer, "9002", "+5")


async def test_an_escalated_change_carries_the_amount_it_comes_to(make_guard):
    layer = await _layer(make_guard(accounts=(DE,)))
    args = await layer.contract(
        "escalate",
        {
            "reason": "big raise",
            "proposal": {
                "tool": "set_campaign_budget",
                "args": {"customer_id": DE, "budget_id": "9002", "change": "+200%"},
            },
        },
    )
    assert args["proposal"]["args"] == {"customer_id": DE, "budget_id": "9002", "amount_micros": "90000000"}


async def test_the_model_is_offered_change(make_guard):
    guard = make_guard(accounts=(DE,))
    layer = await _layer(guard)
    for tool, decimal in (("set_campaign_budget", "amount"), ("set_keyword_bid", "cpc_bid")):
        spec = guard.tools[tool]
        field = model_facing(spec).model_json_schema()["properties"]["change"]
        assert f"instead of {decimal}" in field["description"] and "'-25%'" in field["description"]
        assert "change" in layer.description(spec) and "'+5'" in layer.description(spec)
    assert "change" not in model_facing(guard.tools["set_ad_status"]).model_fields


cents = st.integers(min_value=1, max_value=10**9)


@given(cents, cents, st.sampled_from(["+", "-"]), st.sampled_from(["{n}", "{n} EUR", "{n}€", "€ {n}"]), st.booleans())
def test_an_amount_change_is_the_exact_sum(current_cents, delta_cents, sign, form, comma):
    current, delta = current_cents * 10_000, delta_cents * 10_000 * (-1 if sign == "-" else 1)
    number = micros_to_units(abs(delta))
    text = sign + form.format(n=number.replace(".", ",") if comma else number)
    if current + delta <= 0:
        with pytest.raises(ArgumentProblem, match="give a positive amount"):
            changed_micros(current, text, "EUR")
    else:
        assert changed_micros(current, text, "EUR") == current + delta


@given(
    st.integers(min_value=1, max_value=10**17),  # up to 100 billion EUR: beyond a float's exact range
    st.integers(min_value=-9_999, max_value=10**5).filter(bool),
    st.sampled_from([("EUR", 10_000), ("JPY", 1_000_000), ("KWD", 1_000)]),
)
def test_a_percentage_lands_on_the_nearest_billable_unit(current, hundredths, money):
    """Never a sub-unit amount; the nearest unit to the exact value (halves up), or a refusal."""
    currency, unit = money
    whole, fraction = divmod(abs(hundredths), 100)
    text = f"{'-' if hundredths < 0 else '+'}{whole}.{fraction:02d}%"
    exact = Fraction(current) * (10_000 + hundredths) / 10_000
    nearest = math.floor(exact / unit + Fraction(1, 2)) * unit
    if nearest == current or nearest <= 0:
        with pytest.raises(ArgumentProblem, match="by less than" if nearest == current else "give a positive amount"):
            changed_micros(current, text, currency)
    else:
        result = changed_micros(current, text, currency)
        assert result == nearest and result % unit == 0
        assert -Fraction(unit, 2) < result - exact <= Fraction(unit, 2)


@given(st.text(max_size=12))
def test_any_text_is_a_change_or_a_readable_problem(text):
    try:
        result: int | str = changed_micros(30_000_000, text, "EUR")
    except ArgumentProblem as problem:
        result = problem.message
    if isinstance(result, str):
        assert result.startswith("change:") and ("'+5', '-2.50'" in result or "positive amount" in result)
    else:
        assert result > 0 and result % 10_000 == 0 and result != 30_000_000
