"""Patience and targets: cooldowns, learning periods, holds, and per-account targets in the skills."""

from __future__ import annotations

import datetime as dt

import pytest

from adpilot.agents.llm import build_provider
from adpilot.agents.patience import HoldStore, Patience, describe, parse_entity
from adpilot.agents.run import Runner
from adpilot.agents.skills.bidding import BiddingSettings, Targets, bids, rotation
from adpilot.agents.stop import Limits
from adpilot.config import Config
from adpilot.errors import UsageError
from adpilot.policies import load_policy
from adpilot.policies.model import AdLearning, KeywordLearning
from adpilot.tools.sandbox.world import ChangeEvent
from tests.agents.conftest import results
from tests.conftest import AT, DE

NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)


def _ad(group: str, ad: str, impressions: int, clicks: int) -> dict:
    return {"ad_group_id": group, "ad_id": ad, "status": "ENABLED", "impressions": impressions, "clicks": clicks}


# --- entity names and the hold store ---------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored", "shown"),
    [
        ("ad:2101~31001", "google_ads:*:ad_group_ad:2101~31001", "ad 2101~31001"),
        ("1112223333:keyword:2801~48001", "google_ads:1112223333:ad_group_criterion:2801~48001", None),
        ("google_ads:4445556666:campaign_budget:9101", "google_ads:4445556666:campaign_budget:9101", None),
        ("budget:9101", "google_ads:*:campaign_budget:9101", "budget 9101"),
        ("campaign:111", "google_ads:*:campaign:111", "campaign 111"),
        ("ad_group:2101", "google_ads:*:ad_group:2101", "ad group 2101"),
        ("account:1112223333", "google_ads:1112223333:*", "account 1112223333"),
        ("post:501", "wordpress:post:501", "post 501"),
    ],
)
def test_hold_names(typed, stored, shown):
    assert parse_entity(typed) == stored
    if shown:
        assert describe(stored) == shown


@pytest.mark.parametrize("typed", ["", "ad:31001", "keyword:x~1", "campaign:", "account:123", "budget:9101:1"])
def test_a_hold_name_that_names_nothing_is_a_usage_error(typed):
    with pytest.raises(UsageError, match="names no entity"):
        parse_entity(typed)


def test_holds_are_durable_expire_and_are_released(tmp_path):
    with HoldStore(tmp_path) as store:
        store.put("google_ads:*:ad_group_ad:2101~31001", by="lena", reason="test", days=2, now=NOW)
        store.put("google_ads:*:campaign:111", by="tom", now=NOW)
    with HoldStore(tmp_path) as store:  # another process
        assert {h.entity for h in store.holds(NOW)} == {
            "google_ads:*:ad_group_ad:2101~31001",
            "google_ads:*:campaign:111",
        }
        assert [h.entity for h in store.holds(NOW + dt.timedelta(days=3))] == ["google_ads:*:campaign:111"]
        assert store.release("google_ads:*:campaign:111") and not store.release("google_ads:*:campaign:111")
        assert store.holds(NOW + dt.timedelta(days=3)) == []


def test_a_hold_covers_what_is_inside_it(tmp_path):
    with HoldStore(tmp_path) as store:
        store.put(parse_entity("campaign:211"), by="lena", now=NOW)
        holds = store.holds(NOW)
    patience = Patience(load_policy().patience, NOW, holds=holds, parents={"ad_group:2801": "211"})
    bid = {"customer_id": AT, "ad_group_id": "2801", "criterion_id": "48001", "cpc_bid_micros": "990000"}
    assert "campaign 211 is on hold by lena" in (patience.blocked("set_keyword_bid", bid) or "")
    other = {**bid, "ad_group_id": "2802"}
    assert patience.blocked("set_keyword_bid", other) is None


# --- learning periods in the skills ------------------------------------------------------------


def test_rotation_never_pauses_the_best_proven_ad_for_an_unproven_one():
    ads = [_ad("2101", "31002", 5784, 324), _ad("2101", "90001", 0, 0)]  # 5.6 % CTR vs. a new ad
    assert rotation(ads, BiddingSettings(), Targets(), DE) == []
    # a brand-new ad with many impressions is still learning until it is old enough
    young = [_ad("2101", "31002", 5784, 324), _ad("2101", "90001", 5000, 20)]
    assert rotation(young, BiddingSettings(), Targets(), DE, age_days={"2101~90001": 2.0}) == []
    # once proven, the clear loser is paused — never the best
    paused = rotation(young, BiddingSettings(), Targets(), DE, age_days={"2101~90001": 20.0})
    assert [p.args["ad_id"] for p in paused] == ["90001"]


def test_rotation_compares_only_proven_ads():
    ads = [_ad("2101", "31001", 5821, 127), _ad("2101", "31002", 5784, 324), _ad("2101", "90001", 120, 9)]
    paused = rotation(ads, BiddingSettings(), Targets(), DE, learning=AdLearning(min_impressions=1000, min_days=14))
    assert [p.args["ad_id"] for p in paused] == ["31001"]
    assert "1 still learning" in paused[0].rationale
    # a higher bar for proof: nothing is compared, nothing paused
    assert rotation(ads, BiddingSettings(), Targets(), DE, learning=AdLearning(min_impressions=6000)) == []


def test_a_bid_moves_only_with_enough_data_and_age():
    row = {
        "ad_group_id": "2801",
        "criterion_id": "48001",
        "text": "wanderschuhe",
        "status": "ENABLED",
        "cpc_bid_micros": "1100000",
        "clicks": 198,
        "cost_micros": 184912200,
        "conversions": 4.0,
        "conversions_value": 592.0,
    }
    assert len(bids([row], BiddingSettings(), Targets(), AT, "EUR")) == 1
    assert bids([row], BiddingSettings(), Targets(), AT, "EUR", learning=KeywordLearning(min_clicks=200)) == []
    assert bids([row], BiddingSettings(), Targets(), AT, "EUR", age_days={"2801~48001": 3.0}) == []


# --- targets per account -------------------------------------------------------------------------


async def _maintain(config, platforms, audit, accounts=None):
    runner = Runner(config, platforms=platforms, audit=audit, models=build_provider("none"), limits=Limits())
    async with runner:
        return await runner.start({"kind": "maintenance", "accounts": accounts or [DE, AT]})


def _bids(sandbox, account):
    customer = sandbox.world.customer(account)
    return {key: int(c.cpc_bid_micros) for key, c in customer.ad_group_criteria.items() if c.cpc_bid_micros}


async def test_a_higher_target_roas_in_one_account_lowers_its_bids_only(tmp_path, platforms, sandbox, audit):
    before_de, before_at = _bids(sandbox, DE), _bids(sandbox, AT)
    config = Config(state_dir=tmp_path / "state", targets={"accounts": {DE: {"target_roas": "6"}}})
    result = await _maintain(config, platforms, audit)
    after_de, after_at = _bids(sandbox, DE), _bids(sandbox, AT)
    # DE: every keyword at ROAS 4.5–5.3 misses a target of 6 (8.4 and 31 do not); by default none does
    assert {k for k in after_de if after_de[k] < before_de[k]} == {
        "2101~41001",
        "2102~41004",
        "2201~41003",
        "2201~41006",
    }
    assert all(after_de[k] <= before_de[k] for k in after_de)
    # AT keeps the default target of 4: only "wanderschuhe" (ROAS 3.2) is cut, as without the override
    assert {k for k in after_at if after_at[k] != before_at[k]} == {"2801~48001"}
    cut = next(a for a in result.report["applied"] if a["args"].get("criterion_id") == "41001")
    assert "below the target of 6.0" in cut["rationale"]
    assert f"targets: {DE}: ROAS 6.0" in "\n".join(result.report["notes"])


async def test_a_target_cpa_account_bids_by_cpa(tmp_path, platforms, sandbox, audit):
    config = Config(state_dir=tmp_path / "state", targets={"accounts": {AT: {"target_cpa": "40"}}})
    result = await _maintain(config, platforms, audit, [AT])
    cuts = {a["args"]["criterion_id"]: a for a in result.report["applied"] if a["tool"] == "set_keyword_bid"}
    # "wanderschuhe": 184.91 EUR for 4 conversions = 46.23 EUR a conversion, above 40; "bergschuhe" 25.42
    assert set(cuts) == {"48001"}
    assert "CPA 46.23 EUR is above the target of 40.00 EUR" in cuts["48001"]["rationale"]
    assert f"targets: {AT}: CPA 40.00 EUR" in "\n".join(result.report["notes"])
    # pacing judges the campaign against the CPA target too: 28.30 EUR a conversion is well within 40
    budget = next(a for a in result.report["applied"] if a["tool"] == "set_campaign_budget")
    assert "target CPA 40.00 EUR" in budget["rationale"]


async def test_a_campaign_target_overrides_its_account(tmp_path, platforms, sandbox, audit):
    config = Config(state_dir=tmp_path / "state", targets={"campaigns": {"111": {"target_roas": "6"}}})
    before = _bids(sandbox, DE)
    result = await _maintain(config, platforms, audit, [DE])
    after = _bids(sandbox, DE)
    cut = {key.split("~")[1] for key in after if after[key] < before[key]}
    # campaign 111 (ad groups 2101, 2102) aims for 6; 2201's keywords (campaign 112) for the default 4
    assert cut == {"41001", "41004"}
    assert "campaign 111: ROAS 6.0" in "\n".join(result.report["notes"])


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        ({"accounts": {"123": {}}}, "'123' is not a 10-digit customer id"),
        ({"accounts": {DE: {"target_roas": "5", "target_cpa": "20"}}}, "not both"),
        ({"target_cpa": "20"}, "target_roas: null"),
        ({"target_roas": None}, "targets needs target_roas or target_cpa"),
        ({"pacing_utilisation": None}, "targets.pacing_utilisation needs a value"),
        ({"campaigns": {"111": {"pause_below_p_best": "1.5"}}}, "less than 1"),
        ({"accounts": {AT: {"pacing_cut_below": "0.9", "pacing_raise_at": "0.8"}}}, "must be below pacing_raise_at"),
    ],
)
def test_targets_are_validated_with_errors_naming_the_key(targets, message):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        Config(targets=targets)


# --- patience in maintenance runs ----------------------------------------------------------------


async def test_a_second_run_leaves_what_the_first_changed_alone(make_runner, sandbox, audit):
    async with make_runner() as runner:
        first = await runner.start({"kind": "maintenance", "accounts": [DE, AT]})
        second = await runner.start({"kind": "maintenance", "accounts": [DE, AT]})
        changed = len(results(audit))
        third = await runner.start({"kind": "maintenance", "accounts": [DE, AT]})
    assert any(a["args"].get("criterion_id") == "48001" for a in first.report["applied"])
    # the sweep ran first, so the creative task already supplied the groups it left thin: the
    # second run changes nothing, and nothing the first run changed is changed again
    assert second.report["applied"] == []
    assert third.report["applied"] == [] and len(results(audit)) == changed
    assert any("keyword 2801~48001" in n and "bid cooldown 3 days" in n for n in third.report["notes"])
    # the group's best ad (31002, CTR 5.6 %) is never paused by rotation: only the compliance sweep
    # paused it (its "ab 89 €" contradicts the feed), and no run paused the new variants beside it
    paused = [r for r in results(audit, "set_ad_status") if r.entity and r.entity.endswith("2101~31002")]
    assert [r.role for r in paused] == ["compliance"]


async def test_an_explicit_hold_keeps_the_skills_off(make_runner, config, sandbox, audit):
    with HoldStore(config.state_dir) as store:
        store.put(parse_entity("ad_group:2102"), by="lena", reason="landing page test", now=dt.datetime.now(dt.UTC))
        store.put(parse_entity(f"{AT}:campaign:211"), by="lena", days=7, now=dt.datetime.now(dt.UTC))
    async with make_runner() as runner:
        result = await runner.start({"kind": "maintenance", "accounts": [DE, AT]})
    customer = sandbox.world.customer(DE)
    assert [key for key in customer.ad_group_ads if key.startswith("2102~")] == ["2102~31004"]  # no new ad
    assert len([key for key in customer.ad_group_ads if key.startswith("2301~")]) == 2  # not held: supplied
    at = sandbox.world.customer(AT)
    assert at.campaign_budgets["9101"].amount_micros == "25000000"  # budget of campaign 211
    assert at.ad_group_criteria["2801~48001"].cpc_bid_micros == "1100000"  # a keyword of campaign 211
    notes = "\n".join(result.report["notes"])
    assert "ad group 2102 is on hold by lena until released (adpilot release): landing page test" in notes
    assert f"campaign 211 ({AT}) is on hold by lena until" in notes


async def test_a_change_a_person_made_in_google_ads_is_held(make_runner, sandbox, audit, clock):
    customer = sandbox.world.customer(DE)
    now = clock.now = dt.datetime.now(dt.UTC)  # Google's change history is on the wall clock
    customer.change_events["1"] = ChangeEvent(
        resource_name=f"customers/{DE}/changeEvents/1~1~0",
        change_date_time=now.strftime("%Y-%m-%d %H:%M:%S.%f"),
        change_resource_type="AD_GROUP",
        change_resource_name=f"customers/{DE}/adGroups/2102",
        client_type="GOOGLE_ADS_WEB_CLIENT",
        user_email="lena@alpine-outfitters.example",
        resource_change_operation="UPDATE",
        changed_fields="status",
    )
    async with make_runner() as runner:
        result = await runner.start({"kind": "maintenance", "accounts": [DE]})
    ads_in_2102 = [key for key in customer.ad_group_ads if key.startswith("2102~")]
    assert ads_in_2102 == ["2102~31004"], result.report["notes"]  # the creative skill left her ad group alone
    notes = "\n".join(result.report["notes"])
    assert "a person's decision (lena@alpine-outfitters.example in Google Ads (GOOGLE_ADS_WEB_CLIENT)" in notes


async def test_a_rejected_or_edited_page_fix_is_not_asked_again(make_runner, sandbox, audit):
    async with make_runner() as runner:
        first = await runner.start({"kind": "maintenance", "accounts": [DE], "scope": "cms"})
        by_post = {p["args"]["post_id"]: p for p in first.pending}
        meta = "Wasserdichte Wanderschuhe: Membran, Leder, Passform und die richtige Größe – unsere Kaufberatung."
        decisions = {
            by_post[501]["id"]: {"decision": "edit", "args": {"meta_description": meta}},
            by_post[504]["id"]: {"decision": "reject", "reason": "page is being rewritten"},
        }
        await runner.resume(first.thread_id, decisions)
        again = await runner.start({"kind": "maintenance", "accounts": [DE], "scope": "cms"})
    # 502 still waits (reused, not asked again); 501 (edited by a person) and 504 (rejected) are held
    assert {p["args"]["post_id"] for p in again.pending} <= {502}
    notes = "\n".join(again.report["notes"])
    assert "left alone: post 504 (update_post) — a person's decision (rejected by operator: page is being" in notes
    # 501 was fixed as the person edited it: nothing left to propose


def test_change_history_from_another_clock_is_left_to_the_audit_log():
    from adpilot.agents.patience import History
    from adpilot.tools.google_ads import ChangeEvent as Event

    def event(when: dt.datetime) -> Event:
        name = f"customers/{DE}/adGroupAds/2101~31001"
        return Event(
            when.strftime("%Y-%m-%d %H:%M:%S.%f"), "AD_GROUP_AD", name, "UPDATE", ("status",), None, None, {}, {}
        )

    history = History()
    history.add_change_events(DE, [event(NOW + dt.timedelta(days=30))], dt.UTC, NOW)
    assert history.changes == {}
    history.add_change_events(DE, [event(NOW - dt.timedelta(hours=2))], dt.UTC, NOW)
    assert history.changes[f"google_ads:{DE}:ad_group_ad:2101~31001"].person is False  # through the API
