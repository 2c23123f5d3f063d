"""One table of exit codes: the README lists exactly `ExitCode`, and each code is produced by a
command a user runs (in process, against a state directory of its own)."""

import json
import re
import shutil
import socket
from pathlib import Path

import pytest

from adpilot.app import cli
from adpilot.errors import EXIT_MEANINGS, ExitCode
from adpilot.leases import LeaseStore, Owner, resource_for_account
from tests.app.conftest import run
from tests.conftest import DE

ROOT = Path(__file__).resolve().parents[2]


def budget(amount_micros: str) -> str:
    return json.dumps({"customer_id": DE, "budget_id": "9001", "amount_micros": amount_micros})


@pytest.fixture
def config(tmp_path: Path) -> Path:
    file = tmp_path / "config.yaml"
    file.write_text(f"state_dir: {tmp_path / 'state'}\nlog: {{level: warning}}\nguard: {{lease_wait_s: 0}}\n")
    return file


def test_the_readme_lists_exactly_the_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| (\d+) \| (.+) \|$", readme, flags=re.MULTILINE))
    assert {int(code): text for code, text in rows.items()} == {int(c): m for c, m in EXIT_MEANINGS.items()}
    assert set(EXIT_MEANINGS) == set(ExitCode)


def test_0_done(capsys, config):
    code, out = run(capsys, config, "tool", "call", "bidding", "set_campaign_budget", budget("55000000"))
    assert code == ExitCode.OK and out.out.startswith("allow:")


def test_1_an_unforeseen_error_is_one_line_without_a_traceback(capsys, config, monkeypatch):
    def broken(args):
        raise KeyError("budget_micros")

    monkeypatch.setattr(cli, "cmd_config_show", broken)
    code, out = run(capsys, config, "config", "show")
    assert code == ExitCode.INTERNAL
    assert "internal error at test_exit_codes.py:" in out.err and "KeyError" in out.err
    assert "Traceback" not in out.err and len(out.err.splitlines()) == 1


def test_2_usage_configuration_and_a_busy_port(capsys, config, tmp_path):
    code, out = run(capsys, config, "tool", "call", "bidding", "set_campaign_budget", "{not json")
    assert code == ExitCode.USAGE
    code, out = cli.main(["--config", str(tmp_path / "missing.yaml"), "config", "show"]), capsys.readouterr()
    assert code == ExitCode.USAGE and "file not found" in out.err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        code, out = run(capsys, config, "sandbox", "serve", "--port", port)
    assert code == ExitCode.USAGE and f"cannot serve the sandbox on 127.0.0.1:{port}" in out.err


def test_3_stopped_by_the_kill_switch(capsys, config):
    assert run(capsys, config, "stop")[0] == ExitCode.OK
    code, out = run(capsys, config, "tool", "call", "bidding", "set_campaign_budget", budget("55000000"))
    assert code == ExitCode.STOPPED and "kill switch" in out.out + out.err


def test_4_below_threshold(capsys, config):
    code, out = run(capsys, config, "check-copy", "--strict", "Der beste Wanderschuh aller Zeiten!!!")
    assert code == ExitCode.BELOW_THRESHOLD and "superlative" in out.out


def test_5_busy_while_another_actor_holds_the_account(capsys, config):
    run(capsys, config, "config", "show")
    with LeaseStore(config.parent / "state" / "leases.sqlite", ttl_s=60) as leases:
        leases.acquire([resource_for_account(DE)], Owner.here("a colleague's adpilot maintain"))
        code, out = run(capsys, config, "tool", "call", "bidding", "set_campaign_budget", budget("55000000"))
    assert code == ExitCode.BUSY and "a colleague's adpilot maintain" in out.out + out.err


def test_6_the_audit_log_is_not_intact(capsys, config):
    run(capsys, config, "tool", "call", "bidding", "set_campaign_budget", budget("55000000"))
    state = config.parent / "state"
    shutil.move(state / "audit.sqlite3", config.parent / "elsewhere.sqlite3")
    assert run(capsys, config, "audit", "verify")[0] == ExitCode.AUDIT_BROKEN
    code, out = run(capsys, config, "tool", "call", "bidding", "set_campaign_budget", budget("52000000"))
    assert code == ExitCode.AUDIT_BROKEN and "audit" in out.out


def test_7_refused_by_policy(capsys, config):
    code, out = run(capsys, config, "tool", "call", "bidding", "set_campaign_budget", budget("900000000"))
    assert code == ExitCode.REFUSED and out.out.startswith("deny:")
    code, out = run(capsys, config, "tool", "call", "creative", "set_campaign_budget", budget("55000000"))
    assert code == ExitCode.REFUSED and "lacks the scope" in out.out


def test_7_a_rollback_that_conflicts_with_a_later_change(capsys, config):
    code, out = run(capsys, config, "tool", "call", "bidding", "set_campaign_budget", budget("55000000"), "--json")
    first = json.loads(out.out)["run_id"]
    run(capsys, config, "tool", "call", "bidding", "set_campaign_budget", budget("57000000"))
    code, out = run(capsys, config, "audit", "rollback", "--run", first)
    assert code == ExitCode.REFUSED and "conflict" in out.out


def test_8_waiting_for_a_person(capsys, config):
    code, out = run(capsys, config, "tool", "call", "bidding", "set_campaign_budget", budget("70000000"))
    assert code == ExitCode.WAITING and "waiting for a person's approval as call." in out.out


def test_9_the_platform_cannot_be_reached(capsys, tmp_path, monkeypatch):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    file = tmp_path / "config.yaml"
    file.write_text(
        f"state_dir: {tmp_path / 'state'}\nlog: {{level: warning}}\n"
        f"google_ads: {{base_url: 'http://127.0.0.1:{port}', deadline_s: 2, timeout_s: 1}}\n"
    )
    monkeypatch.setenv("GOOGLE_ADS_DEVELOPER_TOKEN", "dev-token-for-the-test")
    monkeypatch.setenv("GOOGLE_ADS_ACCESS_TOKEN", "access-token-for-the-test")
    for name in ("GOOGLE_ADS_CLIENT_ID", "GOOGLE_ADS_CLIENT_SECRET", "GOOGLE_ADS_REFRESH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    code, out = run(capsys, file, "tool", "call", "bidding", "list_campaigns", json.dumps({"customer_id": DE}))
    assert code == ExitCode.PLATFORM, out
    assert "dev-token-for-the-test" not in out.out + out.err and "access-token-for-the-test" not in out.out + out.err
