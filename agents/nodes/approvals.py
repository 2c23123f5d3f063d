"""Approvals: the run pauses for a person (``interrupt``), then carries out their decisions.

The escalate node does nothing before ``interrupt()``, so resuming it repeats nothing. The apply
node executes approved calls with the pending item's id as idempotency key (an edit gets its own
key), so a crash while applying replays instead of repeating.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import interrupt

from adpilot.agents.context import RunContext
from adpilot.agents.loop import record
from adpilot.agents.outcomes import from_pending
from adpilot.agents.state import Outcome, RunState
from adpilot.tools.guard import Approval

DECISIONS = ("approve", "reject", "edit")


def waiting(state: RunState) -> list[Any]:
    """Pending approvals no decision has answered yet."""
    decided = state.get("decisions") or {}
    return [p for p in state.get("pending") or [] if decided.get(p["id"]) is None]


async def escalate(state: RunState, ctx: RunContext) -> dict[str, Any]:
    answer = interrupt({"run_id": state["run_id"], "pending": waiting(state)})
    decisions = answer if isinstance(answer, dict) else {}
    valid = {
        key: value for key, value in decisions.items() if isinstance(value, dict) and value.get("decision") in DECISIONS
    }
    return {"decisions": valid, "steps": 1}


async def apply(state: RunState, ctx: RunContext) -> dict[str, Any]:
    ctx.bind(state, "apply")
    guard = ctx.guard
    decisions = state.get("decisions") or {}
    done = set(state.get("applied") or [])
    outcomes: list[Outcome] = []
    applied: list[str] = []
    undecided: dict[str, None] = {}
    for item in state.get("pending") or []:
        decision = decisions.get(item["id"])
        if decision is None or item["id"] in done:
            continue
        approver = str(decision.get("approver") or ctx.approver)
        if decision["decision"] == "reject":
            seq = guard.record_rejection(
                item["role"], item["tool"], item["args"], str(decision.get("reason", "")), approver
            )
            outcomes.append(
                {
                    **from_pending(item),
                    "decision": "reject",
                    "ok": False,
                    "error": {"type": "rejected", "message": f"rejected by {approver}"},
                    "audit_seq": seq,
                }
            )
        else:
            edited = decision["decision"] == "edit"
            args = {**item["args"], **(decision.get("args") or {})} if edited else item["args"]
            digest = guard.digest(item["tool"], args) if edited else item["call_hash"]
            proposal_id = f"{item['id']}.edit" if edited else item["id"]
            result = await guard.call(
                item["role"],
                item["tool"],
                args,
                proposal_id=proposal_id,
                approval=Approval(digest or "", approver, str(decision.get("reason", ""))),
            )
            if result.error is not None and result.error.rule == "kill_switch":
                # Engaged since the decision came in: nothing happened, and the approval waits
                # for a person again once the kill switch is released.
                undecided[item["id"]] = None
                continue
            outcome, _ = record(
                result,
                proposal_id=proposal_id,
                task_id=item["task_id"],
                role=item["role"],
                tool=item["tool"],
                args=args,
                rationale=f"approved by {approver}: {item['rationale']}",
                account=item.get("account"),
            )
            outcomes.append(outcome)
        applied.append(item["id"])
    remaining = [p for p in state.get("pending") or [] if p["id"] not in applied and p["id"] not in done]
    return {"outcomes": outcomes, "applied": applied, "pending": remaining, "decisions": undecided, "steps": 1}
