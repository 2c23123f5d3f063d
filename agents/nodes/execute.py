"""Execution: the planned calls of the current task, each through the Guard, exactly once.

Every call carries its planned id as the idempotency key. Run again after a crash, this node
sends the same calls with the same keys: the Guard replays what completed, reconciles what was
sent but never answered (reading the platform back), and executes only what never happened.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import BaseMessage

from adpilot.agents import chat
from adpilot.agents.context import RunContext
from adpilot.agents.loop import record, tool_message
from adpilot.agents.state import Outcome, Pending, RunState
from adpilot.errors import AdpilotError

# Errors that count against the run's tool-error budget: the call itself was wrong or failed.
COUNTED_ERRORS = frozenset(
    {"unknown_tool", "invalid_arguments", "platform_error", "outcome_unknown", "unavailable", "internal_error"}
)


async def account_currencies(guard: Any, accounts: list[Any]) -> dict[str, str]:
    """The currency of each of this run's accounts among ``accounts``, so that reports show money in
    it (read once per account and cached; an account outside the run is never read)."""
    found: dict[str, str] = {}
    for account in accounts:
        if isinstance(account, str) and account in guard.run.accounts and account not in found:
            try:
                found[account] = await guard.context.currency(account)
            except AdpilotError:  # unreadable: the report shows the amount without guessing a currency
                continue
    return found


async def execute(state: RunState, ctx: RunContext) -> dict[str, Any]:
    task = state["current"]
    assert task is not None
    ctx.bind(state, task["role"])
    guard = ctx.guard
    outcomes: list[Outcome] = []
    pending: list[Pending] = []
    replies: list[BaseMessage] = []
    errors = 0
    notes: list[str] = []  # what a read found that the operator must read from the tool, not a model
    planned = state.get("planned") or []
    currencies = await account_currencies(
        guard, [c["args"].get("customer_id") for c in planned if isinstance(c["args"], dict)]
    )
    for call in planned:
        result = await guard.call(call["role"], call["tool"], call["args"], proposal_id=call["id"])
        if result.error is not None and result.error.type in COUNTED_ERRORS:
            errors += 1
        spec = guard.tools.get(call["tool"])
        if call.get("record") or (spec is not None and spec.kind != "read") or result.decision != "allow":
            outcome, waiting = record(
                result,
                proposal_id=call["id"],
                task_id=task["id"],
                role=call["role"],
                tool=call["tool"],
                args=call["args"] if isinstance(call["args"], dict) else {},
                rationale=call["rationale"],
                account=call.get("account"),
            )
            outcomes.append(outcome)
            if waiting is not None:
                pending.append(waiting)
        if call["tool"] == "check_copy" and result.decision == "allow" and result.ok:
            args = call["args"] if isinstance(call["args"], dict) else {}
            notes.append(chat.copy_check_note(args, result.data, chat.language_of(state, ctx)))
        if call.get("tool_call_id"):
            account = call["args"].get("customer_id") if isinstance(call["args"], dict) else None
            currency = currencies.get(account) if isinstance(account, str) else None
            replies.append(tool_message(result.for_model(currency), call["tool"], str(call["tool_call_id"])))
    update: dict[str, Any] = {
        "steps": 1,
        "planned": [],
        "outcomes": outcomes,
        "pending": list(state.get("pending") or []) + pending,
        "tool_errors": errors,
    }
    if notes:
        update["notes"] = notes
    if currencies:
        update["currencies"] = currencies
    if replies:
        update["conversation"] = list(state.get("conversation") or []) + replies
    return update
