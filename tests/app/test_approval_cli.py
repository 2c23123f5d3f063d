"""`adpilot approvals list|show|approve|reject|edit` and an escalated `adpilot tool call`, end to end
in process, as a person uses them."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from adpilot.app import approvals as shown
from tests.app.conftest import budget_9001, run
from tests.conftest import DE

RAISE_200 = json.dumps({"customer_id": DE, "budget_id": "9001", "amount_micros": "200000000"})
RAISE_70 = json.dumps({"customer_id": DE, "budget_id": "9001", "amount_micros": "70000000"})


@pytest.fixture(autouse=True)
def os_user(monkeypatch: pytest.MonkeyPatch) -> str:
    """Who runs the commands (the requester of `tool call`, the approver when none is named)."""
    monkeypatch.setattr("getpass.getuser", lambda: "marta")
    return "marta"


def executed(config_file: Path, tool: str) -> int:
    with sqlite3.connect(config_file.parent / "state" / "audit.sqlite3") as db:
        (count,) = db.execute(
            "SELECT COUNT(*) FROM audit WHERE kind = 'result' AND status = 'ok' AND tool = ?", (tool,)
        ).fetchone()
    return int(count)


def queue(capsys, config_file: Path, role: str, tool: str, args: str) -> str:
    code, out = run(capsys, config_file, "tool", "call", role, tool, args, "--json")
    outcome = json.loads(out.out)
    assert code == 8 and outcome["decision"] == "escalate" and outcome.get("approval"), outcome
    return str(outcome["approval"])


def with_locale(config_file: Path, locale: str) -> Path:
    other = config_file.parent / f"config-{locale}.yaml"
    other.write_text(config_file.read_text() + f"locale: {locale}\n")
    return other


# --- 8. an escalated `tool call` is a real approval ---------------------------------------------


def test_an_escalated_tool_call_waits_and_runs_once_when_two_other_people_approve(capsys, config_file, os_user):
    pending = queue(capsys, config_file, "bidding", "set_campaign_budget", RAISE_200)
    code, out = run(capsys, config_file, "tool", "call", "bidding", "set_campaign_budget", RAISE_200)
    assert code == 8 and f"already waiting as {pending}" in out.out  # not queued twice
    code, out = run(capsys, config_file, "approvals", "list", "--json")
    assert [p["id"] for p in json.loads(out.out)] == [pending]

    code, out = run(capsys, config_file, "approvals", "approve", pending)  # marta asked for it
    assert code == 2 and f"{os_user} requested {pending} and cannot approve it" in out.err
    code, out = run(capsys, config_file, "approvals", "approve", pending[:8], "--approver", "lena")
    assert code == 0 and "1 of 2 approvals" in out.out and budget_9001(config_file) == "50000000"
    code, out = run(capsys, config_file, "approvals", "approve", pending, "--approver", "Lena")
    assert code == 2 and "already approved" in out.err
    code, out = run(capsys, config_file, "approvals", "approve", pending, "--approver", "tom")
    assert code == 0 and "approved by lena, tom" in out.out
    assert budget_9001(config_file) == "200000000" and executed(config_file, "set_campaign_budget") == 1
    code, out = run(capsys, config_file, "approvals", "approve", pending, "--approver", "ida")
    assert code == 2 and "already decided: approved by lena, tom" in out.err
    assert executed(config_file, "set_campaign_budget") == 1


def test_the_escalate_tool_with_a_proposal_queues_that_call_and_an_operator_approves_it(capsys, config_file):
    proposal = {
        "reason": "more budget for boots",
        "proposal": {"tool": "set_campaign_budget", "args": json.loads(RAISE_70)},
    }
    pending = queue(capsys, config_file, "bidding", "escalate", json.dumps(proposal))
    code, out = run(capsys, config_file, "approvals", "show", pending, "--json")
    data = json.loads(out.out)
    assert data["tool"] == "set_campaign_budget" and str(data["args"]["amount_micros"]) == "70000000"
    code, out = run(capsys, config_file, "approvals", "approve", pending, "--approver", "operator on duty")
    assert code == 0 and budget_9001(config_file) == "70000000"
    assert executed(config_file, "set_campaign_budget") == 1


# --- 2. ids -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "message"),
    [("1", "at least 8"), ("", "at least 8"), ("call.", "at least 8"), ("call.zzzzzzzz", "no pending")],
)
@pytest.mark.parametrize("verb", ["approve", "reject", "show"])
def test_an_id_is_exact_or_a_unique_prefix_of_eight_characters_anything_else_is_exit_2(
    capsys, config_file, given, message, verb
):
    queue(capsys, config_file, "bidding", "set_campaign_budget", RAISE_70)
    code, out = run(capsys, config_file, "approvals", verb, given, *(["--approver", "lena"] if verb != "show" else []))
    assert code == 2 and message in out.err and "Traceback" not in out.err
    assert budget_9001(config_file) == "50000000"


# --- 3. show and list ---------------------------------------------------------------------------


def test_show_tells_a_marketer_what_changes_why_what_it_costs_and_who_asked(capsys, config_file):
    pending = queue(capsys, config_file, "bidding", "set_campaign_budget", RAISE_200)
    run(capsys, config_file, "approvals", "approve", pending, "--approver", "lena")
    code, out = run(capsys, with_locale(config_file, "en"), "approvals", "show", pending)
    text = out.out
    assert code == 0
    assert "50.00 EUR → 200.00 EUR per day (+150.00 EUR, +300 %)" in text
    assert "rule budget.max_increase" in text
    assert "last 7 days" in text and "per day" in text and "over the next 7 days" in text
    assert "marta — run cli-" in text and "role bidding" in text
    assert "Expires:" in text and "(in 71 h)" in text
    assert "1 of 2 (lena); needs 1 more approval(s) from a different person" in text
    assert "200000000" not in text and "50000000" not in text  # money, never micros
    code, out = run(capsys, with_locale(config_file, "de"), "approvals", "show", pending)
    assert "Freigabe" in out.out and "pro Tag" in out.out and "1 von 2 (lena)" in out.out
    assert "in den nächsten 7 Tagen" in out.out and "Läuft ab" in out.out
    code, out = run(capsys, config_file, "approvals", "show", pending, "--json")
    data = json.loads(out.out)
    assert data["needed"] == 2 and data["approvers"] == ["lena"] and data["requester"] == "marta"
    assert data["impact"]["kind"] == "budget" and data["impact"]["cap_per_day"] == 150_000_000
    code, out = run(capsys, with_locale(config_file, "en"), "approvals", "list")
    assert pending in out.out and "1/2" in out.out and "71 h" in out.out and "200.00 EUR" in out.out


def test_show_names_compliance_findings_of_content(capsys, config_file):
    code, out = run(capsys, config_file, "maintain", "--json")
    code, out = run(capsys, config_file, "approvals", "list", "--json")
    item = next(p for p in json.loads(out.out) if p["call"]["tool"] == "update_post")
    code, out = run(capsys, with_locale(config_file, "en"), "approvals", "show", item["id"])
    assert code == 0 and "Compliance:" in out.out and "verdict pass" in out.out
    assert "no direct effect on spend" in out.out and "role seo" in out.out


class FakeGuard:
    """Reads that answer as a platform without any delivery would."""

    async def call(self, role: str, tool: str, args: dict[str, Any]) -> Any:
        data = [{"campaign_id": "111", "budget_id": "9001"}] if tool == "list_campaigns" else []
        return type("Result", (), {"data": data})()


async def test_without_delivery_history_show_says_so():
    args = {"customer_id": DE, "budget_id": "9001", "amount_micros": "70000000"}
    impact = await shown._impact(FakeGuard(), "set_campaign_budget", args, 50_000_000, 70_000_000, "EUR")
    assert impact == {"kind": "no_history"}
    assert shown.impact_text(impact, "EUR", shown.strings("en")) == "no delivery history in the last 7 days"
    assert "keine Auslieferung" in shown.impact_text(impact, "EUR", shown.strings("de"))


def test_every_string_exists_in_both_languages():
    assert set(shown.STRINGS["de"]) == set(shown.STRINGS["en"])


# --- 4. edits and malformed decisions -----------------------------------------------------------


def test_edit_applies_changed_arguments_through_the_guard(capsys, config_file):
    pending = queue(capsys, config_file, "bidding", "set_campaign_budget", RAISE_70)
    code, _ = run(
        capsys, config_file, "approvals", "edit", pending, "--set", "amount_micros=55000000", "--approver", "lena"
    )
    assert code == 0 and budget_9001(config_file) == "55000000"
    assert executed(config_file, "set_campaign_budget") == 1


def test_an_edit_over_the_cap_is_denied_again(capsys, config_file):
    pending = queue(capsys, config_file, "bidding", "set_campaign_budget", RAISE_70)
    code, out = run(
        capsys, config_file, "approvals", "edit", pending, "--set", "amount_micros=600000000", "--approver", "lena"
    )
    assert code == 7 and "denied" in out.out and budget_9001(config_file) == "50000000"  # refused by policy
    assert executed(config_file, "set_campaign_budget") == 0


@pytest.mark.parametrize("sets", [[], ["--set", "amount_micros"], ["--set", "=5"], ["--set", "headlines=[1,"]])
def test_a_malformed_edit_is_exit_2_and_the_approval_keeps_waiting(capsys, config_file, sets):
    pending = queue(capsys, config_file, "bidding", "set_campaign_budget", RAISE_70)
    code, out = run(capsys, config_file, "approvals", "edit", pending, *sets, "--approver", "lena")
    assert code == 2 and out.err.startswith("adpilot: ") and "Traceback" not in out.err
    code, out = run(capsys, config_file, "approvals", "list", "--json")
    assert [p["id"] for p in json.loads(out.out)] == [pending]


# --- 5. expiry ----------------------------------------------------------------------------------------


def test_an_expired_approval_is_refused_and_the_next_maintenance_run_asks_again(capsys, config_file):
    code, out = run(capsys, config_file, "maintain", "--json")
    code, out = run(capsys, config_file, "approvals", "list", "--json")
    first = json.loads(out.out)
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat(timespec="seconds")
    with sqlite3.connect(config_file.parent / "state" / "runs.sqlite") as db:
        db.execute("UPDATE approvals SET expires_at = ?", (past,))
    code, out = run(capsys, config_file, "approvals", "list", "--json")
    assert all(p["expired"] for p in json.loads(out.out))
    code, out = run(capsys, config_file, "approvals", "approve", first[0]["id"], "--approver", "lena")
    assert code == 2 and "expired" in out.err and "void" in out.err
    code, out = run(capsys, config_file, "maintain", "--json")
    code, out = run(capsys, config_file, "approvals", "list", "--json")
    again = json.loads(out.out)
    assert {p["id"] for p in again} == {p["id"] for p in first}  # asked again, each once
    assert not any(p["expired"] for p in again)
    code, out = run(capsys, config_file, "approvals", "approve", first[0]["id"], "--approver", "lena")
    assert code == 0


# --- 1. across maintenance runs, through the CLI ----------------------------------------------------


def test_a_second_maintenance_pass_reports_the_approvals_already_waiting(capsys, config_file):
    run(capsys, config_file, "maintain")
    code, out = run(capsys, config_file, "approvals", "list", "--json")
    first = {p["id"] for p in json.loads(out.out)}
    code, out = run(capsys, config_file, "maintain")
    assert code == 0 and all(f"already waiting as {pending}" in out.out for pending in first)
    code, out = run(capsys, config_file, "approvals", "list", "--json")
    assert sorted(p["id"] for p in json.loads(out.out)) == sorted(first)
