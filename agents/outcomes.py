"""Outcomes as data: for reports, approvals and the supervisor model.

With a model, what the operator reads is made from the recorded outcomes (``chat.outcome_lines``);
the model's own words are added as a quote (:func:`quoted`), so they can never claim a change that
no outcome shows nor hide one that failed.
"""

from __future__ import annotations

from typing import Any

from adpilot.agents.state import Outcome, Pending


def quoted(lead: str, said: str, marks: str = "“{}”") -> str:
    """A model's words as a quote the operator can tell from what the outcomes show:
    ``The assistant adds: “…”`` (``lead`` and the quotation ``marks`` in the operator's language)."""
    words = " ".join(said.split())
    return f"{lead}: " + marks.format(f"{words[:600]}{'…' if len(words) > 600 else ''}")


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
