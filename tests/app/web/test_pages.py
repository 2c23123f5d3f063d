"""The console's pages over a real state directory: the inbox and its decisions (as the signed-in
person, four-eyes included), the kill switch, the runs and their timelines, the audit trail."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.agents.registry import RunRegistry
from adpilot.statedir import KillSwitch, StateDir
from tests.app.conftest import budget_9001, run
from tests.app.web.conftest import signed_in, token
from tests.conftest import DE

RAISE_200 = json.dumps({"customer_id": DE, "budget_id": "9001", "amount_micros": "200000000"})


@pytest.fixture(autouse=True)
def os_user(monkeypatch: pytest.MonkeyPatch) -> str:
    """Who runs the CLI commands that ask for changes: marta."""
    monkeypatch.setattr("getpass.getuser", lambda: "marta")
    return "marta"


@pytest.fixture
def pending(capsys, config_file: Path) -> str:
    """A budget raise marta asked for with `adpilot tool call`; the policy wants two approvers."""
    code, out = run(capsys, config_file, "tool", "call", "bidding", "set_campaign_budget", RAISE_200, "--json")
    outcome = json.loads(out.out)
    assert code == 8 and outcome.get("approval"), outcome
    return str(outcome["approval"])


def audit_actors(config_file: Path, tool: str) -> list[tuple[str, str, str]]:
    with sqlite3.connect(config_file.parent / "state" / "audit.sqlite3") as db:
        rows = db.execute(
            "SELECT kind, actor, COALESCE(decision, status) FROM audit WHERE tool = ? ORDER BY seq", (tool,)
        ).fetchall()
    return [(str(k), str(a), str(d)) for k, a, d in rows]


def decide(browser, pending: str, decision: str, **extra: str):
    data = {"csrf": token(browser, f"/inbox/{pending}"), "decision": decision, **extra}
    return browser.post(f"/inbox/{pending}/decide", data=data)


def test_the_inbox_lists_a_waiting_change_with_what_one_judges_it_by(app, pending):
    browser = signed_in(app, "vera")
    listed = browser.get("/inbox")
    assert listed.status_code == 200 and pending[:12] in listed.text and "marta" in listed.text
    shown = browser.get(f"/inbox/{pending}")
    assert shown.status_code == 200
    for expected in ("budget 9001", "→", "marta", "0 von 2", "Ausgaben", "Läuft ab"):
        assert expected in shown.text, expected
    assert "Ihre Rolle (viewer) darf ansehen" in shown.text and 'name="decision"' not in shown.text


def test_a_viewer_cannot_decide_and_nothing_changes(app, config_file, pending):
    browser = signed_in(app, "vera")
    data = {"csrf": token(browser), "decision": "approve", "reason": "looks fine"}
    answer = browser.post(f"/inbox/{pending}/decide", data=data)
    assert answer.status_code == 403
    registry = RunRegistry(StateDir(config_file.parent / "state").registry)
    try:
        assert registry.approvers(pending) == () and registry.decision(pending) is None
    finally:
        registry.close()
    assert budget_9001(config_file) == "50000000"


def test_four_eyes_the_requester_cannot_approve_and_two_others_must(app, config_file, pending):
    marta = signed_in(app, "marta")
    refused = decide(marta, pending, "approve")
    assert refused.status_code == 409 and "marta requested" in refused.text and budget_9001(config_file) == "50000000"

    first = decide(signed_in(app, "lena"), pending, "approve", reason="season starts")
    assert first.status_code == 200 and "1 of 2" in first.text and budget_9001(config_file) == "50000000"
    again = decide(signed_in(app, "lena"), pending, "approve")
    assert again.status_code == 409 and "already approved" in again.text

    second = decide(signed_in(app, "tom"), pending, "approve")
    assert second.status_code == 200 and budget_9001(config_file) == "200000000"
    # The audit log names the signed-in people who decided: the change ran as their approval.
    rows = audit_actors(config_file, "set_campaign_budget")
    assert ("result", "approval by tom", "ok") in rows
    assert any(actor.startswith("approval by") and "lena" in reason for actor, reason in _approval_reasons(config_file))


def _approval_reasons(config_file: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(config_file.parent / "state" / "audit.sqlite3") as db:
        return [
            (str(a), str(r or ""))
            for a, r in db.execute(
                "SELECT actor, reason FROM audit WHERE tool = 'set_campaign_budget' AND kind = 'decision'"
            )
        ]


def test_a_rejection_with_its_reason_is_recorded_as_the_signed_in_person(app, config_file, pending):
    answer = decide(signed_in(app, "lena"), pending, "reject", reason="too much before the season")
    assert answer.status_code == 200 and budget_9001(config_file) == "50000000"
    registry = RunRegistry(StateDir(config_file.parent / "state").registry)
    try:
        decided = registry.decision(pending)
    finally:
        registry.close()
    assert decided is not None and decided.decision == "reject" and decided.approver == "lena"
    assert any(a == "approval by lena" and "too much before the season" in r for a, r in _approval_reasons(config_file))


def test_an_edit_is_judged_again_and_a_malformed_one_is_refused(app, config_file, pending):
    lena = signed_in(app, "lena")
    bad = decide(lena, pending, "edit", edits="amount_micros")
    assert bad.status_code == 400 and budget_9001(config_file) == "50000000"
    empty = decide(lena, pending, "edit", edits="\n")
    assert empty.status_code == 400
    edited = decide(lena, pending, "edit", edits="amount_micros=60000000\ncustomer_id=1112223333")
    assert edited.status_code == 200, edited.text


def test_a_decision_on_an_unknown_approval_is_a_clear_error(app):
    lena = signed_in(app, "lena")
    answer = lena.post("/inbox/deadbeefdeadbeef/decide", data={"csrf": token(lena), "decision": "approve"})
    assert answer.status_code == 409 and "deadbeef" in answer.text
    assert lena.get("/inbox/deadbeefdeadbeef").status_code == 404


def test_the_kill_switch_needs_a_reason_and_a_confirmation_then_names_the_admin(app, config):
    ada = signed_in(app, "ada")
    page = ada.get("/controls")
    assert page.status_code == 200 and 'name="confirm"' in page.text
    unconfirmed = ada.post("/controls/kill-switch", data={"csrf": token(ada), "action": "engage", "reason": "x"})
    assert unconfirmed.status_code == 400 and not KillSwitch(config.state_dir).engaged
    no_reason = ada.post("/controls/kill-switch", data={"csrf": token(ada), "action": "engage", "confirm": "yes"})
    assert no_reason.status_code == 400 and not KillSwitch(config.state_dir).engaged
    reason = "<script>alert(1)</script> spend spike"
    engaged = ada.post(
        "/controls/kill-switch", data={"csrf": token(ada), "action": "engage", "reason": reason, "confirm": "yes"}
    )
    assert engaged.status_code == 200
    details = KillSwitch(config.state_dir).details()
    assert details is not None and details["by"] == "ada" and details["reason"] == reason
    shown = signed_in(app, "vera").get("/controls").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; spend spike" in shown and "<script>alert" not in shown
    released = ada.post("/controls/kill-switch", data={"csrf": token(ada), "action": "release"})
    assert released.status_code == 200 and not KillSwitch(config.state_dir).engaged


def test_while_the_kill_switch_is_engaged_an_approval_changes_nothing(app, config, config_file, pending):
    KillSwitch(config.state_dir).engage("incident", by="ada")
    answer = decide(signed_in(app, "lena"), pending, "approve")
    assert answer.status_code == 409 and "kill switch" in answer.text and budget_9001(config_file) == "50000000"


def test_the_controls_show_the_policy_and_the_schedule_s_next_runs(config_file, clock):
    from adpilot.app.web.app import create_app
    from adpilot.config import load_config

    config_file.write_text(config_file.read_text() + "schedule: [{name: nightly, cron: '0 5 * * *'}]\n")
    app = create_app(load_config(config_file), clock=clock)
    app.state.users.add("vera", "viewer", "correct horse battery")
    page = signed_in(app, "vera").get("/controls").text
    assert "nightly" in page and "0 5 * * *" in page and " 05:00" in page
    assert "default, Version 1, Hash" in page


def test_runs_list_their_status_and_a_run_its_timeline(app, capsys, config_file):
    code, out = run(capsys, config_file, "maintain", "--json")
    assert code == 0, out.err
    threads = [r["thread_id"] for r in json.loads(out.out)]
    browser = signed_in(app, "vera")
    listing = browser.get("/runs")
    assert listing.status_code == 200 and all(t in listing.text for t in threads)
    timeline = browser.get(f"/runs/{threads[0]}")
    assert timeline.status_code == 200 and "Verlauf" in timeline.text and "<td>" in timeline.text
    assert browser.get("/runs/no-such-run").status_code == 404


def test_the_audit_page_filters_verifies_and_exports(app, capsys, config_file, pending):
    browser = signed_in(app, "vera")
    page = browser.get("/audit?tool=set_campaign_budget")
    assert page.status_code == 200 and "budget 9001" in page.text
    assert "budget 9001" not in browser.get("/audit?tool=set_keyword_bid").text
    assert browser.get("/audit?since=yesterday").status_code == 400
    verified = browser.get("/audit/verify")
    assert verified.status_code == 200 and "Intakt" in verified.text
    exported = browser.get("/audit/export?format=jsonl&tool=set_campaign_budget")
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    rows = [json.loads(line) for line in exported.text.splitlines()]
    assert rows and {r["tool"] for r in rows} == {"set_campaign_budget"} and all("hash" in r for r in rows)
    assert browser.get("/audit/export?format=xml").status_code == 400


def test_pages_speak_english_when_asked(app):
    browser = signed_in(app, "vera")
    assert "Approvals waiting" in browser.get("/inbox", headers={"Accept-Language": "en-GB,en;q=0.9"}).text
    switched = browser.get("/lang/en?next=/runs")
    assert switched.status_code == 303 and switched.headers["location"] == "/runs"
    assert ">Runs<" in browser.get("/runs", headers={"Accept-Language": "de"}).text


def test_every_page_forbids_framing_and_foreign_scripts(app):
    answer = signed_in(app, "vera").get("/inbox")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "http://" not in answer.text and "https://" not in answer.text  # nothing from another site


def test_an_account_shows_spend_conversions_and_roas_per_day_with_adpilot_s_changes(app, capsys, config_file):
    code, out = run(capsys, config_file, "maintain", "--account", DE, "--json")
    assert code == 0, out.err
    applied = [a for r in json.loads(out.out) for a in r["report"]["applied"] if a.get("audit_seq")]
    assert applied, out.out
    browser = signed_in(app, "vera")
    page = browser.get(f"/accounts/{DE}")
    assert page.status_code == 200 and page.text.count("<svg") == 3 and "ROAS" in page.text
    assert "Boots - Search" in page.text and "566,14 €" in page.text  # money as a German reader writes it
    for change in applied:  # every change carried out is named by its audit row
        assert f"#{change['audit_seq']} " in page.text
    one = browser.get(f"/accounts/{DE}?campaign=111")
    assert one.status_code == 200 and "Boots - Search (111)" in one.text
    assert browser.get(f"/accounts/{DE}?campaign=999").status_code == 404
    assert browser.get("/accounts/9999999999").status_code == 404


def test_a_chart_marks_the_days_adpilot_changed_something():
    from adpilot.app.web.charts import Series, line_chart

    days = ["2026-10-01", "2026-10-02", "2026-10-03"]
    chart = line_chart(
        Series("spend <b>", days, [10.0, 30.0, 20.0], lambda v: f"{v:.0f} €"),
        {"2026-10-02": ["#7 budget 9001 <raised>"], "2026-11-30": ["#9 outside"]},
        table_label="numbers",
    )
    assert chart.count('class="mark"') == 1 and "#7 budget 9001 &lt;raised&gt;" in chart
    assert "spend &lt;b&gt;" in chart and "<b>" not in chart
    # The highest value touches the top, the lowest stays above the axis: 30 is drawn highest.
    points = [tuple(map(float, p.split(","))) for p in chart.split('points="')[1].split('"')[0].split()]
    assert min(points, key=lambda p: p[1]) == points[1] and len(points) == 3


@given(st.text(max_size=200))
def test_the_edit_form_is_read_as_key_value_lines_or_refused_with_400(text):
    from adpilot.app.web.core import Refused
    from adpilot.app.web.i18n import words
    from adpilot.app.web.pages.inbox import edits_from

    lines = [line for line in text.splitlines() if line.strip()]
    if lines and all(line.partition("=")[0].strip() and "=" in line for line in lines):
        values = [line.partition("=")[2].strip() for line in lines]
        if not any(v[:1] in "[{" and v for v in values):  # JSON-looking values are checked below
            edits = edits_from(text, words("en"))
            assert edits and all(key and key == key.strip() and "=" not in key for key in edits)
            return
    with pytest.raises(Refused) as refused:
        edits_from(text, words("en"))
    assert refused.value.status == 400


def test_an_edit_value_that_reads_as_json_is_taken_as_json():
    from adpilot.app.web.i18n import words
    from adpilot.app.web.pages.inbox import edits_from

    assert edits_from('headlines=["a", "b"]\n amount_micros = 60000000 ', words("en")) == {
        "headlines": ["a", "b"],
        "amount_micros": "60000000",
    }
