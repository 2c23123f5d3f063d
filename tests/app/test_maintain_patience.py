"""Running maintenance again on unchanged data changes nothing and queues nothing new (issue 15).

The demo world, as a person meets it: `adpilot demo`, then `adpilot maintain` three times in a row;
the compliance sweep runs before rotation, so no ad group is left worse; and a person's hold from
the command line keeps maintenance away from an ad group, in the audit log with its release.
"""

from __future__ import annotations

import json
import sqlite3

from tests.app.conftest import run, world
from tests.conftest import DE


def _executed(config_file) -> int:
    """Changes carried out so far (result rows of the audit log that applied)."""
    db = sqlite3.connect(config_file.parent / "state" / "audit.sqlite3")
    try:
        (count,) = db.execute("SELECT COUNT(*) FROM audit WHERE kind = 'result' AND status = 'ok'").fetchone()
    finally:
        db.close()
    return int(count)


def _audit(config_file) -> list[dict]:
    """The audit rows as stored (the entity, kind and role columns are never pseudonymised)."""
    db = sqlite3.connect(config_file.parent / "state" / "audit.sqlite3")
    db.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in db.execute("SELECT seq, entity, kind, role, status FROM audit ORDER BY seq")]
    finally:
        db.close()


def _waiting(capsys, config_file) -> list[str]:
    code, out = run(capsys, config_file, "approvals", "list", "--json")
    assert code == 0, out.err
    return sorted(p["id"] for p in json.loads(out.out))


def test_maintain_three_times_after_the_demo_changes_nothing_after_the_first(capsys, config_file):
    code, out = run(capsys, config_file, "demo")
    assert code == 0, out.err[-2000:]
    assert "targets: 1112223333: ROAS 4.0" in out.out
    code, out = run(capsys, config_file, "maintain")
    assert code == 0, out.err[-2000:]
    executed, waiting = _executed(config_file), _waiting(capsys, config_file)
    for _ in range(2):
        code, out = run(capsys, config_file, "maintain")
        assert code == 0, out.err[-2000:]
        assert _executed(config_file) == executed, out.out
        assert _waiting(capsys, config_file) == waiting
        assert "applied:" not in out.out and "waiting for approval" not in out.out
        assert "bid cooldown 3 days" in out.out  # the keyword the demo cut is left alone, and says so
    ads = world(config_file)["google_ads"]["customers"][DE]["ad_group_ads"]
    # The best ad of each human-written group is never paused for rotation: the only ad of 2102 stays
    # on, and 31002 (CTR 5.6 %) is paused by the compliance sweep alone, for its price claim
    # ("Trekkingschuhe ab 89 €" against the feed's 189,95 €), not by the bidding role's rotation.
    assert ads["2102~31004"]["status"] == "ENABLED"
    paused_31002 = [
        r
        for r in _audit(config_file)
        if r["entity"] == f"google_ads:{DE}:ad_group_ad:2101~31002" and r["kind"] == "result"
    ]
    assert [r["role"] for r in paused_31002] == ["compliance"]
    # The sweep runs before rotation: rotation never paused 31002's proven neighbours in its favour,
    # so ad group 2101 keeps enabled ads with their 30 days of data (past the learning period).
    code, out = run(capsys, config_file, "tool", "call", "operator", "get_performance", _ADS_30_DAYS, "--json")
    assert code == 0, out.err[-2000:]
    group = {a["ad_id"]: a for a in json.loads(out.out)["data"] if a["ad_group_id"] == "2101"}
    assert group["31002"]["status"] == "PAUSED"
    proven = [a for a in group.values() if a["status"] == "ENABLED" and a["impressions"] >= 1000]
    assert sorted(a["ad_id"] for a in proven) == ["31001", "31003"]


_ADS_30_DAYS = json.dumps({"customer_id": DE, "level": "ad", "days": 30})


def test_hold_and_release_from_the_command_line(capsys, config_file):
    code, out = run(
        capsys, config_file, "hold", "ad_group:2102", "--days", "3", "--reason", "landing page test", "--by", "lena"
    )
    assert code == 0 and "held: ad group 2102 until" in out.out
    code, out = run(capsys, config_file, "hold", "--list", "--json")
    holds = json.loads(out.out)
    assert [(h["entity"], h["reason"]) for h in holds] == [("google_ads:*:ad_group:2102", "landing page test")]
    code, out = run(capsys, config_file, "maintain", "--account", DE)
    assert code == 0
    in_2102 = [k for k in world(config_file)["google_ads"]["customers"][DE]["ad_group_ads"] if k.startswith("2102~")]
    assert in_2102 == ["2102~31004"]  # no new ad in the held group
    assert "ad group 2102 is on hold by lena" in out.out
    code, out = run(capsys, config_file, "release", "ad_group:2102")
    assert code == 0 and "released: ad group 2102" in out.out
    code, out = run(capsys, config_file, "hold", "--list")
    assert "no holds" in out.out
    # Both are in the audit log: who, which entity, until when, why — and read as such.
    code, out = run(capsys, config_file, "audit", "show", "--json")
    rows = [r for r in json.loads(out.out) if r["tool"] in ("hold", "release")]
    held, released = rows
    assert (held["actor"], held["entity"], held["rule"]) == ("lena", "google_ads:*:ad_group:2102", "patience.hold")
    assert held["args"]["reason"] == "landing page test" and held["args"]["until"].startswith("20")
    assert (released["entity"], released["rule"]) == ("google_ads:*:ad_group:2102", "patience.release")
    code, out = run(capsys, config_file, "audit", "show", "--entity", "ad_group:2102")
    assert code == 0
    text = " ".join(out.out.split())
    assert "hold of ad group 2102 — held by lena until " in text and ": landing page test" in text
    assert "release of ad group 2102 — released by " in text
    code, out = run(capsys, config_file, "audit", "verify")
    assert code == 0, out.err
    code, out = run(capsys, config_file, "hold", "ad:31001")
    assert code == 2 and "names no entity" in out.err


def test_no_hold_changes_while_the_audit_log_is_broken(capsys, config_file):
    code, out = run(capsys, config_file, "hold", "budget:9001", "--by", "lena")
    assert code == 0, out.err
    (config_file.parent / "state" / "audit.sqlite3").unlink()  # the anchor remembers rows: the log is broken
    code, out = run(capsys, config_file, "hold", "budget:9002", "--by", "lena")
    assert code == 6 and "the hold is not changed" in out.err
    code, out = run(capsys, config_file, "release", "budget:9001")
    assert code == 6 and "the hold is not changed" in out.err
    code, out = run(capsys, config_file, "hold", "--list", "--json")
    assert [h["entity"] for h in json.loads(out.out)] == ["google_ads:*:campaign_budget:9001"]
