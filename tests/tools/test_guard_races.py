"""What may happen while the Guard decides: a lease wait, a stall past the lease, a person's change.

Each of these was found by trying to break the guarantees: a change that waited for an account's
lease went through although the kill switch was engaged meanwhile; a process that stalled past its
lease could send its write after another actor took over; a resumed run re-sent an unanswered write
over a change a person made since; undoing a run twice undid a later change.
"""

from __future__ import annotations

import asyncio
import dataclasses

from adpilot.leases import LeaseStore, Owner, resource_for_account
from adpilot.statedir import KillSwitch
from adpilot.tools.leasing import LeaseKeeper
from adpilot.tools.rollback import rollback_run
from tests.conftest import DE

BUDGET = {"customer_id": DE, "budget_id": "9001"}


def amount(sandbox) -> str:
    return sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros


async def test_the_kill_switch_engaged_while_a_change_waits_for_the_lease_stops_it(guard, sandbox, tmp_path):
    store = LeaseStore(tmp_path / "leases.sqlite")
    other = Owner.here("adpilot maintain")
    assert store.try_acquire([resource_for_account(DE)], other) is None
    waiting = asyncio.Event()
    try_acquire = store.try_acquire

    def observed(resources, owner):
        blocker = try_acquire(resources, owner)
        if blocker is not None:
            waiting.set()
        return blocker

    store.try_acquire = observed
    guard.leases = LeaseKeeper(store, Owner.here("adpilot tool call"), wait_s=30)
    guard.kill_switch = KillSwitch(tmp_path)
    call = asyncio.create_task(guard.call("bidding", "set_campaign_budget", {**BUDGET, "amount_micros": "51000000"}))
    await waiting.wait()  # the call is queued behind the other actor
    guard.kill_switch.engage("incident", by="lena")
    store.release(other)
    result = await call
    assert result.decision == "deny" and result.error.rule == "kill_switch"
    assert amount(sandbox) == "50000000"


async def test_a_lease_lost_while_deciding_sends_nothing(guard, sandbox, audit, tmp_path):
    now = [1000.0]
    store = LeaseStore(tmp_path / "leases.sqlite", ttl_s=30, clock=lambda: now[0])
    guard.leases = LeaseKeeper(store, Owner.here("adpilot maintain"))
    spec = guard.tools["set_campaign_budget"]
    assess = spec.assess

    async def stalling(ctx, args):  # the process stalls past its lease; another actor takes over
        found = await assess(ctx, args)
        now[0] += 31
        assert store.try_acquire([resource_for_account(DE)], Owner.here("adpilot tool call")) is None
        return found

    guard.tools = {**guard.tools, "set_campaign_budget": dataclasses.replace(spec, assess=stalling)}
    result = await guard.call("bidding", "set_campaign_budget", {**BUDGET, "amount_micros": "55000000"})
    assert result.decision == "deny" and result.error.rule == "lease.lost"
    assert amount(sandbox) == "50000000" and audit.records(kind="intent") == []


async def test_an_unanswered_write_is_not_sent_again_over_a_change_made_since(make_guard, sandbox, audit):
    guard = make_guard()
    guard.platforms.google_ads.timeout_s = 0.05
    sandbox.set_faults(
        {"google_ads": {"timeout_rate": 1.0, "timeout_ms": 60_000, "timeout_kind": "after", "on": "writes"}}
    )
    args = {**BUDGET, "amount_micros": "55000000"}
    assert (await guard.call("bidding", "set_campaign_budget", args, proposal_id="b-1")).error.type == (
        "outcome_unknown"
    )
    sandbox.set_faults({})
    person = make_guard(thread="t-person", run="person")
    assert (await person.call("bidding", "set_campaign_budget", {**BUDGET, "amount_micros": "60000000"})).ok
    again = await make_guard().call("bidding", "set_campaign_budget", args, proposal_id="b-1")
    assert again.decision == "deny" and again.error.rule == "reconcile.conflict"
    assert amount(sandbox) == "60000000"  # the person's change stands
    last = [r for r in audit.records(kind="result") if r.idempotency_key == "t1:b-1"][-1]
    assert last.status == "error"  # the unanswered intent is closed, with the reason


async def test_undoing_a_run_twice_never_undoes_a_later_change(make_guard, sandbox):
    args = {**BUDGET, "amount_micros": "55000000"}
    assert (await make_guard(run="run-r", thread="run-r").call("bidding", "set_campaign_budget", args)).ok
    first = await rollback_run(make_guard(run="rollback-run-r", thread="rollback-run-r"), "run-r", approver="ops")
    assert [s.outcome for s in first] == ["undone"] and amount(sandbox) == "50000000"
    assert (await make_guard(run="run-s", thread="run-s").call("bidding", "set_campaign_budget", args)).ok
    second = await rollback_run(make_guard(run="rollback-run-r", thread="rollback-run-r"), "run-r", approver="ops")
    assert [s.outcome for s in second] == ["already_undone"]
    assert amount(sandbox) == "55000000"  # run S's change stands


async def test_a_lease_taken_again_after_it_lapsed_counts_as_new(tmp_path):
    """The Guard drops what it read before whenever ensure says the lease is newly held."""
    now = [1000.0]
    store = LeaseStore(tmp_path / "leases.sqlite", ttl_s=30, clock=lambda: now[0])
    keeper = LeaseKeeper(store, Owner.here("adpilot maintain"))
    account = resource_for_account(DE)
    assert await keeper.ensure(account) is True
    assert await keeper.ensure(account) is False  # still ours: the snapshot stays valid
    now[0] += 31  # it lapsed (someone may have changed the account meanwhile)
    assert await keeper.ensure(account) is True
