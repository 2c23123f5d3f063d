"""Governed CLI commands end to end: one process per command, sharing the state directory."""

import json
import sqlite3

from tests.app.conftest import run
from tests.conftest import DE


def test_tool_call_then_audit_then_rollback(capsys, config_file):
    args = json.dumps({"customer_id": DE, "budget_id": "9001", "amount_micros": "57500000"})
    code, out = run(capsys, config_file, "tool", "call", "bidding", "set_campaign_budget", args, "--json")
    assert code == 0
    call = json.loads(out.out)
    assert call["ok"] and call["decision"] == "allow"

    code, out = run(
        capsys, config_file, "tool", "call", "bidding", "list_campaigns", json.dumps({"customer_id": DE}), "--json"
    )
    assert json.loads(out.out)["data"][0]["budget_amount_micros"] == "57500000"  # the world persisted between commands

    code, out = run(capsys, config_file, "audit", "show", "--run", call["run_id"])
    assert code == 0 and "budget 9001: 50.00 EUR → 57.50 EUR per day" in out.out

    code, out = run(capsys, config_file, "audit", "rollback", "--run", call["run_id"], "--json")
    assert code == 0 and [s["outcome"] for s in json.loads(out.out)["steps"]] == ["undone"]

    code, out = run(
        capsys, config_file, "tool", "call", "bidding", "list_campaigns", json.dumps({"customer_id": DE}), "--json"
    )
    assert json.loads(out.out)["data"][0]["budget_amount_micros"] == "50000000"

    code, out = run(capsys, config_file, "audit", "verify")
    assert code == 0 and "hash chain verified" in out.out


def test_a_denied_call_exits_non_zero_and_is_audited(capsys, config_file):
    args = json.dumps({"customer_id": DE, "budget_id": "9001", "amount_micros": "900000000"})
    code, out = run(capsys, config_file, "tool", "call", "bidding", "set_campaign_budget", args)
    assert code == 7 and out.out.startswith("deny:") and "cap" in out.out
    code, out = run(capsys, config_file, "audit", "show", "--json")
    assert [r["decision"] for r in json.loads(out.out)] == ["deny"]


def test_audit_verify_names_the_tampered_row(capsys, config_file, tmp_path):
    for amount in ("55000000", "60000000"):
        args = json.dumps({"customer_id": DE, "budget_id": "9001", "amount_micros": amount})
        run(capsys, config_file, "tool", "call", "bidding", "set_campaign_budget", args)
    db = sqlite3.connect(tmp_path / "state" / "audit.sqlite3")
    db.executescript("DROP TRIGGER audit_no_update;")
    db.execute("UPDATE audit SET after = '99000000' WHERE seq = 3")
    db.commit()
    db.close()
    code, out = run(capsys, config_file, "audit", "verify")
    assert code == 6 and "audit row 3 was altered" in out.err  # EXIT_AUDIT


def test_bad_tool_arguments_are_a_usage_error(capsys, config_file):
    code, out = run(capsys, config_file, "tool", "call", "bidding", "list_campaigns", "{not json")
    assert code == 2 and "JSON object" in out.err


def test_tool_list_shows_roles(capsys, config_file):
    code, out = run(capsys, config_file, "tool", "list", "--json")
    assert code == 0
    rows = {r["tool"]: r for r in json.loads(out.out)}
    assert set(rows) >= {"list_campaigns", "set_campaign_budget", "publish_post", "escalate"}
    assert "creative" not in rows["set_campaign_budget"]["roles"] and "bidding" in rows["set_campaign_budget"]["roles"]


def test_check_copy_prints_findings_and_strict_exits_4(capsys, config_file):
    code, out = run(capsys, config_file, "check-copy", "--headline", "Kostenloser Versand", "--json")
    assert code == 0
    result = json.loads(out.out)
    assert result["verdict"] == "fail" and result["findings"][0]["rule"] == "free"
    code, out = run(capsys, config_file, "check-copy", "--headline", "Kostenloser Versand", "--strict")
    assert code == 4 and "verdict: fail" in out.out and "free" in out.out
    code, out = run(capsys, config_file, "check-copy", "Free shipping on orders over €50", "--locale", "en", "--strict")
    assert code == 0 and "verdict: pass" in out.out


def test_check_copy_needs_copy(capsys, config_file):
    code, out = run(capsys, config_file, "check-copy")
    assert code == 2 and "give copy to check" in out.err


def test_seo_audit_lists_findings_and_proposals(capsys, config_file):
    code, out = run(capsys, config_file, "seo", "audit", "--json")
    assert code == 0
    report = json.loads(out.out)
    assert {"meta_missing", "broken_link", "title_length"} <= {f["check"] for f in report["findings"]}
    assert {p["args"]["post_id"] for p in report["proposals"]} >= {501, 502}
    code, out = run(capsys, config_file, "seo", "audit")
    assert "post 501: set meta_description" in out.out and "not proposed yet" in out.out
    assert "(proposal " not in out.out  # no id that no command accepts


def test_seo_audit_names_the_approval_a_page_s_fix_waits_as(capsys, config_file):
    assert run(capsys, config_file, "maintain", "--account", DE)[0] == 0
    code, out = run(capsys, config_file, "approvals", "list", "--json")
    waiting = {p["args"]["post_id"]: p["id"] for p in json.loads(out.out) if p["tool"] == "update_post"}
    assert 501 in waiting
    code, out = run(capsys, config_file, "seo", "audit")
    assert (
        f"post 501: set meta_description, json_ld, content — waits for approval: adpilot approvals show {waiting[501]}"
        in out.out
    )
    code, out = run(capsys, config_file, "approvals", "show", waiting[501])
    assert code == 0


def test_memory_ingest_then_search(capsys, config_file):
    from pathlib import Path

    kb = Path(__file__).resolve().parents[2] / "memory" / "knowledge" / "demo"
    code, out = run(capsys, config_file, "memory", "ingest", str(kb), "--json")
    assert code == 0 and json.loads(out.out)["files"] == 6
    code, out = run(capsys, config_file, "memory", "search", "Wie lange gilt die Garantie?", "--k", "2", "--json")
    assert code == 0 and any(p["citation"].startswith("kb:service-en#") for p in json.loads(out.out))
    code, out = run(capsys, config_file, "memory", "search", "Rückgabe")
    assert code == 0 and "[kb:" in out.out
