"""Outcomes in words: what a task did, for the operator and for the supervisor model."""

from __future__ import annotations

import json
from typing import Any

from adpilot.agents.state import Outcome, Pending, RunState


def outcome_text(outcomes: list[Outcome]) -> str:
    parts = []
    for o in outcomes:
        message = (o.get("error") or {}).get("message")
        if o["decision"] == "allow" and o["ok"]:
            parts.append(f"done: {o['tool']} {json.dumps(o['args'], ensure_ascii=False)}")
        elif o["decision"] == "escalate":
            parts.append(f"waiting for approval: {o['tool']} ({message or ''})")
        else:
            parts.append(f"not done: {o['tool']} — {message or o['decision']}")
    return "\n".join(parts)


def summarise(state: RunState) -> str:
    text = outcome_text(list(state.get("outcomes") or []))
    notes = "\n".join(state.get("notes") or [])
    return "\n".join(p for p in (text, notes) if p) or "Nothing to do."


def brief(outcome: Outcome) -> dict[str, Any]:
    return {
        "tool": outcome["tool"],
        "decision": outcome["decision"],
        "ok": outcome["ok"],
        "error": outcome.get("error"),
    }


def proposed_call(item: Pending | dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The call a pending approval is about: its own, or — for the ``escalate`` tool with a
    proposal ``{tool, args}`` — exactly the proposed call."""
    args = item.get("args") or {}
    proposal = args.get("proposal") if item.get("tool") == "escalate" and isinstance(args, dict) else None
    if isinstance(proposal, dict) and isinstance(proposal.get("tool"), str):
        inner = proposal.get("args")
        return proposal["tool"], dict(inner) if isinstance(inner, dict) else {}
    return str(item.get("tool")), dict(args) if isinstance(args, dict) else {}


def from_pending(item: Pending) -> Outcome:
    """The outcome fields a pending approval already fixes (the decision adds the rest)."""
    tool, args = proposed_call(item)
    return {
        "proposal_id": item["id"],
        "task_id": item["task_id"],
        "role": item["role"],
        "tool": tool,
        "args": args,
        "rationale": item["rationale"],
        "call_hash": item["call_hash"],
        "account": item.get("account"),
        "data": None,
    }
