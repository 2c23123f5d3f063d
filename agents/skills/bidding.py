"""The bidding skills: budget pacing, a target-ROAS (or target-CPA) bid rule and Thompson-sampling
ad rotation. Deterministic for the same data (the sampler is seeded).

What they aim for are the account's (and campaign's) ``targets`` of the configuration; how long
they wait is the policy's ``patience`` (ads and keywords still learning get no verdict here;
cooldowns and holds are applied to the proposals by :mod:`adpilot.agents.patience`). Every
proposal states the numbers it rests on; the Guard decides whether it may happen. The rules,
thresholds and defaults are explained in docs/MAINTENANCE.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from adpilot.agents.proposal import Proposal
from adpilot.config import TargetValues
from adpilot.money import format_micros, minimum_unit_micros, round_to_unit, units_to_micros
from adpilot.policies.model import AdLearning, KeywordLearning


@dataclass(frozen=True)
class BiddingSettings:
    """How the rules move, the same for every account (what they aim for is :class:`Targets`)."""

    damping: float = 0.5  # move halfway toward the bid the target implies
    max_bid_step: float = 0.2  # never cut more than 20 % per run (the policy escalates above 25 %)
    max_bid_raise: float = 0.1  # never raise more than 10 % per run (cuts are quicker than raises)
    raise_min_conversions: float = 3.0  # a raise rests on at least this many conversions in 14 days
    min_bid_change: float = 0.05  # smaller moves are noise
    samples: int = 4000  # posterior draws per ad group


@dataclass(frozen=True)
class Targets:
    """One account's (or campaign's) targets, resolved from the ``targets`` configuration."""

    target_roas: float | None = 4.0  # conversion value per unit of cost the bids aim for …
    target_cpa_micros: int | None = None  # … or cost per conversion (exactly one of the two)
    pacing_utilisation: float = 0.9  # share of 7 days' budget spent that counts as budget-limited
    pacing_raise_at: float = 0.75  # a budget-limited campaign at this share of its target is raised …
    pacing_raise_step: float = 0.15  # … by this share
    pacing_cut_below: float = 0.25  # … below this share of its target it is cut …
    pacing_cut_step: float = 0.15  # … by this share
    pause_below_p_best: float = 0.05  # pause a proven ad whose chance of being the best is below this
    zero_conversion_clicks: int = 60  # with this many clicks and no conversion (and 3 expected), the bid drops
    bid_raise_at: float = 2.0  # a keyword at this share of its target or better may have its bid raised …
    bid_raise_below_utilisation: float = 0.8  # … in a campaign that spent less than this share of 7 days' budget …
    bid_raise_account_at: float = 1.5  # … of an account at this share of its target or better

    @classmethod
    def from_config(cls, values: TargetValues) -> Targets:
        """From a resolved level of the configuration (every key set; money to integer micros)."""
        default = cls()

        def ratio(value: Any, fallback: float) -> float:
            return float(value) if value is not None else fallback

        cpa = values.target_cpa
        return cls(
            target_roas=float(values.target_roas) if values.target_roas is not None and cpa is None else None,
            target_cpa_micros=units_to_micros(cpa) if cpa is not None else None,
            pacing_utilisation=ratio(values.pacing_utilisation, default.pacing_utilisation),
            pacing_raise_at=ratio(values.pacing_raise_at, default.pacing_raise_at),
            pacing_raise_step=ratio(values.pacing_raise_step, default.pacing_raise_step),
            pacing_cut_below=ratio(values.pacing_cut_below, default.pacing_cut_below),
            pacing_cut_step=ratio(values.pacing_cut_step, default.pacing_cut_step),
            pause_below_p_best=ratio(values.pause_below_p_best, default.pause_below_p_best),
            zero_conversion_clicks=values.zero_conversion_clicks or default.zero_conversion_clicks,
            bid_raise_at=ratio(values.bid_raise_at, default.bid_raise_at),
            bid_raise_below_utilisation=ratio(values.bid_raise_below_utilisation, default.bid_raise_below_utilisation),
            bid_raise_account_at=ratio(values.bid_raise_account_at, default.bid_raise_account_at),
        )

    def goal(self, currency: str) -> str:
        """The target in a few words: "ROAS 4.0" or "CPA 25.00 EUR"."""
        if self.target_cpa_micros is not None:
            return f"CPA {format_micros(self.target_cpa_micros, currency)}"
        return f"ROAS {self.target_roas or 0:.1f}"

    def describe(self, currency: str) -> str:
        """One line for reports: the target, the pacing and the pause thresholds."""
        return (
            f"{self.goal(currency)} · budget-limited at {self.pacing_utilisation:.0%} of budget: "
            f"+{self.pacing_raise_step:.0%} at ≥ {self.pacing_raise_at:.0%} of target, "
            f"−{self.pacing_cut_step:.0%} below {self.pacing_cut_below:.0%} · "
            f"pause an ad below {self.pause_below_p_best:.0%} chance of being best · "
            f"bid cut after {self.zero_conversion_clicks} clicks without a conversion "
            f"(if {ZERO_EVIDENCE:g} were expected) · "
            f"bid raise at ≥ {self.bid_raise_at:g}× target below {self.bid_raise_below_utilisation:.0%} of budget, "
            f"account at ≥ {self.bid_raise_account_at:g}× target"
        )

    def efficiency(self, cost_micros: int, conversions: float, value_micros: float) -> float:
        """How a campaign does against the target: 1.0 on target, 0.5 at half of it (ROAS, or CPA inverted)."""
        if self.target_cpa_micros is not None:
            return 0.0 if conversions <= 0 or cost_micros <= 0 else self.target_cpa_micros * conversions / cost_micros
        roas = value_micros / cost_micros if cost_micros else 0.0
        return roas / (self.target_roas or 1.0)

    def performance(self, cost_micros: int, conversions: float, value_micros: float, currency: str) -> str:
        """The measure the target is about, as stated in a rationale: "ROAS 3.20" or "CPA 46.23 EUR"."""
        if self.target_cpa_micros is not None:
            if conversions <= 0:
                return "no conversion"
            return f"CPA {format_micros(round(cost_micros / conversions), currency)}"
        return f"ROAS {value_micros / cost_micros if cost_micros else 0.0:.2f}"


TargetsFor = Callable[[str | None], Targets]
"""The targets of a campaign of the account (None: the account's own)."""


def _fixed(targets: Targets | TargetsFor) -> TargetsFor:
    if isinstance(targets, Targets):
        return lambda _campaign: targets
    return targets


def pacing(
    campaigns: list[dict[str, Any]],
    performance: list[dict[str, Any]],
    targets: Targets | TargetsFor,
    account: str,
    currency: str,
) -> list[Proposal]:
    """Raise the budget of a budget-limited campaign that reaches its target well enough; cut the
    budget of one far below it."""
    targets_of = _fixed(targets)
    by_id = {row["campaign_id"]: row for row in performance}
    proposals = []
    for campaign in campaigns:
        if campaign["status"] != "ENABLED":
            continue
        row = by_id.get(campaign["campaign_id"])
        budget = int(campaign["budget_amount_micros"])
        if row is None or budget <= 0:
            continue
        t = targets_of(campaign["campaign_id"])
        cost = int(row["cost_micros"])
        value = round(row["conversions_value"] * 1_000_000)
        utilisation = cost / (7 * budget)
        if utilisation < t.pacing_utilisation:
            continue
        efficiency = t.efficiency(cost, row["conversions"], value)
        if efficiency >= t.pacing_raise_at:
            new, verb = round_to_unit(int(budget * (1 + t.pacing_raise_step)), currency), "raise"
        elif efficiency < t.pacing_cut_below:
            new, verb = round_to_unit(int(budget * (1 - t.pacing_cut_step)), currency), "cut"
        else:
            continue
        measured = t.performance(cost, row["conversions"], value, currency)
        roas = value / cost if cost else 0.0
        proposals.append(
            Proposal(
                role="bidding",
                tool="set_campaign_budget",
                args={"customer_id": account, "budget_id": campaign["budget_id"], "amount_micros": str(new)},
                rationale=(
                    f"{verb} budget of “{campaign['name']}” from {format_micros(budget, currency)} to "
                    f"{format_micros(new, currency)}: it spent {utilisation:.0%} of its budget over 7 days "
                    f"at {measured} (target {t.goal(currency)})"
                ),
                evidence={
                    "utilisation_7d": round(utilisation, 3),
                    "roas_7d": round(roas, 2),
                    "cost_micros_7d": cost,
                    "efficiency_7d": round(efficiency, 3),
                },
                expected_impact="more conversions at a profitable ROAS"
                if verb == "raise"
                else "less spend on an unprofitable campaign",
            )
        )
    return proposals


def _age_ok(age_days: Mapping[str, float], key: str, min_days: int) -> bool:
    """Old enough for a verdict: its age is unknown (it predates the history read) or at least ``min_days``."""
    age = age_days.get(key)
    return age is None or age >= min_days


def bids(
    keywords: list[dict[str, Any]],
    s: BiddingSettings,
    targets: Targets | TargetsFor,
    account: str,
    currency: str,
    *,
    learning: KeywordLearning | None = None,
    age_days: Mapping[str, float] | None = None,
    campaign_of: Mapping[str, str] | None = None,
    budget_use: Mapping[str, float] | None = None,
    week: list[dict[str, Any]] | None = None,
) -> list[Proposal]:
    """Cut the bids of keywords that miss the target ROAS or CPA (damped, at most 20 % a run);
    raise, damped, those far above it in campaigns with budget to spare.

    Only keywords with enough data move: at least ``learning.min_clicks`` clicks in the 14 days
    read and, for a keyword created within the history adpilot reads, ``learning.min_days`` days.

    A cut for bad luck is costly to undo, so a keyword without a conversion is cut only when its
    clicks would have brought :data:`ZERO_EVIDENCE` conversions at its ad group's conversion rate
    in the rows read (the account's when the group has none; with no conversion anywhere, the
    clicks alone decide) — and not before ``zero_conversion_clicks`` either. At 1.6 % conversions
    a click, 60 clicks bring none 38 % of the time: a fixed 60 cut keywords that convert as well
    as their group (bench/campaign_outcome.py, docs/BENCHMARKS.md).

    A raise needs all of: ``budget_use`` (campaign id → share of 7 days' budget spent) and
    ``campaign_of`` (ad group id → campaign id) naming the keyword's campaign, which spent less than
    ``bid_raise_below_utilisation`` of its budget (a budget-limited campaign buys fewer clicks, not
    more, for a higher bid: pacing raises its budget instead); the account at
    ``bid_raise_account_at`` of its own target or better over the keywords read and, when given,
    over ``week`` (its campaigns' rows of the last 7 days, which show a fall sooner); at least
    ``raise_min_conversions`` conversions; and the keyword at ``bid_raise_at`` times its target or
    better. The bid then moves ``damping`` of the way toward the bid at which a click earns exactly
    the target (value per click ÷ target ROAS, or target CPA × conversions per click), by at most
    ``max_bid_raise``, never above that bid (rounded down to the currency's billable unit), and
    never down. A higher bid pays more for every click, so a raised click returns less than the
    average one: the keyword's and the account's margins above target are what keep it at target
    (bench/campaign_outcome.py: with +20 % steps, the world whose conversion rate fell spent
    104–112 % of the oracle's, 99 % with these defaults).
    """
    learning = learning or KeywordLearning()
    ages = age_days or {}
    campaigns = campaign_of or {}
    use = budget_use or {}
    targets_of = _fixed(targets)
    rate_of = _conversion_rates(keywords)
    account_on_target = _on_target(keywords, targets_of(None)) and (week is None or _on_target(week, targets_of(None)))
    proposals = []
    for row in keywords:
        if row.get("status") != "ENABLED" or row.get("cpc_bid_micros") is None:
            continue
        clicks, cost = row["clicks"], int(row["cost_micros"])
        bid = int(row["cpc_bid_micros"])
        if clicks < learning.min_clicks or cost <= 0:
            continue
        key = f"{row['ad_group_id']}~{row['criterion_id']}"
        if not _age_ok(ages, key, learning.min_days):
            continue
        campaign = campaigns.get(str(row["ad_group_id"]))
        t = targets_of(campaign)
        value_micros = row["conversions_value"] * 1_000_000
        average_cpc = cost / clicks
        if row["conversions"] == 0:
            rate, whose = rate_of(str(row["ad_group_id"]))
            if clicks < t.zero_conversion_clicks or (rate is not None and clicks * rate < ZERO_EVIDENCE):
                continue
            factor = 1 - s.max_bid_step
            why = f"{clicks} clicks in 14 days without a conversion"
            if rate is not None:
                why += f" ({clicks * rate:.1f} expected at {whose} conversion rate of {rate:.1%})"
            proposals.extend(
                _bid_change(row, bid, round_to_unit(int(bid * factor), currency), why, t, s, account, currency)
            )
            continue
        if t.target_cpa_micros is not None:
            measured = f"CPA {format_micros(round(cost / row['conversions']), currency)}"
            target_cpc = t.target_cpa_micros * row["conversions"] / clicks
        else:
            measured = f"ROAS {value_micros / cost:.2f}"
            target_cpc = value_micros / clicks / (t.target_roas or 1.0)
        efficiency = t.efficiency(cost, row["conversions"], value_micros)
        worth = (
            f"a click is worth {format_micros(round(target_cpc), currency)} at target, "
            f"it costs {format_micros(round(average_cpc), currency)} on average"
        )
        if efficiency >= 1.0:
            spent = use.get(campaign) if campaign is not None else None
            if (
                not account_on_target
                or spent is None
                or spent >= t.bid_raise_below_utilisation
                or row["conversions"] < s.raise_min_conversions
                or efficiency < t.bid_raise_at
            ):
                continue
            unit = minimum_unit_micros(currency)
            ceiling = int(target_cpc) // unit * unit  # never above the bid at which a click earns the target
            wanted = min(bid * (1 + s.max_bid_raise), bid + s.damping * (target_cpc - bid))
            new = min(round_to_unit(int(wanted), currency), ceiling)
            if new <= bid:  # at or above the bid the target allows already: a raise rule never cuts
                continue
            why = (
                f"{measured} is {efficiency:.1f}× the target of {t.goal(currency)} and its campaign spent "
                f"{spent:.0%} of its budget over 7 days: {worth}"
            )
            proposals.extend(_bid_change(row, bid, new, why, t, s, account, currency))
            continue
        factor = max(1 - s.max_bid_step, 1 + s.damping * (target_cpc / average_cpc - 1))
        if t.target_cpa_micros is not None:
            why = f"{measured} is above the target of {format_micros(t.target_cpa_micros, currency)}: {worth}"
        else:
            why = f"{measured} is below the target of {t.target_roas or 0:.1f}: {worth}"
        proposals.extend(
            _bid_change(row, bid, round_to_unit(int(bid * factor), currency), why, t, s, account, currency)
        )
    return proposals


def _on_target(rows: list[dict[str, Any]], t: Targets) -> bool:
    """Whether these rows (keywords or campaigns), together, reach ``bid_raise_account_at`` of the account's target."""
    cost = sum(int(row["cost_micros"]) for row in rows)
    conversions = sum(row["conversions"] for row in rows)
    value = sum(row["conversions_value"] for row in rows) * 1_000_000
    return cost > 0 and t.efficiency(cost, conversions, value) >= t.bid_raise_account_at


def _bid_change(
    row: dict[str, Any], bid: int, new: int, why: str, t: Targets, s: BiddingSettings, account: str, currency: str
) -> list[Proposal]:
    """The proposal to move a keyword's bid to ``new`` (none when the move is under ``min_bid_change``)."""
    if abs(new - bid) < s.min_bid_change * bid:
        return []
    return [
        Proposal(
            role="bidding",
            tool="set_keyword_bid",
            args={
                "customer_id": account,
                "ad_group_id": row["ad_group_id"],
                "criterion_id": row["criterion_id"],
                "cpc_bid_micros": str(new),
            },
            rationale=f"bid for “{row['text']}” {format_micros(bid, currency)} → {format_micros(new, currency)}: {why}",
            evidence={
                "clicks_14d": row["clicks"],
                "cost_micros_14d": int(row["cost_micros"]),
                "conversions_14d": row["conversions"],
                "damping": s.damping,
                "target": t.goal(currency),
            },
            expected_impact="more conversions, each click still earning at least the target"
            if new > bid
            else "less spend on clicks that do not pay for themselves",
        )
    ]


ZERO_EVIDENCE = 3.0
"""Conversions a keyword's clicks must have been expected to bring before none counts against it
(none of 3 expected happens by chance 5 % of the time)."""


def _conversion_rates(keywords: list[dict[str, Any]]) -> Callable[[str], tuple[float | None, str]]:
    """Conversions per click of each ad group in the rows read, else of the whole account (None:
    nothing converted at all, so no rate to judge by) — and whose rate it is."""
    groups: dict[str, list[float]] = {}
    for row in keywords:
        totals = groups.setdefault(str(row["ad_group_id"]), [0.0, 0.0])
        totals[0] += row["clicks"]
        totals[1] += row["conversions"]
    clicks = sum(t[0] for t in groups.values())
    conversions = sum(t[1] for t in groups.values())
    account = conversions / clicks if conversions else None

    def rate(group: str) -> tuple[float | None, str]:
        totals = groups.get(group)
        if totals and totals[1]:
            return totals[1] / totals[0], "its ad group's"
        return account, "the account's"

    return rate


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


def proven(ad: dict[str, Any], learning: AdLearning, age_days: Mapping[str, float]) -> bool:
    """Past its learning period: enough impressions in the 30 days read, and old enough."""
    key = f"{ad['ad_group_id']}~{ad['ad_id']}"
    return ad["impressions"] >= learning.min_impressions and _age_ok(age_days, key, learning.min_days)


def rotation(
    ads: list[dict[str, Any]],
    s: BiddingSettings,
    targets: Targets | TargetsFor,
    account: str,
    *,
    learning: AdLearning | None = None,
    age_days: Mapping[str, float] | None = None,
    campaign_of: Mapping[str, str] | None = None,
) -> list[Proposal]:
    """Pause the clear losers among a group's *proven* ads.

    Only ads past their learning period are compared (an ad with few impressions has a wide
    posterior that would make every proven ad look beatable); an ad still learning is never
    paused and never the reason to pause another. So a group's best proven ad stays on, and a
    group with fewer than two proven ads is left alone until a newcomer has shown what it does.
    """
    learning = learning or AdLearning()
    ages = age_days or {}
    campaigns = campaign_of or {}
    targets_of = _fixed(targets)
    proposals = []
    groups: dict[str, list[dict[str, Any]]] = {}
    for ad in ads:
        if ad.get("status") == "ENABLED":
            groups.setdefault(ad["ad_group_id"], []).append(ad)
    for group_id, members in sorted(groups.items()):
        compared = [a for a in members if proven(a, learning, ages)]
        if len(compared) < 2:
            continue
        t = targets_of(campaigns.get(str(group_id)))
        chances = probability_best(compared, s.samples, f"{account}:{group_id}")
        best = max(compared, key=lambda a: (chances[a["ad_id"]], a["clicks"] / max(a["impressions"], 1)))
        losers = [a for a in compared if a is not best and chances[a["ad_id"]] < t.pause_below_p_best]
        learning_count = len(members) - len(compared)
        for ad in losers:
            ctr = ad["clicks"] / ad["impressions"]
            proposals.append(
                Proposal(
                    role="bidding",
                    tool="set_ad_status",
                    args={"customer_id": account, "ad_group_id": group_id, "ad_id": ad["ad_id"], "status": "PAUSED"},
                    rationale=(
                        f"pause ad {group_id}~{ad['ad_id']}: probability of being the group's best ad is "
                        f"{chances[ad['ad_id']]:.1%} (CTR {ctr:.2%} over {ad['impressions']} impressions in 30 days)"
                        + (
                            f", among the {len(compared)} proven ads ({learning_count} still learning)"
                            if learning_count
                            else ""
                        )
                    ),
                    evidence={
                        "p_best": round(chances[ad["ad_id"]], 4),
                        "impressions_30d": ad["impressions"],
                        "clicks_30d": ad["clicks"],
                        "best_ad": f"{group_id}~{best['ad_id']}",
                    },
                    expected_impact="traffic goes to the better ads of the group",
                )
            )
    return proposals
