"""What a role agent's model is given: the operator's own words, its earlier attempts, the tools
in a form it can get right — and prompts without example ids to copy."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.agents.llm import ScriptedChatModel
from adpilot.agents.loop import ROLE_BRIEFS, SYSTEM_TEMPLATE, as_data, first_message, money_misread, named_in
from adpilot.agents.nodes.supervisor import SUPERVISOR_PROMPT
from adpilot.tools.model_args import Known, RunIds
from tests.conftest import DE

REQUEST = "Die Boots-Kampagne läuft zu knapp, gönn ihr 60 € am Tag — aber nur der in Deutschland!"


@pytest.fixture
def conversations(monkeypatch):
    """Every conversation a scripted model is sent, in order."""
    seen: list[list] = []
    original = ScriptedChatModel._turn

    def recording(self, messages):
        seen.append(list(messages))
        return original(self, messages)

    monkeypatch.setattr(ScriptedChatModel, "_turn", recording)
    return seen


def _first_human(messages) -> str:
    return next(m.content for m in messages if m.type == "human")


def _transfer(task: str) -> dict:
    return {"tool_calls": [{"name": "transfer_to_bidding", "args": {"task": task}}]}


async def test_the_role_agent_reads_the_operators_exact_words(make_runner, conversations):
    scripts = {
        "supervisor": [_transfer("raise budget"), {"content": "Done."}],
        "bidding": [{"content": "Nothing yet."}],
    }
    async with make_runner(scripts=scripts) as runner:
        await runner.start({"kind": "chat", "text": REQUEST, "accounts": [DE]})
    bidding = [c for c in conversations if "bidding agent" in c[0].content]
    first = _first_human(bidding[0])
    assert first.startswith("raise budget")
    assert as_data("operator's request", REQUEST) in first  # verbatim, as data


async def test_a_task_given_again_lists_the_earlier_failed_call(make_runner, conversations, sandbox, audit):
    garbled = {"customer_id": DE, "budget_id": "9901", "amount": "60"}
    right = {"customer_id": DE, "budget_id": "9001", "amount": "60 €"}
    scripts = {
        "supervisor": [_transfer("raise budget 9901 to 60"), _transfer("try again"), {"content": "Done."}],
        "bidding": [
            {"tool_calls": [{"name": "set_campaign_budget", "args": garbled}]},
            {"content": "It failed."},
            {"tool_calls": [{"name": "set_campaign_budget", "args": right}]},
            {"content": "Raised."},
        ],
    }
    async with make_runner(scripts=scripts) as runner:
        await runner.start({"kind": "chat", "text": REQUEST, "accounts": [DE]})
    bidding = [c for c in conversations if "bidding agent" in c[0].content]
    # the garbled id was refused with the valid ids, audited, and nothing was written by it
    refusal = next(m.content for c in bidding for m in c if m.type == "tool" and "9901" in m.content)
    assert "budget_id" in refusal and "9001" in refusal
    second_task = next(c for c in bidding if "try again" in _first_human(c))
    first = _first_human(second_task)
    assert "earlier attempts" in first and "set_campaign_budget" in first and "9901" in first
    assert "budget 9901 does not exist" in first  # the error, not just the call
    # the corrected call, money as decimal text, became the contract's micros
    assert sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros == "60000000"
    executed = [r for r in audit.records(kind="result") if r.tool == "set_campaign_budget"]
    assert [r.args["amount_micros"] for r in executed] == [60_000_000]
    decided = audit.records(kind="decision", tool="set_campaign_budget")
    assert decided[0].decision == "deny" and decided[0].args["budget_id"] == "9901"  # the refusal is audited


def test_first_message_without_chat_or_history_has_the_task_and_context_only():
    state = {"trigger": {"kind": "maintenance"}, "outcomes": []}
    text = first_message(state, {"id": "m-1", "role": "seo", "text": "audit the pages"}, "seo", {"accounts": []})
    assert text.startswith("audit the pages") and "operator" not in text and "earlier" not in text


def test_earlier_attempts_of_other_roles_and_of_this_task_are_not_shown():
    outcomes = [
        {"role": "creative", "task_id": "chat-0", "tool": "set_ad_status", "args": {}, "decision": "deny", "ok": False},
        {"role": "bidding", "task_id": "chat-1", "tool": "list_campaigns", "args": {}, "decision": "allow", "ok": True},
    ]
    state = {"trigger": {"kind": "chat", "text": "x"}, "outcomes": outcomes}
    text = first_message(state, {"id": "chat-1", "role": "bidding", "text": "t"}, "bidding", {})
    assert "set_ad_status" not in text and "list_campaigns" not in text


def test_prompts_carry_no_example_ids():
    """A small model copies example ids from its prompts: none of them has one (nor a customer id)."""
    for prompt in (SYSTEM_TEMPLATE, SUPERVISOR_PROMPT, *ROLE_BRIEFS.values()):
        assert re.search(r"[0-9]{3,}|[0-9]+~[0-9]+", prompt) is None, prompt


def _known() -> RunIds:
    return RunIds(
        entities=[
            Known("budget", DE, "9003", '20.00 EUR/day, campaign "Brand - Search"', ("Brand - Search",)),
            Known("campaign", DE, "113", '"Brand - Search" (ENABLED), budget 9003', ("Brand - Search",)),
            Known("campaign", DE, "111", '"Boots - Search" (ENABLED), budget 9001', ("Boots - Search",)),
            Known("keyword", DE, "2101~41002", '"hiking boots", bid 0.90 EUR', ("hiking boots",)),
            Known("ad", DE, "2101~31002", '"Wanderschuhe für jedes Terrain" (ENABLED)', ("Wanderschuhe", "Ab 89 €")),
        ]
    )


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("Brand - Search spends too much; cut it by a quarter.", ["campaign 113"]),
        ("brand search: weniger Budget", ["campaign 113"]),  # case and punctuation do not count
        ("Search for the brand's boots", []),  # words of several names, none whole
        ("Raise the keyword HIKING BOOTS to 1 euro", ["keyword 2101~41002"]),
        ("Stop the ad that says 'Ab 89 €'", ["ad 2101~31002"]),
        ("Give me last week's numbers for our jackets campaign", []),
    ],
)
def test_what_the_operators_words_name_is_found_by_name_not_guessed(text, named):
    assert [line.split(" in ")[0] for line in named_in(text, _known())] == named


async def test_the_role_agent_is_told_which_entity_the_request_names(make_runner, conversations):
    scripts = {
        "supervisor": [_transfer("cut the budget by a quarter"), {"content": "Done."}],
        "bidding": [{"content": "Nothing yet."}],
    }
    text = "Brand - Search spends too much for what it brings in; cut its daily budget by a quarter."
    async with make_runner(scripts=scripts) as runner:
        await runner.start({"kind": "chat", "text": text, "accounts": [DE]})
    bidding = [c for c in conversations if "bidding agent" in c[0].content]
    first = _first_human(bidding[0])
    assert as_data("named in the request", 'campaign 113 in 1112223333: "Brand - Search" (ENABLED), budget 9003') in (
        first.replace('\nad group 2301 in 1112223333: "Brand" (campaign 113)', "")
    )


amounts = st.decimals(min_value=1, max_value=999, places=2, allow_nan=False, allow_infinity=False)


@given(number=amounts, tool=st.sampled_from([("set_campaign_budget", "amount"), ("set_keyword_bid", "cpc_bid")]))
def test_money_that_contradicts_the_operators_to_or_by_is_corrected(number, tool):
    name, field = tool
    text = f"{number:f}".replace(".", ",") if number % 1 else f"{number:f}"
    to, by = f"raise it to {text} EUR please", f"bitte um {text} Euro erhöhen"
    problem = money_misread(name, {"change": f"+{number}"}, to)
    assert problem is not None and f"give {field}" in problem
    problem = money_misread(name, {field: f"{number}"}, by)
    assert problem is not None and "give change" in problem
    assert money_misread(name, {field: f"{number} EUR"}, to) is None  # what was asked
    assert f"give {field} '{number}'" in (money_misread(name, {"change": "+10%"}, to) or "")  # a guessed share
    assert money_misread(name, {"change": f"+{number}"}, by) is None
    assert money_misread(name, {"change": f"+{number}"}, f"{to}, or by {text}") is None  # both ways: left alone
    assert money_misread("set_ad_status", {"change": f"+{number}"}, to) is None
