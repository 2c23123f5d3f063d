"""Campaign outcome: 28 simulated days of maintenance, once and three times a day, against doing
nothing and an oracle — over several seeds, in the demo world and in one whose ROAS is below its
target, with a person's changes in the Google Ads web interface half-way through.

    .venv/bin/python bench/campaign_outcome.py [--days 28] [--seeds 7 11 23]
        [--worlds demo below-target] [--cadences 1 3] [--without SKILL …] [--policy PACK] [--json FILE]

Each day is simulated in three parts of eight hours (the sandbox's ``advance_part``), so a
change made during the day — by a run or by a person — applies to the rest of that day only.
Strategies, each on its own copy of the world:

- *nothing*: settings stay as they are;
- *adpilot*: maintenance runs (model none, the deterministic skills, the default policy and
  targets; escalations are rejected, so only what the policy allows happens) at 06:00 (1×/day)
  or at 06:00, 14:00 and 22:00 (3×/day), each before the part of the day that follows it. The
  runs read what the Google Ads API serves: the metrics of *complete* days (``LAST_n_DAYS`` ends
  yesterday, as in Google Ads), so the three runs of a day see the same metrics but a world that
  changed in between — the earlier runs' changes, the person's edits, and cooldowns and the
  Guard's 24-hour windows on a moving clock;
- *oracle*: knows the hidden truth — serves only the best-CTR ad of each group whose copy passes
  the copy rules (three ads of the demo world do not, and the compliance sweep pauses them; in
  each of seeds 7, 11 and 23 two of them have their group's best CTR — clicks no one may buy
  with that copy) and bids every keyword at a share (≤ 1) of the CPC at which it earns the
  target ROAS exactly (conversion rate × order value ÷ (target × CPC ratio)), the share per
  campaign that maximises expected conversions within the campaign's budget; budgets as they are.

Worlds: *demo* (the seeded demo world, ROAS about 8 against the default target of 4) and
*below-target* (the same shop whose visitors convert at 40 % of the demo's rate: ROAS about 3.6
if nothing changes, below the target of 4 — a season or a price change the bids must follow down).

Operator interventions (the middle day, 13:00 — after the 06:00 run, before the 14:00 one), made
as a person makes them in Google Ads' web interface: the world changes and the account's
change history records a GOOGLE_ADS_WEB_CLIENT change by lena@…:
- the ad adpilot paused most recently (by its rotation rule) is enabled again;
- the budget adpilot changed most recently (by budget pacing) is set back to its amount before
  adpilot's changes — so the budget is the same in every strategy, as the oracle's budgets are
  the world's; had adpilot changed no budget, the budget of "Boots - Search" (DE) would be
  raised by a fifth instead (in adpilot's world only).
An intervention is *respected* when adpilot changes neither entity while the person hold of the
policy (``patience.person_hold_days``) lasts: no change in the audit log, and the person's value
still in the world before every run and at the end of the hold (or of the benchmark).

Outcomes are reported twice: as drawn (conversions, spend and value the simulated days produced)
and *expected* (E: what the settings in force were worth, from the hidden truth and the
simulator's own model, part by part — the luck of the draws left out; with 50–200 conversions a
seed, the draws alone move a share by ±10 %).

Goals, per world on the expected outcome summed over the seeds, at each cadence: ≥ 90 % of the
oracle's conversions at no more than its spend; 3×/day no worse than 1×/day (conversions at least
98 % of them, spend at most 102 %); and every intervention of every seed respected. The exit
status is 1 when a goal fails.

The audit log's clock and the sandbox's (which stamps the change history) are one simulated
clock whose last day ends today: adpilot reads Google Ads' change history on the wall clock
(``patience.person_hold_days`` + 2 days back), as it must read the real one. The metrics keep the
demo world's own dates, so the numbers do not depend on the day the benchmark runs.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from adpilot.agents.llm import build_provider
from adpilot.agents.run import Runner
from adpilot.compose import connect
from adpilot.config import Config
from adpilot.logs import configure_logging
from adpilot.money import round_to_unit
from adpilot.policies import load_policy
from adpilot.tools.audit import AuditLog
from adpilot.tools.sandbox import Sandbox, World
from adpilot.tools.sandbox.simulate import _weekday_factor, advance_part
from adpilot.tools.sandbox.world import ChangeEvent

TARGET_ROAS = 4.0  # the default target (config targets.target_roas), which adpilot aims for too
MAX_BID = 10_000_000
PARTS = 3  # a day in three parts of eight hours, each after a run time
RUN_HOURS = (6, 14, 22)
INTERVENTION_HOUR = 13
PERSON = "lena@alpine-outfitters.example"
DE = "1112223333"
FALLBACK_BUDGET = "9001"  # "Boots - Search"
BELOW_TARGET_CONVERSION = 0.4
SKILLS = ("pacing", "bids", "rotation", "creative", "compliance")
CHANGES = {"set_campaign_budget", "set_keyword_bid", "set_ad_status", "create_responsive_search_ad"}
GOAL_SHARE = 0.90
CADENCE_SLACK = 0.02


# --- worlds ---------------------------------------------------------------------------------


def make_world(name: str, seed: int) -> World:
    world = World.demo(seed)
    if name == "below-target":
        for truth in world.sim.customers.values():
            for group in truth.ad_groups.values():
                group.conversion_rate = round(group.conversion_rate * BELOW_TARGET_CONVERSION, 5)
    elif name != "demo":
        raise SystemExit(f"--worlds: no world {name!r} (demo, below-target)")
    return world


class Expected:
    """Expected conversions, spend and value of the settings in force, from the hidden truth and
    the simulator's own model (searches × share × CTR × conversion rate, capped by the budget as
    the day's parts are): what a strategy's settings are worth, without the luck of the draws."""

    def __init__(self) -> None:
        self.conversions = self.cost = self.value = 0.0
        self._spent: dict[tuple[str, str], float] = {}  # (account, campaign) → expected spend today

    def add_part(self, world: World, part: int) -> None:
        """Before ``advance_part(world, part, PARTS)``: add that part's expectation."""
        day = world.sim.today
        if part == 0:
            self._spent.clear()
        for customer_id, customer in world.google_ads.customers.items():
            truth = world.sim.customers[customer_id]
            for campaign in customer.campaigns.values():
                if campaign.status != "ENABLED":
                    continue
                conversions = cost = value = 0.0
                for group in customer.ad_groups.values():
                    rates = truth.ad_groups.get(group.id)
                    if group.campaign != campaign.resource_name or group.status != "ENABLED" or rates is None:
                        continue
                    ads = [
                        truth.ad_ctr.get(key, 0.0)
                        for key, ad in customer.ad_group_ads.items()
                        if ad.ad_group == group.resource_name and ad.status == "ENABLED"
                    ]
                    if not ads:
                        continue
                    for key, criterion in customer.ad_group_criteria.items():
                        keyword = truth.keywords.get(key)
                        if criterion.ad_group != group.resource_name or criterion.status != "ENABLED":
                            continue
                        if criterion.negative or keyword is None:
                            continue
                        bid = int(criterion.cpc_bid_micros or group.cpc_bid_micros)
                        share = 1 - math.exp(-bid / keyword.competition_micros)
                        searches = keyword.daily_searches * _weekday_factor(day) / PARTS
                        clicks = searches * share * sum(ads) / len(ads) * (0.6 + 0.4 * share)
                        cost += clicks * bid * keyword.cpc_ratio / 1_000_000
                        conversions += clicks * rates.conversion_rate
                        value += clicks * rates.conversion_rate * rates.order_value_micros / 1_000_000
                budget = next(
                    int(b.amount_micros or 0)
                    for b in customer.campaign_budgets.values()
                    if b.resource_name == campaign.campaign_budget
                )
                spent = self._spent.get((customer_id, campaign.id), 0.0)
                cap = max(0.0, budget / 1_000_000 * (part + 1) / PARTS - spent)
                scale = min(1.0, cap / cost) if cost else 0.0
                self._spent[customer_id, campaign.id] = spent + cost * scale
                self.conversions += conversions * scale
                self.cost += cost * scale
                self.value += value * scale

    def as_dict(self) -> dict[str, float]:
        return {"conversions": self.conversions, "cost": self.cost, "value": self.value}


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


# --- the oracle -----------------------------------------------------------------------------


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


def copy_passes(world: World, policy: str = "default") -> set[tuple[str, str]]:
    """The ads (account, GROUP~AD) whose copy passes the policy's copy rules: the only ones anyone
    may run (adpilot's compliance sweep pauses the others)."""
    from adpilot.compose.deployment import claim_checker
    from adpilot.policies.compliance import ComplianceEngine
    from adpilot.policies.content import Content

    gate = ComplianceEngine.from_pack(policy, claims=claim_checker(Config(policy=policy)))
    passing = set()
    for account, customer in world.google_ads.customers.items():
        for key, ad in customer.ad_group_ads.items():
            copy = ad.ad.responsive_search_ad
            content = Content(
                channel="google_ads",
                locale="de",
                headlines=tuple(h.text for h in copy.headlines),
                descriptions=tuple(d.text for d in copy.descriptions),
                account=account,
            )
            if gate.check(content).verdict == "pass":
                passing.add((account, key))
    return passing


def oracle_settings(world: World, allowed: set[tuple[str, str]]) -> None:
    """The best-CTR ad among those ``allowed`` (the copy rules bind the oracle too) in each group;
    per campaign, the bid level (≤ the target's) that maximises expected conversions within budget."""
    for customer_id, customer in world.google_ads.customers.items():
        truth = world.sim.customers[customer_id]
        best = {}
        for group_id in customer.ad_groups:
            ads = [key for key in customer.ad_group_ads if key.startswith(f"{group_id}~")]
            ads = [key for key in ads if (customer_id, key) in allowed] or ads
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
            for level in [x / 20 for x in range(2, 21)]:  # at most the target's bid: ROAS ≥ target
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


# --- a person in the web interface ----------------------------------------------------------

_COLLECTION = {  # the world's collection → the change_event's resource type and the entity kind
    "campaign_budgets": ("CAMPAIGN_BUDGET", "campaign_budget"),
    "ad_group_ads": ("AD_GROUP_AD", "ad_group_ad"),
}


def web_edit(
    world: World, customer_id: str, collection: str, key: str, field_name: str, value: str, at: dt.datetime
) -> None:
    """Change one field as a person does in Google Ads' web interface: the world changes and the
    account's change history records it (client GOOGLE_ADS_WEB_CLIENT, the account's local time)."""
    customer = world.google_ads.customers[customer_id]
    entity = getattr(customer, collection)[key]
    change_type, model_key = _COLLECTION[collection]
    before = entity.model_dump(mode="json")
    setattr(entity, field_name, value)
    number = len(customer.change_events) + 1
    camel = "".join(p if i == 0 else p.title() for i, p in enumerate(field_name.split("_")))
    local = at.astimezone(ZoneInfo(customer.time_zone))
    customer.change_events[str(number)] = ChangeEvent(
        resource_name=f"customers/{customer_id}/changeEvents/{int(at.timestamp() * 1_000_000)}~{number}~0",
        change_date_time=local.strftime("%Y-%m-%d %H:%M:%S.%f"),
        change_resource_type=change_type,  # type: ignore[arg-type]
        change_resource_name=entity.resource_name,
        client_type="GOOGLE_ADS_WEB_CLIENT",
        user_email=PERSON,
        resource_change_operation="UPDATE",
        changed_fields=camel,
        old_resource={model_key: before},
        new_resource={model_key: entity.model_dump(mode="json")},
        ad_group=getattr(entity, "ad_group", None),
    )


@dataclass
class Intervention:
    what: str  # "ad" or "budget"
    customer_id: str
    collection: str
    key: str
    field_name: str
    value: str
    at: str = ""
    until: str = ""
    changes_during_hold: int = 0
    seen_changed: list[str] = field(default_factory=list)

    @property
    def entity(self) -> str:
        kind = _COLLECTION[self.collection][1]
        return f"google_ads:{self.customer_id}:{kind}:{self.key}"

    @property
    def respected(self) -> bool | None:
        """None: the intervention could not be made (adpilot had paused no ad to enable again)."""
        if not self.at:
            return None
        return self.changes_during_hold == 0 and not self.seen_changed

    def current(self, world: World) -> str:
        entity = getattr(world.google_ads.customers[self.customer_id], self.collection).get(self.key)
        return str(getattr(entity, self.field_name)) if entity is not None else "(gone)"


def paused_by_adpilot(audit: AuditLog, world: World, policy: str) -> tuple[str, str] | None:
    """The ad (account, GROUP~AD) adpilot's rotation paused most recently, that is still paused
    and whose copy passes the copy rules (the compliance sweep pauses a live ad that breaks them,
    whoever enabled it — by design, and not what this intervention is about)."""
    allowed = copy_passes(world, policy)
    for record in reversed(audit.records(kind="result", tool="set_ad_status", role="bidding")):
        args = record.args or {}
        if record.status != "ok" or args.get("status") != "PAUSED":
            continue
        account, key = str(args["customer_id"]), f"{args['ad_group_id']}~{args['ad_id']}"
        if world.google_ads.customers[account].ad_group_ads[key].status == "PAUSED" and (account, key) in allowed:
            return account, key
    return None


# --- one strategy over the days -------------------------------------------------------------


@contextmanager
def _ablated(without: list[str]) -> Iterator[None]:
    """Turn skills off for an ablation (the plan node calls them through these names)."""
    from adpilot.agents.nodes import plan
    from adpilot.agents.skills import bidding

    patches: list[tuple[Any, str, Any]] = []
    for skill in without:
        if skill in ("pacing", "bids", "rotation"):
            patches.append((bidding, skill, lambda *_a, **_k: []))
        elif skill == "creative":
            patches.append((plan, "creative_proposals", _no_creative))
        elif skill == "compliance":
            patches.append((plan, "sweep", _no_sweep))
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, replacement in patches:
        setattr(owner, name, replacement)
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


async def _no_creative(*_args: Any, **_kwargs: Any) -> list[Any]:
    return []


async def _no_sweep(*_args: Any, **_kwargs: Any) -> tuple[list[Any], list[str]]:
    return [], []


def _moment(anchor: dt.datetime, day: int, hour: int) -> dt.datetime:
    return anchor + dt.timedelta(days=day, hours=hour)


def run_plain(world: World, days: int, oracle: bool) -> tuple[World, Expected]:
    """*nothing* or *oracle*: the same days in parts, no runs (their budgets never change)."""
    allowed = copy_passes(world) if oracle else set()
    expected = Expected()
    for _ in range(days):
        if oracle:
            oracle_settings(world, allowed)
        for part in range(PARTS):
            expected.add_part(world, part)
            advance_part(world, part, PARTS)
    return world, expected


def budget_changed_by_adpilot(audit: AuditLog, world: World, original: dict[tuple[str, str], str]) -> Intervention:
    """Set back the budget adpilot changed most recently (to its amount before adpilot's changes)."""
    for record in reversed(audit.records(kind="result", tool="set_campaign_budget")):
        args = record.args or {}
        account, budget_id = str(args.get("customer_id")), str(args.get("budget_id"))
        if record.status != "ok" or (account, budget_id) not in original:
            continue
        if (
            world.google_ads.customers[account].campaign_budgets[budget_id].amount_micros
            != original[account, budget_id]
        ):
            return Intervention(
                "budget", account, "campaign_budgets", budget_id, "amount_micros", original[account, budget_id]
            )
    raised = round_to_unit(int(original[DE, FALLBACK_BUDGET]) * 6 // 5)
    return Intervention("budget", DE, "campaign_budgets", FALLBACK_BUDGET, "amount_micros", str(raised))


async def run_adpilot(
    world: World, days: int, cadence: int, folder: Path, anchor: dt.datetime, policy: str = "default"
) -> tuple[World, Expected, list[Intervention], int, dict[str, int]]:
    """Maintenance ``cadence`` times a day; the person's two edits on the middle day. Returns the
    world, the interventions (with what became of them) and the number of runs."""
    sandbox = Sandbox(world)
    clock = {"now": anchor}
    sandbox.clock = lambda: clock["now"]
    audit = AuditLog(folder / "audit.sqlite3", clock=lambda: clock["now"])
    # the in-process sandbox has no request quota: no waiting for the client's rate limit
    config = Config(state_dir=folder / "state", policy=policy, google_ads={"requests_per_second": 10_000})
    hold_days = load_policy(policy).patience.person_hold_days
    middle = days // 2
    original = {
        (account, budget_id): str(budget.amount_micros)
        for account, customer in world.google_ads.customers.items()
        for budget_id, budget in customer.campaign_budgets.items()
    }
    interventions: list[Intervention] = []
    expected = Expected()
    runs = 0

    def check() -> None:
        for item in interventions:
            if not item.at:
                continue
            if clock["now"] < dt.datetime.fromisoformat(item.until) and item.current(sandbox.world) != item.value:
                item.seen_changed.append(f"{clock['now']:%Y-%m-%d %H:%M}: {item.current(sandbox.world)}")

    async with (
        connect(config, sandbox=sandbox) as platforms,
        Runner(config, platforms=platforms, audit=audit, models=build_provider("none")) as runner,
    ):
        for day in range(days):
            for part in range(PARTS):
                if (day, part) == (middle, 1):
                    clock["now"] = at = _moment(anchor, day, INTERVENTION_HOUR)
                    until = (at + dt.timedelta(days=hold_days)).isoformat()
                    paused = paused_by_adpilot(audit, sandbox.world, policy)
                    if paused is not None:
                        account, key = paused
                        ad = Intervention(
                            "ad", account, "ad_group_ads", key, "status", "ENABLED", at.isoformat(), until
                        )
                        web_edit(sandbox.world, account, ad.collection, key, "status", "ENABLED", at)
                        interventions.append(ad)
                    else:
                        interventions.append(Intervention("ad", DE, "ad_group_ads", "(none paused)", "status", ""))
                    budget = budget_changed_by_adpilot(audit, sandbox.world, original)
                    budget.at, budget.until = at.isoformat(), until
                    web_edit(
                        sandbox.world,
                        budget.customer_id,
                        budget.collection,
                        budget.key,
                        "amount_micros",
                        budget.value,
                        at,
                    )
                    interventions.append(budget)
                if part == 0 or cadence == PARTS:
                    clock["now"] = _moment(anchor, day, RUN_HOURS[part])
                    check()
                    runs += 1
                    result = await runner.start({"kind": "maintenance", "scope": "ads"}, thread_id=f"d{day}-{part}")
                    rounds = 0
                    while result.status == "waiting" and rounds < 5:  # no one approves
                        rounds += 1
                        decisions = {
                            p["id"]: {"decision": "reject", "reason": "benchmark: no approvals"} for p in result.pending
                        }
                        result = await runner.resume(result.thread_id, decisions)
                expected.add_part(sandbox.world, part)
                advance_part(sandbox.world, part, PARTS)
        clock["now"] = _moment(anchor, days, RUN_HOURS[0])
        check()
    for item in interventions:
        if not item.at:
            continue
        since, until = dt.datetime.fromisoformat(item.at), dt.datetime.fromisoformat(item.until)
        item.changes_during_hold = sum(
            1
            for r in audit.records(kind="result", entity=item.entity)
            if r.status == "ok" and since <= dt.datetime.fromisoformat(r.ts) < until
        )
    made = [r.run_id for r in audit.records(kind="result") if r.status == "ok" and r.tool in CHANGES]
    audit.close()
    changes = {"all": len(made), "later runs": sum(1 for run in made if not run.endswith("-0"))}
    return sandbox.world, expected, interventions, runs, changes


# --- the table ------------------------------------------------------------------------------


def _anchor(days: int) -> dt.datetime:
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=days)


def measure(world_name: str, seed: int, days: int, cadences: list[int], policy: str = "default") -> dict[str, Any]:
    base = make_world(world_name, seed)
    start = base.sim.today
    anchor = _anchor(days)
    results: dict[str, Any] = {
        "world": world_name,
        "seed": seed,
        "nothing": _outcome(*run_plain(base.clone(), days, oracle=False), start),
        "oracle": _outcome(*run_plain(base.clone(), days, oracle=True), start),
    }
    for cadence in cadences:
        with tempfile.TemporaryDirectory(dir=_fast_tmp()) as tmp:
            world, expected, interventions, runs, changes = asyncio.run(
                run_adpilot(base.clone(), days, cadence, Path(tmp), anchor, policy)
            )
        results[f"{cadence}x"] = {
            **_outcome(world, expected, start),
            "runs": runs,
            "changes": changes,
            "interventions": [{**asdict(i), "respected": i.respected} for i in interventions],
        }
    return results


def _outcome(world: World, expected: Expected, since: dt.date) -> dict[str, Any]:
    return {**totals(world, since), "expected": expected.as_dict()}


def _fast_tmp() -> str | None:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() else None  # the audit log syncs every append: RAM is quicker


def pooled(results: list[dict[str, Any]], strategy: str) -> dict[str, Any]:
    """One strategy's expected and drawn outcome (and changes) summed over the seeds of one world."""
    keys = ("conversions", "cost", "value")
    drawn: dict[str, Any] = {k: sum(r[strategy][k] for r in results) for k in keys}
    drawn["expected"] = {k: sum(r[strategy]["expected"][k] for r in results) for k in keys}
    if "changes" in results[0][strategy]:
        drawn["changes"] = {k: sum(r[strategy]["changes"][k] for r in results) for k in ("all", "later runs")}
    return drawn


def goals(results: list[dict[str, Any]], cadences: list[int]) -> list[str]:
    """What failed for one world (empty: every goal met). Outcomes are the expected ones (the
    draws' luck left out), summed over the world's seeds; every intervention of every seed counts."""
    failed = []
    oracle = pooled(results, "oracle")["expected"]
    for cadence in cadences:
        ours = pooled(results, f"{cadence}x")["expected"]
        if ours["conversions"] < GOAL_SHARE * oracle["conversions"]:
            share = ours["conversions"] / oracle["conversions"]
            failed.append(f"{cadence}×/day: {share:.0%} of the oracle's conversions")
        if ours["cost"] > oracle["cost"]:
            failed.append(f"{cadence}×/day: {ours['cost'] / oracle['cost']:.0%} of the oracle's spend")
        for r in results:
            for item in r[f"{cadence}x"]["interventions"]:
                if item["respected"] is None:
                    failed.append(f"{cadence}×/day, seed {r['seed']}: no {item['what']} intervention (nothing to undo)")
                elif not item["respected"]:
                    failed.append(
                        f"{cadence}×/day, seed {r['seed']}: the {item['what']} intervention was not respected"
                    )
    if 1 in cadences and 3 in cadences:
        once, thrice = pooled(results, "1x")["expected"], pooled(results, "3x")["expected"]
        if thrice["conversions"] < (1 - CADENCE_SLACK) * once["conversions"]:
            failed.append(f"3×/day: {thrice['conversions'] / once['conversions']:.1%} of 1×/day's conversions")
        if thrice["cost"] > (1 + CADENCE_SLACK) * once["cost"]:
            failed.append(f"3×/day: {thrice['cost'] / once['cost']:.1%} of 1×/day's spend")
    return failed


def table(results: list[dict[str, Any]], cadences: list[int]) -> list[str]:
    """Per world and seed, then summed over the seeds ("all"): conversions and spend as drawn and
    expected (E), ROAS as drawn, expected conversions and spend as shares of the oracle's, the
    changes adpilot made (all / by the 14:00 and 22:00 runs) and whether each intervention held."""
    head = (
        f"{'world':<12} {'seed':>4} {'strategy':<10} {'conv':>5} {'E conv':>7} {'spend EUR':>9} {'E spend':>8} "
        f"{'ROAS':>5} {'%conv':>6} {'%spend':>7} {'changes':>9} {'ad':>3} {'budget':>6}"
    )
    lines = [head]
    names = ["nothing", "oracle", *(f"{c}x" for c in cadences)]
    worlds = list(dict.fromkeys(r["world"] for r in results))
    for world_name in worlds:
        group = [r for r in results if r["world"] == world_name]
        blocks = [(str(r["seed"]), {n: r[n] for n in names}) for r in group]
        if len(group) > 1:
            blocks.append(("all", {n: pooled(group, n) for n in names}))
        for seed, outcome in blocks:
            oracle = outcome["oracle"]["expected"]
            for name in names:
                t = outcome[name]
                e = t["expected"]
                roas = t["value"] / t["cost"] if t["cost"] else float("nan")
                marks = {
                    i["what"]: {True: "ok", False: "NO", None: "n/a"}[i["respected"]]
                    for i in t.get("interventions", [])
                }
                label = f"adpilot {name}" if name.endswith("x") else name
                share, spent = e["conversions"] / oracle["conversions"], e["cost"] / oracle["cost"]
                count = t.get("changes")
                made = f"{count['all']}/{count['later runs']}" if count else "-"
                lines.append(
                    f"{world_name:<12} {seed:>4} {label:<10} {t['conversions']:>5.0f} {e['conversions']:>7.1f} "
                    f"{t['cost']:>9.0f} {e['cost']:>8.0f} {roas:>5.2f} {share:>6.0%} {spent:>7.0%} "
                    f"{made:>9} {marks.get('ad', '-'):>3} {marks.get('budget', '-'):>6}"
                )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 23])
    parser.add_argument("--worlds", nargs="+", default=["demo", "below-target"])
    parser.add_argument("--cadences", type=int, nargs="+", default=[1, 3], choices=[1, 3])
    parser.add_argument("--without", nargs="*", default=[], choices=SKILLS, help="ablation: skills turned off")
    parser.add_argument("--policy", default="default", help="the policy pack adpilot runs under (name or path)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    options = parser.parse_args(argv)
    if options.days < 2:
        parser.error("--days: at least 2 (the person's edits come on the middle day)")
    configure_logging("warning")
    hold_days = load_policy(options.policy).patience.person_hold_days
    results = []
    with _ablated(options.without):
        for world_name in options.worlds:
            for seed in options.seeds:
                results.append(measure(world_name, seed, options.days, options.cadences, options.policy))
    start = make_world(options.worlds[0], options.seeds[0]).sim.today
    print(
        f"{options.days} days from {start}, a day in {PARTS} parts; person's edits on day {options.days // 2 + 1} "
        f"{INTERVENTION_HOUR}:00, held {hold_days} days"
        + (f"; without {', '.join(options.without)}" if options.without else "")
    )
    print("\n".join(table(results, options.cadences)))
    worlds = list(dict.fromkeys(r["world"] for r in results))
    failures = [(w, f) for w in worlds for f in goals([r for r in results if r["world"] == w], options.cadences)]
    for world_name, failure in failures:
        print(f"goal failed: {world_name}: {failure}")
    if options.json:
        options.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print("all goals met" if not failures else f"{len(failures)} goal(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
