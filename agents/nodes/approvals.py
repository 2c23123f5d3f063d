"""Approvals: the run pauses for a person (``interrupt``), then carries out their decisions.

The escalate node does nothing before ``interrupt()``, so resuming it repeats nothing. The apply
node executes approved calls with the pending item's id as idempotency key (an edit gets its own
key), so a crash while applying replays instead of repeating. An approval binds the call's hash
and, for content, the hash of the content the person was shown: content changed since is not
published on it. The Guard escalates again (rule ``approval.content_changed``), the approval is
spent, and the call waits for a person once more, under a new id, bound to the new content.
The same holds when the entity's value changed since the person was shown it
(``approval.stale``) and when fewer different people approved than a four-eyes rule needs
(``approval.four_eyes``).

Besides a person's approve / reject / edit, the Runner answers two items itself: ``reuse`` (the
same call already waits for a person as another approval, which decides it) and ``void`` (the
approval expired). Neither changes anything; each leaves a note. A decision of any other shape
is not dropped silently: it leaves a note naming it, and the item keeps waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langgraph.types import interrupt

from adpilot.agents.context import RunContext
from adpilot.agents.loop import record
from adpilot.agents.outcomes import from_pending, proposed_call
from adpilot.agents.state import Outcome, Pending, RunState
from adpilot.tools.guard import Approval, Guard

DECISIONS = ("approve", "reject", "edit")  # what a person may answer
INTERNAL = ("reuse", "void")  # what the Runner answers itself (see the module's docstring)
RE_ASKED = ("approval.content_changed", "approval.stale", "approval.four_eyes")


def malformed(decision: Any) -> str | None:
    """What is wrong with one decision (None: nothing)."""
    if not isinstance(decision, dict):
        return f"a decision is an object with a 'decision' field, not {type(decision).__name__}"
    verb = decision.get("decision")
    if verb not in DECISIONS + INTERNAL:
        return f"unknown decision {verb!r}: one of {', '.join(DECISIONS)}"
    if verb == "edit" and (not isinstance(decision.get("args"), dict) or not decision["args"]):
        return "an edit needs 'args': the arguments to change, e.g. {'amount_micros': '60000000'}"
    return None


def waiting(state: RunState) -> list[Any]:
    """Pending approvals no decision has answered yet."""
    decided = state.get("decisions") or {}
    return [p for p in state.get("pending") or [] if decided.get(p["id"]) is None]


async def escalate(state: RunState, ctx: RunContext) -> dict[str, Any]:
    answer = interrupt({"run_id": state["run_id"], "pending": waiting(state)})
    decisions = answer if isinstance(answer, dict) else {}
    valid = {key: value for key, value in decisions.items() if malformed(value) is None}
    # The Runner refuses malformed decisions before resuming; one that reaches the graph anyway is
    # named in the report, never dropped without a word (its item keeps waiting).
    notes = [f"decision on {key} not taken: {malformed(value)}" for key, value in decisions.items() if key not in valid]
    if not isinstance(answer, dict) and answer is not None:
        notes.append(f"decisions not taken: expected an object of decisions by id, got {type(answer).__name__}")
    return {"decisions": valid, "notes": notes, "steps": 1}


def _renewed_id(pending_id: str) -> str:
    """The id of a call asked again: "seo.1a2b3c4d.0" -> "….0.r2" -> "….0.r3"."""
    base, _, round_ = pending_id.rpartition(".r")
    if base and round_.isdigit():
        return f"{base}.r{int(round_) + 1}"
    return f"{pending_id}.r2"


@dataclass
class Carried:
    """What carrying out one decision did: the outcome (none for ``reuse`` / ``void``), the call
    asked again (its approval was spent on other content, another value, or too few people), a
    note for the operator, and whether it must wait for a person again unchanged (the kill switch)."""

    outcome: Outcome | None = None
    renewed: Pending | None = None
    note: str | None = None
    still_waiting: bool = False


async def carry_out(guard: Guard, item: Pending, decision: dict[str, Any], default_approver: str) -> Carried:
    """Carry out one decision on one pending item through the Guard (see the module docstring)."""
    approver = str(decision.get("approver") or default_approver)
    tool, call_args = proposed_call(item)
    verb = decision["decision"]
    if verb == "reuse":
        return Carried(note=f"{tool} ({item['id']}) is already waiting as {decision.get('of')}")
    if verb == "void":
        return Carried(note=f"approval {item['id']} ({tool}) is void: {decision.get('why') or 'expired'}")
    if verb == "reject":
        seq = guard.record_rejection(item["role"], tool, call_args, str(decision.get("reason", "")), approver)
        outcome: Outcome = {
            **from_pending(item),
            "decision": "reject",
            "ok": False,
            "error": {"type": "rejected", "message": f"rejected by {approver}"},
            "audit_seq": seq,
        }
        return Carried(outcome)
    edited = verb == "edit"
    args = {**call_args, **(decision.get("args") or {})} if edited else call_args
    digest = guard.digest(tool, args) if edited else item["call_hash"]
    proposal_id = f"{item['id']}.edit" if edited else item["id"]
    approvers = decision.get("approvers")
    result = await guard.call(
        item["role"],
        tool,
        args,
        proposal_id=proposal_id,
        approval=Approval(
            digest or "",
            approver,
            str(decision.get("reason", "")),
            content_hash=item.get("content_hash"),
            edited_from=call_args if edited else None,
            before=decision.get("before"),
            before_shown=bool(decision.get("before_shown")),
            approvers=tuple(str(a) for a in approvers) if isinstance(approvers, list) else (),
            requester=str(decision["requester"]) if decision.get("requester") else None,
        ),
    )
    if result.error is not None and result.error.rule == "kill_switch":
        # Engaged since the decision came in: nothing happened, and the approval waits for a
        # person again once the kill switch is released.
        return Carried(still_waiting=True)
    outcome, again = record(
        result,
        proposal_id=proposal_id,
        task_id=item["task_id"],
        role=item["role"],
        tool=tool,
        args=args,
        rationale=f"approved by {approver}: {item['rationale']}",
        account=item.get("account"),
    )
    if again is not None and result.error is not None and result.error.rule in RE_ASKED:
        # Spent, not carried out: the person approved other content (or another value) than there
        # is now, or too few people approved. The call waits for a person again, who is shown the
        # entity as it is now.
        renewed: Pending = {**again, "id": _renewed_id(item["id"]), "rationale": item["rationale"]}
        note = (
            f"approval {item['id']} ({tool}) was not carried out: {result.error.message}; "
            f"it waits for a person again as {renewed['id']}"
        )
        return Carried(outcome, renewed, note)
    return Carried(outcome)


async def apply(state: RunState, ctx: RunContext) -> dict[str, Any]:
    ctx.bind(state, "apply")
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
        carried = await carry_out(ctx.guard, item, decision, ctx.approver)
        if carried.still_waiting:
            undecided[item["id"]] = None
            continue
        if carried.outcome is not None:
            outcomes.append(carried.outcome)
        if carried.renewed is not None:
            reasked.append(carried.renewed)
        if carried.note is not None:
            notes.append(carried.note)
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
