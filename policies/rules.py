"""The policy's limit rules as pure functions over integers: no I/O, no floats.

Each returns a :class:`Ruling`; the Guard combines rulings (deny beats escalate beats allow).
Percentages compare by cross-multiplication so that "+20 %" means exactly 20 % of the integer
amount, with no rounding at the boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

from adpilot.money import format_micros
from adpilot.policies.model import AdStatusLimits, BidLimits, BudgetLimits, Decision

_RANK = {"allow": 0, "escalate": 1, "deny": 2}


@dataclass(frozen=True)
class Ruling:
    decision: Decision
    rule: str
    reason: str


ALLOW = Ruling("allow", "allow", "within policy")


def strictest(*rulings: Ruling) -> Ruling:
    return max(rulings, key=lambda r: _RANK[r.decision], default=ALLOW)


def _pct(part: int, whole: int) -> str:
    return f"{(part * 100 / whole):+.1f} %" if whole else "n/a"


def budget_change(limits: BudgetLimits, current: int, new: int, lowest_in_window: int, currency: str = "EUR") -> Ruling:
    """SCENARIOS.md §2, budget row. ``lowest_in_window`` includes ``current``."""
    if new <= 0:
        return Ruling("deny", "budget.positive", f"a budget must be positive (got {format_micros(new, currency)})")
    if new > limits.max_amount_micros:
        cap = format_micros(limits.max_amount_micros, currency)
        return Ruling("deny", "budget.max_amount", f"{format_micros(new, currency)} exceeds the cap of {cap} per day")
    if new > current:
        if new * 100 > current * (100 + limits.max_increase_pct):
            return Ruling(
                "escalate",
                "budget.max_increase",
                f"raise of {_pct(new - current, current)} exceeds {limits.max_increase_pct} % per change",
            )
        lowest = min(lowest_in_window, current)
        if new * 100 > lowest * (100 + limits.max_cumulative_increase_pct):
            return Ruling(
                "escalate",
                "budget.cumulative_increase",
                f"{_pct(new - lowest, lowest)} against the lowest amount in {limits.window_hours} h "
                f"({format_micros(lowest, currency)}) exceeds {limits.max_cumulative_increase_pct} %",
            )
    elif new * 100 < current * limits.min_decrease_to_pct:
        return Ruling(
            "escalate",
            "budget.max_decrease",
            f"cut to {new * 100 / current:.1f} % of the current amount; "
            f"below {limits.min_decrease_to_pct} % needs approval",
        )
    return ALLOW


def bid_change(
    limits: BidLimits, current: int, new: int, low_in_window: int, high_in_window: int, currency: str = "EUR"
) -> Ruling:
    """SCENARIOS.md §2, keyword bid row, plus an optional cumulative limit in both directions."""
    if new < limits.min_micros:
        floor = format_micros(limits.min_micros, currency)
        return Ruling("deny", "bid.min", f"{format_micros(new, currency)} is below the minimum bid of {floor}")
    if new > limits.max_micros:
        cap = format_micros(limits.max_micros, currency)
        return Ruling("deny", "bid.max", f"{format_micros(new, currency)} exceeds the maximum bid of {cap}")
    if abs(new - current) * 100 > current * limits.max_change_pct:
        return Ruling(
            "escalate",
            "bid.max_change",
            f"change of {_pct(new - current, current)} exceeds ±{limits.max_change_pct} % per change",
        )
    cumulative = limits.max_cumulative_change_pct
    if cumulative is not None:
        low, high = min(low_in_window, current), max(high_in_window, current)
        if new > current and new * 100 > low * (100 + cumulative):
            return Ruling("escalate", "bid.cumulative_change", f"{_pct(new - low, low)} in {limits.window_hours} h")
        if new < current and new * 100 < high * (100 - cumulative):
            return Ruling("escalate", "bid.cumulative_change", f"{_pct(new - high, high)} in {limits.window_hours} h")
    return ALLOW


def campaign_status_change(decision: Decision, current: str, new: str) -> Ruling:
    if current == new:
        return ALLOW
    return Ruling(decision, "campaign.status", f"changing a campaign from {current} to {new} needs approval")


def ad_status_change(limits: AdStatusLimits, new: str, other_enabled_in_group: int) -> Ruling:
    if new == "PAUSED" and other_enabled_in_group < limits.min_enabled_per_ad_group:
        return Ruling(
            "deny",
            "ad.last_enabled",
            f"pausing it would leave its ad group with fewer than {limits.min_enabled_per_ad_group} enabled ad(s)",
        )
    return ALLOW
