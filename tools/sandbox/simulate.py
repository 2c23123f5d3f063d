"""Daily traffic simulation for the sandbox's Google Ads accounts.

Each enabled keyword draws searches around its hidden volume; its bid buys a share of them
(``1 - exp(-bid / competition)``), a higher share also lifts CTR (better positions); the
impressions rotate evenly over the ad group's enabled ads, each converting impressions to
clicks at its hidden CTR; clicks cost ``bid × cpc_ratio`` and convert at the ad group's hidden
rate. A campaign never spends more than its daily budget: when it would, traffic is thinned.
Every draw comes from a generator seeded by (world seed, customer, date), so a day's outcome
depends only on the seed and the account's settings that day. A day may also be simulated in
parts (``advance_part``, each part seeded by its number too), so that settings changed during
the day apply to the rest of it.
"""

from __future__ import annotations

import datetime as dt
import math
import random

from adpilot.tools.sandbox.world import Customer, CustomerTruth, KeywordTruth, Stat, World


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean < 30:
        limit, k, product = math.exp(-mean), 0, rng.random()
        while product > limit:
            k += 1
            product *= rng.random()
        return k
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


def binomial(rng: random.Random, n: int, p: float) -> int:
    if n <= 0 or p <= 0:
        return 0
    if p >= 1:
        return n
    if n <= 200:
        return sum(1 for _ in range(n) if rng.random() < p)
    mean = n * p
    return min(n, max(0, round(rng.gauss(mean, math.sqrt(mean * (1 - p))))))


def _weekday_factor(day: dt.date) -> float:
    # Outdoor shoppers search more at the weekend.
    return (0.9, 0.92, 0.95, 0.97, 1.0, 1.2, 1.25)[day.weekday()]


def simulate_customer_day(customer: Customer, truth: CustomerTruth, day: dt.date, seed: int) -> None:
    """Write ``customer.stats[day]`` from the account's settings on that day."""
    customer.stats[day.isoformat()] = _simulate(customer, truth, day, random.Random(f"{seed}:{customer.id}:{day}"))


def _simulate(
    customer: Customer,
    truth: CustomerTruth,
    day: dt.date,
    rng: random.Random,
    *,
    part_of_day: float = 1.0,
    caps: dict[str, int] | None = None,
) -> dict[str, Stat]:
    """The traffic of ``part_of_day`` of the day at the account's settings now, each campaign's spend
    capped at ``caps[its resource name]`` (None: at its daily budget)."""
    rows: dict[str, Stat] = {}
    for campaign in sorted(customer.campaigns.values(), key=lambda c: int(c.id)):
        if campaign.status != "ENABLED":
            continue
        budget = next(
            (b for b in customer.campaign_budgets.values() if b.resource_name == campaign.campaign_budget),
            None,
        )
        campaign_rows: dict[str, tuple[Stat, int]] = {}
        for ad_group in sorted(customer.ad_groups.values(), key=lambda g: int(g.id)):
            if ad_group.campaign != campaign.resource_name or ad_group.status != "ENABLED":
                continue
            group_truth = truth.ad_groups.get(ad_group.id)
            ads = [
                (key, ad)
                for key, ad in sorted(customer.ad_group_ads.items())
                if ad.ad_group == ad_group.resource_name and ad.status == "ENABLED"
            ]
            if not ads or group_truth is None:
                continue
            for crit_key, criterion in sorted(customer.ad_group_criteria.items()):
                if criterion.ad_group != ad_group.resource_name:
                    continue
                kw_truth = truth.keywords.get(crit_key)
                if criterion.status != "ENABLED" or criterion.negative or kw_truth is None:
                    continue
                bid = int(criterion.cpc_bid_micros or ad_group.cpc_bid_micros)
                share = 1 - math.exp(-bid / kw_truth.competition_micros)
                searches = poisson(rng, kw_truth.daily_searches * _weekday_factor(day) * part_of_day)
                impressions = binomial(rng, searches, share)
                cpc = round(bid * kw_truth.cpc_ratio)
                remaining = impressions
                for index, (ad_key, _ad) in enumerate(ads):
                    left = len(ads) - index
                    served = remaining if left == 1 else binomial(rng, remaining, 1 / left)
                    remaining -= served
                    ctr = truth.ad_ctr.get(ad_key, 0.0) * (0.6 + 0.4 * share)
                    clicks = binomial(rng, served, ctr)
                    conversions = binomial(rng, clicks, group_truth.conversion_rate)
                    key = f"{ad_group.id}~{criterion.criterion_id}~{ad_key.split('~')[1]}"
                    campaign_rows[key] = (
                        Stat(
                            impressions=served,
                            clicks=clicks,
                            cost_micros=clicks * cpc,
                            conversions=conversions,
                            conversions_value_micros=conversions * group_truth.order_value_micros,
                        ),
                        cpc,
                    )
        spend = sum(stat.cost_micros for stat, _ in campaign_rows.values())
        cap = int(budget.amount_micros or budget.total_amount_micros or 0) if budget is not None else 0
        if caps is not None:
            cap = caps.get(campaign.resource_name, 0)
        if spend > cap:
            fraction = cap / spend if spend else 0.0
            for key, (stat, cpc) in campaign_rows.items():
                clicks = binomial(rng, stat.clicks, fraction)
                kept = clicks / stat.clicks if stat.clicks else 0.0
                conversions = binomial(rng, stat.conversions, kept)
                value_each = stat.conversions_value_micros // stat.conversions if stat.conversions else 0
                campaign_rows[key] = (
                    Stat(
                        impressions=binomial(rng, stat.impressions, fraction),
                        clicks=clicks,
                        cost_micros=clicks * cpc,
                        conversions=conversions,
                        conversions_value_micros=conversions * value_each,
                    ),
                    cpc,
                )
            _trim_to_cap(campaign_rows, cap)
        rows.update({key: stat for key, (stat, _) in campaign_rows.items() if stat.impressions})
    return rows


def _trim_to_cap(rows: dict[str, tuple[Stat, int]], cap: int) -> None:
    """Drop the most expensive clicks until the campaign's spend is within its budget.

    Thinning is random, so it can land a few clicks over; the platform stops serving at the
    cap (conversions attached to a dropped click go with it).
    """
    spend = sum(stat.cost_micros for stat, _ in rows.values())
    while spend > cap:
        key = max((k for k, (stat, _) in rows.items() if stat.clicks), key=lambda k: (rows[k][1], k))
        stat, cpc = rows[key]
        conversions = min(stat.conversions, stat.clicks - 1)
        value_each = stat.conversions_value_micros // stat.conversions if stat.conversions else 0
        rows[key] = (
            stat.model_copy(
                update={
                    "clicks": stat.clicks - 1,
                    "cost_micros": stat.cost_micros - cpc,
                    "conversions": conversions,
                    "conversions_value_micros": conversions * value_each,
                }
            ),
            cpc,
        )
        spend -= cpc


def advance_day(world: World, days: int = 1) -> list[dt.date]:
    """Simulate ``days`` days, starting with the sandbox's today; returns the days simulated."""
    simulated = []
    for _ in range(days):
        day = world.sim.today
        for customer_id, customer in world.google_ads.customers.items():
            truth = world.sim.customers.get(customer_id, CustomerTruth())
            simulate_customer_day(customer, truth, day, world.sim.seed)
        simulated.append(day)
        world.sim.today = day + dt.timedelta(days=1)
    return simulated


def advance_part(world: World, part: int, parts: int) -> dt.date:
    """Simulate part ``part`` (0 … ``parts`` − 1) of the sandbox's today, at the settings now.

    A day in parts lets settings change during it (a run, a person in the web interface): each
    part has its share of the day's searches, and a campaign may spend up to its share of the
    daily budget plus what the earlier parts left unspent, never more than the budget over the
    day. The parts add up in ``stats[today]``; the first part starts the day afresh and the last
    one moves today on. Parts must come in order; returns the day simulated.
    """
    if not 0 <= part < parts:
        raise ValueError(f"part {part} of {parts}: parts are numbered 0 to {parts - 1}")
    day = world.sim.today
    for customer_id, customer in world.google_ads.customers.items():
        truth = world.sim.customers.get(customer_id, CustomerTruth())
        before = {} if part == 0 else customer.stats.get(day.isoformat(), {})
        spent: dict[str, int] = {}
        for key, stat in before.items():
            group = customer.ad_groups.get(key.split("~")[0])
            if group is not None:
                spent[group.campaign] = spent.get(group.campaign, 0) + stat.cost_micros
        caps = {}
        for campaign in customer.campaigns.values():
            budget = next(
                (b for b in customer.campaign_budgets.values() if b.resource_name == campaign.campaign_budget), None
            )
            daily = int(budget.amount_micros or budget.total_amount_micros or 0) if budget is not None else 0
            # standard delivery: by the end of this part, at most this part's share of the day's budget
            caps[campaign.resource_name] = max(0, daily * (part + 1) // parts - spent.get(campaign.resource_name, 0))
        rng = random.Random(f"{world.sim.seed}:{customer_id}:{day}:{part}/{parts}")
        rows = _simulate(customer, truth, day, rng, part_of_day=1 / parts, caps=caps)
        merged = dict(before)
        for key, stat in rows.items():
            old = merged.get(key)
            merged[key] = stat if old is None else _added(old, stat)
        customer.stats[day.isoformat()] = merged
    if part == parts - 1:
        world.sim.today = day + dt.timedelta(days=1)
    return day


def _added(a: Stat, b: Stat) -> Stat:
    return Stat(
        impressions=a.impressions + b.impressions,
        clicks=a.clicks + b.clicks,
        cost_micros=a.cost_micros + b.cost_micros,
        conversions=a.conversions + b.conversions,
        conversions_value_micros=a.conversions_value_micros + b.conversions_value_micros,
    )


def truth_for_new_ad(world: World, customer_id: str, key: str, copy: str) -> None:
    """A created ad performs like new copy for the same audience: near its group's other ads.

    Drawn from the copy, not the id, so the same ad performs the same whatever order
    concurrent runs created it in.
    """
    truth = world.sim.customers.setdefault(customer_id, CustomerTruth())
    group = key.split("~")[0]
    siblings = [ctr for other, ctr in truth.ad_ctr.items() if other.startswith(f"{group}~") and other != key]
    base = sum(siblings) / len(siblings) if siblings else 0.04
    rng = random.Random(f"{world.sim.seed}:{customer_id}:{group}:{copy}")
    truth.ad_ctr[key] = round(base * rng.uniform(0.6, 1.4), 4)


def truth_for_new_keyword(world: World, customer_id: str, key: str) -> None:
    truth = world.sim.customers.setdefault(customer_id, CustomerTruth())
    rng = random.Random(f"{world.sim.seed}:{customer_id}:{key}:truth")
    truth.keywords[key] = KeywordTruth(
        daily_searches=round(rng.uniform(100, 600), 1),
        competition_micros=int(rng.uniform(0.6, 1.4) * 1_000_000) // 10_000 * 10_000,
        cpc_ratio=round(rng.uniform(0.65, 0.9), 3),
    )
