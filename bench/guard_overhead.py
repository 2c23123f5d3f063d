"""Guard overhead: the cost of governing a call, against the raw client call, in one run.

    .venv/bin/python bench/guard_overhead.py [--calls N] [--latency-ms MS ...]

Prints, per injected API latency: the raw client call (a keyword bid set), the same call made
by an ungoverned script that reads the current bid first, and the governed call through the
Guard as a run makes it (agents/run.py, agents/nodes/execute.py): the Guard from build_guard
(policy pack, kill-switch file in the state directory) with a LeaseKeeper under a heartbeat,
and a planned proposal id per call as its idempotency key. A governed call therefore pays
argument validation, scopes and account, the kill-switch check, the key's audit history (one
indexed query), the account lease (taken by the warm-up call, only checked afterwards), the
bid rule against the account snapshot and the rolling window, decision+intent and result rows
in a WAL SQLite audit log, and the write. Plus the decision alone without I/O. Ratios are
against the raw call measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import resource
import statistics
import tempfile
import time
from pathlib import Path

from adpilot.compose import build_guard, connect
from adpilot.compose.deployment import open_audit_log
from adpilot.config import Config
from adpilot.leases import Heartbeat, LeaseStore, Owner, resource_for_account
from adpilot.policies import covers, load_policy
from adpilot.policies.model import Policy
from adpilot.policies.rules import bid_change
from adpilot.statedir import StateDir
from adpilot.tools.catalogue import SetKeywordBid
from adpilot.tools.guard import RunScope
from adpilot.tools.leasing import LeaseKeeper
from adpilot.tools.sandbox import Sandbox

DE = "1112223333"
BIDS = (1_200_000, 1_300_000, 1_250_000, 1_150_000)


def _per_call_us(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples) * 1e6, statistics.quantiles(samples, n=20)[18] * 1e6


async def _timed(calls: int, action) -> list[float]:
    samples = []
    for index in range(calls):
        start = time.perf_counter()
        await action(index)
        samples.append(time.perf_counter() - start)
    return samples


Timings = dict[str, tuple[float, float]]


async def measure(calls: int, latency_ms: int, state: Path) -> tuple[Timings, Timings]:
    sandbox = Sandbox(seed=7)
    sandbox.set_faults({"google_ads": {"latency_ms": latency_ms}})
    config = Config(state_dir=state / f"state-{latency_ms}", accounts=[DE])
    paths = StateDir(config.state_dir)
    config.state_dir.mkdir(parents=True)
    async with connect(config, sandbox=sandbox) as platforms:
        ads = platforms.google_ads
        ads.limiter.rate = ads.limiter.burst = 1e9  # measure the call, not the rate limit
        audit = open_audit_log(config)  # keyed and anchored, as every command opens it
        # As Runner._app builds it: build_guard (policy pack, kill switch), then the run's keeper.
        # One bench "run" makes thousands of changes: the policy's per-run change cap is lifted.
        data = load_policy().model_dump(mode="json", by_alias=True)
        data["limits"]["changes_per_run"] = 10 * calls + 10
        guard = build_guard(
            config, platforms, audit, RunScope("bench", "bench", frozenset({DE})), policy=Policy.model_validate(data)
        )
        assert guard.kill_switch is not None and not guard.kill_switch.engaged
        leases = LeaseStore(paths.leases, ttl_s=config.guard.lease_ttl_s)
        keeper = LeaseKeeper(leases, Owner.here("bench (run bench)"), wait_s=config.guard.lease_wait_s)
        guard.leases = keeper
        proposals = itertools.count()  # a new planned call each time, as the execute node sends them

        async def raw(i: int) -> None:
            await ads.set_keyword_bid(DE, "2101", "41001", BIDS[i % len(BIDS)])

        async def read_then_write(i: int) -> None:
            await ads.keyword(DE, "2101", "41001")
            await ads.set_keyword_bid(DE, "2101", "41001", BIDS[i % len(BIDS)])

        async def governed(i: int) -> None:
            args = {
                "customer_id": DE,
                "ad_group_id": "2101",
                "criterion_id": "41001",
                "cpc_bid_micros": BIDS[i % len(BIDS)],
            }
            proposal = f"bid-{DE}:{next(proposals)}"
            result = await guard.call("bidding", "set_keyword_bid", args, proposal_id=proposal)
            assert result.ok and not result.replayed, result.error

        # The checks every mutation now makes before its decision, each alone (the lease is held).
        async def kill_switch(i: int) -> None:
            assert guard.kill_switch is not None and guard.kill_switch.message() is None

        async def key_history(i: int) -> None:
            assert audit.key_history(f"bench:bid-{DE}:new-{i}").call_hash is None  # a new proposal's key

        async def lease_held(i: int) -> None:
            assert not await keeper.ensure(resource_for_account(DE))

        results, checks = {}, {}
        async with Heartbeat(leases, keeper.owner):  # as Runner._holding: renewed while the run is driven
            await raw(0), await governed(1)  # warm up caches and imports; the first mutation takes the lease
            assert leases.holds(keeper.owner, resource_for_account(DE))
            for name, action in (("raw", raw), ("read+write", read_then_write), ("governed", governed)):
                results[name] = _per_call_us(await _timed(calls, action))
            for name, action in (("kill switch", kill_switch), ("key history", key_history), ("lease", lease_held)):
                checks[name] = _per_call_us(await _timed(calls, action))
        leases.close()
        audit.close()
        return results, checks


def decision_only(calls: int) -> tuple[float, float]:
    policy = load_policy()
    scopes = policy.scopes("bidding")
    raw = {"customer_id": DE, "ad_group_id": "2101", "criterion_id": "41001", "cpc_bid_micros": "1300000"}
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        args = SetKeywordBid.model_validate(raw)
        assert covers(scopes, "ads:write:bids") and policy.allows_account(args.customer_id)
        bid_change(policy.limits, "EUR", 1_200_000, args.cpc_bid_micros, low=1_100_000, high=1_300_000)
        samples.append(time.perf_counter() - start)
    return _per_call_us(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--latency-ms", type=int, nargs="*", default=[0, 20])
    options = parser.parse_args()
    median, p95 = decision_only(options.calls * 10)
    print(f"decision without I/O (validate args, scopes, account, bid rule): p50 {median:.1f} µs, p95 {p95:.1f} µs")
    print()
    print(f"{'latency':>8}  {'call':<11} {'p50 µs':>9} {'p95 µs':>9} {'× raw':>7}")
    checks: Timings = {}
    with tempfile.TemporaryDirectory() as tmp:
        for latency in options.latency_ms:
            calls = options.calls if latency == 0 else max(20, options.calls // 10)
            results, measured = asyncio.run(measure(calls, latency, Path(tmp)))
            checks = checks or measured  # no platform call in them: the first latency's (most calls) is shown
            base = results["raw"][0]
            for name, (p50, p95) in results.items():
                print(f"{latency:>6}ms  {name:<11} {p50:>9.0f} {p95:>9.0f} {p50 / base:>7.2f}")
    print()
    each = ", ".join(f"{name} p50 {p50:.1f} µs (p95 {p95:.1f})" for name, (p50, p95) in checks.items())
    print(f"per-mutation checks of a governed call, each alone: {each}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
