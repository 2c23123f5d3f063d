"""SCENARIOS.md §2 and §2a, row by row, at and around each boundary — plus properties over all amounts.

The amounts here are EUR; tests/policies/test_currency_rules.py does every currency of the pack.
"""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.policies import ad_status_change, bid_change, budget_change, campaign_status_change, load_policy

LIMITS = load_policy().limits
EUR = 1_000_000
CENT = 10_000


def budget(current, new, lowest=None, highest=None):
    return budget_change(LIMITS, "EUR", current, new, low=lowest, high=highest).decision


@pytest.mark.parametrize(
    ("current", "new", "expected"),
    [
        (50 * EUR, 60 * EUR, "allow"),  # +20 % exactly
        (50 * EUR, 60 * EUR + CENT, "escalate"),  # +20.02 %
        (50 * EUR, 59_990_000, "allow"),
        (50 * EUR, 25 * EUR, "allow"),  # cut to exactly 50 %
        (50 * EUR, 24_990_000, "escalate"),  # cut below 50 %
        (50 * EUR, 40 * EUR, "allow"),
        (50 * EUR, 0, "deny"),
        (50 * EUR, -EUR, "deny"),
        (450 * EUR, 500 * EUR, "allow"),  # at the cap
        (450 * EUR, 500 * EUR + CENT, "deny"),  # over the cap, though only +11 %
        (480 * EUR, 600 * EUR, "deny"),  # cap beats escalate
        (50 * EUR, 50 * EUR, "allow"),  # no change
        (50 * EUR, 55 * EUR + 1, "deny"),  # not a whole cent
    ],
)
def test_budget_row(current, new, expected):
    assert budget(current, new) == expected


def test_cumulative_example_of_the_contract():
    # 50 → 57.50 → 66.12 → 76.04 EUR: each step about +15 %, the third is +52 % on the day's low.
    assert budget(50 * EUR, 57_500_000, lowest=50 * EUR) == "allow"
    assert budget(57_500_000, 66_120_000, lowest=50 * EUR) == "allow"
    ruling = budget_change(LIMITS, "EUR", 66_120_000, 76_040_000, low=50 * EUR)
    assert ruling.decision == "escalate" and ruling.rule == "budget.cumulative_increase"


def test_cumulative_boundary_is_inclusive():
    assert budget(70 * EUR, 75 * EUR, lowest=50 * EUR) == "allow"  # exactly +50 % on the low
    assert budget(70 * EUR, 75 * EUR + CENT, lowest=50 * EUR) == "escalate"


def test_cumulative_cuts_are_judged_against_the_windows_highest():
    # 100 → 80 → 64 → 51.20 → 40.96 EUR: each cut is -20 %; the fourth is below 50 % of 100 EUR.
    assert budget(64 * EUR, 51_200_000, highest=100 * EUR) == "allow"
    ruling = budget_change(LIMITS, "EUR", 51_200_000, 40_960_000, high=100 * EUR)
    assert ruling.decision == "escalate" and ruling.rule == "budget.cumulative_decrease"
    assert "40.96 %" not in ruling.reason and "41.0 %" in ruling.reason and "100.00 EUR" in ruling.reason
    assert budget(60 * EUR, 50 * EUR, highest=100 * EUR) == "allow"  # exactly 50 % of the high
    assert budget(60 * EUR, 50 * EUR - CENT, highest=100 * EUR) == "escalate"


def bid(current, new, low=None, high=None):
    return bid_change(LIMITS, "EUR", current, new, low=low, high=high).decision


@pytest.mark.parametrize(
    ("current", "new", "expected"),
    [
        (1_000_000, 1_250_000, "allow"),  # +25 %
        (1_000_000, 1_260_000, "escalate"),
        (1_000_000, 750_000, "allow"),  # -25 %
        (1_000_000, 740_000, "escalate"),
        (1_000_000, 1_250_001, "deny"),  # not a whole cent
        (9_000_000, 10_000_000, "allow"),  # at the 10 EUR cap
        (9_000_000, 10_010_000, "deny"),
        (60_000, 50_000, "allow"),  # at the 0.05 EUR floor
        (60_000, 40_000, "deny"),
        (4_000_000, 12_000_000, "deny"),  # cap beats escalate
    ],
)
def test_bid_row(current, new, expected):
    assert bid(current, new) == expected


def test_default_pack_limits_bids_cumulatively_in_both_directions():
    assert LIMITS.keyword_bid.max_cumulative_change_pct == 50
    assert bid(1_200_000, 1_440_000, 800_000, 1_200_000) == "escalate"  # +80 % on the day's low
    assert bid(1_200_000, 1_440_000, 1_000_000, 1_200_000) == "allow"  # +44 %
    assert bid(1_000_000, 800_000, 1_000_000, 1_700_000) == "escalate"  # -53 % on the day's high
    off = LIMITS.model_copy(
        update={"keyword_bid": LIMITS.keyword_bid.model_copy(update={"max_cumulative_change_pct": None})}
    )
    assert bid_change(off, "EUR", 1_200_000, 1_440_000, low=800_000).decision == "allow"


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


def _reference_budget(current, new, lowest, highest):
    """An independent statement of the §2/§2a budget rows in exact rational arithmetic."""
    if new <= 0 or new > 500 * EUR or new % CENT:
        return "deny"
    if new > current:
        if Fraction(new, current) > Fraction(120, 100):
            return "escalate"
        if Fraction(new, min(lowest, current)) > Fraction(150, 100):
            return "escalate"
        return "allow"
    if new < current:
        if Fraction(new, current) < Fraction(50, 100):
            return "escalate"
        if Fraction(new, max(highest, current)) < Fraction(50, 100):
            return "escalate"
    return "allow"


amounts = st.integers(min_value=1, max_value=600 * EUR)
# Mostly whole cents (what a budget can be), sometimes anything.
new_amounts = st.one_of(
    st.integers(min_value=-100, max_value=70_000).map(lambda c: c * CENT), st.integers(-EUR, 700 * EUR)
)


@given(amounts, new_amounts, amounts, amounts)
def test_budget_rule_matches_the_reference(current, new, lowest, highest):
    assert budget(current, new, lowest, highest) == _reference_budget(current, new, lowest, highest)


bids = st.integers(min_value=5, max_value=1_000).map(lambda c: c * CENT)
new_bids = st.one_of(st.integers(min_value=-10, max_value=2_000).map(lambda c: c * CENT), st.integers(-EUR, 20 * EUR))


def _reference_bid(current, new, low, high):
    """The §2/§2a keyword bid rows in exact rational arithmetic."""
    if new < 50_000 or new > 10 * EUR or new % CENT:
        return "deny"
    if abs(Fraction(new - current, current)) > Fraction(25, 100):
        return "escalate"
    if new > current and Fraction(new, min(low, current)) > Fraction(150, 100):
        return "escalate"
    if new < current and Fraction(new, max(high, current)) < Fraction(50, 100):
        return "escalate"
    return "allow"


@given(bids, new_bids, bids, bids)
def test_bid_rule_matches_the_reference(current, new, low, high):
    assert bid(current, new, low, high) == _reference_bid(current, new, low, high)


SEVERITY = {"allow": 0, "escalate": 1, "deny": 2}


@given(amounts, amounts)
def test_a_lower_window_low_never_loosens_the_budget_rule(current, new):
    assert SEVERITY[budget(current, new, lowest=current // 2 or 1)] >= SEVERITY[budget(current, new)]


@given(amounts, amounts)
def test_a_higher_window_high_never_loosens_the_budget_rule(current, new):
    assert SEVERITY[budget(current, new, highest=current * 3)] >= SEVERITY[budget(current, new)]
