"""A real ``kill -9`` of ``adpilot maintain`` while a write is in flight, against the served sandbox.

Everything is a real process: ``adpilot sandbox serve`` on a loopback port, ``adpilot maintain``
talking to it over HTTP, and a SIGKILL sent from outside while the sandbox holds a Google Ads
write. The sandbox's ``timeout_kind`` decides what the killed process left behind:

- ``after``: the sandbox applied the write and holds its answer ("the write landed, the answer
  was lost"). The resumed run must find the change on the platform and record it once
  (a ``reconciled`` result), never send it again.
- ``before``: the sandbox holds the request before applying it, so it never lands. The resumed
  run must send it, once.

The held write is each account's first one (a set) in two cases, and a create (the write that
must never be repeated) in the third. Every time the resumed pass must leave the platform exactly
as an uninterrupted pass does, with the same successful changes in the audit log, each once, and
an intact hash chain.

The last test holds the premise: ``google_ads.timeout_s`` above httpx's default of 5 s governs a
served platform (a bug found on the way: the client had httpx's 5 s default).
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from adpilot.tools.audit import canonical
from adpilot.tools.sandbox.demo import (
    SANDBOX_ACCESS_TOKEN,
    SANDBOX_APP_PASSWORD,
    SANDBOX_DEVELOPER_TOKEN,
    SANDBOX_USER,
)
from tests.app.conftest import DEADLINE_S, poll_until
from tests.conftest import AT, DE
from tests.worlds import differences, normalised

SEED = 7
HOST = "127.0.0.1"
# Credentials of the served sandbox, under variable names no real deployment uses.
CREDENTIALS = {
    "KILL9_SANDBOX_DEVELOPER_TOKEN": SANDBOX_DEVELOPER_TOKEN,
    "KILL9_SANDBOX_ACCESS_TOKEN": SANDBOX_ACCESS_TOKEN,
    "KILL9_SANDBOX_APP_PASSWORD": SANDBOX_APP_PASSWORD,
}


# --- processes ---------------------------------------------------------------------------------
def _env() -> dict[str, str]:
    """The parent's environment without adpilot settings (the config file says everything)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADPILOT")}
    return {**env, **CREDENTIALS, "PYTHONUNBUFFERED": "1"}


def _cli(config: Path, *argv: str) -> list[str]:
    return [sys.executable, "-m", "adpilot.app.cli", "--config", str(config), *argv]


def _adpilot(config: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _cli(config, *argv), capture_output=True, text=True, env=_env(), timeout=DEADLINE_S, check=False
    )


def _stop(proc: subprocess.Popen[Any]) -> None:
    """End a process this module started: SIGTERM, and SIGKILL if it does not go at once.

    The server would otherwise wait for the responses it still holds (up to ``timeout_ms``).
    """
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _write_config(directory: Path, base_url: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "state_dir": str(directory / "state"),
        "log": {"level": "warning", "format": "json"},
        "accounts": [DE, AT],
        "sandbox": {"seed": SEED},
        "google_ads": {
            "base_url": base_url,
            "developer_token_env": "KILL9_SANDBOX_DEVELOPER_TOKEN",
            "access_token_env": "KILL9_SANDBOX_ACCESS_TOKEN",
            "timeout_s": 60,  # longer than the held write: the client is still waiting when killed
        },
        "memory": {"embedding": "hashing"},  # no embedding model to load: each process starts faster
        "wordpress": {
            "base_url": base_url,
            "username": SANDBOX_USER,
            "app_password_env": "KILL9_SANDBOX_APP_PASSWORD",
        },
    }
    file = directory / "config.yaml"
    file.write_text(json.dumps(config, indent=2), encoding="utf-8")  # JSON is YAML
    return file


def _wait_for(what: str, probe: Any, *, proc: subprocess.Popen[Any] | None = None, log: Path | None = None) -> Any:
    return poll_until(
        what,
        probe,
        process=proc,
        details=lambda: log.read_text(encoding="utf-8", errors="replace")[-3000:] if log else "",
    )


class Served:
    """The ``adpilot sandbox serve`` process and its control API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=10)

    def state(self) -> dict[str, Any]:
        response = self.http.get("/_sandbox/state")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def reset(self) -> dict[str, Any]:
        self.http.post("/_sandbox/reset", json={"seed": SEED}).raise_for_status()
        return self.state()

    def faults(self, settings: dict[str, Any]) -> None:
        self.http.post("/_sandbox/faults", json=settings).raise_for_status()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    port = _free_port()
    base_url = f"http://{HOST}:{port}"
    config = _write_config(root / "server", base_url)
    log = root / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            _cli(config, "sandbox", "serve", "--host", HOST, "--port", str(port), "--seed", str(SEED)),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=_env(),
        )
    sandbox = Served(base_url)
    try:

        def answers() -> bool:
            try:
                return sandbox.http.get("/_sandbox/state").status_code == 200
            except httpx.TransportError:
                return False

        _wait_for("the sandbox to answer", answers, proc=proc, log=log)
        yield sandbox
    finally:
        sandbox.http.close()
        _stop(proc)


# --- what a pass left behind ----------------------------------------------------------------------
def _rows(state_dir: Path) -> list[dict[str, Any]]:
    """The audit log, read by another process while it may be written (WAL allows that)."""
    path = state_dir / "audit.sqlite3"
    if not path.exists():
        return []
    db = sqlite3.connect(path, timeout=10)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM audit ORDER BY seq")]
    except sqlite3.OperationalError:  # created, schema not yet committed
        return []
    finally:
        db.close()


def _run_statuses(state_dir: Path) -> dict[str, str]:
    """Run registry: the thread's scope (last part of the thread id: account or "cms") → status."""
    db = sqlite3.connect(state_dir / "runs.sqlite", timeout=10)
    try:
        return {thread.rsplit("-", 1)[1]: status for thread, status in db.execute("SELECT thread_id, status FROM runs")}
    finally:
        db.close()


def _ok_changes(rows: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter(
        (r["tool"], canonical(json.loads(r["args"]))) for r in rows if r["kind"] == "result" and r["status"] == "ok"
    )


def _open_ads_intents(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Google Ads intents whose call has no result row yet: writes in flight."""
    answered = {r["idempotency_key"] for r in rows if r["kind"] == "result"}
    return [
        r
        for r in rows
        if r["kind"] == "intent"
        and (r["entity"] or "").startswith("google_ads:")
        and r["idempotency_key"] not in answered
    ]


def _landed(world: dict[str, Any], intent: dict[str, Any]) -> bool:
    """Whether the platform shows the change an intent row planned."""
    _, customer_id, kind, key = intent["entity"].split(":", 3)
    after = json.loads(intent["after"])
    customer = world["google_ads"]["customers"][customer_id]
    if kind == "ad_group_ad":
        return bool(customer["ad_group_ads"][key]["status"] == after)
    if kind == "campaign":
        return bool(customer["campaigns"][key]["status"] == after)
    if kind == "campaign_budget":
        return int(customer["campaign_budgets"][key]["amount_micros"]) == after
    if kind == "ad_group_criterion":
        return int(customer["ad_group_criteria"][key]["cpc_bid_micros"]) == after
    if kind == "ad_group":  # a created responsive search ad
        return any(
            ad["ad_group"].endswith(f"/adGroups/{key}")
            and [h["text"] for h in ad["ad"]["responsive_search_ad"]["headlines"]] == after["headlines"]
            for ad in customer["ad_group_ads"].values()
        )
    raise AssertionError(f"the test does not know how to read back {intent['entity']}")


# --- the passes ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def baseline(served, tmp_path_factory):
    """An uninterrupted pass on a freshly reset world: what every killed-and-resumed pass must match."""
    first_new_id = served.reset()["google_ads"]["next_id"] + 1
    config = _write_config(tmp_path_factory.mktemp("baseline"), served.base_url)
    done = _adpilot(config, "maintain", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    state_dir = config.parent / "state"
    rows = _rows(state_dir)
    world = served.state()
    served.reset()
    baseline = {
        "world": normalised(world, first_new_id),
        "changes": _ok_changes(rows),
        "statuses": _run_statuses(state_dir),
    }
    # What the cases below rely on: each account's writes are sets, then creates — eight sets in all
    # (DE five: the compliance sweep's pause first, then bids and rotation; AT three), then creates.
    for account in (DE, AT):
        writes = [r["tool"] for r in rows if r["kind"] == "intent" and r["entity"].startswith(f"google_ads:{account}:")]
        sets = next((i for i, w in enumerate(writes) if not w.startswith("set_")), len(writes))
        assert 0 < sets < len(writes) and set(writes[sets:]) == {"create_responsive_search_ad"}, (account, writes)
    writes = [r["tool"] for r in rows if r["kind"] == "intent" and r["entity"].startswith("google_ads:")]
    assert [w.startswith("set_") for w in writes[: SETS + 1]] == [True] * SETS + [False], writes
    assert not any((r["reason"] or "").startswith("reconciled") for r in rows)
    return baseline


def _seed_for(held: list[bool], rate: float = 0.5) -> int:
    """A fault seed that holds exactly the requests ``held`` marks, in order, at ``timeout_rate``.

    The sandbox draws one number per request the faults strike from ``random.Random(seed)`` and
    holds the request when it is below ``timeout_rate`` (tools/sandbox/faults.py: reproducible
    for the same requests in the same order)."""
    for seed in range(1_000_000):
        rng = random.Random(seed)
        if all((rng.random() < rate) == hold for hold in held):
            return seed
    raise AssertionError("no such seed")


# The maintenance pass of the seed-7 world writes to both accounts concurrently: first the bidding
# agent's sets (three in each account), then the creative agent's creates.
# The third item is the kind of write held: the wait below only counts in-flight writes of that
# kind, because a passing set is briefly in flight too (its intent written, its answer on the way).
SETS = 8  # the pass's sets, both accounts together, before its first create (the baseline checks it)
CASES = {
    # Each account's first write (a set) is applied, then its answer held: the answer is lost.
    "lost-answer-of-a-set": ("after", {"timeout_rate": 1.0}, "set_"),
    # Each account's first write is held before it is applied: it never lands.
    "held-before-a-set": ("before", {"timeout_rate": 1.0}, "set_"),
    # The sets pass; every later write, the first creates, is applied and its answer held.
    # Creates are the writes that must never be repeated.
    "lost-answer-of-a-create": (
        "after",
        {"timeout_rate": 0.5, "seed": _seed_for([False] * SETS + [True] * 6)},
        "create_",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_kill_9_while_a_write_is_held_then_resume_ends_like_an_uninterrupted_pass(served, baseline, tmp_path, case):
    timeout_kind, draw, held_kind = CASES[case]
    first_new_id = served.reset()["google_ads"]["next_id"] + 1
    config = _write_config(tmp_path / "killed", served.base_url)
    state_dir = config.parent / "state"
    # Google Ads writes are held for 30 s: after they were applied, or before.
    served.faults({"google_ads": {"on": "writes", "timeout_ms": 30_000, "timeout_kind": timeout_kind, **draw}})
    log = tmp_path / "killed.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(_cli(config, "maintain", "--json"), stdout=sink, stderr=subprocess.STDOUT, env=_env())
    try:

        def both_accounts_held() -> list[dict[str, Any]] | None:
            """Each account's run has a write in flight, applied (``after``) or not (``before``)."""
            intents = _open_ads_intents(_rows(state_dir))
            if not all(i["tool"].startswith(held_kind) for i in intents):
                return None
            if {json.loads(i["args"])["customer_id"] for i in intents} != {DE, AT}:
                return None
            world = served.state()
            applied = timeout_kind == "after"
            return intents if all(_landed(world, i) == applied for i in intents) else None

        held = _wait_for(f"a held write in each account ({timeout_kind})", both_accounts_held, proc=proc, log=log)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=DEADLINE_S) == -signal.SIGKILL
    finally:
        _stop(proc)
    # Killed on the first attempt of each held write, while the client still waited for it.
    assert "retrying" not in log.read_text(encoding="utf-8", errors="replace")

    # What the kill left: the intents, no result for them; the platform changed or not by kind.
    rows = _rows(state_dir)
    assert _open_ads_intents(rows) == held
    if case == "lost-answer-of-a-create":
        assert "create_responsive_search_ad" in {i["tool"] for i in held}
    else:
        assert "create_responsive_search_ad" not in {i["tool"] for i in held}
    world = served.state()
    assert all(_landed(world, i) == (timeout_kind == "after") for i in held)
    assert "running" in _run_statuses(state_dir).values()

    served.faults({})
    passes = []
    while "running" in _run_statuses(state_dir).values() and len(passes) < 3:
        resumed = _adpilot(config, "maintain", "--json")
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        passes.append(json.loads(resumed.stdout))
    assert len(passes) == 1, f"needed {len(passes)} passes to finish the interrupted runs: {passes}"
    assert _run_statuses(state_dir) == baseline["statuses"]

    rows = _rows(state_dir)
    world = normalised(served.state(), first_new_id)
    assert world == baseline["world"], differences(world, baseline["world"])[:10]
    changes = _ok_changes(rows)
    assert changes == baseline["changes"], {
        "missing": baseline["changes"] - changes,
        "extra": changes - baseline["changes"],
    }
    assert all(n == 1 for n in changes.values())
    reconciled = [r for r in rows if r["kind"] == "result" and (r["reason"] or "").startswith("reconciled")]
    held_keys = {i["idempotency_key"] for i in held}
    if timeout_kind == "after":
        # The lost answers were recovered from the platform: one reconciled result per held write.
        assert sorted(r["idempotency_key"] for r in reconciled) == sorted(held_keys)
    else:
        assert not reconciled
    # Each held write ends in exactly one successful result, and no result says "unknown".
    for key in held_keys:
        assert [r["status"] for r in rows if r["kind"] == "result" and r["idempotency_key"] == key] == ["ok"]
    verified = _adpilot(config, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_client_waits_as_long_as_google_ads_timeout_s_says(served, tmp_path):
    """The premise of the kill test: with ``timeout_s: 60`` a slow answer is waited for.

    The sandbox holds the first Google Ads read for 5.5 s and then answers 504; later reads pass.
    A client that waits as configured sees that 504 and retries; one cut off at 5 s retries too,
    but because its own timeout struck."""
    served.reset()
    config = _write_config(tmp_path / "slow", served.base_url)
    seed = _seed_for([True] + [False] * 10)
    hold_first = {"timeout_rate": 0.5, "seed": seed, "timeout_kind": "before", "timeout_ms": 5_500}
    served.faults({"google_ads": {"on": "reads", **hold_first}})
    try:
        done = _adpilot(config, "tool", "call", "operator", "list_campaigns", json.dumps({"customer_id": DE}), "--json")
    finally:
        served.faults({})
    retries = [json.loads(line) for line in done.stderr.splitlines() if '"retrying"' in line]
    if done.returncode != 0 or len(retries) != 1:
        pytest.fail(f"expected one retry and success (exit {done.returncode}): {done.stderr[-2000:]}")
    assert "timed out" not in retries[0]["error"], retries[0]
