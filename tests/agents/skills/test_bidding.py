"""The keyword bid rule: no conversion counts against a keyword only when some were expected (a
cut for bad luck is costly to undo: bench/campaign_outcome.py found it); a bid rises only with
evidence, in a campaign with budget to spare, in an account on target, and never past the bid at
which a click earns the target."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from adpilot.agents.skills.bidding import BiddingSettings, Targets, bids
from adpilot.money import minimum_unit_micros
from tests.conftest import AT, DE


def _row(
    criterion: str,
    clicks: int,
    cost_eur: float,
    conversions: float,
    value_eur: float,
    group: str = "2101",
    bid="1000000",
):
    return {
        "ad_group_id": group,
        "criterion_id": criterion,
        "text": f"keyword {criterion}",
        "status": "ENABLED",
        "cpc_bid_micros": bid,
        "clicks": clicks,
        "cost_micros": int(cost_eur * 1_000_000),
        "conversions": conversions,
        "conversions_value": value_eur,
    }


def _cut(rows, targets=None, account=DE):
    return {p.args["criterion_id"]: p for p in bids(rows, BiddingSettings(), targets or Targets(), account, "EUR")}


# the group converts at 1.6 % (8 of 500 clicks) besides the keyword under test
GROUP = _row("41001", 500, 400.0, 8.0, 1600.0)


def test_no_conversion_counts_against_a_keyword_only_when_some_were_expected():
    # 60 clicks at the group's 1.4 % (8 of 560): under one conversion expected — no cut
    assert "41002" not in _cut([GROUP, _row("41002", 60, 50.0, 0, 0)])
    # 350 clicks at 0.9 % (8 of 850): 3.3 expected, none is evidence — cut by the full step, saying why
    cut = _cut([GROUP, _row("41002", 350, 280.0, 0, 0)])["41002"]
    assert cut.args["cpc_bid_micros"] == "800000"
    assert "350 clicks in 14 days without a conversion (3.3 expected at its ad group's conversion rate of 0.9%)" in (
        cut.rationale
    )


def test_a_group_without_conversions_is_judged_at_the_accounts_rate():
    other = _row("41003", 400, 300.0, 12.0, 1800.0, group="2201")  # the account: 12 of 560 clicks convert
    assert "41002" not in _cut([other, _row("41002", 120, 90.0, 0, 0)])  # 2.6 expected
    cut = _cut([other, _row("41002", 160, 120.0, 0, 0)])["41002"]
    assert "(3.4 expected at the account's conversion rate of 2.1%)" in cut.rationale
    # nothing converted anywhere: no rate to judge by, the clicks alone decide (zero_conversion_clicks)
    assert "41002" in _cut([_row("41002", 60, 50.0, 0, 0)])
    assert "41002" not in _cut([_row("41002", 59, 50.0, 0, 0)])


def test_a_keyword_with_conversions_is_judged_by_its_measures_as_before():
    # "wanderschuhe" (AT): ROAS 3.2 on 4 conversions — cut, damped: halfway to the 0.75 EUR a
    # click is worth at target from its average CPC of 0.93 EUR
    row = _row("48001", 198, 184.9122, 4.0, 592.0, group="2801")
    cut = _cut([row], account=AT)["48001"]
    assert cut.args["cpc_bid_micros"] == "900000"
    assert "ROAS 3.20 is below the target of 4.0" in cut.rationale
    cpa = Targets(target_roas=None, target_cpa_micros=30_000_000)
    assert "41002" not in _cut([GROUP, _row("41002", 40, 30.0, 1.0, 100.0)], cpa)  # CPA 30: on target
    assert (
        "CPA 40.00 EUR is above the target of 30.00 EUR"
        in _cut([GROUP, _row("41002", 40, 40.0, 1.0, 100.0)], cpa)["41002"].rationale
    )


@given(
    clicks=st.integers(30, 5000),
    cost=st.integers(1, 10_000_000_000),
    conversions=st.integers(0, 200),
    value=st.integers(0, 100_000),
)
def test_without_budget_use_a_bid_only_ever_moves_down_and_by_at_most_a_step(clicks, cost, conversions, value):
    row = {**_row("41002", clicks, 0, conversions, value), "cost_micros": cost}
    for proposal in bids([GROUP, row], BiddingSettings(), Targets(), DE, "EUR"):
        new = int(proposal.args["cpc_bid_micros"])
        assert 800_000 <= new < 1_000_000


def test_the_targets_line_of_a_report_states_the_condition():
    line = Targets().describe("EUR")
    assert "bid cut after 60 clicks without a conversion (if 3 were expected)" in line
    assert "bid raise at ≥ 2× target below 80% of budget, account at ≥ 1.5× target" in line


# --- raises -----------------------------------------------------------------------------------

CAMPAIGN_OF = {"2101": "101", "2201": "201"}
ROOM = {"101": 0.5, "201": 0.95}  # campaign 101 spent half of 7 days' budget, 201 is budget-limited
PEER = _row("41001", 500, 400.0, 8.0, 2400.0)  # the rest of the account: ROAS 6.0
# 100 clicks at 0.80 EUR, 5 conversions worth 1000 EUR: ROAS 12.5 (3.1 × 4.0); a click is worth
# 10.00 EUR, so 2.50 EUR at target. With PEER, the account's ROAS is 7.08: 1.77 × its target.
STAR = _row("41005", 100, 80.0, 5.0, 1000.0)


def _moves(rows, targets=None, use=ROOM, currency="EUR", settings=None, week=None):
    proposals = bids(
        rows,
        settings or BiddingSettings(),
        targets or Targets(),
        DE,
        currency,
        campaign_of=CAMPAIGN_OF,
        budget_use=use,
        week=week,
    )
    return {p.args["criterion_id"]: p for p in proposals}


def test_a_keyword_far_above_target_in_a_campaign_with_room_is_raised_damped():
    raise_ = _moves([PEER, STAR])["41005"]
    # halfway to 2.50 EUR would be 1.75 EUR: at most +10 % a run
    assert raise_.args["cpc_bid_micros"] == "1100000"
    assert raise_.rationale == (
        "bid for “keyword 41005” 1.00 EUR → 1.10 EUR: ROAS 12.50 is 3.1× the target of ROAS 4.0 and its campaign "
        "spent 50% of its budget over 7 days: a click is worth 2.50 EUR at target, it costs 0.80 EUR on average"
    )
    assert raise_.expected_impact == "more conversions, each click still earning at least the target"
    # the same keyword by CPA: 16.00 EUR a conversion against a target of 40 EUR (2.5 ×); a click is
    # worth 40 × 5 / 100 = 2.00 EUR at target
    cpa = Targets(target_roas=None, target_cpa_micros=40_000_000)
    group = _row("41001", 500, 400.0, 16.0, 0.0)  # the account: CPA 22.86 EUR, 1.75 × its target
    raise_ = _moves([group, STAR], cpa)["41005"]
    assert raise_.args["cpc_bid_micros"] == "1100000"
    assert "CPA 16.00 EUR is 2.5× the target of CPA 40.00 EUR" in raise_.rationale


def test_no_raise_in_a_budget_limited_campaign_or_one_whose_use_is_unknown():
    assert "41005" in _moves([PEER, STAR], use={"101": 0.79})
    assert "41005" not in _moves([PEER, STAR], use={"101": 0.8})  # bid_raise_below_utilisation
    assert "41005" not in _moves([PEER, {**STAR, "ad_group_id": "2201"}])  # campaign 201: 95 %
    assert "41005" not in _moves([PEER, STAR], use={})  # no use known for its campaign
    assert "41005" not in _moves([PEER, {**STAR, "ad_group_id": "2999"}])  # its campaign unknown
    assert "41005" not in _cut([PEER, STAR])  # the caller passed no budget use at all
    assert "41005" in _moves([PEER, STAR], Targets(bid_raise_below_utilisation=0.4), use={"101": 0.39})
    assert "41005" not in _moves([PEER, STAR], Targets(bid_raise_below_utilisation=0.4), use={"101": 0.4})


def test_no_raise_unless_the_account_is_well_above_its_target():
    losing = _row("41001", 1500, 1500.0, 8.0, 1600.0)  # ROAS 1.07: with STAR, the account is at 1.65
    moves = _moves([losing, STAR])
    assert "41005" not in moves and "41001" in moves  # … and the losing keyword is cut
    # on target, but not by the margin a raise needs (bid_raise_account_at 1.5): ROAS 5.42 is 1.35 ×
    assert "41005" not in _moves([GROUP, STAR])
    assert "41005" not in _moves([PEER, STAR], Targets(bid_raise_account_at=1.8))  # 1.77 ×
    assert "41005" in _moves([PEER, STAR], Targets(bid_raise_account_at=1.75))
    # by the account's own target, not the keyword's campaign's
    assert "41005" not in _moves([PEER, STAR], lambda campaign: Targets(target_roas=8.0 if campaign is None else 2.0))
    assert "41005" in _moves([PEER, STAR], lambda campaign: Targets(target_roas=4.0 if campaign is None else 2.0))
    # the last 7 days of its campaigns, when given, must show the margin too (they show a fall sooner)
    week = [{"campaign_id": "101", "cost_micros": "100000000", "conversions": 2.0, "conversions_value": 500.0}]
    assert "41005" not in _moves([PEER, STAR], week=week)  # ROAS 5.0: 1.25 ×
    assert "41005" in _moves([PEER, STAR], week=[{**week[0], "conversions_value": 700.0}])  # 1.75 ×


def test_no_raise_without_enough_data_or_far_enough_above_target():
    assert "41005" not in _moves([PEER, {**STAR, "conversions": 2.0}])  # raise_min_conversions: 3
    assert "41005" in _moves([PEER, {**STAR, "conversions": 3.0}])
    few = {**STAR, "clicks": 29, "cost_micros": 23_200_000}  # learning.min_clicks: 30
    assert "41005" not in _moves([PEER, few])
    young = bids(
        [PEER, STAR],
        BiddingSettings(),
        Targets(),
        DE,
        "EUR",
        age_days={"2101~41005": 13.0},  # learning.min_days: 14
        campaign_of=CAMPAIGN_OF,
        budget_use=ROOM,
    )
    assert not young
    # ROAS 7.9: on target, but not 2 × target (bid_raise_at) — left alone, neither raised nor cut
    assert "41005" not in _moves([PEER, {**STAR, "conversions_value": 632.0}])
    assert "41005" in _moves([PEER, {**STAR, "conversions_value": 632.0}], Targets(bid_raise_at=1.5))


def test_a_raise_stops_at_the_bid_at_which_a_click_earns_the_target():
    # 100 clicks at 0.50 EUR, worth 4.40 EUR each: ROAS 8.8, so 1.10 EUR at target
    near = _row("41005", 100, 50.0, 5.0, 440.0)
    assert _moves([PEER, near])["41005"].args["cpc_bid_micros"] == "1050000"  # halfway from 1.00
    assert "41005" not in _moves([PEER, {**near, "cpc_bid_micros": "1080000"}])  # +1 cent: under 5 %
    # undamped and with a step of 50 %: to the ceiling, not beyond
    straight = BiddingSettings(damping=1.0, max_bid_raise=0.5)
    assert _moves([PEER, near], settings=straight)["41005"].args["cpc_bid_micros"] == "1100000"
    # at or above it already: no raise, and the raise rule never cuts
    assert "41005" not in _moves([PEER, {**near, "cpc_bid_micros": "1100000"}], settings=straight)
    assert "41005" not in _moves([PEER, {**near, "cpc_bid_micros": "1500000"}], settings=straight)


def test_a_raise_is_in_billable_units_of_the_accounts_currency():
    # JPY: 1 yen is the unit. 100 clicks at 101 JPY worth 1010.80 JPY each: 252.70 JPY at target
    row = {**_row("41005", 100, 0, 5.0, 101_080.0), "cost_micros": 10_100_000_000, "cpc_bid_micros": "150000000"}
    peer = {**PEER, "cost_micros": 400_000_000_000, "conversions_value": 3_000_000.0}
    moved = _moves([peer, row], currency="JPY")["41005"]
    assert moved.args["cpc_bid_micros"] == "165000000"  # +10 %: 165 JPY
    straight = BiddingSettings(damping=1.0, max_bid_raise=0.5)
    moved = _moves([peer, {**row, "cpc_bid_micros": "240000000"}], currency="JPY", settings=straight)["41005"]
    assert moved.args["cpc_bid_micros"] == "252000000"  # the ceiling, rounded down to a yen (not up to 253)


@given(
    units=st.integers(5, 2000),
    clicks=st.integers(30, 5000),
    cost=st.integers(1, 10_000_000_000),
    conversions=st.integers(0, 200),
    value=st.integers(0, 1_000_000),
    use=st.floats(0, 1),
    currency=st.sampled_from(["EUR", "JPY", "CHF"]),
)
def test_a_bid_rises_by_at_most_a_step_in_whole_units_and_never_past_the_target(
    units, clicks, cost, conversions, value, use, currency
):
    bid = units * minimum_unit_micros(currency)  # a bid in force is a whole number of units
    row: dict[str, Any] = {
        **_row("41005", clicks, 0, conversions, value),
        "cost_micros": cost,
        "cpc_bid_micros": str(bid),
    }
    unit = minimum_unit_micros(currency)
    for proposal in _moves([PEER, row], use={"101": use}, currency=currency).values():
        if proposal.args["criterion_id"] != "41005":
            continue
        new = int(proposal.args["cpc_bid_micros"])
        assert new % unit == 0
        if new > bid:
            assert use < 0.8 and conversions >= 3
            assert value * 1_000_000 / cost >= 2 * 4.0  # 2 × target
            assert new <= bid * 1.1 + unit / 2  # +10 % at most (rounded to the unit)
            assert new <= value * 1_000_000 / clicks / 4.0  # a click still earns the target


def test_the_raise_thresholds_come_from_the_configuration():
    resolved = SimpleNamespace(
        target_roas=5,
        target_cpa=None,
        pacing_utilisation=None,
        pacing_raise_at=None,
        pacing_raise_step=None,
        pacing_cut_below=None,
        pacing_cut_step=None,
        pause_below_p_best=None,
        zero_conversion_clicks=None,
        bid_raise_at="3",
        bid_raise_below_utilisation="0.6",
        bid_raise_account_at="1.2",
    )
    targets = Targets.from_config(resolved)  # type: ignore[arg-type]
    assert (targets.bid_raise_at, targets.bid_raise_below_utilisation, targets.bid_raise_account_at) == (3.0, 0.6, 1.2)
