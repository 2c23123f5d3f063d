"""SCENARIOS.md §2, row by row, at and around each boundary — plus properties over all amounts."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.policies import ad_status_change, bid_change, budget_change, campaign_status_change, load_policy

LIMITS = load_policy().limits
EUR = 1_000_000


def budget(current, new, lowest=None):
    return budget_change(LIMITS.budget, current, new, current if lowest is None else lowest).decision


@pytest.mark.parametrize(
    ("current", "new", "expected"),
    [
        (50 * EUR, 60 * EUR, "allow"),  # +20 % exactly
        (50 * EUR, 60 * EUR + 10_000, "escalate"),  # +20.02 %
        (50 * EUR, 59_990_000, "allow"),
        (50 * EUR, 25 * EUR, "allow"),  # cut to exactly 50 %
        (50 * EUR, 24_990_000, "escalate"),  # cut below 50 %
        (50 * EUR, 40 * EUR, "allow"),
        (50 * EUR, 0, "deny"),
        (50 * EUR, -EUR, "deny"),
        (450 * EUR, 500 * EUR, "allow"),  # at the cap
        (450 * EUR, 500 * EUR + 10_000, "deny"),  # over the cap, though only +11 %
        (480 * EUR, 600 * EUR, "deny"),  # cap beats escalate
        (50 * EUR, 50 * EUR, "allow"),  # no change
    ],
)
def test_budget_row(current, new, expected):
    assert budget(current, new) == expected


def test_cumulative_example_of_the_contract():
    # 50 → 57.50 → 66.12 → 76.04 EUR: each step about +15 %, the third is +52 % on the day's low.
    assert budget(50 * EUR, 57_500_000, lowest=50 * EUR) == "allow"
    assert budget(57_500_000, 66_120_000, lowest=50 * EUR) == "allow"
    ruling = budget_change(LIMITS.budget, 66_120_000, 76_040_000, 50 * EUR)
    assert ruling.decision == "escalate" and ruling.rule == "budget.cumulative_increase"


def test_cumulative_boundary_is_inclusive():
    assert budget(70 * EUR, 75 * EUR, lowest=50 * EUR) == "allow"  # exactly +50 % on the low
    assert budget(70 * EUR, 75 * EUR + 10_000, lowest=50 * EUR) == "escalate"


def bid(current, new):
    return bid_change(LIMITS.keyword_bid, current, new, current, current).decision


@pytest.mark.parametrize(
    ("current", "new", "expected"),
    [
        (1_000_000, 1_250_000, "allow"),  # +25 %
        (1_000_000, 1_250_001, "escalate"),
        (1_000_000, 750_000, "allow"),  # -25 %
        (1_000_000, 749_999, "escalate"),
        (9_000_000, 10_000_000, "allow"),  # at the 10 EUR cap
        (9_000_000, 10_000_001, "deny"),
        (60_000, 50_000, "allow"),  # at the 0.05 EUR floor
        (60_000, 49_999, "deny"),
        (4_000_000, 12_000_000, "deny"),  # cap beats escalate
    ],
)
def test_bid_row(current, new, expected):
    assert bid(current, new) == expected


def test_default_pack_sets_no_cumulative_bid_limit_but_a_pack_can():
    limits = LIMITS.keyword_bid
    assert bid_change(limits, 1_200_000, 1_440_000, 800_000, 1_200_000).decision == "allow"
    strict = limits.model_copy(update={"max_cumulative_change_pct": 50})
    assert bid_change(strict, 1_200_000, 1_440_000, 800_000, 1_200_000).decision == "escalate"
    assert bid_change(strict, 1_000_000, 800_000, 1_000_000, 1_700_000).decision == "escalate"


@pytest.mark.parametrize(
    ("current", "new", "expected"),
    [("ENABLED", "PAUSED", "escalate"), ("PAUSED", "ENABLED", "escalate"), ("ENABLED", "ENABLED", "allow")],
)
def test_campaign_status_row(current, new, expected):
    assert campaign_status_change(LIMITS.campaign_status, current, new).decision == expected


@pytest.mark.parametrize(
    ("new", "others_enabled", "expected"),
    [("PAUSED", 1, "allow"), ("PAUSED", 2, "allow"), ("PAUSED", 0, "deny"), ("ENABLED", 0, "allow")],
)
def test_ad_status_row(new, others_enabled, expected):
    assert ad_status_change(LIMITS.ad_status, new, others_enabled).decision == expected


def _reference_budget(current, new, lowest):
    """An independent statement of the §2 budget row in exact rational arithmetic."""
    if new <= 0 or new > 500 * EUR:
        return "deny"
    if new > current:
        if Fraction(new, current) > Fraction(120, 100):
            return "escalate"
        if Fraction(new, min(lowest, current)) > Fraction(150, 100):
            return "escalate"
        return "allow"
    return "escalate" if Fraction(new, current) < Fraction(50, 100) else "allow"


amounts = st.integers(min_value=1, max_value=600 * EUR)


@given(amounts, st.integers(min_value=-EUR, max_value=700 * EUR), amounts)
def test_budget_rule_matches_the_reference(current, new, lowest):
    assert budget(current, new, lowest) == _reference_budget(current, new, lowest)


@given(st.integers(min_value=50_000, max_value=10 * EUR), st.integers(min_value=-EUR, max_value=20 * EUR))
def test_bid_rule_matches_the_reference(current, new):
    if new < 50_000 or new > 10 * EUR:
        expected = "deny"
    elif abs(Fraction(new - current, current)) > Fraction(25, 100):
        expected = "escalate"
    else:
        expected = "allow"
    assert bid(current, new) == expected


@given(amounts, amounts)
def test_a_lower_window_low_never_loosens_the_budget_rule(current, new):
    severity = {"allow": 0, "escalate": 1, "deny": 2}
    assert severity[budget(current, new, lowest=current // 2 or 1)] >= severity[budget(current, new)]
