"""The run commands end to end: maintain, approvals, stop/resume, chat, console, demo, kill -9."""

import json
import os
import subprocess
import sys
from pathlib import Path

from adpilot.agents.proposal import Proposal
from adpilot.app.cli import main
from tests.app.conftest import run, world
from tests.conftest import DE

ROOT = Path(__file__).resolve().parents[2]


def test_maintain_then_decide_pending_changes(capsys, config_file):
    code, out = run(capsys, config_file, "maintain", "--json")
    runs = json.loads(out.out)
    assert code == 0 and {r["status"] for r in runs} == {"done", "waiting"}
    assert any(a["tool"] == "set_keyword_bid" for r in runs for a in r["report"]["applied"])
    code, out = run(capsys, config_file, "approvals", "list", "--json")
    pending = {p["args"]["post_id"]: p for p in json.loads(out.out)}
    assert set(pending) == {501, 502, 504}
    code, out = run(capsys, config_file, "approvals", "approve", pending[502]["id"][-8:])
    assert code == 2  # a suffix names nothing: ids are exact or a unique prefix
    code, out = run(capsys, config_file, "approvals", "approve", pending[502]["id"], "--approver", "cli operator")
    assert code == 0 and "approved by cli operator" in out.out
    assert world(config_file)["cms"]["posts"]["502"]["title"] == "Regenjacken für Damen und Herren"
    code, out = run(capsys, config_file, "approvals", "reject", pending[504]["id"], "--reason", "rewrite pending")
    assert code == 0
    code, out = run(capsys, config_file, "approvals", "list", "--json")
    assert [p["args"]["post_id"] for p in json.loads(out.out)] == [501]
    code, out = run(capsys, config_file, "approvals", "approve", "no-such-id")
    assert code == 2 and "no pending approval" in out.err


def test_maintain_dry_run_changes_nothing(capsys, config_file):
    run(capsys, config_file, "tool", "call", "bidding", "list_campaigns", json.dumps({"customer_id": DE}))
    before = world(config_file)
    code, out = run(capsys, config_file, "maintain", "--dry-run")
    assert code == 0 and "would apply (dry run)" in out.out
    assert world(config_file) == before


def test_stop_makes_runs_stop_and_resume_releases(capsys, config_file):
    run(capsys, config_file, "stop", "--reason", "incident")
    code, out = run(capsys, config_file, "maintain", "--account", DE)
    assert code == 3 and "stopped by the kill switch" in out.out
    code, out = run(capsys, config_file, "resume")
    assert "released" in out.out
    code, out = run(capsys, config_file, "maintain", "--account", DE)
    assert code == 0


def test_unknown_account_is_a_usage_error(capsys, config_file):
    code, out = run(capsys, config_file, "maintain", "--account", "9999999999")
    assert code == 2 and "9999999999" in out.err


def test_chat_once(capsys, config_file):
    code, out = run(capsys, config_file, "chat", "--no-memory", "--once", "set budget 9001 to 55 EUR")
    assert code == 0 and "set_campaign_budget" in out.out
    assert world(config_file)["google_ads"]["customers"][DE]["campaign_budgets"]["9001"]["amount_micros"] == "55000000"
    code, out = run(capsys, config_file, "chat", "--no-memory", "--once", "pause campaign 111", "--json")
    result = json.loads(out.out)
    assert result["status"] == "waiting" and result["report"]["pending_approvals"][0]["tool"] == "set_campaign_status"


def _adpilot(config_file, *argv, stdin=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "adpilot.app.cli", "--config", str(config_file), *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_console_over_stdin(config_file):
    pending_id = (
        "cmd-1."
        + Proposal(
            "bidding", "set_campaign_status", {"customer_id": DE, "campaign_id": "111", "status": "PAUSED"}, ""
        ).id
    )
    lines = [
        "help",
        "pause campaign 111",
        "/approvals",
        f"/approve {pending_id}",
        "/why 1",
        "/why ²",
        "/why 99999999999999999999999",
        "/history",
        "/bogus",
        "/quit",
    ]
    asker = {"ADPILOT__APPROVER": "tom"}
    done = _adpilot(config_file, "chat", "--no-memory", stdin="\n".join(lines) + "\n", env=asker)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "bidding agent working" in out and "waiting for approval: set_campaign_status" in out
    # Who asks for a change in the console does not approve it: another person does.
    assert f"tom requested {pending_id} and cannot approve it" in out
    assert world(config_file)["google_ads"]["customers"][DE]["campaigns"]["111"]["status"] == "ENABLED"
    colleague = _adpilot(
        config_file, "chat", "--no-memory", stdin=f"/approve {pending_id}\n/quit\n", env={"ADPILOT__APPROVER": "lena"}
    )
    assert "approved." in colleague.stdout, colleague.stdout
    assert "audit row 1" in out and "unknown console command /bogus" in out
    assert out.count("usage: /why AUDIT_ROW_NUMBER") == 2 and "Traceback" not in done.stderr
    assert world(config_file)["google_ads"]["customers"][DE]["campaigns"]["111"]["status"] == "PAUSED"
    again = _adpilot(config_file, "chat", "--no-memory", stdin="/history\n/quit\n")
    assert "2 earlier message(s)" in again.stdout and "pause campaign 111" in again.stdout
    (config_file.parent / "state" / "console-session.json").write_text("{not json")
    damaged = _adpilot(config_file, "chat", "--no-memory", stdin="/quit\n")
    assert damaged.returncode == 0 and "0 earlier message(s)" in damaged.stdout


def _demo(cwd, *extra):
    env = {k: v for k, v in os.environ.items() if k != "ADPILOT_CONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "adpilot.app.cli", "demo", *extra],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_demo_from_nothing(tmp_path, monkeypatch):
    # Each demo is its own process, as for a person (Chroma's native state is per process).
    first = _demo(tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    for section in (
        "1. The sandbox world",
        "2. Knowledge base: ingested 6 documents",
        "3. Maintenance run",
        "4. 3 change(s) wait",
        "5. The audit trail",
    ):
        assert section in first.stdout
    again = _demo(tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "earlier demo state moved to" in again.stdout and (tmp_path / ".adpilot" / "archive").is_dir()


def test_demo_refuses_to_archive_under_an_open_store(tmp_path, monkeypatch):
    import chromadb  # noqa: F401 - a process that has Chroma loaded

    (tmp_path / ".adpilot" / "chroma").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ADPILOT_CONFIG", raising=False)
    assert main(["demo"]) == 2
    assert (tmp_path / ".adpilot" / "chroma").is_dir()  # nothing was moved


def test_a_damaged_state_database_is_one_clear_line_not_a_traceback(capsys, config_file):
    state = config_file.parent / "state"
    state.mkdir()
    (state / "runs.sqlite").write_bytes(b"this is not a database" * 100)
    code, out = run(capsys, config_file, "approvals", "list")
    assert code == 1
    assert out.err.startswith("adpilot: cannot open the run registry at ") and "Traceback" not in out.err


def test_a_yen_account_s_changes_are_shown_in_yen(capsys, config_file):
    """Reports name money in the account's currency: a JPY account's budget is never shown as EUR."""
    from adpilot.tools.sandbox import World

    world_ = World.demo(7)
    world_.google_ads.customers["4445556666"].currency_code = "JPY"
    (config_file.parent / "state").mkdir(exist_ok=True)
    (config_file.parent / "state" / "sandbox-world.json").write_text(world_.model_dump_json())
    code, out = run(
        capsys,
        config_file,
        "tool",
        "call",
        "bidding",
        "set_campaign_budget",
        json.dumps({"customer_id": "4445556666", "budget_id": "9101", "amount_micros": "26000000"}),
    )
    assert code == 0, out
    code, out = run(capsys, config_file, "maintain", "--account", "4445556666")
    assert code == 0, out.err
    assert " JPY" in out.out and "EUR" not in out.out, out.out
