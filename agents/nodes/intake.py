"""Intake: the spend-anomaly check, the account snapshot, and the maintenance plan.

The anomaly check reads yesterday's spend per campaign through the Guard (audited) and the spend
per day of the 14 days up to yesterday from the platform client (a read, no side effect; the
catalogue has no per-day tool), and judges with :func:`adpilot.agents.stop.spend_anomalies`.
An account whose data cannot be read is not judged, and a note says so.
"""

from __future__ import annotations

from typing import Any

from adpilot.agents.context import RunContext
from adpilot.agents.nodes.execute import account_currencies
from adpilot.agents.state import RunState, Task
from adpilot.agents.stop import spend_anomalies
from adpilot.errors import PlatformError

# Spend per campaign and day over the 14 days that end with yesterday: the baseline of the
# spend-anomaly check (the catalogue's get_performance sums a range; this needs the days).
DAILY_SPEND = (
    "SELECT campaign.id, segments.date, metrics.impressions, metrics.cost_micros "
    "FROM campaign WHERE segments.date DURING LAST_14_DAYS"
)


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
    notes: list[str] = []
    for account in accounts:
        anomalies, said = await _spend_anomalies(ctx, account)
        found += anomalies
        notes += said
    if found:
        currencies = await account_currencies(guard, accounts)
        return {**update, "anomalies": found, "notes": notes, "currencies": currencies}
    for account in list(accounts):
        try:
            await guard.prefetch(account)
        except PlatformError as exc:  # access revoked, platform down: this account waits for the next pass
            accounts.remove(account)
            notes.append(f"account {account} skipped: its state could not be read ({exc.message})")
    update["notes"] = notes
    update["currencies"] = await account_currencies(guard, accounts)
    # The compliance sweep first: what it pauses is off before rotation compares a group's ads, so
    # rotation never pauses the good ads in favour of one the sweep then pauses.
    plan: list[Task] = [{"id": "sweep", "role": "compliance", "account": None, "text": "sweep live ads and pages"}]
    plan += [{"id": f"bid-{a}", "role": "bidding", "account": a, "text": "maintain bids and budgets"} for a in accounts]
    plan += [
        {"id": f"cre-{a}", "role": "creative", "account": a, "text": "keep every ad group supplied with ads"}
        for a in accounts
    ]
    if scope in ("all", "cms"):
        plan.append({"id": "seo", "role": "seo", "account": None, "text": "audit and fix the website's pages"})
    return {**update, "plan": plan}


async def _spend_anomalies(ctx: RunContext, account: str) -> tuple[list[dict[str, Any]], list[str]]:
    guard = ctx.guard
    yesterday = await guard.call("bidding", "get_performance", {"customer_id": account, "level": "campaign", "days": 1})
    if not yesterday.ok:
        reason = yesterday.error.message if yesterday.error is not None else "no data"
        return [], [f"spend anomaly check of account {account} skipped: yesterday's spend could not be read ({reason})"]
    try:
        rows = await guard.platforms.google_ads.search(account, DAILY_SPEND)
    except PlatformError as exc:
        return [], [f"spend anomaly check of account {account} skipped: its daily spend could not be read ({exc})"]
    daily = []
    for row in rows:
        metrics = row.get("metrics") or {}
        cost, impressions = int(metrics.get("costMicros") or 0), int(metrics.get("impressions") or 0)
        if cost or impressions:  # a day with data
            campaign, day = (row.get("campaign") or {}).get("id"), (row.get("segments") or {}).get("date")
            daily.append({"campaign_id": str(campaign), "date": str(day), "cost_micros": cost})
    return spend_anomalies(yesterday.data or [], daily, ctx.limits, account)
