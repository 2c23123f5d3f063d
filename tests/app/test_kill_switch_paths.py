"""With the kill switch engaged, no command changes anything — every mutating path is tested —
and pending approvals survive it, to be decided after `adpilot resume`."""

import io
import json

import pytest

from adpilot.config import load_config
from tests.app.conftest import run, world
from tests.conftest import DE

BUDGET = json.dumps({"customer_id": DE, "budget_id": "9001", "amount_micros": "55000000"})


def pending(capsys, config_file):
    _, out = run(capsys, config_file, "approvals", "list", "--json")
    return json.loads(out.out)


@pytest.fixture
def engaged_with_a_run_behind(capsys, config_file):
    """A maintenance pass left approvals waiting and made a change worth rolling back; then: stop."""
    code, out = run(capsys, config_file, "maintain", "--json")
    assert code == 0
    maintained = [r for r in json.loads(out.out) if r["report"]["applied"]]
    waiting = pending(capsys, config_file)
    assert waiting and maintained
    code, _ = run(capsys, config_file, "stop", "--reason", "incident 42")
    assert code == 0
    return maintained[0]["report"]["run_id"], waiting, world(config_file)


def test_tool_call_is_refused_with_exit_3(capsys, config_file, engaged_with_a_run_behind):
    _, _, before = engaged_with_a_run_behind
    code, out = run(capsys, config_file, "tool", "call", "bidding", "set_campaign_budget", BUDGET)
    assert code == 3 and "kill switch is engaged" in out.out and "incident 42" in out.out
    assert world(config_file) == before


def test_rollback_is_refused_with_exit_3(capsys, config_file, engaged_with_a_run_behind):
    run_id, _, before = engaged_with_a_run_behind
    code, out = run(capsys, config_file, "audit", "rollback", "--run", run_id)
    assert code == 3 and "kill switch is engaged" in out.err
    assert world(config_file) == before


@pytest.mark.parametrize("verb", ["approve", "reject"])
def test_deciding_is_refused_and_the_approvals_survive_until_resume(
    capsys, config_file, engaged_with_a_run_behind, verb
):
    _, waiting, before = engaged_with_a_run_behind
    first = waiting[0]["id"]
    code, out = run(capsys, config_file, "approvals", verb, first)
    assert code == 3 and "kill switch is engaged" in out.err and "stay pending" in out.err
    assert world(config_file) == before
    assert pending(capsys, config_file) == waiting  # nothing dropped
    run(capsys, config_file, "resume")
    code, out = run(capsys, config_file, "approvals", verb, first)
    assert code == 0
    assert [p["id"] for p in pending(capsys, config_file)] == [p["id"] for p in waiting[1:]]


def test_maintenance_and_chat_commands_stop_without_changes(capsys, config_file, engaged_with_a_run_behind):
    _, waiting, before = engaged_with_a_run_behind
    code, out = run(capsys, config_file, "maintain")
    assert code == 3 and "stopped by the kill switch" in out.out
    code, out = run(capsys, config_file, "chat", "--once", "set budget 9001 to 55 EUR", "--no-memory")
    assert code == 3
    assert world(config_file) == before
    assert pending(capsys, config_file) == waiting


async def test_the_console_refuses_approvals_and_changes_and_keeps_going(config_file, engaged_with_a_run_behind):
    from adpilot.app.console import _loop

    _, waiting, before = engaged_with_a_run_behind
    out = io.StringIO()
    script = f"/approve {waiting[0]['id']}\nset budget 9001 to 55 EUR\n/approvals\n/quit\n"
    code = await _loop(load_config(config_file), False, io.StringIO(script), out)
    text = out.getvalue()
    assert code == 0
    assert "✗ cannot carry out approvals: the kill switch is engaged" in text
    assert "run stopped: kill_switch" in text
    assert waiting[0]["id"] in text  # only /approvals prints ids: still listed
    assert world(config_file) == before
