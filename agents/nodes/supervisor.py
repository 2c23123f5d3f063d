"""The supervisor: takes the next task of the maintenance plan, or decides what a chat asks for.

Chat text is first read by the command grammar (:mod:`adpilot.agents.chat`): what it understands
is answered or done without a model. Without a model, everything else gets a suggestion; with
one, everything else goes to the model, which hands work to one specialist at a time through the
transfer tools and answers the operator when done.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from adpilot.agents import chat
from adpilot.agents.context import RunContext
from adpilot.agents.outcomes import summarise
from adpilot.agents.state import RunState

ROLES = ("creative", "bidding", "seo", "compliance")
TRANSFER = {f"transfer_to_{role}": role for role in ROLES}

SUPERVISOR_PROMPT = """You are the supervisor of adpilot's marketing agents for {brand}. Hand work to one
specialist at a time with a transfer tool (transfer_to_creative, transfer_to_bidding,
transfer_to_seo, transfer_to_compliance), giving it a precise task. When the operator's request
is handled, answer the operator in plain words. Never claim a change happened unless a
specialist reported it; changes may need a person's approval."""


def _transfer_tools() -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": f"Hand a task to the {role} agent.",
                "parameters": {
                    "type": "object",
                    "properties": {"task": {"type": "string", "description": "what the agent should do"}},
                    "required": ["task"],
                    "additionalProperties": False,
                },
            },
        }
        for name, role in TRANSFER.items()
    ]


async def supervisor(state: RunState, ctx: RunContext) -> dict[str, Any]:
    ctx.bind(state, "supervisor")
    update: dict[str, Any] = {"steps": 1}
    if state["trigger"]["kind"] == "maintenance":
        plan = list(state.get("plan") or [])
        if plan:
            update.update(current=plan[0], plan=plan[1:])
        return update
    fresh = not (
        state.get("answer") is not None
        or state.get("outcomes")
        or state.get("notes")
        or state.get("current")
        or state.get("supervisor_messages")
    )
    if fresh:
        # The grammar answers what it understands before any model is asked; without a model it
        # answers everything (a suggestion where it cannot map the text), once.
        handled = await chat.understand(state, ctx, model=ctx.models.enabled)
        if handled is not None:
            return {**update, **handled}
    if ctx.models.enabled and (fresh or state.get("supervisor_messages")):
        return {**update, **await _with_model(state, ctx)}
    if state.get("answer") is None:
        update["answer"] = await chat.answer_after(state, ctx)
    return update


async def _with_model(state: RunState, ctx: RunContext) -> dict[str, Any]:
    history: list[BaseMessage] = list(state.get("supervisor_messages") or [])
    new: list[BaseMessage] = []
    if not history:
        new = [
            SystemMessage(SUPERVISOR_PROMPT.format(brand=ctx.brand.name)),
            HumanMessage(state["trigger"].get("text", "")),
        ]
    model = ctx.models.for_agent("supervisor")
    assert model is not None
    bound = model.bind_tools(_transfer_tools())
    reply = await bound.ainvoke(history + new)
    assert isinstance(reply, AIMessage)
    new.append(reply)
    update: dict[str, Any] = {
        **ctx.usage(reply),  # tokens and their cost, from the reply's usage metadata
        "transcript": [
            {"agent": "supervisor", "content": reply.content, "tool_calls": [c["name"] for c in reply.tool_calls]}
        ],
    }
    errors = 0
    for invalid in reply.invalid_tool_calls:
        errors += 1
        new.append(
            ToolMessage(
                json.dumps({"ok": False, "error": "malformed tool call: " + str(invalid.get("error"))}),
                tool_call_id=str(invalid.get("id")),
            )
        )
    for call in reply.tool_calls:
        role = TRANSFER.get(call["name"])
        task_text = call["args"].get("task") if isinstance(call["args"], dict) else None
        if role is None or not isinstance(task_text, str) or update.get("current"):
            errors += 1
            message = (
                f"unknown tool {call['name']!r}; use one of {', '.join(TRANSFER)}"
                if role is None
                else "give one transfer at a time, with a task"
            )
            new.append(ToolMessage(json.dumps({"ok": False, "error": message}), tool_call_id=call["id"]))
            continue
        count = sum(1 for m in history if isinstance(m, AIMessage) and m.tool_calls)
        update["current"] = {
            "id": f"chat-{count}",
            "role": role,
            "account": None,
            "text": task_text,
            "tool_call_id": call["id"],
        }
    if not reply.tool_calls and not reply.invalid_tool_calls:
        update["answer"] = str(reply.content) or summarise(state)
    update["supervisor_messages"] = new
    update["tool_errors"] = errors
    return update
