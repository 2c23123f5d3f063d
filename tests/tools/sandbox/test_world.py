"""The demo world honours every anchor of SCENARIOS.md §3 and is deterministic per seed."""

import datetime as dt

import pytest

from adpilot.text import google_ads_length
from adpilot.tools.sandbox import World, get_path, patched
from tests.conftest import AT, DE

ADS = f"google_ads.customers.{DE}"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (f"google_ads.customers.{DE}.descriptive_name", "Alpine Outfitters DE"),
        (f"google_ads.customers.{DE}.currency_code", "EUR"),
        (f"google_ads.customers.{DE}.time_zone", "Europe/Berlin"),
        (f"{ADS}.campaign_budgets.9001.amount_micros", "50000000"),
        (f"{ADS}.campaign_budgets.9002.amount_micros", "30000000"),
        (f"{ADS}.campaign_budgets.9003.amount_micros", "20000000"),
        (f"{ADS}.campaigns.111.name", "Boots - Search"),
        (f"{ADS}.campaigns.111.campaign_budget", f"customers/{DE}/campaignBudgets/9001"),
        (f"{ADS}.campaigns.112.name", "Jackets - Search"),
        (f"{ADS}.campaigns.112.campaign_budget", f"customers/{DE}/campaignBudgets/9002"),
        (f"{ADS}.campaigns.113.name", "Brand - Search"),
        (f"{ADS}.campaigns.113.campaign_budget", f"customers/{DE}/campaignBudgets/9003"),
        (f"{ADS}.ad_groups.2101.name", "Hiking Boots"),
        (f"{ADS}.ad_groups.2101.campaign", f"customers/{DE}/campaigns/111"),
        (f"{ADS}.ad_groups.2102.name", "Trail Runners"),
        (f"{ADS}.ad_groups.2102.campaign", f"customers/{DE}/campaigns/111"),
        (f"{ADS}.ad_groups.2201.name", "Rain Jackets"),
        (f"{ADS}.ad_groups.2201.campaign", f"customers/{DE}/campaigns/112"),
        (f"{ADS}.ad_groups.2301.name", "Brand"),
        (f"{ADS}.ad_groups.2301.campaign", f"customers/{DE}/campaigns/113"),
        (f"{ADS}.ad_group_criteria.2101~41001.keyword.text", "wanderschuhe wasserdicht"),
        (f"{ADS}.ad_group_criteria.2101~41001.keyword.match_type", "PHRASE"),
        (f"{ADS}.ad_group_criteria.2101~41001.cpc_bid_micros", "1200000"),
        (f"{ADS}.ad_group_criteria.2101~41002.keyword.text", "hiking boots"),
        (f"{ADS}.ad_group_criteria.2101~41002.keyword.match_type", "BROAD"),
        (f"{ADS}.ad_group_criteria.2101~41002.cpc_bid_micros", "900000"),
        (f"{ADS}.ad_group_criteria.2201~41003.keyword.text", "regenjacke damen"),
        (f"{ADS}.ad_group_criteria.2201~41003.keyword.match_type", "PHRASE"),
        (f"{ADS}.ad_group_criteria.2201~41003.cpc_bid_micros", "1000000"),
        (f"google_ads.customers.{AT}.descriptive_name", "Alpine Outfitters AT"),
        (f"google_ads.customers.{AT}.time_zone", "Europe/Vienna"),
        (f"google_ads.customers.{AT}.campaign_budgets.9101.amount_micros", "25000000"),
        (f"google_ads.customers.{AT}.campaigns.211.name", "Boots - Search AT"),
        (
            f"google_ads.customers.{AT}.campaigns.211.campaign_budget",
            f"customers/{AT}/campaignBudgets/9101",
        ),
        (f"google_ads.customers.{AT}.ad_groups.2801.campaign", f"customers/{AT}/campaigns/211"),
        ("cms.posts.501.title", "Wasserdichte Wanderschuhe: Kaufberatung"),
        ("cms.posts.501.status", "publish"),
        ("cms.posts.501.meta_description", ""),
        ("cms.posts.502.type", "page"),
        ("cms.posts.502.status", "publish"),
        ("cms.posts.503.title", "Wintersale 2026"),
        ("cms.posts.503.status", "draft"),
    ],
)
def test_anchor(demo_world, path, value):
    assert get_path(demo_world.dump(), path) == value


def test_campaigns_and_ads_are_enabled(demo_world):
    dump = demo_world.dump()
    for cid, campaigns in ((DE, ("111", "112", "113")), (AT, ("211",))):
        for campaign in campaigns:
            assert get_path(dump, f"google_ads.customers.{cid}.campaigns.{campaign}.status") == "ENABLED"
    ads = {
        DE: [
            "2101~31001",
            "2101~31002",
            "2101~31003",
            "2102~31004",
            "2201~31005",
            "2201~31006",
            "2301~31007",
        ],
        AT: ["2801~38001", "2801~38002"],
    }
    for cid, keys in ads.items():
        for key in keys:
            ad = get_path(dump, f"google_ads.customers.{cid}.ad_group_ads.{key}")
            assert ad["status"] == "ENABLED"
            assert all(set(h) >= {"text"} for h in ad["ad"]["responsive_search_ad"]["headlines"])


def test_ad_group_2102_has_exactly_one_ad(demo_world):
    ads = demo_world.customer(DE).ad_group_ads
    assert [k for k in ads if k.startswith("2102~")] == ["2102~31004"]


def test_post_502_title_is_over_sixty_characters(demo_world):
    assert len(demo_world.cms.posts["502"].title) > 60


def test_demo_ads_fit_google_limits(demo_world):
    for customer in demo_world.google_ads.customers.values():
        for ad in customer.ad_group_ads.values():
            rsa = ad.ad.responsive_search_ad
            assert 3 <= len(rsa.headlines) <= 15 and 2 <= len(rsa.descriptions) <= 4
            assert all(google_ads_length(h.text) <= 30 for h in rsa.headlines)
            assert all(google_ads_length(d.text) <= 90 for d in rsa.descriptions)


def test_money_fields_are_int64_strings(demo_world):
    for customer in demo_world.dump()["google_ads"]["customers"].values():
        for budget in customer["campaign_budgets"].values():
            assert isinstance(budget["amount_micros"], str) and budget["amount_micros"].isdigit()
        for criterion in customer["ad_group_criteria"].values():
            assert isinstance(criterion["cpc_bid_micros"], str)


def test_history_covers_28_days_before_today(demo_world):
    assert demo_world.sim.today == dt.date(2026, 11, 1)
    days = sorted(demo_world.customer(DE).stats)
    assert days[0] == "2026-10-04" and days[-1] == "2026-10-31" and len(days) == 28
    assert sum(s.clicks for s in demo_world.customer(DE).stats["2026-10-31"].values()) > 0


def test_same_seed_same_world_other_seed_other_truth():
    assert World.demo(7).dump() == World.demo(7).dump()
    other = World.demo(8)
    assert other.sim.customers[DE] != World.demo(7).sim.customers[DE]
    assert get_path(other.dump(), f"{ADS}.campaign_budgets.9001.amount_micros") == "50000000"


def test_patched_sets_dotted_paths_and_revalidates(world):
    changed = patched(world, {f"{ADS}.campaign_budgets.9001.amount_micros": "70000000"})
    assert changed.customer(DE).campaign_budgets["9001"].amount_micros == "70000000"
    assert world.customer(DE).campaign_budgets["9001"].amount_micros == "50000000"
    with pytest.raises(KeyError):
        patched(world, {f"{ADS}.campaign_budgets.9999.amount_micros": "1"})
    with pytest.raises(ValueError, match="status"):
        patched(world, {f"{ADS}.campaigns.111.status": "SLEEPING"})
