"""Graceful stop with real processes and real signals.

The guarantee: SIGTERM or SIGINT to ``adpilot maintain``, ``adpilot schedule`` or the chat console
finishes the step in flight, checkpoints, releases the leases and exits 3; a second signal aborts
at once; and the next start reconciles and finishes what was left.

Every process is ``python -m adpilot.app.cli`` on the embedded sandbox, its world in the state
directory. To signal a process while a write is in flight, the interrupted process runs with a low
``google_ads.requests_per_second``: the work is the same, only slower. A maintenance pass at 4
requests a second spends a quarter of a second per Google Ads request once the burst is spent, so
each account's first "execute" step — three writes — lasts about 0.75 s after its first ``intent``
row; a chat command at 1 request a second waits about a second between its intent and its write.
The signal is sent as soon as an intent without a result is seen; the process that finishes the
work runs at the default rate. Nothing sleeps to wait for a condition: every wait polls a file or
database with a deadline.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adpilot.agents.run import Runner, RunResult
from adpilot.config import load_config
from adpilot.tools.audit import AuditLog, canonical
from adpilot.tools.sandbox import World
from tests.app.conftest import DEADLINE_S, poll_until
from tests.conftest import DE
from tests.worlds import differences, normalised

SLOW = {"google_ads": {"requests_per_second": 4}}  # a maintenance pass
SLOWER = {"google_ads": {"requests_per_second": 1}}  # a single chat command
FINISHING = "finishing the step in flight"
CONSOLE_STOPPED = "console stopped;"  # "…; a request it was working on continues when the console starts again"
BUDGET_CALL = {
    "text": "set budget 9001 to 55 EUR",
    "tool": "set_campaign_budget",
    "args": {"customer_id": DE, "budget_id": "9001", "amount_micros": 55000000},  # as audited
}
PROMPT = "adpilot> "


# --- processes ------------------------------------------------------------------------------------
def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADPILOT")}
    return {**env, "PYTHONUNBUFFERED": "1"}


def _config(directory: Path, name: str = "config.yaml", **extra: Any) -> Path:
    """A config file for the state directory ``directory/state`` (several files may share it)."""
    directory.mkdir(parents=True, exist_ok=True)
    settings = {
        "state_dir": str(directory / "state"),
        "log": {"level": "warning"},
        "memory": {"embedding": "hashing"},  # no embedding model to load: faster starts
        **extra,
    }
    file = directory / name
    file.write_text(json.dumps(settings), encoding="utf-8")  # JSON is YAML
    return file


def _cli(config: Path, *argv: str) -> list[str]:
    return [sys.executable, "-m", "adpilot.app.cli", "--config", str(config), *argv]


def _adpilot(config: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # stdin is empty: a console starts and ends at once
        _cli(config, *argv), input="", capture_output=True, text=True, env=_env(), timeout=DEADLINE_S * 2, check=False
    )


class Proc:
    """A started CLI process whose stdout and stderr go to files, readable while it runs."""

    def __init__(self, config: Path, *argv: str, stdin: int | None = None) -> None:
        self.out = config.parent / f"{argv[0]}.{time.monotonic_ns()}.out"
        self.err = self.out.with_suffix(".err")
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.popen = subprocess.Popen(_cli(config, *argv), stdin=stdin, stdout=out, stderr=err, env=_env())
        self.pid = self.popen.pid

    def stdout(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8", errors="replace")

    def signal(self, sig: signal.Signals) -> None:
        self.popen.send_signal(sig)

    def wait(self) -> int:
        return self.popen.wait(timeout=DEADLINE_S)

    def wait_for(self, what: str, probe: Callable[[], Any]) -> Any:
        return poll_until(
            what, probe, process=self.popen, details=lambda: f"{self.stdout()[-2000:]}\n{self.stderr()[-3000:]}"
        )

    def end(self) -> None:
        """Kill it if a failed assertion left it running (only this test's own process)."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)
        if self.popen.stdin is not None:
            self.popen.stdin.close()


# --- what a process left in the state directory ---------------------------------------------------
def _query(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    """Rows of a state database, read while another process may write it (all of them are WAL)."""
    if not path.exists():
        return []
    db = sqlite3.connect(path, timeout=10)
    db.row_factory = sqlite3.Row
    try:
        return db.execute(sql, params).fetchall()
    except sqlite3.OperationalError:  # created, schema not committed yet
        return []
    finally:
        db.close()


def _audit(state: Path) -> list[dict[str, Any]]:
    return [dict(r) for r in _query(state / "audit.sqlite3", "SELECT * FROM audit ORDER BY seq")]


def _unanswered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answered = {r["idempotency_key"] for r in rows if r["kind"] == "result"}
    return [r for r in rows if r["kind"] == "intent" and r["idempotency_key"] not in answered]


def _ok_changes(rows: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    """Each successful change as (tool, arguments): what was applied, and how often."""
    return Counter(
        (r["tool"], canonical(json.loads(r["args"]))) for r in rows if r["kind"] == "result" and r["status"] == "ok"
    )


def _runs(state: Path) -> dict[str, tuple[str, str]]:
    """thread id → (kind, status) from the run registry."""
    return {r["thread_id"]: (r["kind"], r["status"]) for r in _query(state / "runs.sqlite", "SELECT * FROM runs")}


def _scopes(state: Path) -> dict[str, str]:
    """Maintenance runs by scope (the account, or "cms") → status, comparable across passes."""
    return {t.rsplit("-", 1)[1]: status for t, (kind, status) in _runs(state).items() if kind == "maintenance"}


def _leases_of(state: Path, pid: int) -> list[str]:
    return [r["resource"] for r in _query(state / "leases.sqlite", "SELECT resource FROM leases WHERE pid = ?", (pid,))]


FIRST_NEW_ID = World.demo(7).google_ads.next_id + 1


def _world(state: Path) -> Any:
    """The sandbox world without volatile fields; ids of entities the pass created are replaced by
    names drawn from their content (the two accounts' runs create ads concurrently, in either
    order). Equal content gets a running number, so an ad created twice still shows twice."""
    world = json.loads((state / "sandbox-world.json").read_text(encoding="utf-8"))
    return normalised(world, FIRST_NEW_ID)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> dict[str, Any]:
    """One uninterrupted ``adpilot maintain``: what every stopped-and-finished pass must equal."""
    config = _config(tmp_path_factory.mktemp("baseline"))
    done = _adpilot(config, "maintain", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    state = config.parent / "state"
    rows = _audit(state)
    changes = _ok_changes(rows)
    assert changes and all(n == 1 for n in changes.values())
    return {"world": _world(state), "changes": changes, "scopes": _scopes(state)}


def _in_flight(state: Path) -> list[dict[str, Any]]:
    """Intents without a result yet: writes in flight."""
    return _unanswered(_audit(state))


def _start_slow_maintain(tmp_path: Path) -> tuple[Proc, Path, Path, list[dict[str, Any]]]:
    """A slowed ``adpilot maintain``, caught with writes in flight (returned)."""
    slow = _config(tmp_path, "slow.yaml", **SLOW)
    finish = _config(tmp_path, "config.yaml")  # the same state directory at the default rate
    state = tmp_path / "state"
    proc = Proc(slow, "maintain", "--json")
    in_flight = proc.wait_for("a write in flight", lambda: _in_flight(state))
    return proc, finish, state, in_flight


def _finish_and_compare(finish: Path, state: Path, baseline: dict[str, Any], left_running: set[str]) -> None:
    """The next ``adpilot maintain`` finishes exactly the runs left running, like the baseline pass."""
    resumed = _adpilot(finish, "maintain", "--json")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert {r["thread_id"] for r in json.loads(resumed.stdout)} == left_running  # continued, nothing new
    assert "running" not in _scopes(state).values()
    assert _scopes(state) == baseline["scopes"]
    world = _world(state)
    assert world == baseline["world"], differences(world, baseline["world"])[:10]
    rows = _audit(state)
    changes = _ok_changes(rows)
    assert changes == baseline["changes"], {
        "missing": baseline["changes"] - changes,
        "extra": changes - baseline["changes"],
    }
    assert all(n == 1 for n in changes.values())  # no change applied twice
    assert _unanswered(rows) == []
    audit = AuditLog(state / "audit.sqlite3")
    assert audit.verify() == len(rows)


# --- maintain -----------------------------------------------------------------------------------
def test_sigterm_to_maintain_finishes_the_step_releases_leases_exits_3_and_the_next_pass_finishes(tmp_path, baseline):
    proc, finish, state, in_flight = _start_slow_maintain(tmp_path)
    try:
        held = _leases_of(state, proc.pid)
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 3, proc.stderr()[-3000:]
    finally:
        proc.end()
    assert held, "the pass held no lease when it was signalled"
    assert any(r.startswith("run:") for r in held) and any(r.startswith("google_ads:") for r in held)
    assert f"SIGTERM — {FINISHING}" in proc.stderr()
    assert "Traceback" not in proc.stderr()

    # It was interrupted, not finished: the pass reports interrupted runs and the registry keeps them.
    reported = {r["thread_id"]: r["status"] for r in json.loads(proc.stdout())}
    interrupted = {t for t, status in reported.items() if status == "interrupted"}
    assert interrupted, f"the pass had finished before the signal: {reported}"
    runs = _runs(state)
    left_running = {t for t, (_, status) in runs.items() if status == "running"}
    assert left_running == interrupted
    assert set(reported.values()) <= {"interrupted", "waiting", "done"}

    # The step in flight completed: the writes in flight and every other intent have their
    # result, and the leases are gone.
    rows = _audit(state)
    assert _unanswered(rows) == []
    for intent in in_flight:
        outcome = [
            r["status"] for r in rows if r["kind"] == "result" and r["idempotency_key"] == intent["idempotency_key"]
        ]
        assert outcome == ["ok"], intent
    assert all(r["status"] == "ok" for r in rows if r["kind"] == "result")
    assert _leases_of(state, proc.pid) == []
    changes = _ok_changes(rows)
    assert changes and changes < baseline["changes"]  # some of the pass's changes, not all

    _finish_and_compare(finish, state, baseline, left_running)


def test_a_second_sigterm_aborts_maintain_at_once_and_the_next_pass_reconciles(tmp_path, baseline):
    proc, finish, state, _ = _start_slow_maintain(tmp_path)
    try:
        proc.signal(signal.SIGTERM)
        proc.wait_for("the first signal's message", lambda: FINISHING in proc.stderr())
        proc.signal(signal.SIGTERM)
        # Ended by the signal itself: not a graceful exit (3), which would mean the pass outran it.
        assert proc.wait() == -signal.SIGTERM, proc.stderr()[-3000:]
    finally:
        proc.end()
    assert proc.stdout() == ""  # no report: it did not get to the end
    left_running = {t for t, (_, status) in _runs(state).items() if status == "running"}
    assert left_running

    _finish_and_compare(finish, state, baseline, left_running)


# --- schedule -----------------------------------------------------------------------------------
def test_sigterm_stops_the_scheduler_with_exit_3(tmp_path):
    # 29 February at midnight: the entry never fires during the test.
    config = _config(tmp_path, schedule=[{"name": "leap", "cron": "0 0 29 2 *"}])
    proc = Proc(config, "schedule")
    try:
        proc.wait_for("scheduler start", lambda: "scheduler started" in proc.stderr())
        assert "leap at " in proc.stderr()
        signalled = time.monotonic()
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 3, proc.stderr()[-3000:]
        assert time.monotonic() - signalled < 15
    finally:
        proc.end()
    err = proc.stderr()
    assert "stopping: 0 maintenance run(s) finish their current step" in err
    assert err.rstrip().endswith("scheduler stopped")
    assert "Traceback" not in err
    assert _leases_of(tmp_path / "state", proc.pid) == []


# --- the console --------------------------------------------------------------------------------
def _console_stopped(proc: Proc) -> bool:
    """Its last line says the console stopped on request (and that an unfinished request goes on)."""
    lines = proc.stdout().rstrip("\n").splitlines()
    return bool(lines) and lines[-1].startswith(CONSOLE_STOPPED)


def _console(config: Path) -> Proc:
    """A console whose stdin stays open (a person who does not type), at its first prompt."""
    proc = Proc(config, "chat", "--no-memory", stdin=subprocess.PIPE)
    # The prompt is written inside the signal handling; the banner before it is not.
    proc.wait_for("the console prompt", lambda: proc.stdout().endswith(PROMPT))
    return proc


def _say(proc: Proc, line: str) -> None:
    assert proc.popen.stdin is not None
    proc.popen.stdin.write(line.encode() + b"\n")
    proc.popen.stdin.flush()


def _next_start_finishes_the_request(config: Path) -> None:
    """A console started again carries the interrupted request to its end, the change made once."""
    state = config.parent / "state"
    ((thread, (_, status)),) = _runs(state).items()
    assert status == "running"
    again = _adpilot(config, "chat", "--no-memory")
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"continuing your interrupted request (run {thread})" in again.stdout
    assert _runs(state) == {thread: ("chat", "done")}
    rows = _audit(state)
    assert _ok_changes(rows) == Counter({(BUDGET_CALL["tool"], canonical(BUDGET_CALL["args"])): 1})
    assert _unanswered(rows) == []
    assert AuditLog(state / "audit.sqlite3").verify() == len(rows)
    world = json.loads((state / "sandbox-world.json").read_text(encoding="utf-8"))
    assert world["google_ads"]["customers"][DE]["campaign_budgets"]["9001"]["amount_micros"] == "55000000"


def test_sigterm_stops_an_idle_console_whose_stdin_stays_open(tmp_path):
    proc = _console(_config(tmp_path))
    try:
        signalled = time.monotonic()
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 3, proc.stderr()[-3000:]  # the stdin reader must not keep it alive
        assert time.monotonic() - signalled < 15
    finally:
        proc.end()  # closes stdin only now
    assert _console_stopped(proc), proc.stdout()
    assert f"SIGTERM — {FINISHING}" in proc.stderr()
    assert "Traceback" not in proc.stderr() and "Fatal Python error" not in proc.stderr()


def test_sigint_mid_chat_request_finishes_the_change_in_flight_and_the_next_start_finishes_it(tmp_path):
    state = tmp_path / "state"
    proc = _console(_config(tmp_path, "slow.yaml", **SLOWER))
    try:
        _say(proc, BUDGET_CALL["text"])
        in_flight = proc.wait_for("a write in flight", lambda: _in_flight(state))
        held = _leases_of(state, proc.pid)
        proc.signal(signal.SIGINT)  # Ctrl-C
        assert proc.wait() == 3, proc.stderr()[-3000:]
    finally:
        proc.end()
    assert f"SIGINT — {FINISHING}" in proc.stderr() and "Traceback" not in proc.stderr()
    assert [i["tool"] for i in in_flight] == [BUDGET_CALL["tool"]]
    assert any(r.startswith("google_ads:") for r in held) and any(r.startswith("run:") for r in held)
    assert _console_stopped(proc), proc.stdout()
    rows = _audit(state)
    assert [(r["tool"], r["status"]) for r in rows if r["kind"] == "result"] == [(BUDGET_CALL["tool"], "ok")]
    assert _unanswered(rows) == []
    assert _leases_of(state, proc.pid) == []
    assert [status for _, status in _runs(state).values()] == ["running"]  # changed, not yet reported

    _next_start_finishes_the_request(_config(tmp_path))


async def _plan_without_executing(config_file: Path) -> RunResult:
    """Run a chat request's first three steps (reading it, the supervisor, the bidding agent's
    plan) and stop before "execute", as a console stopped or killed between two steps leaves it."""
    async with Runner(load_config(config_file, environ={})) as runner:
        return await runner.start({"kind": "chat", "text": BUDGET_CALL["text"]}, max_steps_this_call=3)


@pytest.fixture(scope="module")
def continued_and_signalled(tmp_path_factory) -> dict[str, Any]:
    """A chat request left between two steps — planned, its change not yet made — that a console
    started later carries on, signalled by SIGTERM while the change is in flight."""
    root = tmp_path_factory.mktemp("continued")
    state = root / "state"
    slow = _config(root, "slow.yaml", **SLOWER)
    left = asyncio.run(_plan_without_executing(_config(root)))
    if left.status != "interrupted" or any(r["kind"] != "decision" for r in _audit(state)):
        pytest.fail(f"the premise failed: not interrupted before the change ({left.status}): {_audit(state)}")

    proc = Proc(slow, "chat", "--no-memory", stdin=subprocess.PIPE)
    try:

        def in_flight_or_idle() -> Any:
            if proc.stdout().endswith(PROMPT):  # the request was carried on before a write was seen
                pytest.fail(f"no write in flight seen while the console carried on the request:\n{proc.stdout()}")
            return _in_flight(state)

        in_flight = proc.wait_for("the continued request's write in flight", in_flight_or_idle)
        held = _leases_of(state, proc.pid)
        proc.signal(signal.SIGTERM)
        code = proc.wait()
    finally:
        proc.end()
    return {"root": root, "proc": proc, "code": code, "in_flight": in_flight, "held": held}


def test_sigterm_while_the_console_carries_on_an_interrupted_request_finishes_the_step(continued_and_signalled):
    proc, state = continued_and_signalled["proc"], continued_and_signalled["root"] / "state"
    assert [i["tool"] for i in continued_and_signalled["in_flight"]] == [BUDGET_CALL["tool"]]
    assert any(r.startswith("google_ads:") for r in continued_and_signalled["held"])
    assert "continuing your interrupted request" in proc.stdout()
    assert continued_and_signalled["code"] == 3, proc.stderr()[-3000:]
    assert f"SIGTERM — {FINISHING}" in proc.stderr()
    assert _unanswered(_audit(state)) == []
    assert _leases_of(state, proc.pid) == []


def test_however_the_continued_request_was_stopped_the_next_start_finishes_it_once(continued_and_signalled):
    assert continued_and_signalled["code"] in (3, -signal.SIGTERM), continued_and_signalled["proc"].stderr()[-3000:]
    _next_start_finishes_the_request(_config(continued_and_signalled["root"]))
