"""A run killed at any point between decision, intent, platform write and result, then resumed,
leaves the platforms exactly as an uninterrupted run does, with every change applied once.

The kill is :class:`SimulatedCrash` (a BaseException, like the signal it stands for) raised
  - after an intent row is committed, before the request is sent (``intent``),
  - after the platform applied a write, before its answer arrives (``write``: the lost answer),
  - after the result row is committed, before the step's checkpoint (``result``).
The resumed run is driven by a new Runner over the same state directory, as a new process would.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adpilot.agents.llm import build_provider
from adpilot.agents.run import Runner
from adpilot.compose import connect
from adpilot.config import Config
from adpilot.evals.checks import without_volatile
from adpilot.evals.runner import SimulatedCrash
from adpilot.tools.audit import AuditLog, canonical
from adpilot.tools.sandbox import Sandbox, World
from tests.conftest import AT, DE, FAST_RETRY

TRIGGER = {"kind": "maintenance", "accounts": [DE, AT]}
POINTS = ("intent", "write", "result")


def _arm(point: str, count: int, sandbox: Sandbox, audit: AuditLog) -> dict[str, int]:
    """Raise SimulatedCrash at the ``count``-th occurrence of ``point``; returns the live counter."""
    seen = {"n": 0}

    def hit() -> None:
        seen["n"] += 1
        if seen["n"] == count:
            raise SimulatedCrash(f"killed at {point} {count}")

    if point == "write":
        changed = sandbox.changed

        def on_change() -> None:
            changed()
            hit()

        sandbox.changed = on_change
    else:
        append = audit.append_many

        def on_append(rows):
            seqs = append(rows)
            if any(r["kind"] == point and (point == "intent" or r.get("status") == "ok") for r in rows):
                hit()
            return seqs

        audit.append_many = on_append
    return seen


def _applied(audit: AuditLog) -> Counter:
    return Counter((r.tool, canonical(r.args)) for r in audit.records(kind="result") if r.status == "ok")


async def _maintain(tmp_path, name: str, crash: tuple[str, int] | None):
    """One maintenance run over both demo accounts; with ``crash``, killed there and resumed."""
    sandbox = Sandbox(World.demo(7))
    state_dir = tmp_path / name
    config = Config(state_dir=state_dir)
    audit = AuditLog(state_dir / "audit.sqlite3")
    fired = None
    async with connect(config, sandbox=sandbox, retry=FAST_RETRY) as platforms:

        def runner() -> Runner:
            return Runner(config, platforms=platforms, audit=audit, models=build_provider("none"))

        if crash is not None:
            fired = _arm(*crash, sandbox, audit)
        async with runner() as first:
            try:
                result = await first.start(TRIGGER, thread_id="maint-1")
            except SimulatedCrash:
                result = None
        if result is None:
            async with runner() as second:  # a new process: new graph, new Guard, empty snapshot
                result = await second.continue_run("maint-1")
    assert result.status in ("done", "waiting"), result.status
    return without_volatile(sandbox.world.dump()), audit, fired


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    import asyncio

    world, audit, _ = asyncio.run(_maintain(tmp_path_factory.mktemp("base"), "base", None))
    counts = {
        "intent": len(audit.records(kind="intent")),
        "write": sum(_applied(audit).values()),
        "result": len([r for r in audit.records(kind="result") if r.status == "ok"]),
    }
    return world, _applied(audit), counts


async def _check(tmp_path, baseline, point: str, count: int) -> None:
    world, applied, _ = baseline
    crashed_world, audit, fired = await _maintain(tmp_path, f"{point}-{count}", (point, count))
    assert fired["n"] >= count, "the kill point was never reached"
    assert crashed_world == world
    assert _applied(audit) == applied  # the same changes, each exactly once
    if point == "write":
        reconciled = [r for r in audit.records(kind="result") if (r.reason or "").startswith("reconciled")]
        assert len(reconciled) == 1  # the lost answer was recovered from the platform, not re-sent


async def test_the_baseline_changes_something(baseline):
    _, applied, counts = baseline
    assert counts["write"] >= 5 and all(n == 1 for n in applied.values())


@pytest.mark.parametrize("point", POINTS)
async def test_a_kill_at_the_first_and_last_change_is_recovered(tmp_path, baseline, point):
    for count in (1, baseline[2][point]):
        await _check(tmp_path, baseline, point, count)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_a_kill_at_any_point_is_recovered(tmp_path, baseline, data):
    point = data.draw(st.sampled_from(POINTS), label="point")
    count = data.draw(st.integers(1, baseline[2][point]), label="count")
    await _check(tmp_path, baseline, point, count)


async def test_a_crash_while_carrying_out_an_approval_is_finished_by_the_next_start(tmp_path):
    """The decision was taken, the change landed, the process died: the run must not be stranded
    "waiting" for a decision that was already made — the next start finishes it, once."""
    sandbox = Sandbox(World.demo(7))
    config = Config(state_dir=tmp_path / "state")
    audit = AuditLog(tmp_path / "state" / "audit.sqlite3")
    async with connect(config, sandbox=sandbox, retry=FAST_RETRY) as platforms:

        def runner() -> Runner:
            return Runner(config, platforms=platforms, audit=audit, models=build_provider("none"))

        async with runner() as first:
            waiting = await first.start({"kind": "maintenance", "accounts": [DE], "scope": "cms"}, thread_id="cms-1")
            assert waiting.status == "waiting"
            approved = waiting.pending[0]
            _arm("write", 1, sandbox, audit)
            with pytest.raises(SimulatedCrash):
                await first.resume("cms-1", {approved["id"]: {"decision": "approve", "approver": "lena"}})
            assert first.registry.get("cms-1").status == "running"  # not "waiting": the decision was taken
        async with runner() as second:
            finished = await second.continue_run("cms-1")
    assert finished.status in ("waiting", "done")
    assert approved["id"] not in {p["id"] for p in finished.pending}
    key = f"cms-1:{approved['id']}"
    results = [r for r in audit.records(kind="result") if r.idempotency_key == key]
    assert [r.status for r in results] == ["ok"] and results[0].reason.startswith("reconciled")


async def test_a_decision_whose_process_died_before_the_run_took_it_does_not_lock_the_approval(tmp_path):
    sandbox = Sandbox(World.demo(7))
    config = Config(state_dir=tmp_path / "state")
    audit = AuditLog(tmp_path / "state" / "audit.sqlite3")
    async with (
        connect(config, sandbox=sandbox, retry=FAST_RETRY) as platforms,
        Runner(config, platforms=platforms, audit=audit, models=build_provider("none")) as runner,
    ):
        waiting = await runner.start({"kind": "maintenance", "accounts": [DE], "scope": "cms"}, thread_id="c")
        first = waiting.pending[0]["id"]
        runner.registry.record_decision(first, "c", "approve", "lena")  # ... and lena's process died here
        result = await runner.resume("c", {first: {"decision": "reject", "approver": "tom"}})
        assert first not in {p["id"] for p in result.pending}
        assert str(runner.registry.decision(first)).startswith("rejected by tom")
    assert [r.rule for r in audit.records(kind="decision") if r.rule == "approval.rejected"] == ["approval.rejected"]
