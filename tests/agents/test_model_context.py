"""What a role agent's model is given: the operator's own words, its earlier attempts, the tools
in a form it can get right — and prompts without example ids to copy."""

import re

import pytest

from adpilot.agents.llm import ScriptedChatModel
from adpilot.agents.loop import ROLE_BRIEFS, SYSTEM_TEMPLATE, as_data, first_message
from adpilot.agents.nodes.supervisor import SUPERVISOR_PROMPT
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
