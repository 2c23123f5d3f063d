"""The supervisor: takes the next task of the maintenance plan, or decides what a chat asks for.

Without a model, chat text is parsed by the command grammar; with one, the model hands work to
one specialist at a time through the transfer tools and answers the operator when done.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from adpilot.agents.commands import HELP, CommandError, parse_command
from adpilot.agents.context import RunContext
from adpilot.agents.outcomes import summarise
from adpilot.agents.state import RunState, Task

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
    if ctx.models.enabled:
        return {**update, **await _with_model(state, ctx)}
    if (
        state.get("answer") is None
        and not state.get("outcomes")
        and not state.get("notes")
        and not state.get("current")
    ):
        # Nothing done yet (a command that found nothing to change leaves a note): parse it, once.
        return {**update, **await _with_commands(state, ctx)}
    if state.get("answer") is None:
        update["answer"] = summarise(state)
    return update


async def _with_commands(state: RunState, ctx: RunContext) -> dict[str, Any]:
    text = state["trigger"].get("text", "")
    try:
        command = parse_command(text)
    except CommandError as exc:
        return {"answer": str(exc)}
    if command is None:
        return {"answer": "Without a configured model I understand commands only. " + HELP}
    if command.action == "help":
        return {"answer": HELP}
    if command.action == "approvals":
        pending = state.get("pending") or []
        return {"answer": "No approvals are waiting." if not pending else json.dumps(pending, ensure_ascii=False)}
    if command.action == "performance":
        rows = await ctx.guard.call(
            "bidding",
            "get_performance",
            {"customer_id": command.params["customer"], "level": "campaign", "days": 7},
        )
        if rows.error is not None:
            return {"answer": f"Cannot show performance: {rows.error.message}"}
        return {"answer": _performance_text(rows.data)}
    task: Task = {
        "id": "cmd-1",
        "role": command.role or "bidding",
        "account": None,
        "text": text,
        "commands": [command.as_dict()],
    }
    return {"current": task}


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


def _performance_text(rows: list[dict[str, Any]]) -> str:
    lines = ["campaign | clicks 7d | cost 7d | conversions 7d"]
    for row in rows:
        cost = int(row["cost_micros"]) / 1_000_000
        lines.append(f"{row['campaign_name']} | {row['clicks']} | {cost:.2f} | {row['conversions']:g}")
    return "\n".join(lines)
