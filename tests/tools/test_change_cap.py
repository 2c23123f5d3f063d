"""The change cap (policy ``limits.changes_per_run``): executed changes one run makes per account
and to the CMS. The next is denied by the Guard (rule ``budget.changes_per_run``), counted from the
audit log, so a resumed run — or another process continuing it — does not start a fresh count."""

from __future__ import annotations

import pytest

from adpilot.agents.llm import build_provider
from adpilot.agents.run import Runner
from adpilot.compose import connect
from adpilot.config import Config
from adpilot.evals.runner import SimulatedCrash
from adpilot.policies import load_policy
from adpilot.tools.audit import AuditLog
from adpilot.tools.sandbox import Sandbox, World
from tests.conftest import AT, DE, FAST_RETRY, RSA, FixedGate

RULE = "budget.changes_per_run"


def capped(cap: int):
    policy = load_policy()
    return policy.model_copy(update={"limits": policy.limits.model_copy(update={"changes_per_run": cap})})


def ad(n: int, account: str = DE) -> dict:
    group = "2101" if account == DE else "2801"
    return {
        **RSA,
        "customer_id": account,
        "ad_group_id": group,
        "headlines": [f"Wanderschuhe Modell {n}", *RSA["headlines"][1:]],
    }


def executed(audit: AuditLog, tool: str | None = None) -> int:
    return sum(1 for r in audit.records(kind="result") if r.status == "ok" and (tool is None or r.tool == tool))


async def test_the_change_after_the_cap_is_denied_per_account_and_cms(make_guard, audit):
    guard = make_guard(gate=FixedGate("pass"), policy=capped(3))
    for n in range(3):
        assert (await guard.call("creative", "create_responsive_search_ad", ad(n), proposal_id=f"p{n}")).ok
    fourth = await guard.call("creative", "create_responsive_search_ad", ad(3), proposal_id="p3")
    assert fourth.decision == "deny" and fourth.error.rule == RULE
    assert "limits.changes_per_run: 3" in fourth.error.message
    # Other accounts and the CMS have counts of their own.
    assert (await guard.call("creative", "create_responsive_search_ad", ad(9, AT), proposal_id="at")).ok
    draft = {"title": "Neue Wanderschuhe", "content": "<p>Unsere neuen Modelle.</p>"}
    assert (await guard.call("creative", "create_draft", draft, proposal_id="cms")).ok
    assert executed(audit) == 5


async def test_a_replay_is_not_a_new_change_and_refusals_do_not_count(make_guard, audit):
    guard = make_guard(gate=FixedGate("pass"), policy=capped(2))
    bad_bid = {"customer_id": DE, "ad_group_id": "2101", "criterion_id": "41001", "cpc_bid_micros": 90_000_000}
    assert (await guard.call("bidding", "set_keyword_bid", bad_bid, proposal_id="too-high")).decision == "deny"
    assert (await guard.call("creative", "create_responsive_search_ad", ad(0), proposal_id="a")).ok
    assert (await guard.call("creative", "create_responsive_search_ad", ad(1), proposal_id="b")).ok
    replay = await guard.call("creative", "create_responsive_search_ad", ad(0), proposal_id="a")
    assert replay.ok and replay.replayed
    third = await guard.call("creative", "create_responsive_search_ad", ad(2), proposal_id="c")
    assert third.error is not None and third.error.rule == RULE


async def test_a_new_guard_for_the_same_run_keeps_the_count_and_another_run_has_its_own(make_guard, audit):
    first = make_guard(gate=FixedGate("pass"), policy=capped(2))
    for n in range(2):
        assert (await first.call("creative", "create_responsive_search_ad", ad(n), proposal_id=f"p{n}")).ok
    again = make_guard(
        gate=FixedGate("pass"), policy=capped(2)
    )  # the run continued by another process: same run, same audit log
    refused = await again.call("creative", "create_responsive_search_ad", ad(2), proposal_id="p2")
    assert refused.error is not None and refused.error.rule == RULE
    other = make_guard(gate=FixedGate("pass"), policy=capped(2), run="r2", thread="t2")
    assert (await other.call("creative", "create_responsive_search_ad", ad(3), proposal_id="p3")).ok


def sixty_ads() -> dict:
    calls = [{"name": "create_responsive_search_ad", "args": ad(n)} for n in range(60)]
    return {
        "supervisor": [{"tool_calls": [{"name": "transfer_to_creative", "args": {"task": "sixty ads"}}]}],
        "creative": [{"tool_calls": calls}],
    }


async def _sixty(tmp_path, crash_after: int | None):
    sandbox = Sandbox(World.demo(7))
    config = Config(state_dir=tmp_path / "state")
    audit = AuditLog(tmp_path / "state-audit.sqlite3")
    landed = {"n": 0}
    if crash_after is not None:
        changed = sandbox.changed

        def on_change() -> None:
            changed()
            landed["n"] += 1
            if landed["n"] == crash_after:
                raise SimulatedCrash(f"killed after change {crash_after}")

        sandbox.changed = on_change  # type: ignore[method-assign]
    async with connect(config, sandbox=sandbox, retry=FAST_RETRY) as platforms:

        def runner() -> Runner:
            return Runner(
                config, platforms=platforms, audit=audit, models=build_provider("scripted", scripts=sixty_ads())
            )

        async with runner() as first:
            try:
                result = await first.start({"kind": "chat", "text": "sixty ads"}, thread_id="sixty")
            except SimulatedCrash:
                result = None
        if result is None:
            async with runner() as second:  # a new process: new graph, new Guard
                result = await second.continue_run("sixty")
    return result, audit, sandbox, landed


@pytest.mark.parametrize("crash_after", [None, 30, 50])
async def test_one_model_turn_of_sixty_ads_executes_fifty_and_stops_the_run_with_budget(tmp_path, crash_after):
    result, audit, sandbox, landed = await _sixty(tmp_path, crash_after)
    if crash_after is not None:
        assert landed["n"] >= crash_after, "the crash never happened"
    assert result.status == "stopped" and result.report["stop_reason"] == "budget"
    assert executed(audit, "create_responsive_search_ad") == 50
    ads = [a for a in sandbox.world.customer(DE).ad_group_ads if a.startswith("2101~")]
    assert len(ads) == 3 + 50  # the group's three ads and fifty new ones, none twice
    denied = [d for d in result.report["denied"] if (d.get("error") or {}).get("rule") == RULE]
    assert len(denied) == 10
