"""The bidding skills: budget pacing, a target-ROAS bid rule, Thompson-sampling ad rotation,
and spend-anomaly detection. Deterministic for the same data (the sampler is seeded).

Every proposal states the numbers it rests on; the Guard decides whether it may happen.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from adpilot.agents.proposal import Proposal
from adpilot.money import format_micros, round_to_unit


@dataclass(frozen=True)
class BiddingSettings:
    target_roas: float = 4.0  # conversion value per unit of cost the bids aim for
    pacing_utilisation: float = 0.9  # share of the budget spent that counts as budget-limited
    pacing_step: float = 0.15  # a budget-limited, profitable campaign grows by this much
    pacing_min_roas: float = 3.0  # …if its ROAS is at least this
    cut_roas: float = 1.0  # a budget-limited campaign below this ROAS is cut
    cut_step: float = 0.15
    min_clicks: int = 30  # a keyword needs this much data before its bid moves
    zero_conversion_clicks: int = 60  # with this many clicks and no conversion, the bid drops
    damping: float = 0.5  # move halfway toward the bid the target implies
    max_bid_step: float = 0.2  # never more than ±20 % per run (the policy allows 25 %)
    min_bid_change: float = 0.05  # smaller moves are noise
    loser_probability: float = 0.05  # pause an ad whose chance of being the best is below this
    loser_min_impressions: int = 800
    samples: int = 4000
    anomaly_factor: float = 3.0


def pacing(
    campaigns: list[dict[str, Any]], performance: list[dict[str, Any]], s: BiddingSettings, account: str, currency: str
) -> list[Proposal]:
    by_id = {row["campaign_id"]: row for row in performance}
    proposals = []
    for campaign in campaigns:
        if campaign["status"] != "ENABLED":
            continue
        row = by_id.get(campaign["campaign_id"])
        budget = int(campaign["budget_amount_micros"])
        if row is None or budget <= 0:
            continue
        cost = int(row["cost_micros"])
        value = round(row["conversions_value"] * 1_000_000)
        utilisation = cost / (7 * budget)
        roas = value / cost if cost else 0.0
        if utilisation < s.pacing_utilisation:
            continue
        if roas >= s.pacing_min_roas:
            new, verb = round_to_unit(int(budget * (1 + s.pacing_step)), currency), "raise"
        elif roas < s.cut_roas:
            new, verb = round_to_unit(int(budget * (1 - s.cut_step)), currency), "cut"
        else:
            continue
        proposals.append(
            Proposal(
                role="bidding",
                tool="set_campaign_budget",
                args={"customer_id": account, "budget_id": campaign["budget_id"], "amount_micros": str(new)},
                rationale=(
                    f"{verb} budget of “{campaign['name']}” from {format_micros(budget, currency)} to "
                    f"{format_micros(new, currency)}: it spent {utilisation:.0%} of its budget over 7 days "
                    f"at ROAS {roas:.2f}"
                ),
                evidence={"utilisation_7d": round(utilisation, 3), "roas_7d": round(roas, 2), "cost_micros_7d": cost},
                expected_impact="more conversions at a profitable ROAS"
                if verb == "raise"
                else "less spend on an unprofitable campaign",
            )
        )
    return proposals


def bids(keywords: list[dict[str, Any]], s: BiddingSettings, account: str, currency: str) -> list[Proposal]:
    """Cut the bids of keywords that miss the target ROAS (damped, at most 20 % a run).

    Bids are never raised automatically. A ROAS target compares average return per click with
    average cost per click, but a higher bid buys *marginal* clicks at a higher price for every
    click; and a budget-limited campaign buys fewer clicks for the same money. Over 28 simulated
    days, raising bids toward the target cost 30 % of the conversions that doing nothing kept,
    while cutting only, plus budget pacing, reached 92 % of an oracle's conversions at 83 % of
    its spend (bench/campaign_outcome.py, docs/BENCHMARKS.md). Raises stay possible — a person
    or a model proposes them, and the policy decides.
    """
    proposals = []
    for row in keywords:
        if row.get("status") != "ENABLED" or row.get("cpc_bid_micros") is None:
            continue
        clicks, cost = row["clicks"], int(row["cost_micros"])
        bid = int(row["cpc_bid_micros"])
        if clicks < s.min_clicks or cost <= 0:
            continue
        value_micros = row["conversions_value"] * 1_000_000
        if row["conversions"] == 0:
            if clicks < s.zero_conversion_clicks:
                continue
            factor, why = 1 - s.max_bid_step, f"{clicks} clicks in 14 days without a conversion"
        else:
            roas = value_micros / cost
            if roas >= s.target_roas:
                continue
            target_cpc = value_micros / clicks / s.target_roas
            average_cpc = cost / clicks
            factor = max(1 - s.max_bid_step, 1 + s.damping * (target_cpc / average_cpc - 1))
            why = (
                f"ROAS {roas:.2f} is below the target of {s.target_roas:.1f}: a click is worth "
                f"{format_micros(round(target_cpc), currency)} at target, "
                f"it costs {format_micros(round(average_cpc), currency)} on average"
            )
        new = round_to_unit(int(bid * factor), currency)
        if bid - new < s.min_bid_change * bid:
            continue
        proposals.append(
            Proposal(
                role="bidding",
                tool="set_keyword_bid",
                args={
                    "customer_id": account,
                    "ad_group_id": row["ad_group_id"],
                    "criterion_id": row["criterion_id"],
                    "cpc_bid_micros": str(new),
                },
                rationale=(
                    f"bid for “{row['text']}” {format_micros(bid, currency)} → {format_micros(new, currency)}: {why}"
                ),
                evidence={
                    "clicks_14d": clicks,
                    "cost_micros_14d": cost,
                    "conversions_14d": row["conversions"],
                    "damping": s.damping,
                },
                expected_impact="less spend on clicks that do not pay for themselves",
            )
        )
    return proposals


def probability_best(ads: list[dict[str, Any]], samples: int, seed: str) -> dict[str, float]:
    """P(each ad has the highest CTR), from Beta(clicks+1, impressions−clicks+1) posteriors.

    Vectorised draws from a generator seeded by ``seed``: deterministic, and cheap enough to
    run for every ad group of every account (the pure-Python loop was most of a run's CPU).
    """
    digest = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "little")
    rng = np.random.default_rng(digest)
    clicks = np.array([a["clicks"] for a in ads], dtype=np.float64)
    impressions = np.array([a["impressions"] for a in ads], dtype=np.float64)
    draws = rng.beta(clicks + 1, impressions - clicks + 1, size=(samples, len(ads)))
    wins = np.bincount(draws.argmax(axis=1), minlength=len(ads))
    return {ad["ad_id"]: float(wins[i]) / samples for i, ad in enumerate(ads)}


def rotation(ads: list[dict[str, Any]], s: BiddingSettings, account: str) -> list[Proposal]:
    proposals = []
    groups: dict[str, list[dict[str, Any]]] = {}
    for ad in ads:
        if ad.get("status") == "ENABLED":
            groups.setdefault(ad["ad_group_id"], []).append(ad)
    for group_id, members in sorted(groups.items()):
        if len(members) < 2:
            continue
        chances = probability_best(members, s.samples, f"{account}:{group_id}")
        losers = [
            a
            for a in members
            if chances[a["ad_id"]] < s.loser_probability and a["impressions"] >= s.loser_min_impressions
        ]
        for ad in losers[: len(members) - 1]:  # never propose pausing every ad of a group
            ctr = ad["clicks"] / ad["impressions"]
            proposals.append(
                Proposal(
                    role="bidding",
                    tool="set_ad_status",
                    args={"customer_id": account, "ad_group_id": group_id, "ad_id": ad["ad_id"], "status": "PAUSED"},
                    rationale=(
                        f"pause ad {group_id}~{ad['ad_id']}: probability of being the group's best ad is "
                        f"{chances[ad['ad_id']]:.1%} (CTR {ctr:.2%} over {ad['impressions']} impressions in 30 days)"
                    ),
                    evidence={
                        "p_best": round(chances[ad["ad_id"]], 4),
                        "impressions_30d": ad["impressions"],
                        "clicks_30d": ad["clicks"],
                    },
                    expected_impact="traffic goes to the better ads of the group",
                )
            )
    return proposals


def anomalies(
    yesterday: list[dict[str, Any]], fortnight: list[dict[str, Any]], s: BiddingSettings, account: str
) -> list[dict[str, Any]]:
    """Campaigns whose spend yesterday is far above their daily mean: stop and ask a person."""
    mean = {row["campaign_id"]: int(row["cost_micros"]) / 14 for row in fortnight}
    found = []
    for row in yesterday:
        baseline = mean.get(row["campaign_id"], 0.0)
        cost = int(row["cost_micros"])
        if baseline > 0 and cost > s.anomaly_factor * baseline:
            found.append(
                {
                    "account": account,
                    "campaign_id": row["campaign_id"],
                    "cost_micros_yesterday": cost,
                    "daily_mean_micros_14d": round(baseline),
                    "factor": round(cost / baseline, 2),
                }
            )
    return found
