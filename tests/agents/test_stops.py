"""Stop conditions, dry runs, crashes and resumes."""

import pytest

from adpilot.agents.stop import Limits
from tests.agents.conftest import results
from tests.conftest import DE


async def test_dry_run_changes_nothing_and_reports_what_it_would_do(make_runner, sandbox):
    before = sandbox.world.dump()
    async with make_runner() as runner:
        result = await runner.start({"kind": "maintenance"}, dry_run=True)
    assert sandbox.world.dump() == before
    assert result.report["dry_run"] and not result.report["applied"]


async def test_a_spend_anomaly_stops_the_run_before_any_change(make_runner, sandbox, audit):
    stats = sandbox.world.customer(DE).stats["2026-10-31"]
    for stat in stats.values():
        stat.cost_micros *= 20
    async with make_runner() as runner:
        result = await runner.start({"kind": "maintenance"})
    assert result.status == "stopped" and result.report["stop_reason"] == "anomaly"
    assert result.report["anomalies"][0]["account"] == DE
    assert results(audit) == []


async def test_the_kill_switch_stops_a_run_before_it_starts(make_runner, audit):
    async with make_runner() as runner:
        runner.kill_switch.engage("testing")
        result = await runner.start({"kind": "maintenance"})
    assert result.report["stop_reason"] == "kill_switch" and results(audit) == []


async def test_the_kill_switch_mid_run_stops_every_further_change(make_runner, audit):
    async with make_runner() as runner:
        partial = await runner.start({"kind": "maintenance"}, max_steps_this_call=4)
        assert partial.status == "interrupted"
        changes_before = len(results(audit))
        assert changes_before > 0
        runner.kill_switch.engage("operator pressed stop")
        stopped = await runner.continue_run(partial.thread_id)
    assert stopped.status == "stopped" and stopped.report["stop_reason"] == "kill_switch"
    assert len(results(audit)) == changes_before


async def test_a_crash_between_steps_then_resume_applies_nothing_twice(make_runner, sandbox, audit, world):
    from adpilot.compose import connect
    from adpilot.config import Config
    from adpilot.tools.audit import AuditLog
    from adpilot.tools.sandbox import Sandbox
    from tests.conftest import FAST_RETRY

    async with make_runner() as runner:
        crashed = await runner.start({"kind": "maintenance"}, max_steps_this_call=5)
        assert crashed.status == "interrupted"
        resumed = await runner.continue_run(crashed.thread_id)
    assert resumed.status == "waiting"
    keys = [r.idempotency_key for r in results(audit)]
    assert len(keys) == len(set(keys))  # each change executed once

    reference = Sandbox(world)
    async with connect(Config(), sandbox=reference, retry=FAST_RETRY) as platforms:
        from adpilot.agents.llm import build_provider
        from adpilot.agents.run import Runner

        other = Runner(
            Config(state_dir=runner.config.state_dir.parent / "other"),
            platforms=platforms,
            audit=AuditLog(":memory:"),
            models=build_provider("none"),
        )
        async with other:
            await other.start({"kind": "maintenance"})
    ignore = ("stats",)
    assert _without(sandbox.world.dump(), ignore) == _without(reference.world.dump(), ignore)


def _without(dump, keys):
    for customer in dump["google_ads"]["customers"].values():
        for key in keys:
            customer.pop(key, None)
    dump["google_ads"].pop("next_id", None)
    return dump


async def test_max_steps_stops_the_run(make_runner, audit):
    async with make_runner(limits=Limits(max_steps=3)) as runner:
        result = await runner.start({"kind": "maintenance"})
    assert result.status == "stopped" and result.report["stop_reason"] == "max_steps"


async def test_a_run_stopped_by_the_kill_switch_keeps_its_waiting_approvals(make_runner, sandbox, audit):
    from adpilot.errors import StoppedError

    runner = make_runner()
    async with runner:
        first = await runner.start(
            {"kind": "maintenance", "accounts": [DE], "scope": "cms"}, thread_id="cms-k", max_steps_this_call=8
        )
        assert first.status == "interrupted" and first.state["pending"]  # the SEO task escalated
        runner.kill_switch.engage("incident", by="lena")
        stopped = await runner.continue_run("cms-k")
        assert stopped.status == "waiting" and stopped.report["stop_reason"] == "kill_switch"
        kept = [p["id"] for p in stopped.pending]
        assert kept == [p["id"] for p in first.state["pending"]]
        with pytest.raises(StoppedError, match="stay pending"):
            await runner.resume("cms-k", {kept[0]: {"decision": "approve", "approver": "lena"}})
        runner.kill_switch.release()
        done = await runner.resume("cms-k", {kept[0]: {"decision": "approve", "approver": "lena"}})
    assert [p["id"] for p in done.pending] == kept[1:]
    changed = [r for r in audit.records(kind="result") if r.status == "ok" and r.tool == "update_post"]
    assert len(changed) == 1  # the approved change, once; nothing else after the stop
