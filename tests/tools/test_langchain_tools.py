"""The langchain-core view of the governed tools."""

import json

from adpilot.tools.langchain_tools import governed_tools
from tests.conftest import DE


def test_each_role_sees_only_its_tools(guard):
    names = {
        role: {t.name for t in governed_tools(guard, role)} for role in ("creative", "bidding", "seo", "compliance")
    }
    assert "set_campaign_budget" in names["bidding"] and "set_campaign_budget" not in names["creative"]
    assert "publish_post" in names["seo"] and "publish_post" not in names["compliance"]
    assert "set_ad_status" in names["creative"] and "set_campaign_status" not in names["creative"]
    assert all("escalate" in tools for tools in names.values())


def test_the_model_sees_the_strict_model_facing_schema(guard):
    tool = next(t for t in governed_tools(guard, "bidding") if t.name == "set_campaign_budget")
    from langchain_core.utils.function_calling import convert_to_openai_tool

    schema = convert_to_openai_tool(tool)["function"]
    assert schema["name"] == "set_campaign_budget"
    # money as decimal text in the account's currency; amount_micros (the contract) stays optional
    assert set(schema["parameters"]["required"]) == {"customer_id", "budget_id"}
    assert {"amount", "amount_micros"} <= set(schema["parameters"]["properties"])
    assert schema["parameters"].get("additionalProperties") is False


async def test_calls_go_through_the_guard_and_are_audited(guard, audit, sandbox):
    tool = next(t for t in governed_tools(guard, "bidding") if t.name == "set_campaign_budget")
    answer = json.loads(await tool.ainvoke({"customer_id": DE, "budget_id": "9001", "amount_micros": "55000000"}))
    assert answer["ok"] and sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros == "55000000"
    bad = json.loads(await tool.ainvoke({"customer_id": DE, "budget_id": "9001", "amount_micros": 5.5, "x": 1}))
    assert bad["error"]["type"] == "invalid_arguments"
    assert [r.decision for r in audit.records(kind="decision")] == ["allow", "deny"]


async def test_a_tool_call_message_gets_a_tool_message_back(guard):
    tool = next(t for t in governed_tools(guard, "seo") if t.name == "get_post")
    message = await tool.ainvoke({"type": "tool_call", "id": "call-1", "name": "get_post", "args": {"post_id": 501}})
    assert message.tool_call_id == "call-1" and json.loads(message.content)["data"]["title"].startswith("Wasserdichte")


async def test_proposal_ids_make_calls_exactly_once(guard, audit):
    tools = governed_tools(guard, "bidding", proposal_ids=lambda name, args: f"{name}:{args.get('budget_id')}")
    tool = next(t for t in tools if t.name == "set_campaign_budget")
    for _ in range(2):
        await tool.ainvoke({"customer_id": DE, "budget_id": "9001", "amount_micros": "55000000"})
    assert len(audit.records(kind="result")) == 1
