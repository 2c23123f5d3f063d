"""Intake: the spend-anomaly check, the account snapshot, and the maintenance plan."""

from __future__ import annotations

from typing import Any

from adpilot.agents.context import RunContext
from adpilot.agents.skills import bidding as bidding_skills
from adpilot.agents.state import RunState, Task
from adpilot.errors import PlatformError


async def intake(state: RunState, ctx: RunContext) -> dict[str, Any]:
    guard = ctx.guard
    trigger = state["trigger"]
    ctx.bind(state, "intake")
    accounts = list(trigger.get("accounts") or sorted(guard.run.accounts))
    update: dict[str, Any] = {"steps": 1, "pending": [], "plan": [], "current": None}
    if trigger["kind"] == "chat":
        update["transcript"] = [{"agent": "operator", "content": trigger.get("text", "")}]
        return update
    scope = trigger.get("scope", "all")  # all | ads | cms
    if scope == "cms":
        accounts = []
    found: list[dict[str, Any]] = []
    for account in accounts:
        yesterday = await guard.call(
            "bidding", "get_performance", {"customer_id": account, "level": "campaign", "days": 1}
        )
        fortnight = await guard.call(
            "bidding", "get_performance", {"customer_id": account, "level": "campaign", "days": 14}
        )
        if yesterday.ok and fortnight.ok:
            found += bidding_skills.anomalies(yesterday.data, fortnight.data, ctx.bidding, account)
    if found:
        return {**update, "anomalies": found}
    notes: list[str] = []
    for account in list(accounts):
        try:
            await guard.prefetch(account)
        except PlatformError as exc:  # access revoked, platform down: this account waits for the next pass
            accounts.remove(account)
            notes.append(f"account {account} skipped: its state could not be read ({exc.message})")
    update["notes"] = notes
    plan: list[Task] = [
        {"id": f"bid-{a}", "role": "bidding", "account": a, "text": "maintain bids and budgets"} for a in accounts
    ]
    plan += [
        {"id": f"cre-{a}", "role": "creative", "account": a, "text": "keep every ad group supplied with ads"}
        for a in accounts
    ]
    if scope in ("all", "cms"):
        plan.append({"id": "seo", "role": "seo", "account": None, "text": "audit and fix the website's pages"})
    plan.append({"id": "sweep", "role": "compliance", "account": None, "text": "sweep live ads and pages"})
    return {**update, "plan": plan}
