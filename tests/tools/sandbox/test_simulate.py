"""The simulator gives optimisation something real to find, within the platform's rules."""

from adpilot.tools.sandbox import advance_day
from adpilot.tools.sandbox.simulate import binomial, poisson
from tests.conftest import DE


def _campaign_spend(customer, day, campaign_id):
    groups = {g.id for g in customer.ad_groups.values() if g.campaign.endswith(f"/{campaign_id}")}
    return sum(s.cost_micros for k, s in customer.stats[day].items() if k.split("~")[0] in groups)


def test_no_campaign_ever_spends_more_than_its_daily_budget(demo_world):
    for customer in demo_world.google_ads.customers.values():
        for campaign in customer.campaigns.values():
            budget = next(b for b in customer.campaign_budgets.values() if b.resource_name == campaign.campaign_budget)
            for day in customer.stats:
                assert _campaign_spend(customer, day, campaign.id) <= int(budget.amount_micros)


def test_a_tighter_budget_caps_spend_the_next_day(world):
    customer = world.customer(DE)
    customer.campaign_budgets["9002"].amount_micros = "5000000"
    (day,) = advance_day(world)
    assert 0 < _campaign_spend(customer, day.isoformat(), "112") <= 5_000_000


def test_a_paused_ad_gets_no_traffic(world):
    customer = world.customer(DE)
    customer.ad_group_ads["2101~31001"].status = "PAUSED"
    (day,) = advance_day(world)
    rows = customer.stats[day.isoformat()]
    assert not any(key.endswith("~31001") for key in rows)
    assert any(key.endswith("~31002") for key in rows)


def test_a_paused_campaign_gets_no_traffic(world):
    customer = world.customer(DE)
    customer.campaigns["113"].status = "PAUSED"
    (day,) = advance_day(world)
    assert not any(key.startswith("2301~") for key in customer.stats[day.isoformat()])


def test_higher_bids_buy_more_impressions(world):
    low, high = world.clone(), world.clone()
    for copy, bid in ((low, "300000"), (high, "3000000")):
        copy.customer(DE).ad_group_criteria["2101~41002"].cpc_bid_micros = bid
        copy.customer(DE).campaign_budgets["9001"].amount_micros = "500000000"
        advance_day(copy, 7)

    def impressions(copy):
        return sum(
            s.impressions
            for day, rows in copy.customer(DE).stats.items()
            if day >= "2026-11-01"
            for k, s in rows.items()
            if k.startswith("2101~41002~")
        )

    assert impressions(high) > 1.5 * impressions(low)


def test_days_are_deterministic_for_the_seed(world):
    other = world.clone()
    advance_day(world, 3)
    advance_day(other, 3)
    assert world.dump() == other.dump()


def test_samplers_stay_in_range():
    import random

    rng = random.Random(1)
    assert all(0 <= binomial(rng, n, 0.3) <= n for n in (0, 5, 150, 5000))
    assert poisson(rng, 0) == 0 and poisson(rng, 5) >= 0 and poisson(rng, 500) > 300
