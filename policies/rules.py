"""The policy's limit rules as pure functions over integers: no I/O, no floats.

Each returns a :class:`Ruling`; the Guard combines rulings (deny beats escalate beats allow).
Percentages compare by cross-multiplication so that "+20 %" means exactly 20 % of the integer
amount, with no rounding at the boundary. Money rules judge in the account's currency: its
entry under ``limits.currencies`` gives the caps, and its billable unit
(:func:`adpilot.money.minimum_unit_micros`) the amounts that exist at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from adpilot.money import format_micros, minimum_unit_micros
from adpilot.policies.model import AdStatusLimits, CurrencyLimits, Decision, Limits

_RANK = {"allow": 0, "escalate": 1, "deny": 2}


@dataclass(frozen=True)
class Ruling:
    decision: Decision
    rule: str
    reason: str


ALLOW = Ruling("allow", "allow", "within policy")


def strictest(*rulings: Ruling) -> Ruling:
    return max(rulings, key=lambda r: _RANK[r.decision], default=ALLOW)


def _tenths(part: int, whole: int) -> str:
    """``part / whole`` as a percentage with one decimal, in integer arithmetic (half away from 0)."""
    sign = "-" if (part < 0) != (whole < 0) and part != 0 else ""
    tenths = (abs(part) * 2000 // abs(whole) + 1) // 2
    return f"{sign}{tenths // 10}.{tenths % 10}"


def _pct(part: int, whole: int) -> str:
    """A signed change as a percentage: ``_pct(5, 50)`` is "+10.0 %"."""
    if not whole:
        return "n/a"
    text = _tenths(part, whole)
    return f"{text if text.startswith('-') else '+' + text} %"


def _share(part: int, whole: int) -> str:
    """A share as a percentage: ``_share(20, 50)`` is "40.0 %"."""
    return f"{_tenths(part, whole)} %" if whole else "n/a"


def _key(currency: str, name: str) -> str:
    return f"limits.currencies.{currency}.{name}"


def money_limits(limits: Limits, currency: str) -> CurrencyLimits | Ruling:
    """The limits of ``currency``, or a denial (rule ``money.currency``) naming the key to add."""
    found = limits.for_currency(currency) if currency else None
    if found is not None:
        return found
    if not currency:
        return Ruling("deny", "money.currency", "the account's currency could not be read; no money limit applies")
    listed = ", ".join(sorted(limits.currencies)) or "none"
    return Ruling(
        "deny",
        "money.currency",
        f"the account's currency {currency} has no money limits in the policy (listed: {listed}); "
        f"add limits.currencies.{currency} with budget_max, bid_min and bid_max",
    )


def billable_unit(micros: int, currency: str, what: str) -> Ruling | None:
    """None when ``micros`` is a whole number of the currency's billable unit; otherwise a denial
    (rule ``money.billable_unit``) giving the nearest amounts that are."""
    unit = minimum_unit_micros(currency)
    below = micros - micros % unit
    if below == micros:
        return None
    nearest = " or ".join(f"{format_micros(a, currency)} ({a} micros)" for a in (below, below + unit) if a > 0)
    return Ruling(
        "deny",
        "money.billable_unit",
        f"{what} of {micros} micros is not a whole multiple of {format_micros(unit, currency)} ({unit} micros), "
        f"the smallest amount {currency} is billed in; nearest valid amounts: {nearest}",
    )


def budget_change(
    limits: Limits, currency: str, current: int, new: int, *, low: int | None = None, high: int | None = None
) -> Ruling:
    """SCENARIOS.md §2 budget row and §2a, in ``currency``. ``low`` and ``high`` are the lowest
    and highest amounts of the rolling window (``current`` is included either way)."""
    money = money_limits(limits, currency)
    if isinstance(money, Ruling):
        return money
    rules = limits.budget
    if new <= 0:
        return Ruling("deny", "budget.positive", f"a budget must be positive (got {format_micros(new, currency)})")
    if new > money.budget_max:
        cap = format_micros(money.budget_max, currency)
        return Ruling(
            "deny",
            "budget.max_amount",
            f"{format_micros(new, currency)} exceeds the cap of {cap} per day ({_key(currency, 'budget_max')})",
        )
    if (odd := billable_unit(new, currency, "a budget")) is not None:
        return odd
    lowest = current if low is None else min(low, current)
    highest = current if high is None else max(high, current)
    if new > current:
        if new * 100 > current * (100 + rules.max_increase_pct):
            return Ruling(
                "escalate",
                "budget.max_increase",
                f"raise of {_pct(new - current, current)} exceeds {rules.max_increase_pct} % per change",
            )
        if new * 100 > lowest * (100 + rules.max_cumulative_increase_pct):
            return Ruling(
                "escalate",
                "budget.cumulative_increase",
                f"{_pct(new - lowest, lowest)} against the lowest amount in {rules.window_hours} h "
                f"({format_micros(lowest, currency)}) exceeds {rules.max_cumulative_increase_pct} %",
            )
    elif new < current:
        if new * 100 < current * rules.min_decrease_to_pct:
            return Ruling(
                "escalate",
                "budget.max_decrease",
                f"cut to {_share(new, current)} of the current amount; "
                f"below {rules.min_decrease_to_pct} % needs approval",
            )
        floor = rules.min_cumulative_decrease_to_pct
        if floor is not None and new * 100 < highest * floor:
            return Ruling(
                "escalate",
                "budget.cumulative_decrease",
                f"cut to {_share(new, highest)} of the highest amount in {rules.window_hours} h "
                f"({format_micros(highest, currency)}); below {floor} % needs approval",
            )
    return ALLOW


def bid_change(
    limits: Limits, currency: str, current: int, new: int, *, low: int | None = None, high: int | None = None
) -> Ruling:
    """SCENARIOS.md §2 keyword bid row and §2a, in ``currency``, plus the cumulative limit in both
    directions against the rolling window's ``low`` and ``high`` (``current`` included)."""
    money = money_limits(limits, currency)
    if isinstance(money, Ruling):
        return money
    rules = limits.keyword_bid
    if new < money.bid_min:
        floor = format_micros(money.bid_min, currency)
        return Ruling(
            "deny",
            "bid.min",
            f"{format_micros(new, currency)} is below the minimum bid of {floor} ({_key(currency, 'bid_min')})",
        )
    if new > money.bid_max:
        cap = format_micros(money.bid_max, currency)
        return Ruling(
            "deny",
            "bid.max",
            f"{format_micros(new, currency)} exceeds the maximum bid of {cap} ({_key(currency, 'bid_max')})",
        )
    if (odd := billable_unit(new, currency, "a bid")) is not None:
        return odd
    if abs(new - current) * 100 > current * rules.max_change_pct:
        return Ruling(
            "escalate",
            "bid.max_change",
            f"change of {_pct(new - current, current)} exceeds ±{rules.max_change_pct} % per change",
        )
    cumulative = rules.max_cumulative_change_pct
    if cumulative is not None:
        lowest = current if low is None else min(low, current)
        highest = current if high is None else max(high, current)
        if new > current and new * 100 > lowest * (100 + cumulative):
            return Ruling(
                "escalate",
                "bid.cumulative_change",
                f"{_pct(new - lowest, lowest)} against the lowest bid in {rules.window_hours} h "
                f"({format_micros(lowest, currency)}) exceeds ±{cumulative} %",
            )
        if new < current and new * 100 < highest * (100 - cumulative):
            return Ruling(
                "escalate",
                "bid.cumulative_change",
                f"{_pct(new - highest, highest)} against the highest bid in {rules.window_hours} h "
                f"({format_micros(highest, currency)}) exceeds ±{cumulative} %",
            )
    return ALLOW


def account_daily_total(limits: Limits, currency: str, total_before: int, total_after: int) -> Ruling:
    """The sum of an account's budgets that serve an enabled campaign, before and after a change,
    against ``account_daily_max`` of its currency: a change that raises the sum above the cap is
    denied (rule ``budget.account_daily_max``); one that lowers it never is."""
    money = money_limits(limits, currency)
    if isinstance(money, Ruling):
        return money
    cap = money.account_daily_max
    if cap is None or total_after <= total_before or total_after <= cap:
        return ALLOW
    return Ruling(
        "deny",
        "budget.account_daily_max",
        f"the budgets of the account's enabled campaigns would total {format_micros(total_after, currency)} "
        f"per day (now {format_micros(total_before, currency)}), above the account cap of "
        f"{format_micros(cap, currency)} ({_key(currency, 'account_daily_max')})",
    )


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
