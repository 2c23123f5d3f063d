"""Exactly once: repeated proposals, lost answers and flaky platforms never apply a change twice."""

from adpilot.compose import connect
from adpilot.config import Config
from adpilot.tools.guard import Guard
from tests.conftest import DE, RSA
from tests.tools.conftest import FAST_RETRY, FixedGate


def executions(audit, tool):
    return [r for r in audit.records(kind="result") if r.tool == tool and r.status == "ok"]


def new_ads(sandbox):
    return [
        k for k in sandbox.world.customer(DE).ad_group_ads if k.startswith("2101~") and int(k.split("~")[1]) > 40000
    ]


async def test_the_same_proposal_executes_once(guard, sandbox, audit):
    args = {"customer_id": DE, "budget_id": "9001", "amount_micros": "55000000"}
    first = await guard.call("bidding", "set_campaign_budget", args, proposal_id="p-7")
    version = sandbox.version
    second = await guard.call("bidding", "set_campaign_budget", args, proposal_id="p-7")
    assert first.ok and second.ok and second.replayed and second.data == first.data
    assert sandbox.version == version  # the platform was not called again
    assert len(executions(audit, "set_campaign_budget")) == 1


async def test_a_resumed_thread_replays_but_another_thread_executes(make_guard, audit, sandbox):
    args = {"customer_id": DE, "ad_group_id": "2101", "ad_id": "31001", "status": "PAUSED"}
    await make_guard(thread="t1").call("creative", "set_ad_status", args, proposal_id="p1")
    again = await make_guard(thread="t1", run="r2").call("creative", "set_ad_status", args, proposal_id="p1")
    assert again.replayed
    other = await make_guard(thread="t2").call("creative", "set_ad_status", args, proposal_id="p1")
    assert not other.replayed and other.data == {"changed": False, "current": "PAUSED"}


async def test_a_lost_create_is_reconciled_not_repeated(make_guard, sandbox, audit):
    guard = make_guard(gate=FixedGate("pass"))
    guard.platforms.google_ads.timeout_s = 0.05
    # Every write is applied, then its answer is lost.
    sandbox.set_faults(
        {"google_ads": {"timeout_rate": 1.0, "timeout_ms": 60_000, "timeout_kind": "after", "on": "writes"}}
    )
    first = await guard.call("creative", "create_responsive_search_ad", RSA, proposal_id="ad-1")
    assert first.error.type == "outcome_unknown"
    assert len(new_ads(sandbox)) == 1  # it did land
    assert sandbox.faults["google_ads"].requests == 1  # and was not blindly retried
    second = await guard.call("creative", "create_responsive_search_ad", RSA, proposal_id="ad-1")
    assert second.ok and second.replayed and second.data["ad_id"] == new_ads(sandbox)[0].split("~")[1]
    assert sandbox.faults["google_ads"].requests == 1  # reconciled from a read, no second create
    third = await guard.call("creative", "create_responsive_search_ad", RSA, proposal_id="ad-1")
    assert third.replayed and len(new_ads(sandbox)) == 1
    assert [r.status for r in audit.records(kind="result")] == ["unknown", "ok"]


async def test_a_lost_create_removed_since_is_found_in_the_change_history_not_repeated(make_guard, sandbox, audit):
    """The ad landed, its answer was lost, and a person removed it before the retry: it is no longer
    in the ad list, but the account's change history (change_event) shows the create."""
    guard = make_guard(gate=FixedGate("pass"))
    guard.platforms.google_ads.timeout_s = 0.05
    sandbox.set_faults(
        {"google_ads": {"timeout_rate": 1.0, "timeout_ms": 60_000, "timeout_kind": "after", "on": "writes"}}
    )
    first = await guard.call("creative", "create_responsive_search_ad", RSA, proposal_id="ad-1")
    assert first.error.type == "outcome_unknown"
    [landed] = new_ads(sandbox)
    sandbox.set_faults({})
    ad = sandbox.world.customer(DE).ad_group_ads[landed]
    sandbox.world.customer(DE).ad_group_ads[landed] = ad.model_copy(update={"status": "REMOVED"})
    assert all(a.ad_id != landed.split("~")[1] for a in await guard.platforms.google_ads.ads(DE, "2101"))
    second = await guard.call("creative", "create_responsive_search_ad", RSA, proposal_id="ad-1")
    assert second.ok and second.replayed and second.data["ad_id"] == landed.split("~")[1]
    assert new_ads(sandbox) == [landed]  # no second ad


async def test_creates_are_not_retried_after_a_server_error(make_guard, sandbox, audit):
    guard = make_guard(gate=FixedGate("pass"))
    sandbox.set_faults({"google_ads": {"error_rate": 1.0, "on": "writes"}})
    result = await guard.call("creative", "create_responsive_search_ad", RSA, proposal_id="ad-2")
    assert result.error.type == "platform_error"
    assert sandbox.faults["google_ads"].requests == 1
    assert new_ads(sandbox) == []
    assert [r.status for r in audit.records(kind="result")] == ["error"]


async def test_creates_are_retried_after_a_429(make_guard, sandbox):
    guard = make_guard(gate=FixedGate("pass"))
    sandbox.set_faults({"google_ads": {"rate_limit_every": 1, "retry_delay_ms": 1, "on": "writes"}})
    result = await guard.call("creative", "create_responsive_search_ad", RSA)
    assert result.error.type == "platform_error" and result.error.rule == "quotaError.RESOURCE_TEMPORARILY_EXHAUSTED"
    assert sandbox.faults["google_ads"].requests == 6  # every attempt of the retry policy: 429 is never processed
    assert new_ads(sandbox) == []


async def test_a_set_whose_answer_was_lost_is_safely_repeated(make_guard, sandbox, audit):
    guard = make_guard()
    guard.platforms.google_ads.timeout_s = 0.05
    sandbox.set_faults(
        {"google_ads": {"timeout_rate": 1.0, "timeout_ms": 60_000, "timeout_kind": "after", "on": "writes"}}
    )
    args = {"customer_id": DE, "budget_id": "9001", "amount_micros": "55000000"}
    result = await guard.call("bidding", "set_campaign_budget", args, proposal_id="b-1")
    assert result.error.type == "outcome_unknown"
    assert sandbox.faults["google_ads"].requests == 6  # absolute set: retried on every timeout
    sandbox.set_faults({})
    version = sandbox.version
    again = await guard.call("bidding", "set_campaign_budget", args, proposal_id="b-1")
    # The platform shows the write landed: recorded once as the change it was, not sent again.
    assert again.ok and again.replayed and again.data == {"changed": True, "reconciled": True}
    assert sandbox.version == version  # no second write
    (landed,) = executions(audit, "set_campaign_budget")
    assert (landed.before, landed.after) == (50_000_000, 55_000_000)
    third = await guard.call("bidding", "set_campaign_budget", args, proposal_id="b-1")
    assert third.replayed and len(executions(audit, "set_campaign_budget")) == 1


async def test_under_faults_reads_succeed_and_sets_land_exactly_once(sandbox, audit):
    sandbox.set_faults({"google_ads": {"error_rate": 0.3, "rate_limit_every": 4, "retry_delay_ms": 5, "seed": 11}})
    from adpilot.policies import load_policy
    from adpilot.tools.guard import RunScope

    async with connect(Config(), sandbox=sandbox, retry=FAST_RETRY) as platforms:
        guard = Guard(platforms, load_policy(), audit, RunScope("r", "t", frozenset({DE})))
        campaigns = await guard.call("bidding", "list_campaigns", {"customer_id": DE})
        assert campaigns.ok and len(campaigns.data) == 3
        bids = [1_250_000, 1_300_000, 1_400_000, 1_350_000]
        for index, bid in enumerate(bids):
            args = {"customer_id": DE, "ad_group_id": "2101", "criterion_id": "41001", "cpc_bid_micros": bid}
            for _ in range(2):  # every proposal is sent twice, as a resumed run would
                result = await guard.call("bidding", "set_keyword_bid", args, proposal_id=f"bid-{index}")
                assert result.ok, result.error
    assert sandbox.world.customer(DE).ad_group_criteria["2101~41001"].cpc_bid_micros == "1350000"
    assert len(executions(audit, "set_keyword_bid")) == len(bids)
    fired = sandbox.faults["google_ads"].fired
    assert fired.get("error", 0) > 0 and fired.get("rate_limited", 0) > 0  # faults struck, and were retried


async def test_a_key_names_one_call_the_same_key_with_other_arguments_is_refused(guard, sandbox, audit):
    first = {"customer_id": DE, "budget_id": "9001", "amount_micros": "55000000"}
    assert (await guard.call("bidding", "set_campaign_budget", first, proposal_id="p-1")).ok
    version = sandbox.version
    other = {**first, "amount_micros": "45000000"}
    refused = await guard.call("bidding", "set_campaign_budget", other, proposal_id="p-1")
    assert refused.decision == "deny" and refused.error.rule == "idempotency.conflict"
    assert not refused.replayed and sandbox.version == version  # neither replayed nor executed
    assert sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros == "55000000"
    assert len(executions(audit, "set_campaign_budget")) == 1
