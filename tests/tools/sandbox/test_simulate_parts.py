"""A day simulated in parts: settings changed between parts apply to the rest of the day only."""

import datetime as dt

import pytest

from adpilot.tools.sandbox import advance_day
from adpilot.tools.sandbox.simulate import advance_part
from tests.conftest import AT, DE


def _spend(customer, day, campaign_id):
    groups = {g.id for g in customer.ad_groups.values() if g.campaign.endswith(f"/{campaign_id}")}
    return sum(s.cost_micros for k, s in customer.stats.get(day, {}).items() if k.split("~")[0] in groups)


def _impressions(customer, day, suffix):
    return sum(s.impressions for k, s in customer.stats.get(day, {}).items() if k.endswith(suffix))


def test_the_parts_add_up_to_one_day_and_only_the_last_moves_today_on(world):
    start = world.sim.today
    customer = world.customer(DE)
    seen = []
    for part in range(3):
        assert advance_part(world, part, 3) == start
        seen.append(sum(s.impressions for s in customer.stats[start.isoformat()].values()))
        assert world.sim.today == (start if part < 2 else start + dt.timedelta(days=1))
    assert 0 < seen[0] < seen[1] < seen[2]  # each part adds its traffic to the day's rows
    whole = world.clone()
    whole.sim.today = start
    advance_day(whole)
    # a third of the searches each: the day's total is of the same size as a whole day's
    total = seen[2]
    single = sum(s.impressions for s in whole.customer(DE).stats[start.isoformat()].values())
    assert 0.85 * single < total < 1.15 * single


def test_a_change_between_parts_applies_to_the_later_parts_only(world):
    day = world.sim.today.isoformat()
    customer = world.customer(DE)
    advance_part(world, 0, 3)
    before = _impressions(customer, day, "~31001")
    assert before > 0
    customer.ad_group_ads["2101~31001"].status = "PAUSED"
    advance_part(world, 1, 3)
    advance_part(world, 2, 3)
    assert _impressions(customer, day, "~31001") == before  # paused after the first part: served no more
    customer.ad_group_ads["2101~31001"].status = "ENABLED"
    advance_part(world, 0, 3)  # the next day starts afresh
    assert _impressions(customer, world.sim.today.isoformat(), "~31001") > 0


def test_a_campaign_spends_at_most_its_share_of_the_budget_by_the_end_of_each_part(world):
    customer = world.customer(AT)
    customer.campaign_budgets["9101"].amount_micros = "12000000"  # far below what it would spend
    for keyword in customer.ad_group_criteria.values():
        keyword.cpc_bid_micros = "2000000"
    day = world.sim.today.isoformat()
    for part in range(3):
        advance_part(world, part, 3)
        assert _spend(customer, day, "211") <= 12_000_000 * (part + 1) // 3
    assert _spend(customer, day, "211") > 6_000_000  # most of the budget is spent, spread over the day


def test_parts_are_deterministic_and_must_be_in_range(world):
    other = world.clone()
    for w in (world, other):
        for part in range(3):
            advance_part(w, part, 3)
    assert world.dump() == other.dump()
    with pytest.raises(ValueError, match="parts are numbered 0 to 2"):
        advance_part(world, 3, 3)
