"""The report at the end of a run: what changed, what waits for a person, what was refused.

Every change applied, validated in a dry run or waiting for a person says what it is expected to
bring (``expects``) and after how many days it can be judged (``judge_after_days``: the end of
its kind's cooldown — for a new ad, of its learning period — in the policy's ``patience``, the
same numbers the patience rules hold the entity back by); an applied one also by when
(``judge_by``, UTC). A compliance fix is judged at once: there is nothing to wait for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from adpilot.agents.state import Outcome, RunState
from adpilot.agents.stop import usd
from adpilot.policies.model import Patience as PatiencePolicy
from adpilot.tools.audit import AuditLog
from adpilot.tools.catalogue import CATALOGUE
from adpilot.tools.patience import days_text, judge_days, utc_text

# Tools that change a platform; read and meta tools never appear in "changed" or "denied".
MUTATING = frozenset(spec.name for spec in CATALOGUE if spec.mutates)


@dataclass(frozen=True)
class Judging:
    """What a report needs to say when its changes can be judged: the policy's patience, the
    moment of the report (the audit log's clock) and the audit log (an applied change's row says
    whether it raised or cut)."""

    rules: PatiencePolicy
    now: dt.datetime
    audit: AuditLog | None = None


def expects(role: str, tool: str, args: dict[str, Any], before: Any = None, after: Any = None) -> str:
    """What a change is expected to bring, in one short phrase (a raise and a cut of money differ
    when ``before`` and ``after`` are known amounts)."""
    direction = _direction(before, after)
    if tool == "set_campaign_budget":
        return {
            "raise": "more conversions at ROAS ≥ target",
            "cut": "less spend, conversions at ROAS ≥ target",
        }.get(direction or "", "conversions at ROAS ≥ target on the new budget")
    if tool == "set_keyword_bid":
        return {
            "raise": "more clicks, converting at ROAS ≥ target",
            "cut": "less spend on clicks that do not pay for themselves",
        }.get(direction or "", "the keyword's clicks pay at ROAS ≥ target at the new bid")
    if tool == "set_ad_status":
        if args.get("status") != "PAUSED":
            return "the ad serves again and holds its own against the group's other ads"
        return (
            "no non-compliant ad stays live" if role == "compliance" else "traffic goes to the better ads of the group"
        )
    if tool == "set_campaign_status":
        paused = args.get("status") == "PAUSED"
        return "no more spend on the campaign" if paused else "the campaign serves again at ROAS ≥ target"
    if tool == "create_responsive_search_ad":
        return "a tested alternative for the group's traffic"
    if tool == "update_post" and role == "compliance" and args.get("status") == "draft":
        return "the page is offline until it is fixed"
    if tool == "update_post":
        return "better snippets and crawlability in search results"
    if tool == "publish_post":
        return "the page is live and found in search"
    if tool == "create_draft":
        return "a draft for a person to review"
    return ""


def _direction(before: Any, after: Any) -> str | None:
    try:
        old, new = int(before), int(after)
    except (TypeError, ValueError):
        return None
    return "raise" if new > old else "cut" if new < old else None


def _expectation(entry: dict[str, Any], judging: Judging | None, applied: bool) -> dict[str, Any]:
    """The ``expects``, ``judge_after_days`` and (applied) ``judge_by`` fields of one change."""
    from adpilot.agents.outcomes import proposed_call

    tool, args = proposed_call(entry)
    row = None
    seq = entry.get("audit_seq")
    if judging is not None and judging.audit is not None and applied and isinstance(seq, int):
        row = judging.audit.get(seq)
    before, after = (row.before, row.after) if row is not None else (None, None)
    found: dict[str, Any] = {"expects": expects(str(entry.get("role")), tool, args, before, after)}
    if judging is None:
        return found
    days = None if entry.get("role") == "compliance" else judge_days(judging.rules, tool)
    found["judge_after_days"] = days
    if applied and days is not None:
        at = dt.datetime.fromisoformat(row.ts) if row is not None else judging.now  # when it was applied
        found["judge_by"] = (at + dt.timedelta(days=days)).astimezone(dt.UTC).isoformat(timespec="minutes")
    return found


def expectation_text(entry: dict[str, Any]) -> str:
    """A change's expectation as the report's text reads it: "expects …; judge by … UTC"."""
    text = f"expects {entry['expects']}" if entry.get("expects") else ""
    days: Any = entry.get("judge_after_days")
    if entry.get("judge_by"):
        judged = f"judge by {utc_text(dt.datetime.fromisoformat(entry['judge_by']))} (after {days_text(days)})"
    elif days:
        judged = f"judge {days_text(days)} after it is applied"
    elif "judge_after_days" in entry and entry.get("role") == "compliance":
        judged = "judged at once"
    elif "judge_after_days" in entry:
        judged = "no waiting period in the policy"
    else:
        judged = ""
    return "; ".join(part for part in (text, judged) if part)


def build_report(state: RunState, *, stop: str | None, judging: Judging | None = None) -> dict[str, Any]:
    """The run's report (``--json`` prints it whole). ``judging``: the policy's patience, the clock
    and the audit log, for the judge-by fields of each change (left out without it)."""
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

    def judged(found: dict[str, Any], applied: bool) -> dict[str, Any]:
        return {**found, **_expectation(found, judging, applied)}

    applied = [
        judged(entry(o), applied=True)
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
    dry_run = [judged(entry(o), applied=False) for o in outcomes if o["decision"] == "dry_run"]
    denied = [entry(o) for o in outcomes if o["decision"] == "deny" and o["tool"] in MUTATING]
    rejected = [entry(o) for o in outcomes if o["decision"] == "reject"]
    failed = [entry(o) for o in outcomes if o["decision"] == "allow" and not o["ok"]]
    pending = [
        judged({**p, "approve": f"adpilot approvals approve {p['id']}"}, applied=False)
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
