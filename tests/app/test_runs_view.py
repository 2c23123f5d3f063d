"""`adpilot runs`: every run with the status it really has, and stopping one in a person's name."""

import json

from adpilot.agents.registry import RunRegistry
from adpilot.statedir import StateDir
from tests.app.conftest import run, world
from tests.conftest import DE

CRASHED = "maint-20261204T160117-4ee9-1112223333"  # a maintenance run id as `adpilot maintain` makes them


def _waiting_chat(capsys, config_file) -> dict:
    code, out = run(capsys, config_file, "chat", "--no-memory", "--once", "pause campaign 111", "--json")
    result = json.loads(out.out)
    assert code == 0 and result["status"] == "waiting"
    return result


def _crashed_run(config_file) -> str:
    """A run registered as running that no process drives: what a crash between two steps leaves."""
    registry = RunRegistry(StateDir(config_file.parent / "state").registry)
    try:
        registry.upsert(CRASHED, "run-crashed", "maintenance", [DE], "running", [])
    finally:
        registry.close()
    return CRASHED


def _runs(capsys, config_file, *argv: str) -> dict[str, dict]:
    code, out = run(capsys, config_file, "runs", "list", "--json", *argv)
    assert code == 0, out.err
    return {r["thread_id"]: r for r in json.loads(out.out)}


def test_runs_list_shows_what_waits_and_what_a_crash_left(capsys, config_file):
    code, out = run(capsys, config_file, "runs", "list")
    assert (code, out.out.strip()) == (0, "No runs.")
    waiting = _waiting_chat(capsys, config_file)["thread_id"]
    crashed = _crashed_run(config_file)
    rows = _runs(capsys, config_file)
    assert rows[waiting]["status"] == "waiting" and rows[waiting]["waiting"] == 1
    # registered as running, but nobody holds its lease: a person reads it as interrupted
    assert rows[crashed]["status"] == "interrupted" and rows[crashed]["accounts"] == [DE]
    assert set(_runs(capsys, config_file, "--status", "interrupted")) == {crashed}
    assert rows[waiting]["updated"] >= rows[waiting]["started"]  # --json keeps when it last changed
    code, out = run(capsys, config_file, "runs", "list")
    assert code == 0 and waiting in out.out and "interrupted" in out.out
    assert max(len(line) for line in out.out.splitlines()) <= 120  # maintenance run ids included


def test_an_unknown_status_is_a_usage_error(capsys, config_file):
    code, out = run(capsys, config_file, "runs", "list", "--status", "paused")
    assert code == 2 and "--status paused: not a run status" in out.err and "Traceback" not in out.err


def test_a_stopped_run_changes_nothing_even_when_its_approval_is_given(capsys, config_file):
    thread = _waiting_chat(capsys, config_file)["thread_id"]
    (pending,) = json.loads(run(capsys, config_file, "approvals", "list", "--json")[1].out)
    code, out = run(capsys, config_file, "runs", "stop", thread, "--by", "lena")
    assert code == 2 and "needs a reason" in out.err
    code, out = run(capsys, config_file, "runs", "stop", thread, "--by", "lena", "--reason", "campaign review first")
    assert code == 0 and out.out.startswith(f"run {thread} stopped")
    assert _runs(capsys, config_file)[thread]["status"] == "stopped"
    code, out = run(capsys, config_file, "approvals", "approve", pending["id"], "--approver", "tom")
    assert code != 0
    assert world(config_file)["google_ads"]["customers"][DE]["campaigns"]["111"]["status"] == "ENABLED"
    # the stop is in the audit trail, in the person's name, with the reason
    code, out = run(capsys, config_file, "audit", "show", "--tool", "stop_run", "--json")
    (row,) = json.loads(out.out)
    assert row["actor"] == "lena" and "campaign review first" in json.dumps(row)
    # a second stop, an unknown run and a finished run are refused, each saying why
    code, out = run(capsys, config_file, "runs", "stop", thread, "--by", "lena", "--reason", "again")
    assert code == 2 and thread in out.err
    code, out = run(capsys, config_file, "runs", "stop", "chat-nosuch", "--by", "lena", "--reason", "x")
    assert code == 2 and "no run 'chat-nosuch' (see `adpilot runs list`" in out.err


def test_a_finished_run_is_not_stopped(capsys, config_file):
    code, out = run(capsys, config_file, "chat", "--no-memory", "--once", "set budget 9001 to 55 EUR", "--json")
    thread = json.loads(out.out)["thread_id"]
    assert _runs(capsys, config_file)[thread]["status"] == "done"
    code, out = run(capsys, config_file, "runs", "stop", thread, "--by", "lena", "--reason", "too late")
    assert code == 2 and f"run {thread} is done" in out.err
