"""Several processes acting on one account at once leave the state one actor would have left.

Real `adpilot` processes, started together on one state directory (the embedded sandbox's world
file is shared by them like one platform). No ad group ever ends with zero enabled ads, no
account is maintained twice by one pass, and one approval decision wins while the other is told
who decided first.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from adpilot.tools.sandbox import World
from tests.conftest import AT, DE
from tests.worlds import normalised

FIRST_NEW_ID = World.demo(7).google_ads.next_id + 1
GROUP = "2201"  # "Rain Jackets": exactly two enabled ads, 31005 and 31006


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    file = tmp_path / "config.yaml"
    file.write_text(f"state_dir: {tmp_path / 'state'}\nlog: {{level: warning}}\nguard: {{lease_wait_s: 20}}\n")
    return file


def start(config_file: Path, *argv: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "ADPILOT_CONFIG"}
    return subprocess.Popen(
        [sys.executable, "-m", "adpilot.app.cli", "--config", str(config_file), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def together(config_file: Path, *commands: list[str]) -> list[tuple[int, str, str]]:
    processes = [start(config_file, *argv) for argv in commands]
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        outcomes.append((process.returncode, out, err))
    return outcomes


def world(config_file: Path) -> dict:
    return json.loads((config_file.parent / "state" / "sandbox-world.json").read_text())


def enabled_ads(config_file: Path, customer: str, group: str) -> list[str]:
    ads = world(config_file)["google_ads"]["customers"][customer]["ad_group_ads"]
    return sorted(key for key, ad in ads.items() if key.startswith(f"{group}~") and ad["status"] == "ENABLED")


def pause(ad: str) -> list[str]:
    args = {"customer_id": DE, "ad_group_id": GROUP, "ad_id": ad, "status": "PAUSED"}
    return ["tool", "call", "creative", "set_ad_status", json.dumps(args)]


def test_two_processes_pausing_the_two_ads_of_a_group_leave_one_enabled(config_file):
    outcomes = together(config_file, pause("31005"), pause("31006"))
    codes = sorted(code for code, _, _ in outcomes)
    assert codes == [0, 7], outcomes  # one paused its ad; the other was denied on fresh state
    denied = next(out for code, out, _ in outcomes if code == 7)
    assert "last enabled ad" in denied or "last" in denied, denied
    assert len(enabled_ads(config_file, DE, GROUP)) == 1


def test_two_maintenance_passes_started_together_maintain_each_account_once(tmp_path, config_file):
    alone = tmp_path / "alone.yaml"
    alone.write_text(f"state_dir: {tmp_path / 'alone'}\nlog: {{level: warning}}\n")
    ((code, _, err),) = together(alone, ["maintain", "--json"])
    assert code == 0, err

    # Slowed down, so that the two passes really overlap even when one process starts late.
    config_file.write_text(config_file.read_text() + "google_ads: {requests_per_second: 3}\n")
    outcomes = together(config_file, ["maintain", "--json"], ["maintain", "--json"])
    runs = [run for code, out, _ in outcomes if out.strip() for run in json.loads(out)]
    worked = [r for r in runs if r["status"] != "busy"]
    # Every account and the CMS were maintained by exactly one of the two processes.
    scopes = sorted(
        "cms" if r["report"]["trigger"]["scope"] == "cms" else r["report"]["trigger"]["accounts"][0] for r in worked
    )
    assert scopes == sorted([DE, AT, "cms"]), outcomes
    for code, _, err in outcomes:
        assert code in (0, 5), err
    baseline = json.loads((tmp_path / "alone" / "sandbox-world.json").read_text())
    assert normalised(world(config_file), FIRST_NEW_ID) == normalised(baseline, FIRST_NEW_ID)


def test_two_people_answering_one_approval_at_once_one_decision_wins(config_file):
    ((code, _, err),) = together(config_file, ["maintain", "--json"])
    assert code == 0, err
    ((_, listed, _),) = together(config_file, ["approvals", "list", "--json"])
    pending = json.loads(listed)[0]["id"]
    outcomes = together(
        config_file,
        ["approvals", "approve", pending, "--approver", "lena"],
        ["approvals", "reject", pending, "--approver", "tom"],
    )
    codes = sorted(code for code, _, _ in outcomes)
    assert codes == [0, 2], outcomes
    winner = "lena" if outcomes[0][0] == 0 else "tom"
    loser = next(err for code, _, err in outcomes if code == 2)
    assert "was already decided" in loser and f"by {winner}" in loser, loser
    audit = subprocess.run(
        [sys.executable, "-m", "adpilot.app.cli", "--config", str(config_file), "audit", "show", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = json.loads(audit.stdout)
    decided = [r for r in rows if r["rule"] in ("approval", "approval.rejected")]
    assert len(decided) == 1  # applied or rejected, never both, never twice


def test_maintenance_console_tool_call_and_two_approvers_at_once_keep_every_invariant(config_file):
    ((code, _, err),) = together(config_file, ["maintain", "--json"])
    assert code == 0, err
    ((_, listed, _),) = together(config_file, ["approvals", "list", "--json"])
    pending = json.loads(listed)[0]["id"]
    before = {
        (customer, key.split("~")[0])
        for customer, data in world(config_file)["google_ads"]["customers"].items()
        for key, ad in data["ad_group_ads"].items()
        if ad["status"] == "ENABLED"
    }
    outcomes = together(
        config_file,
        ["maintain", "--json"],
        ["chat", "--once", "pause ad 2201~31006", "--no-memory"],
        pause("31005"),
        ["approvals", "approve", pending, "--approver", "lena"],
        ["approvals", "reject", pending, "--approver", "tom"],
    )
    for code, _, err in outcomes:
        assert "Traceback" not in err, err
        assert code in (0, 1, 2, 3, 5), err
    # No ad group that had an enabled ad is left without one.
    after = world(config_file)["google_ads"]["customers"]
    for customer, group in before:
        ads = after[customer]["ad_group_ads"]
        assert any(k.startswith(f"{group}~") and a["status"] == "ENABLED" for k, a in ads.items()), (customer, group)
    # One decision on the approval; no change applied twice; the audit chain intact.
    assert sorted(code for code, _, _ in outcomes[3:]) == [0, 2]
    verify = subprocess.run(
        [sys.executable, "-m", "adpilot.app.cli", "--config", str(config_file), "audit", "verify"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stderr
    with sqlite3.connect(config_file.parent / "state" / "audit.sqlite3") as db:
        repeated = db.execute(
            "SELECT idempotency_key, COUNT(*) FROM audit WHERE kind = 'result' AND status = 'ok' "
            "GROUP BY idempotency_key HAVING COUNT(*) > 1"
        ).fetchall()
    assert repeated == []


def raise_budget(amount_micros: str) -> list[str]:
    args = {"customer_id": DE, "budget_id": "9001", "amount_micros": amount_micros}
    return ["tool", "call", "bidding", "set_campaign_budget", json.dumps(args), "--json"]


def test_four_eyes_the_same_person_approving_twice_at_once_counts_once(config_file):
    ((code, out, err),) = together(config_file, raise_budget("200000000"))  # +150 EUR a day: two people
    assert code == 8, err  # escalated: waits for people
    pending = json.loads(out)["approval"]
    outcomes = together(
        config_file,
        ["approvals", "approve", pending, "--approver", "lena"],
        ["approvals", "approve", pending, "--approver", "lena"],
    )
    for _, _, err in outcomes:
        assert "Traceback" not in err, err
    assert sorted(code for code, _, _ in outcomes) == [0, 2], outcomes
    assert "already approved" in next(err for code, _, err in outcomes if code == 2)
    budget = world(config_file)["google_ads"]["customers"][DE]["campaign_budgets"]["9001"]["amount_micros"]
    assert budget == "50000000"  # one person is not two
    ((_, listed, _),) = together(config_file, ["approvals", "list", "--json"])
    (waiting,) = json.loads(listed)
    assert waiting["id"] == pending and waiting["approvers"] == ["lena"] and waiting["needed"] == 2


def test_four_eyes_two_people_approving_at_once_carry_it_out_once(config_file):
    ((code, out, err),) = together(config_file, raise_budget("200000000"))
    assert code == 8, err
    pending = json.loads(out)["approval"]
    outcomes = together(
        config_file,
        ["approvals", "approve", pending, "--approver", "lena"],
        ["approvals", "approve", pending, "--approver", "tom"],
    )
    assert [code for code, _, _ in outcomes] == [0, 0], outcomes
    budget = world(config_file)["google_ads"]["customers"][DE]["campaign_budgets"]["9001"]["amount_micros"]
    assert budget == "200000000"
    with sqlite3.connect(config_file.parent / "state" / "audit.sqlite3") as db:
        (done,) = db.execute(
            "SELECT COUNT(*) FROM audit WHERE kind = 'result' AND status = 'ok' AND tool = 'set_campaign_budget'"
        ).fetchone()
    assert done == 1
