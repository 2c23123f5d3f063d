"""Campaign outcome: 28 simulated days of daily maintenance against doing nothing and an oracle.

    .venv/bin/python bench/campaign_outcome.py [--days 28] [--seed 7]

Three copies of the demo world run the same 28 days:
- *nothing*: settings stay as they are;
- *adpilot*: each morning a maintenance run (model none, the deterministic skills, the
  default policy; escalations are rejected, so only what the policy allows happens);
- *oracle*: knows the hidden truth — serves only the ad with the best CTR in each group and
  bids each keyword at the highest CPC that still meets the same target ROAS (4.0),
  cpc = conversion rate × order value / (4 × cpc ratio); budgets unchanged.
Reported: conversions, spend, conversion value and cost per conversion over the 28 days.
Goal: adpilot gets ≥ 80 % of the oracle's conversions at no more spend, and beats nothing.
The audit log's clock follows the simulated calendar, so the Guard's 24-hour windows do too.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import tempfile
from pathlib import Path
from typing import Any

from adpilot.agents.llm import build_provider
from adpilot.agents.run import Runner
from adpilot.compose import connect
from adpilot.config import Config
from adpilot.money import round_to_unit
from adpilot.tools.audit import AuditLog
from adpilot.tools.sandbox import Sandbox, World, advance_day

TARGET_ROAS = 4.0
MAX_BID = 10_000_000


def totals(world: World, since: dt.date) -> dict[str, float]:
    result = {"conversions": 0.0, "cost": 0.0, "value": 0.0, "clicks": 0.0}
    for customer in world.google_ads.customers.values():
        for day, rows in customer.stats.items():
            if dt.date.fromisoformat(day) < since:
                continue
            for stat in rows.values():
                result["conversions"] += stat.conversions
                result["cost"] += stat.cost_micros / 1_000_000
                result["value"] += stat.conversions_value_micros / 1_000_000
                result["clicks"] += stat.clicks
    return result


def _expected(
    world: World, customer_id: str, campaign_rn: str, bids: dict[str, int], best: dict[str, str]
) -> tuple[float, float]:
    """Expected daily (conversions, cost) of a campaign at these bids, from the hidden truth."""
    customer = world.google_ads.customers[customer_id]
    truth = world.sim.customers[customer_id]
    conversions = cost = 0.0
    for group_id, group in customer.ad_groups.items():
        if group.campaign != campaign_rn:
            continue
        rates = truth.ad_groups[group_id]
        ctr = truth.ad_ctr[best[group_id]]
        for key, keyword in truth.keywords.items():
            if not key.startswith(f"{group_id}~"):
                continue
            share = 1 - math.exp(-bids[key] / keyword.competition_micros)
            clicks = keyword.daily_searches * 1.03 * share * ctr * (0.6 + 0.4 * share)
            cost += clicks * bids[key] * keyword.cpc_ratio / 1_000_000
            conversions += clicks * rates.conversion_rate
    return conversions, cost


def oracle_settings(world: World) -> None:
    """Best ad only; per campaign, the bid level that maximises expected conversions within budget."""
    for customer_id, customer in world.google_ads.customers.items():
        truth = world.sim.customers[customer_id]
        best = {}
        for group_id in customer.ad_groups:
            ads = [key for key in customer.ad_group_ads if key.startswith(f"{group_id}~")]
            best[group_id] = max(ads, key=lambda key: truth.ad_ctr.get(key, 0.0))
            for key in ads:
                customer.ad_group_ads[key].status = "ENABLED" if key == best[group_id] else "PAUSED"
        for campaign in customer.campaigns.values():
            budget = (
                next(
                    int(b.amount_micros)
                    for b in customer.campaign_budgets.values()
                    if b.resource_name == campaign.campaign_budget
                )
                / 1_000_000
            )
            value_bid = {}
            for key in truth.keywords:
                group = truth.ad_groups[key.split("~")[0]]
                value_bid[key] = (
                    group.conversion_rate * group.order_value_micros / (TARGET_ROAS * truth.keywords[key].cpc_ratio)
                )
            best_level, best_conversions = 1.0, -1.0
            for level in [x / 20 for x in range(2, 61)]:
                bids = {k: min(MAX_BID, max(50_000, int(v * level))) for k, v in value_bid.items()}
                conversions, cost = _expected(world, customer_id, campaign.resource_name, bids, best)
                if cost > budget:
                    conversions *= budget / cost
                if conversions > best_conversions:
                    best_level, best_conversions = level, conversions
            for key, criterion in customer.ad_group_criteria.items():
                group_rn = criterion.ad_group
                if customer.ad_groups[key.split("~")[0]].campaign == campaign.resource_name and group_rn:
                    bid = min(MAX_BID, max(50_000, int(value_bid[key] * best_level)))
                    criterion.cpc_bid_micros = str(round_to_unit(bid))


async def with_adpilot(world: World, days: int, folder: Path) -> World:
    sandbox = Sandbox(world)
    clock = {"now": dt.datetime.combine(world.sim.today, dt.time(6), tzinfo=dt.UTC)}
    audit = AuditLog(folder / "audit.sqlite3", clock=lambda: clock["now"])
    config = Config(state_dir=folder / "state")
    async with (
        connect(config, sandbox=sandbox) as platforms,
        Runner(config, platforms=platforms, audit=audit, models=build_provider("none")) as runner,
    ):
        for day in range(days):
            clock["now"] = dt.datetime.combine(sandbox.world.sim.today, dt.time(6), tzinfo=dt.UTC)
            result = await runner.start({"kind": "maintenance", "scope": "ads"}, thread_id=f"day-{day}")
            rounds = 0
            while result.status == "waiting" and rounds < 5:  # no one approves: only allowed changes happen
                rounds += 1
                decisions = {
                    p["id"]: {"decision": "reject", "reason": "benchmark: no approvals"} for p in result.pending
                }
                result = await runner.resume(result.thread_id, decisions)
            advance_day(sandbox.world)
    return sandbox.world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()
    base = World.demo(options.seed)
    start = base.sim.today
    nothing = base.clone()
    advance_day(nothing, options.days)
    oracle = base.clone()
    for _ in range(options.days):
        oracle_settings(oracle)
        advance_day(oracle)
    with tempfile.TemporaryDirectory() as tmp:
        ours = asyncio.run(with_adpilot(base.clone(), options.days, Path(tmp)))
    results: dict[str, dict[str, Any]] = {
        "nothing": totals(nothing, start),
        "adpilot": totals(ours, start),
        "oracle": totals(oracle, start),
    }
    print(f"{options.days} days from {start} (seed {options.seed})")
    print(f"{'strategy':<9} {'conversions':>11} {'spend EUR':>10} {'value EUR':>10} {'EUR/conv':>9} {'ROAS':>6}")
    for name, r in results.items():
        per = r["cost"] / r["conversions"] if r["conversions"] else float("nan")
        roas = r["value"] / r["cost"] if r["cost"] else float("nan")
        print(f"{name:<9} {r['conversions']:>11.0f} {r['cost']:>10.2f} {r['value']:>10.2f} {per:>9.2f} {roas:>6.2f}")
    share = results["adpilot"]["conversions"] / results["oracle"]["conversions"]
    spend = results["adpilot"]["cost"] / results["oracle"]["cost"]
    gain = results["adpilot"]["conversions"] / results["nothing"]["conversions"]
    print(f"adpilot: {share:.0%} of the oracle's conversions at {spend:.0%} of its spend; {gain:.2f}× doing nothing")


if __name__ == "__main__":
    main()
