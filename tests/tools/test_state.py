"""The Guard's state snapshot: fewer reads, never stale beyond its TTL, updated by our writes."""

from adpilot.tools.state import MISSING, StateCache
from tests.conftest import DE


def budget_args(amount):
    return {"customer_id": DE, "budget_id": "9001", "amount_micros": str(amount)}


async def test_prefetch_lets_decisions_skip_the_read(guard, sandbox):
    """Status decisions use the snapshot; a money decision (the bid) reads its keyword afresh."""
    await guard.prefetch(DE)
    reads = sandbox.faults["google_ads"].requests
    await guard.call(
        "bidding",
        "set_keyword_bid",
        {"customer_id": DE, "ad_group_id": "2101", "criterion_id": "41002", "cpc_bid_micros": 1_000_000},
    )
    await guard.call(
        "creative", "set_ad_status", {"customer_id": DE, "ad_group_id": "2101", "ad_id": "31003", "status": "PAUSED"}
    )
    await guard.call("bidding", "set_campaign_status", {"customer_id": DE, "campaign_id": "113", "status": "PAUSED"})
    # the bid's fresh read and the two writes; the ad pause and the escalation needed no read
    assert sandbox.faults["google_ads"].requests - reads == 3


async def test_prefetch_ignores_accounts_outside_the_run(make_guard, sandbox):
    guard = make_guard(accounts=(DE,))
    await guard.prefetch("4445556666")
    assert sandbox.faults["google_ads"].requests == 0


async def test_our_own_write_updates_the_snapshot(guard, sandbox):
    await guard.prefetch(DE)
    assert (await guard.call("bidding", "set_campaign_budget", budget_args(60_000_000))).decision == "allow"
    # +20 % on 60 EUR and +44 % on the day's low of 50 EUR: allowed. Judged against the
    # prefetched 50 EUR it would be +44 % in one change, and escalate.
    assert (await guard.call("bidding", "set_campaign_budget", budget_args(72_000_000))).decision == "allow"
    assert sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros == "72000000"


async def test_the_pausing_rule_sees_our_earlier_pauses(guard):
    await guard.prefetch(DE)
    for ad_id, expected in (("31001", "allow"), ("31002", "allow"), ("31003", "deny")):
        result = await guard.call(
            "creative", "set_ad_status", {"customer_id": DE, "ad_group_id": "2101", "ad_id": ad_id, "status": "PAUSED"}
        )
        assert result.decision == expected


async def test_outside_changes_are_seen_once_the_ttl_expires(make_guard, sandbox):
    now = [0.0]
    guard = make_guard()
    guard.context.state = StateCache(ttl_s=60, clock=lambda: now[0])
    await guard.prefetch(DE)
    sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros = "20000000"  # changed by a person
    now[0] = 61.0
    result = await guard.call("bidding", "set_campaign_budget", budget_args(55_000_000))
    assert result.decision == "escalate" and "+175.0 %" in result.error.message


async def test_ttl_zero_always_reads_fresh_state(make_guard, sandbox):
    guard = make_guard()
    guard.context.state = StateCache(ttl_s=0)
    await guard.prefetch(DE)
    sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros = "20000000"
    result = await guard.call("bidding", "set_campaign_budget", budget_args(55_000_000))
    assert result.decision == "escalate"


async def test_a_failed_write_drops_the_accounts_snapshot(guard, sandbox):
    await guard.prefetch(DE)
    sandbox.set_faults({"google_ads": {"error_rate": 1.0, "on": "writes"}})
    failed = await guard.call("bidding", "set_campaign_budget", budget_args(55_000_000))
    assert failed.error.type == "platform_error"
    assert guard.context.state.get(f"google_ads:{DE}:campaign_budget:9001") is MISSING


def test_cache_basics():
    now = [0.0]
    cache = StateCache(ttl_s=10, clock=lambda: now[0])
    cache.put("a", 1)
    cache.update("a", lambda v: v + 1)
    cache.update("missing", lambda v: v + 1)
    assert cache.get("a") == 2 and cache.get("missing") is MISSING
    now[0] = 10.5
    assert cache.get("a") is MISSING
