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
from adpilot.agents.llm import ModelProviderError
from adpilot.agents.outcomes import quoted
from adpilot.agents.state import RunState
from adpilot.agents.toolcalls import (
    ToolDef,
    TransferArgs,
    correction,
    earlier_calls,
    read_reply,
    record_invalid,
    signature,
    stopped_by_model,
)

ROLES = ("creative", "bidding", "seo", "compliance")
TRANSFER = {f"transfer_to_{role}": role for role in ROLES}

SUPERVISOR_PROMPT = """You are the supervisor of adpilot's marketing agents for {brand}. Hand work to one
specialist at a time with a transfer tool (transfer_to_creative, transfer_to_bidding,
transfer_to_seo, transfer_to_compliance), giving it a precise task that keeps the operator's names,
numbers and wording. When the operator's request is handled, answer the operator in plain words.
Never claim a change happened unless a specialist reported it; changes may need a person's approval."""

# What each specialist is for, in the words an operator's request uses (how the model routes).
SPECIALTIES = {
    "creative": "writes ad copy, new ads and blog or CMS drafts",
    "bidding": "performance numbers (clicks, cost, conversions), campaign budgets, keyword bids, and pausing or "
    "enabling ads and campaigns",
    "seo": "website pages and posts: titles, meta descriptions, headings, links",
    "compliance": "checks whether a headline, ad or text is allowed by the copy rules",
}

TRANSFER_TOOLS = [
    ToolDef(name, f"Hand a task to the {role} agent, which {SPECIALTIES[role]}.", TransferArgs)
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
    """One supervisor turn: a valid transfer starts a task; invalid calls are audited, recorded and
    corrected (the next turn follows); prose ends the chat with an answer made from the outcomes.
    A transfer it repeats (same agent, same task) ends the chat; a provider's failure stops the
    run (``model``)."""
    history: list[BaseMessage] = list(state.get("supervisor_messages") or [])
    new: list[BaseMessage] = []
    if not history:
        new = [
            SystemMessage(SUPERVISOR_PROMPT.format(brand=ctx.brand.name)),
            HumanMessage(state["trigger"].get("text", "")),
        ]
    turn = sum(1 for m in history if isinstance(m, AIMessage))
    try:
        # A chat's first turn hands the request on: the grammar has already answered what needs no
        # specialist, and a model that answers at once has done nothing the operator asked for.
        tools = [t.schema() for t in TRANSFER_TOOLS]
        reply = await ctx.models.ask("supervisor", 0, history + new, tools, must_call=not history)
    except ModelProviderError as failed:
        return {**stopped_by_model(failed), "supervisor_messages": new}
    read = read_reply(reply, TRANSFER_TOOLS, f"supervisor-t{turn}")
    new.append(read.message)
    outcomes = [
        record_invalid(ctx.guard, "supervisor", "supervisor", f"supervisor.t{turn}.{i.id}", i) for i in read.invalid
    ]
    update: dict[str, Any] = {
        **ctx.usage(reply),  # tokens and their cost, from the reply's usage metadata
        "transcript": [
            {
                "agent": "supervisor",
                "content": reply.content,
                "tool_calls": [c["name"] for c in read.calls],
                "invalid_calls": [i.name for i in read.invalid],
            }
        ],
        "outcomes": outcomes,
    }
    for invalid in read.invalid:
        new.append(ToolMessage(correction(invalid), tool_call_id=invalid.id))
    errors = len(read.invalid)
    done = [*(state.get("outcomes") or []), *outcomes]
    earlier = earlier_calls(history)
    for call in read.calls:
        if signature(call["name"], call["args"]) in earlier:
            reason = f"the supervisor repeated {call['name']} with the same task: the chat ends here"
            notes = [*(state.get("notes") or []), reason]
            update.update(answer=await _answer(state, ctx, done, notes, ""), notes=[reason])
            break
        if update.get("current"):
            errors += 1
            message = {"ok": False, "error": "give one transfer at a time; this one was not carried out"}
            new.append(ToolMessage(json.dumps(message), tool_call_id=call["id"]))
            continue
        count = sum(1 for m in history if isinstance(m, AIMessage) and m.tool_calls)
        update["current"] = {
            "id": f"chat-{count}",
            "role": TRANSFER[call["name"]],
            "account": None,
            "text": call["args"]["task"],
            "tool_call_id": call["id"],
        }
    if update.get("answer") is not None:
        update.pop("current", None)
    if read.answer is not None:
        update["answer"] = await _answer(state, ctx, done, list(state.get("notes") or []), read.answer)
    update["supervisor_messages"] = new
    update["tool_errors"] = errors
    return update


async def _answer(state: RunState, ctx: RunContext, outcomes: list[Any], notes: list[str], said: str) -> str:
    """The operator's answer at the end of a chat with a model: each outcome in the operator's
    words and language, as a command's answer gives them (money in the account's currency, never
    micros), the notes, then the model's words as a quote; nothing recorded → that no change was
    made. Made from the outcomes, so it can claim nothing they do not show."""
    s = chat.T[chat.language_of(state, ctx)]
    words = (
        await chat.answer_after({**state, "outcomes": outcomes, "notes": notes}, ctx)
        if outcomes or notes
        else s["no_change"]
    )
    return f"{words}\n{quoted(s['adds'], said, s['quote'])}" if said.strip() else words
