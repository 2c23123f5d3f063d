"""The registry's side of approvals: one open approval per call hash (also under a race), expiry,
asking again, and each person counted once."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from adpilot.agents.registry import RunRegistry
from adpilot.errors import UsageError

HOURS_72 = dt.timedelta(hours=72)
NOW = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)


def ask(registry: RunRegistry, pending_id: str, thread: str, digest: str = "h1", *, now: dt.datetime = NOW):
    return registry.ask(
        pending_id, thread, digest, requester="adpilot", needed=1, expire_after=HOURS_72, detail={}, now=now
    )


@pytest.fixture
def registry(tmp_path):
    registry = RunRegistry(tmp_path / "runs.sqlite")
    yield registry
    registry.close()


def test_a_call_hash_waiting_elsewhere_is_reused_by_id_or_by_hash(registry):
    assert ask(registry, "bid.1", "t1").reused is False
    assert ask(registry, "bid.1", "t1").reused is False  # the same run asking again: itself
    assert (ask(registry, "bid.1", "t2").pending_id, ask(registry, "bid.1", "t2").reused) == ("bid.1", True)
    assert (ask(registry, "chat.9", "t3").pending_id, ask(registry, "chat.9", "t3").reused) == ("bid.1", True)
    assert ask(registry, "other", "t3", "h2").reused is False  # another call: its own approval
    assert registry.asked("chat.9") is None  # a reused item is not recorded


def test_an_expired_approval_is_asked_afresh_and_leaves_its_old_runs_list(registry):
    registry.upsert("t1", "t1", "maintenance", [], "waiting", [{"id": "bid.1"}])
    ask(registry, "bid.1", "t1")
    later = NOW + HOURS_72 + dt.timedelta(seconds=1)
    assert registry.asked("bid.1").expired(later)
    assert ask(registry, "bid.1", "t2", now=later).reused is False
    assert registry.asked("bid.1").thread_id == "t2"
    assert registry.get("t1").pending == [] and registry.get("t1").status == "done"


def test_a_decided_approval_asked_again_starts_with_nobodys_approval(registry):
    ask(registry, "bid.1", "t1")
    registry.add_approver("bid.1", "lena")
    registry.record_decision("bid.1", "t1", "approve", "lena")
    assert registry.asked("bid.1").state == "decided"
    assert ask(registry, "bid.1", "t2").reused is False
    assert registry.asked("bid.1").approvers == () and registry.asked("bid.1").state == "open"


@pytest.mark.parametrize("again", ["lena", "LENA", "  Lena "])
def test_a_person_counts_once_however_spelled(registry, again):
    ask(registry, "bid.1", "t1")
    assert registry.add_approver("bid.1", "lena") == ("lena",)
    with pytest.raises(UsageError, match="already approved"):
        registry.add_approver("bid.1", again)
    assert registry.add_approver("bid.1", "tom") == ("lena", "tom")


def test_runs_asking_the_same_call_at_once_leave_one_open_approval(tmp_path):
    path = tmp_path / "runs.sqlite"
    RunRegistry(path).close()
    start = threading.Barrier(8)
    outcomes: list[tuple[str, bool]] = []

    def one(n: int) -> None:
        registry = RunRegistry(path)
        try:
            start.wait()
            reuse = ask(registry, f"p{n}", f"t{n}")
            outcomes.append((reuse.pending_id, reuse.reused))
        finally:
            registry.close()

    threads = [threading.Thread(target=one, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    asked = [o for o in outcomes if not o[1]]
    assert len(asked) == 1, outcomes  # exactly one run asks; the others reuse it
    assert {pending for pending, _ in outcomes} == {asked[0][0]}
