"""The Guard enforces the policy's patience on maintenance runs (rules patience.cooldown,
patience.person, patience.hold): the backstop behind the skills' own screen."""

import datetime as dt

import pytest

from adpilot.statedir import KillSwitch
from adpilot.tools.guard import Approval, Guard
from adpilot.tools.patience import HoldStore
from tests.conftest import DE

AUTOMATED = "maint-20261101T080000-abcd-1112223333"


def budget_args(amount, budget="9001"):
    return {"customer_id": DE, "budget_id": budget, "amount_micros": str(amount)}


def ad_args(ad_id, status, group="2101"):
    return {"customer_id": DE, "ad_group_id": group, "ad_id": ad_id, "status": status}


def amount(sandbox, budget="9001"):
    return int(sandbox.world.customer(DE).campaign_budgets[budget].amount_micros)


@pytest.fixture
def run_guard(make_guard, tmp_path):
    """A Guard for a run of this id, its kill switch (and so its holds) in ``tmp_path``."""

    def make(run: str) -> Guard:
        guard = make_guard(run=run, thread=run)
        guard.kill_switch = KillSwitch(tmp_path)
        return guard

    return make


async def test_a_second_automated_change_within_the_cooldown_is_denied_saying_until_when(run_guard, sandbox, clock):
    guard = run_guard(AUTOMATED)
    assert (await guard.call("bidding", "set_campaign_budget", budget_args(55_000_000))).decision == "allow"
    clock.advance(24)
    second = await guard.call("bidding", "set_campaign_budget", budget_args(60_000_000))
    assert second.decision == "deny" and second.error.rule == "patience.cooldown"
    assert "budget cooldown 3 days, until 2026-11-04 08:00 UTC" in second.error.message
    assert amount(sandbox) == 55_000_000
    clock.advance(48)  # three days after the first change: judged, and free to change again
    assert (await guard.call("bidding", "set_campaign_budget", budget_args(60_000_000))).decision == "allow"


async def test_the_deny_is_audited_with_its_rule_and_entity(run_guard, audit, clock):
    guard = run_guard(AUTOMATED)
    await guard.call("bidding", "set_campaign_budget", budget_args(55_000_000))
    clock.advance(1)
    second = await guard.call("bidding", "set_campaign_budget", budget_args(60_000_000))
    row = audit.get(second.audit_seq)
    assert row is not None and (row.kind, row.decision, row.rule) == ("decision", "deny", "patience.cooldown")
    assert row.entity == f"google_ads:{DE}:campaign_budget:9001" and "until 2026-11-04" in row.reason


async def test_a_persons_change_is_not_held_back_and_holds_the_entity_for_the_automation(run_guard, sandbox, clock):
    automated = run_guard(AUTOMATED)
    await automated.call("bidding", "set_campaign_budget", budget_args(55_000_000))
    clock.advance(1)
    person = await run_guard("cli-1a2b3c4d").call("bidding", "set_campaign_budget", budget_args(58_000_000))
    assert person.decision == "allow" and amount(sandbox) == 58_000_000
    clock.advance(24 * 5)  # past the budget cooldown, within the person's 14 days
    later = await automated.call("bidding", "set_campaign_budget", budget_args(60_000_000))
    assert later.decision == "deny" and later.error.rule == "patience.person"
    assert "until 2026-11-15 09:00 UTC" in later.error.message


async def test_the_compliance_pause_is_never_held_back(run_guard, sandbox, clock):
    person = await run_guard("cli-1a2b3c4d").call("creative", "set_ad_status", ad_args("31002", "PAUSED"))
    assert person.decision == "allow"
    sandbox.world.customer(DE).ad_group_ads["2101~31002"].status = "ENABLED"  # enabled again in Google Ads
    clock.advance(1)
    automated = run_guard(AUTOMATED)
    rotation = await automated.call("bidding", "set_ad_status", ad_args("31002", "PAUSED"))
    assert rotation.decision == "deny" and rotation.error.rule == "patience.person"
    sweep = await automated.call("compliance", "set_ad_status", ad_args("31002", "PAUSED"))
    assert sweep.decision == "allow"
    assert sandbox.world.customer(DE).ad_group_ads["2101~31002"].status == "PAUSED"


async def test_an_explicit_hold_denies_the_entity_and_what_its_campaign_holds(run_guard, tmp_path, clock):
    with HoldStore(tmp_path) as store:
        store.put(f"google_ads:{DE}:campaign:111", by="lena", reason="season test", now=clock())
    guard = run_guard(AUTOMATED)
    held = await guard.call("bidding", "set_campaign_budget", budget_args(55_000_000))  # 9001 is campaign 111's
    assert held.decision == "deny" and held.error.rule == "patience.hold"
    assert "campaign 111 (1112223333) is on hold by lena until released (adpilot release): season test" in (
        held.error.message
    )
    ad = await guard.call("bidding", "set_ad_status", ad_args("31001", "PAUSED"))  # ad group 2101 is 111's
    assert ad.decision == "deny" and ad.error.rule == "patience.hold"
    other = await guard.call("bidding", "set_campaign_budget", budget_args(30_000_000, budget="9002"))
    assert other.decision == "allow"


async def test_a_hold_that_ended_no_longer_denies(run_guard, tmp_path, clock):
    with HoldStore(tmp_path) as store:
        store.put("google_ads:*:campaign_budget:9001", by="lena", days=1, now=clock())
    guard = run_guard(AUTOMATED)
    held = await guard.call("bidding", "set_campaign_budget", budget_args(55_000_000))
    assert (
        held.error is not None
        and held.error.rule == "patience.hold"
        and "until 2026-11-02 08:00 UTC" in (held.error.message)
    )
    clock.now += dt.timedelta(days=1)
    assert (await guard.call("bidding", "set_campaign_budget", budget_args(55_000_000))).decision == "allow"


async def test_a_change_a_person_approved_is_not_held_back(run_guard, sandbox, clock):
    guard = run_guard(AUTOMATED)
    await guard.call("bidding", "set_campaign_budget", budget_args(55_000_000))
    clock.advance(1)
    args = budget_args(52_000_000)
    other = Approval(guard.digest("set_campaign_budget", budget_args(51_000_000)) or "", "ops")
    assert (await guard.call("bidding", "set_campaign_budget", args, approval=other)).decision == "deny"
    approval = Approval(guard.digest("set_campaign_budget", args) or "", "ops")
    assert (await guard.call("bidding", "set_campaign_budget", args, approval=approval)).decision == "allow"
    assert amount(sandbox) == 52_000_000


async def test_a_rejected_change_holds_the_entity_for_the_person_hold(run_guard, clock):
    guard = run_guard(AUTOMATED)
    guard.record_rejection("bidding", "set_campaign_budget", budget_args(70_000_000), "not in November", "lena")
    clock.advance(1)
    again = await guard.call("bidding", "set_campaign_budget", budget_args(55_000_000))
    assert again.decision == "deny" and again.error.rule == "patience.person"
    assert "rejected by lena: not in November" in again.error.message
