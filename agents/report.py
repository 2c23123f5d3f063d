"""The report at the end of a run: what changed, what waits for a person, what was refused."""

from __future__ import annotations

from typing import Any

from adpilot.agents.state import Outcome, RunState
from adpilot.agents.stop import usd
from adpilot.tools.catalogue import CATALOGUE

# Tools that change a platform; read and meta tools never appear in "changed" or "denied".
MUTATING = frozenset(spec.name for spec in CATALOGUE if spec.mutates)


def build_report(state: RunState, *, stop: str | None) -> dict[str, Any]:
    outcomes = list(state.get("outcomes") or [])
    decided = {
        o["proposal_id"] for o in outcomes if o["decision"] in ("allow", "reject", "deny") and o["tool"] in MUTATING
    }

    def entry(o: Outcome) -> dict[str, Any]:
        return {
            "id": o["proposal_id"],
            "role": o["role"],
            "tool": o["tool"],
            "account": o.get("account"),
            "args": o["args"],
            "rationale": o["rationale"],
            "audit_seq": o.get("audit_seq"),
            **({"error": o["error"]} if o.get("error") else {}),
        }

    applied = [
        entry(o)
        for o in outcomes
        if o["decision"] == "allow"
        and o["ok"]
        and o["tool"] in MUTATING
        and not (isinstance(o.get("data"), dict) and o["data"].get("changed") is False)
    ]
    unchanged = [
        entry(o)
        for o in outcomes
        if o["decision"] == "allow"
        and o["ok"]
        and isinstance(o.get("data"), dict)
        and o["data"].get("changed") is False
    ]
    dry_run = [entry(o) for o in outcomes if o["decision"] == "dry_run"]
    denied = [entry(o) for o in outcomes if o["decision"] == "deny" and o["tool"] in MUTATING]
    rejected = [entry(o) for o in outcomes if o["decision"] == "reject"]
    failed = [entry(o) for o in outcomes if o["decision"] == "allow" and not o["ok"]]
    pending = [
        {**p, "approve": f"adpilot approvals approve {p['id']}"}
        for p in state.get("pending") or []
        if p["id"] not in decided and p["id"] not in (state.get("applied") or [])
    ]
    return {
        "run_id": state.get("run_id"),
        "trigger": state.get("trigger"),
        "applied": applied,
        "unchanged": unchanged,
        "dry_run": dry_run,
        "pending_approvals": pending,
        "denied": denied,
        "rejected": rejected,
        "failed": failed,
        "anomalies": list(state.get("anomalies") or []),
        "currencies": dict(state.get("currencies") or {}),
        "notes": list(state.get("notes") or []),
        "stop_reason": stop,
        "usage": {
            "steps": state.get("steps", 0),
            "tokens": state.get("tokens", 0),
            # Exact as a decimal string; the float is that amount rounded to 6 places, for JSON.
            "cost_usd_exact": format(usd(state.get("cost_pico_usd", 0)).normalize(), "f"),
            "cost_usd": round(float(usd(state.get("cost_pico_usd", 0))), 6),
            "tool_errors": state.get("tool_errors", 0),
        },
    }
