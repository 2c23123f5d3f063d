"""Outcomes in words: what a task did, for the operator and for the supervisor model.

With a model, what the operator reads is made from the recorded outcomes (:func:`honest_answer`):
the model's own words are added as a quote, so they can never claim a change that no outcome
shows nor hide one that failed.
"""

from __future__ import annotations

import json
from typing import Any

from adpilot.agents.state import Outcome, Pending, RunState


def outcome_text(outcomes: list[Outcome]) -> str:
    parts = []
    for o in outcomes:
        message = (o.get("error") or {}).get("message")
        if (o.get("error") or {}).get("type") == "invalid_call":
            parts.append(f"invalid call by the {o['role']} agent, nothing done: {o['tool']} — {message}")
        elif o["decision"] == "allow" and o["ok"]:
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


def quoted(agent: str, said: str) -> str:
    """A model's words as a quote the operator can tell from what the outcomes show."""
    words = " ".join(said.split())
    return f"The {agent} adds: “{words[:600]}{'…' if len(words) > 600 else ''}”"


def honest_answer(outcomes: list[Outcome], notes: list[str], said: str, agent: str = "assistant") -> str:
    """What the operator reads at the end: what the outcomes show (and the notes), then the
    model's words as a quote; without any outcome or note, that nothing was changed."""
    text = outcome_text(outcomes)
    shown = "\n".join(p for p in (text, "\n".join(notes)) if p) or "No change was made."
    return f"{shown}\n{quoted(agent, said)}" if said.strip() else shown


def invalid_call_notes(outcomes: list[Outcome]) -> list[str]:
    """One note per agent that made invalid tool calls: how many, and each one's error."""
    by_role: dict[str, list[str]] = {}
    for o in outcomes:
        if (o.get("error") or {}).get("type") == "invalid_call":
            by_role.setdefault(o["role"], []).append(f"{o['tool']} ({(o.get('error') or {}).get('message')})")
    return [
        f"{len(calls)} invalid tool call{'s' if len(calls) != 1 else ''} by the {role} agent: {'; '.join(calls)}"
        for role, calls in by_role.items()
    ]


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
