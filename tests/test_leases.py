"""Leases: one actor per resource across processes, all-or-nothing, expiry, dead holders, waiting.

Expiry is driven by an injected clock, never by sleeping; the race test uses real processes
because the guarantee is about processes, not threads.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.errors import AdpilotError, BusyError
from adpilot.leases import (
    CMS,
    Heartbeat,
    Lease,
    LeaseStore,
    Owner,
    describe_resource,
    resource_for_account,
)

TTL = 30.0
DE = resource_for_account("1112223333")
AT = resource_for_account("4445556666")


class FakeClock:
    """Unix seconds that move only when a test says so."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "leases.sqlite3"


@pytest.fixture
def store(path: Path, clock: FakeClock) -> Iterator[LeaseStore]:
    with LeaseStore(path, ttl_s=TTL, clock=clock) as opened:
        yield opened


@pytest.fixture
def other(path: Path, clock: FakeClock, store: LeaseStore) -> Iterator[LeaseStore]:
    """A second connection to the same file, as another process would open it."""
    with LeaseStore(path, ttl_s=TTL, clock=clock) as opened:
        yield opened


def holder_id(store: LeaseStore, resource: str) -> str | None:
    lease = store.holder(resource)
    return lease.owner_id if lease else None


# --- names ----------------------------------------------------------------------------------


def test_resources_are_named_for_people() -> None:
    assert DE == "google_ads:1112223333"
    assert resource_for_account("111-222-3333") == DE  # one account can never hold two leases
    assert describe_resource(DE) == "account 1112223333"
    assert describe_resource(CMS) == "the website (CMS)"
    assert describe_resource("other") == "resource other"


def test_owner_here_describes_this_process() -> None:
    owner = Owner.here("adpilot maintain")
    assert (owner.label, owner.host, owner.pid) == ("adpilot maintain", socket.gethostname(), os.getpid())
    assert owner.id.startswith(f"adpilot maintain/{socket.gethostname()}/{os.getpid()}/")


# --- 1. two processes never both win --------------------------------------------------------


def _racer(path: str, rounds: int, barrier: Any, go_at: Any, results: Any, done: Any) -> None:
    """One process: per round, wait for all racers, then try the round's resource once.

    A barrier alone releases its parties one after another; spinning to a shared instant on the
    system-wide monotonic clock makes the attempts overlap, so a non-atomic check-then-write
    would let two racers win.
    """
    try:
        with LeaseStore(path) as store:
            for round_ in range(rounds):
                owner = Owner.here("racer")
                if barrier.wait(timeout=60) == 0:
                    go_at.value = time.monotonic() + 0.05
                barrier.wait(timeout=60)
                time.sleep(max(go_at.value - time.monotonic() - 0.005, 0))  # spin only the last 5 ms
                while time.monotonic() < go_at.value:
                    pass
                blocker = store.try_acquire([f"race:{round_}"], owner)
                results.put((round_, owner.id, blocker.owner_id if blocker else None))
            done.wait(timeout=60)  # stay alive: a dead racer's lease would count as free
    except BaseException as exc:
        results.put((-1, "", repr(exc)))
        barrier.abort()  # the others fail at once instead of waiting out the timeout
        raise


def test_racing_processes_exactly_one_wins_each_round(tmp_path: Path) -> None:
    n, rounds = 8, 10
    file = str(tmp_path / "leases.sqlite3")  # created by the racers themselves, concurrently
    ctx = multiprocessing.get_context("spawn")
    barrier, go_at, results, done = ctx.Barrier(n), ctx.Value("d", 0.0), ctx.Queue(), ctx.Event()
    racers = [ctx.Process(target=_racer, args=(file, rounds, barrier, go_at, results, done)) for _ in range(n)]
    for racer in racers:
        racer.start()
    try:
        outcomes: list[tuple[int, str, str | None]] = []
        while len(outcomes) < n * rounds:
            outcome = results.get(timeout=60)
            assert outcome[0] >= 0, f"a racer failed: {outcome[2]}"
            outcomes.append(outcome)
        winners = [
            [owner_id for r, owner_id, blocker in outcomes if r == round_ and blocker is None]
            for round_ in range(rounds)
        ]
        assert [len(won) for won in winners] == [1] * rounds, "winners per round"
        with LeaseStore(file) as store:
            for round_, (winner,) in enumerate(winners):
                losers_saw = {blocker for r, _, blocker in outcomes if r == round_ and blocker is not None}
                assert losers_saw == {winner}  # every loser was refused because of the winner
                assert holder_id(store, f"race:{round_}") == winner
    finally:
        done.set()
        for racer in racers:
            racer.join(timeout=30)
            if racer.is_alive():
                racer.terminate()
    assert all(racer.exitcode == 0 for racer in racers)
    with LeaseStore(file) as store:  # the racers have exited: their leases are free at once
        assert all(store.holder(f"race:{round_}") is None for round_ in range(rounds))


# --- 2./3. all-or-nothing, re-entrant, owners are instances ---------------------------------


def test_all_or_nothing(store: LeaseStore, other: LeaseStore) -> None:
    a, b = Owner.here("a"), Owner.here("b")
    assert store.try_acquire([AT], a) is None
    for order in ([DE, AT], [AT, DE]):
        blocker = other.try_acquire(order, b)
        assert blocker is not None
        assert (blocker.resource, blocker.owner_id) == (AT, a.id)
        assert store.holder(DE) is None  # the free one was not taken either
        assert other.held_by(b) == []
    assert store.held_by(a) == [AT]


def test_reentrant_for_the_same_owner_refreshes(store: LeaseStore, clock: FakeClock) -> None:
    a = Owner.here("adpilot maintain")
    assert store.try_acquire([DE], a) is None
    first = store.holder(DE)
    clock.advance(20)
    assert store.try_acquire([DE, CMS, DE], a) is None  # duplicates are harmless
    again = store.holder(DE)
    assert first is not None and again is not None
    assert again.acquired == first.acquired
    assert (again.heartbeat, again.expires) == (clock.now, clock.now + TTL)
    assert store.held_by(a) == sorted([CMS, DE])


def test_same_label_is_a_different_owner(store: LeaseStore) -> None:
    first, second = Owner.here("adpilot maintain"), Owner.here("adpilot maintain")
    assert first.id != second.id
    assert store.try_acquire([DE], first) is None
    blocker = store.try_acquire([DE], second)
    assert blocker is not None and blocker.owner_id == first.id
    assert not store.holds(second, DE)


def test_a_bare_string_is_refused(store: LeaseStore) -> None:
    with pytest.raises(TypeError, match="list of resources"):
        store.try_acquire(CMS, Owner.here("a"))


# --- 4. expiry ------------------------------------------------------------------------------


def test_expired_lease_is_taken_and_the_old_owner_learns_it_lost(
    store: LeaseStore, other: LeaseStore, clock: FakeClock
) -> None:
    a, b = Owner.here("a"), Owner.here("b")
    assert store.try_acquire([DE, CMS], a) is None
    clock.advance(TTL - 0.001)
    assert other.try_acquire([DE], b) is not None  # not yet expired
    clock.advance(0.001)
    assert store.holder(DE) is None
    assert other.try_acquire([DE], b) is None
    assert store.renew(a) == [DE]  # CMS was expired but nobody took it: renewed, not lost
    assert not store.holds(a, DE)
    assert store.holds(a, CMS)
    assert other.holds(b, DE)
    store.release(a, [DE])  # releasing what it lost must not free the new holder's lease
    assert holder_id(store, DE) == b.id


def test_released_resources_are_no_longer_reported_lost(store: LeaseStore, clock: FakeClock) -> None:
    a, b = Owner.here("a"), Owner.here("b")
    store.acquire([DE, AT], a)
    clock.advance(TTL)
    store.acquire([DE], b)
    assert store.renew(a) == [DE]
    store.release(a, [DE])
    assert store.renew(a) == []
    assert store.held_by(a) == [AT]
    store.release(a)
    assert store.held_by(a) == []
    assert holder_id(store, DE) == b.id


# --- 5. dead holders on this host -----------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_lease_of_a_dead_process_on_this_host_is_free_at_once(store: LeaseStore) -> None:
    ghost = Owner(id="crashed", label="adpilot maintain", host=socket.gethostname(), pid=_dead_pid())
    assert store.try_acquire([DE], ghost) is None
    assert store.holder(DE) is None
    b = Owner.here("b")
    assert store.try_acquire([DE], b) is None  # no clock advance needed
    assert holder_id(store, DE) == b.id


def test_dead_pid_on_another_host_waits_for_expiry(store: LeaseStore, clock: FakeClock) -> None:
    remote = Owner(id="remote", label="adpilot maintain", host=f"not-{socket.gethostname()}", pid=_dead_pid())
    assert store.try_acquire([DE], remote) is None
    b = Owner.here("b")
    assert store.try_acquire([DE], b) is not None
    clock.advance(TTL)
    assert store.try_acquire([DE], b) is None


def test_process_of_another_user_counts_as_alive(store: LeaseStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def kill(pid: int, signal: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "kill", kill)
    theirs = Owner(id="theirs", label="adpilot maintain", host=socket.gethostname(), pid=1234567)
    assert store.try_acquire([DE], theirs) is None
    assert holder_id(store, DE) == "theirs"
    assert store.try_acquire([DE], Owner.here("b")) is not None


# --- 6./7. refusing and waiting -------------------------------------------------------------


def test_busy_error_names_resource_holder_and_remedy(path: Path) -> None:
    since = dt.datetime(2025, 1, 2, 19, 2, 11, tzinfo=dt.UTC).timestamp()
    with LeaseStore(path, clock=lambda: since) as store:
        holder = Owner(id="maintain-1", label="adpilot maintain", host="host-a", pid=4242)
        store.acquire([DE], holder)
        me = Owner.here("adpilot tool call")
        with pytest.raises(BusyError) as caught:
            store.acquire([CMS, DE], me, wait_s=0, what="pause ad 2101~31001")
        assert str(caught.value) == (
            "cannot pause ad 2101~31001: account 1112223333 is in use by adpilot maintain "
            "(pid 4242 on host-a, since 19:02:11 UTC); try again when it has finished "
            "(guard.lease_wait_s sets how long commands wait)"
        )
        assert caught.value.exit_code == 5
        assert isinstance(caught.value, AdpilotError)
        assert store.holder(CMS) is None


class CountingStore:
    """Wraps ``store.try_acquire`` to count blocked attempts and signal the first one."""

    def __init__(self, store: LeaseStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.blocked = 0
        self.first_blocked = threading.Event()
        self._try = store.try_acquire
        monkeypatch.setattr(store, "try_acquire", self.try_acquire)

    def try_acquire(self, resources: Iterable[str], owner: Owner) -> Lease | None:
        blocker = self._try(resources, owner)
        if blocker is not None:
            self.blocked += 1
            self.first_blocked.set()
        return blocker


def test_acquire_waits_until_the_holder_releases(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with LeaseStore(path) as mine, LeaseStore(path) as theirs:
        holder, me = Owner.here("adpilot maintain"), Owner.here("approval by lena")
        theirs.acquire([DE], holder)
        counting = CountingStore(mine, monkeypatch)

        def release_after_first_refusal() -> None:
            if counting.first_blocked.wait(timeout=30):
                theirs.release(holder)

        releaser = threading.Thread(target=release_after_first_refusal)
        releaser.start()
        mine.acquire([DE], me, wait_s=30)
        releaser.join()
        assert counting.blocked >= 1
        assert mine.holds(me, DE)


def test_acquire_gives_up_after_wait_s(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with LeaseStore(path) as store:
        store.acquire([DE], Owner.here("adpilot maintain"))
        counting = CountingStore(store, monkeypatch)
        started = time.monotonic()
        with pytest.raises(BusyError, match=r"in use by adpilot maintain .*\(waited 0.2 s\)"):
            store.acquire([DE], Owner.here("b"), wait_s=0.2)
        assert time.monotonic() - started >= 0.2
        assert counting.blocked >= 2  # it polled again before giving up


# --- 8. heartbeat ---------------------------------------------------------------------------


class Beats:
    """Stands in for ``asyncio.sleep`` in a Heartbeat: each interval passes only when the test says.

    :meth:`next` moves the clock while the heartbeat sleeps, wakes it, and returns once it has
    renewed and gone back to sleep, so the test never waits on wall time.
    """

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self._asleep: asyncio.Queue[float] = asyncio.Queue()
        self._wake: asyncio.Queue[None] = asyncio.Queue()
        self._pending: float | None = None

    async def sleep(self, seconds: float) -> None:
        await self._asleep.put(seconds)
        await self._wake.get()

    async def asleep(self) -> float:
        if self._pending is None:
            async with asyncio.timeout(10):
                self._pending = await self._asleep.get()
        return self._pending

    async def next(self) -> None:
        self.clock.advance(await self.asleep())
        self._pending = None
        self._wake.put_nowait(None)
        await self.asleep()


async def test_heartbeat_keeps_leases_past_the_ttl_and_releases_on_exit(store: LeaseStore, clock: FakeClock) -> None:
    a, idle, b = Owner.here("adpilot maintain"), Owner.here("idle"), Owner.here("b")
    store.acquire([DE, CMS], a)
    store.acquire([AT], idle)  # the control: same age, no heartbeat
    beats = Beats(clock)
    started = clock.now
    async with Heartbeat(store, a, interval_s=10, sleep=beats.sleep) as heartbeat:
        for _ in range(6):
            await beats.next()
        assert clock.now - started == 60 > TTL
        assert store.holds(a, DE) and store.holds(a, CMS)
        assert not store.holds(idle, AT)
        assert store.try_acquire([DE], b) is not None
        assert heartbeat.lost == set()
    assert store.held_by(a) == []
    assert store.holder(DE) is None and store.holder(CMS) is None


async def test_heartbeat_reports_a_lease_lost_after_a_stall(store: LeaseStore, clock: FakeClock) -> None:
    a, b = Owner.here("adpilot maintain"), Owner.here("b")
    store.acquire([DE, CMS], a)
    beats = Beats(clock)
    async with Heartbeat(store, a, interval_s=10, sleep=beats.sleep) as heartbeat:
        await beats.asleep()
        clock.advance(TTL)  # the process stalled; the lease expired
        store.acquire([DE], b)
        await beats.next()
        assert heartbeat.lost == {DE}
        assert not store.holds(a, DE)
        assert store.holds(a, CMS)
    assert holder_id(store, DE) == b.id  # leaving released only a's own leases
    assert store.holder(CMS) is None


async def test_heartbeat_releases_when_the_block_fails(store: LeaseStore, clock: FakeClock) -> None:
    a = Owner.here("adpilot maintain")
    store.acquire([DE], a)

    async def fail_while_holding() -> None:
        async with Heartbeat(store, a, sleep=Beats(clock).sleep):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_while_holding()
    assert store.holder(DE) is None


def test_heartbeat_interval_defaults_to_a_third_of_the_ttl(store: LeaseStore) -> None:
    assert Heartbeat(store, Owner.here("a")).interval_s == TTL / 3


# --- 9. property: at most one live holder, and try_acquire succeeds iff it should -----------

RESOURCES = [DE, AT, CMS]
OWNERS = 3

Op = tuple[str, int, Any]
ops = st.one_of(
    st.tuples(st.just("acquire"), st.integers(0, OWNERS - 1), st.lists(st.sampled_from(RESOURCES), min_size=1)),
    st.tuples(
        st.just("release"), st.integers(0, OWNERS - 1), st.none() | st.lists(st.sampled_from(RESOURCES), max_size=3)
    ),
    st.tuples(st.just("renew"), st.integers(0, OWNERS - 1), st.none()),
    st.tuples(st.just("advance"), st.just(0), st.sampled_from([1.0, 10.0, TTL - 0.5, TTL, 45.0])),
)


class Model:
    """What the lease table should hold: resource → (owner index, expires)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.rows: dict[str, tuple[int, float]] = {}
        self.taken: dict[int, set[str]] = {o: set() for o in range(OWNERS)}

    def live_owner(self, resource: str) -> int | None:
        row = self.rows.get(resource)
        return row[0] if row is not None and self.clock.now < row[1] else None

    def blockers(self, owner: int, wanted: list[str]) -> list[str]:
        return [r for r in wanted if self.live_owner(r) not in (None, owner)]

    def take(self, owner: int, wanted: list[str]) -> None:
        for resource in wanted:
            self.rows[resource] = (owner, self.clock.now + TTL)
        self.taken[owner].update(wanted)

    def release(self, owner: int, wanted: list[str] | None) -> None:
        for resource in RESOURCES if wanted is None else wanted:
            if self.rows.get(resource, (None,))[0] == owner:
                del self.rows[resource]
        self.taken[owner] = set() if wanted is None else self.taken[owner] - set(wanted)

    def renew(self, owner: int) -> list[str]:
        mine = {r for r, (o, _) in self.rows.items() if o == owner}
        for resource in mine:
            self.rows[resource] = (owner, self.clock.now + TTL)
        return sorted(self.taken[owner] - mine)


def _apply(op: Op, store: LeaseStore, owners: list[Owner], model: Model) -> None:
    kind, who, arg = op
    if kind == "acquire":
        expected = model.blockers(who, list(dict.fromkeys(arg)))
        blocker = store.try_acquire(arg, owners[who])
        if expected:
            assert blocker is not None
            blocking_owner = model.live_owner(expected[0])
            assert blocking_owner is not None
            assert (blocker.resource, blocker.owner_id) == (expected[0], owners[blocking_owner].id)
        else:
            assert blocker is None
            model.take(who, arg)
    elif kind == "release":
        store.release(owners[who], arg)
        model.release(who, arg)
    elif kind == "renew":
        assert store.renew(owners[who]) == model.renew(who)
    else:
        model.clock.advance(arg)


def _check(store: LeaseStore, reader: LeaseStore, owners: list[Owner], model: Model) -> None:
    for resource in RESOURCES:
        holding = [o for o in range(OWNERS) if reader.holds(owners[o], resource)]
        assert len(holding) <= 1
        expected = model.live_owner(resource)
        assert holding == ([] if expected is None else [expected])
        assert holder_id(reader, resource) == (None if expected is None else owners[expected].id)
    for o in range(OWNERS):
        assert store.held_by(owners[o]) == sorted(r for r in RESOURCES if model.live_owner(r) == o)


@given(st.lists(ops, max_size=30))
def test_property_one_live_holder_and_acquire_iff_free(sequence: list[Op]) -> None:
    clock = FakeClock()
    owners = [Owner.here(f"owner {o}") for o in range(OWNERS)]
    model = Model(clock)
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "leases.sqlite3"
        with LeaseStore(file, ttl_s=TTL, clock=clock) as store, LeaseStore(file, ttl_s=TTL, clock=clock) as reader:
            for op in sequence:
                _apply(op, store, owners, model)
                _check(store, reader, owners, model)
