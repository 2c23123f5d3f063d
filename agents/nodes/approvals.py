"""Approvals: the run pauses for a person (``interrupt``), then carries out their decisions.

The escalate node does nothing before ``interrupt()``, so resuming it repeats nothing. The apply
node executes approved calls with the pending item's id as idempotency key (an edit gets its own
key), so a crash while applying replays instead of repeating. An approval binds the call's hash
and, for content, the hash of the content the person was shown: content changed since is not
published on it. The Guard escalates again (rule ``approval.content_changed``), the approval is
spent, and the call waits for a person once more, under a new id, bound to the new content.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import interrupt

from adpilot.agents.context import RunContext
from adpilot.agents.loop import record
from adpilot.agents.outcomes import from_pending
from adpilot.agents.state import Outcome, Pending, RunState
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


def _renewed_id(pending_id: str) -> str:
    """The id of a call asked again: "seo.1a2b3c4d.0" -> "….0.r2" -> "….0.r3"."""
    base, _, round_ = pending_id.rpartition(".r")
    if base and round_.isdigit():
        return f"{base}.r{int(round_) + 1}"
    return f"{pending_id}.r2"


async def apply(state: RunState, ctx: RunContext) -> dict[str, Any]:
    ctx.bind(state, "apply")
    guard = ctx.guard
    decisions = state.get("decisions") or {}
    done = set(state.get("applied") or [])
    outcomes: list[Outcome] = []
    applied: list[str] = []
    undecided: dict[str, None] = {}
    notes: list[str] = []
    reasked: list[Pending] = []
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
                approval=Approval(
                    digest or "",
                    approver,
                    str(decision.get("reason", "")),
                    content_hash=item.get("content_hash"),
                    edited_from=item["args"] if edited else None,
                ),
            )
            if result.error is not None and result.error.rule == "kill_switch":
                # Engaged since the decision came in: nothing happened, and the approval waits
                # for a person again once the kill switch is released.
                undecided[item["id"]] = None
                continue
            outcome, again = record(
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
            if again is not None and result.error is not None and result.error.rule == "approval.content_changed":
                # Spent, not carried out: the person approved other content than there is now. The
                # call waits for a person again, who is shown the content as it is now.
                renewed = {**again, "id": _renewed_id(item["id"]), "rationale": item["rationale"]}
                reasked.append(renewed)  # type: ignore[arg-type]
                notes.append(
                    f"approval {item['id']} ({item['tool']}) was not carried out: {result.error.message}; "
                    f"it waits for a person again as {renewed['id']}"
                )
        applied.append(item["id"])
    remaining = [p for p in state.get("pending") or [] if p["id"] not in applied and p["id"] not in done]
    remaining += reasked
    return {
        "outcomes": outcomes,
        "applied": applied,
        "pending": remaining,
        "decisions": undecided,
        "notes": notes,
        "steps": 1,
    }
