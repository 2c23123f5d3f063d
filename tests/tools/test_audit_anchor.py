"""The audit log's keyed chain and its anchor: every way of rewriting history is caught.

Each tamper variant is checked twice where it matters: `adpilot audit verify` exits 6 (EXIT_AUDIT)
naming the first bad row or the missing range, and the Guard refuses every change (rule
``audit.broken``) while reads go on.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adpilot.app.cli import EXIT_AUDIT, EXIT_OK, EXIT_USAGE, main
from adpilot.compose.deployment import open_audit_log
from adpilot.config import Config
from adpilot.errors import AuditTamperedError
from adpilot.policies import load_policy
from adpilot.tools.audit import GENESIS, KEYED, AuditKeyError, AuditLog, Seal, _row_hash
from adpilot.tools.guard import Guard, RunScope
from tests.conftest import DE

KEY = "k" * 40  # a test key from the environment; never a real one
ROW = {
    "run_id": "run-1",
    "thread_id": "t",
    "actor": "adpilot",
    "role": "bidding",
    "tool": "set_keyword_bid",
    "args": {},
    "call_hash": "h",
    "policy_hash": "p",
}


def _seal(folder: Path, key: str = KEY, every: int = 1) -> Seal:
    return Seal(key.encode(), "test", folder / "anchor" / "audit.anchor", every)


def _fill(log: AuditLog, rows: int, *, deny_every: int = 3) -> None:
    for index in range(rows):
        decision = "deny" if index % deny_every == 2 else "allow"
        log.append("decision", decision=decision, reason=f"r{index}", entity="e", before=index, after=index + 1, **ROW)


def _sealed_log(folder: Path, rows: int = 6) -> Path:
    """A keyed, anchored log of ``rows`` rows, closed; returns the database path."""
    path = folder / "audit.sqlite3"
    log = AuditLog(path, seal=_seal(folder))
    _fill(log, rows)
    log.close()
    return path


def _tamper(path: Path, *statements: str) -> None:
    """What an attacker with file access does: drop the triggers, change rows, commit."""
    db = sqlite3.connect(path)
    db.executescript("DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;")
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()


def _recompute(path: Path, chain_key: bytes | None, rewrite: Any = None, drop: Any = None) -> None:
    """Rewrite history and re-chain every row — plain SHA-256 without the key, or under a guessed key."""
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    rows = [dict(r) for r in db.execute("SELECT * FROM audit ORDER BY seq")]
    db.executescript("DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;")
    db.execute("DELETE FROM audit")
    kept = [r for r in rows if not (drop and drop(r))]
    prev = GENESIS
    for seq, row in enumerate(kept, 1):
        if rewrite:
            rewrite(row)
        row["seq"], row["prev_hash"] = seq, prev
        row["hash"] = prev = _row_hash(prev, row, chain_key)
        db.execute(f"INSERT INTO audit ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
    db.execute("UPDATE audit_head SET seq = ?, hash = ?", (len(kept), prev))
    db.commit()
    db.close()


def _verify_error(folder: Path, key: str = KEY) -> AuditTamperedError:
    log = AuditLog(folder / "audit.sqlite3", seal=_seal(folder, key))
    try:
        with pytest.raises(AuditTamperedError) as info:
            log.verify()
        return info.value
    finally:
        log.close()


# --- the keyed chain and the anchor ------------------------------------------------------------


def test_a_sealed_log_is_keyed_anchored_and_verifies(tmp_path):
    path = _sealed_log(tmp_path)
    rows = sqlite3.connect(path).execute("SELECT hash FROM audit ORDER BY seq").fetchall()
    assert all(h.startswith(KEYED) for (h,) in rows)
    lines = (tmp_path / "anchor" / "audit.anchor").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2, 3, 4, 5, 6]  # one checkpoint per append
    assert set(json.loads(lines[-1])) == {"seq", "head", "rows", "at", "plain", "kid", "mac"}
    log = AuditLog(path, seal=_seal(tmp_path))
    assert log.problem is None and log.verify() == 6


def test_an_edited_row_is_named(tmp_path):
    _sealed_log(tmp_path)
    _tamper(tmp_path / "audit.sqlite3", "UPDATE audit SET after = '99' WHERE seq = 3")
    error = _verify_error(tmp_path)
    assert "audit row 3 was altered" in str(error) and error.seq == 3


def test_a_deleted_row_is_named(tmp_path):
    _sealed_log(tmp_path)
    _tamper(tmp_path / "audit.sqlite3", "DELETE FROM audit WHERE seq IN (2, 3)")
    error = _verify_error(tmp_path)
    assert "audit rows 2 to 3 are missing" in str(error) and error.seq == 2


def test_truncation_with_a_rewritten_head_names_the_missing_range(tmp_path):
    path = _sealed_log(tmp_path)
    (head,) = sqlite3.connect(path).execute("SELECT hash FROM audit WHERE seq = 4").fetchone()
    _tamper(path, "DELETE FROM audit WHERE seq > 4", f"UPDATE audit_head SET seq = 4, hash = '{head}'")
    error = _verify_error(tmp_path)
    assert "audit rows 5 to 6 are missing" in str(error) and "ends at row 4" in str(error)
    assert AuditLog(path, seal=_seal(tmp_path)).problem is not None  # the cheap check on opening sees it too


def test_reordered_rows_are_named(tmp_path):
    path = _sealed_log(tmp_path)
    _tamper(
        path,
        "UPDATE audit SET seq = 100 WHERE seq = 2",
        "UPDATE audit SET seq = 2 WHERE seq = 3",
        "UPDATE audit SET seq = 3 WHERE seq = 100",
    )
    error = _verify_error(tmp_path)
    assert "audit row 2" in str(error) and error.seq == 2


@pytest.mark.parametrize(
    "statements",
    [
        ("DELETE FROM audit", "DELETE FROM audit_head"),
        ("DROP TABLE audit", "DROP TABLE audit_head"),
    ],
    ids=["emptied", "dropped"],
)
def test_emptied_or_dropped_tables_are_behind_the_anchor(tmp_path, statements):
    _sealed_log(tmp_path)
    _tamper(tmp_path / "audit.sqlite3", *statements)
    error = _verify_error(tmp_path)
    assert "has no rows, but its anchor" in str(error) and "sealed 6" in str(error)


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_deleted_or_replaced_database_is_behind_the_anchor(tmp_path, how):
    path = _sealed_log(tmp_path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if how == "replaced":  # a new log with a plausible history of its own, written without the key
        forged = AuditLog(path)
        _fill(forged, 2)
        forged.close()
    log = AuditLog(path, seal=_seal(tmp_path))
    assert log.problem is not None and "restore the database" in log.problem
    with pytest.raises(AuditTamperedError):
        log.verify()


def test_a_full_recompute_without_the_key_is_detected(tmp_path):
    """Change the actor, remove every deny, re-chain it all: plainly, or under a guessed key."""
    path = _sealed_log(tmp_path)
    backup = tmp_path / "backup.sqlite3"
    shutil.copy(path, backup)

    def rewrite(row: dict[str, Any]) -> None:
        row["actor"] = "someone else"

    def drop(row: dict[str, Any]) -> bool:
        return row["decision"] == "deny"

    _recompute(path, None, rewrite, drop)
    error = _verify_error(tmp_path)
    assert "audit row 1 is not sealed with the audit key" in str(error)
    shutil.copy(backup, path)
    _recompute(path, hashlib.sha256(b"a guess").digest(), rewrite, drop)
    error = _verify_error(tmp_path)
    assert "audit row 1 was altered" in str(error) and error.seq == 1


def test_an_edited_anchor_line_is_detected(tmp_path):
    _sealed_log(tmp_path)
    anchor = tmp_path / "anchor" / "audit.anchor"
    lines = anchor.read_text().splitlines()
    forged = json.loads(lines[-1]) | {"seq": 4, "rows": 4}
    anchor.write_text("\n".join([*lines[:-1], json.dumps(forged)]) + "\n")
    assert "does not carry a valid seal" in str(_verify_error(tmp_path))


def test_a_checkpoint_a_crash_cut_short_seals_nothing_and_breaks_nothing(tmp_path):
    path = _sealed_log(tmp_path, rows=3)
    anchor = tmp_path / "anchor" / "audit.anchor"
    with anchor.open("a") as handle:
        handle.write('{"seq":4,"head":"hmac:ab')  # killed mid-write
    log = AuditLog(path, seal=_seal(tmp_path))
    assert log.problem is None
    _fill(log, 2)
    assert log.verify() == 5
    assert json.loads(anchor.read_text().splitlines()[-1])["seq"] == 5


def test_a_missing_anchor_with_keyed_rows_is_detected(tmp_path):
    _sealed_log(tmp_path)
    (tmp_path / "anchor" / "audit.anchor").unlink()
    log = AuditLog(tmp_path / "audit.sqlite3", seal=_seal(tmp_path))
    assert log.problem is not None and "anchor" in log.problem
    with pytest.raises(AuditTamperedError, match=r"anchor .* is missing"):
        log.verify()


def test_a_log_written_before_keys_is_adopted_and_then_protected(tmp_path, capsys):
    path = tmp_path / "audit.sqlite3"
    legacy = AuditLog(path)  # the plain (version 1) chain
    _fill(legacy, 4)
    legacy.close()
    log = AuditLog(path, seal=_seal(tmp_path))
    assert log.problem is None and "now sealed" in capsys.readouterr().err
    _fill(log, 2)
    assert log.verify() == 6
    log.close()
    hashes = [h for (h,) in sqlite3.connect(path).execute("SELECT hash FROM audit ORDER BY seq")]
    assert [h.startswith(KEYED) for h in hashes] == [False] * 4 + [True] * 2
    # The old rows stay plain, but are sealed by the adoption checkpoint: re-chaining them is caught.
    _recompute(path, None, lambda row: row.update(actor="x") if row["seq"] == 2 else None)
    assert "audit row 4 does not match the anchor's checkpoint" in str(_verify_error(tmp_path))


def test_a_log_truncated_while_a_process_writes_refuses_its_next_intent(tmp_path):
    path = tmp_path / "audit.sqlite3"
    log = AuditLog(path, seal=_seal(tmp_path))
    _fill(log, 5)
    (head,) = sqlite3.connect(path).execute("SELECT hash FROM audit WHERE seq = 3").fetchone()
    _tamper(path, "DELETE FROM audit WHERE seq > 3", f"UPDATE audit_head SET seq = 3, hash = '{head}'")
    with pytest.raises(AuditTamperedError, match="restore the database"):
        log.append("intent", idempotency_key="k", **ROW)  # no intent, so no side effect
    assert log.problem is not None
    log.append("decision", decision="deny", **ROW)  # evidence is still written, but nothing is sealed
    assert json.loads((tmp_path / "anchor" / "audit.anchor").read_text().splitlines()[-1])["seq"] == 5


def test_checkpoints_every_n_rows_and_on_close(tmp_path):
    path = tmp_path / "audit.sqlite3"
    log = AuditLog(path, seal=_seal(tmp_path, every=4))
    _fill(log, 6)
    log.close()
    seqs = [json.loads(line)["seq"] for line in (tmp_path / "anchor" / "audit.anchor").read_text().splitlines()]
    assert seqs == [4, 6]


def test_the_wrong_key_is_a_key_error_not_a_verified_log(tmp_path):
    _sealed_log(tmp_path)
    with pytest.raises(AuditKeyError, match="another key"):
        AuditLog(tmp_path / "audit.sqlite3", seal=_seal(tmp_path, key="w" * 40))


@given(
    st.lists(
        st.tuples(st.sampled_from(["edit", "delete"]), st.integers(1, 8), st.sampled_from(["actor", "after", "rule"])),
        min_size=1,
        max_size=4,
    )
)
@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
def test_any_edit_or_deletion_is_detected_at_or_before_the_first_touched_row(changes):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = _sealed_log(folder, rows=8)
        statements = []
        for action, seq, column in changes:
            if action == "delete":
                statements.append(f"DELETE FROM audit WHERE seq = {seq}")
            else:
                statements.append(f"UPDATE audit SET {column} = coalesce({column}, '') || '~' WHERE seq = {seq}")
        _tamper(path, *statements)
        error = _verify_error(folder)
        assert error.seq is not None and error.seq <= min(seq for _, seq, _ in changes)


# --- the Guard fails closed ---------------------------------------------------------------------


async def test_the_guard_refuses_changes_on_a_broken_log_and_reads_go_on(tmp_path, platforms, monkeypatch):
    monkeypatch.setenv("ADPILOT_AUDIT_KEY", KEY)
    config = Config(state_dir=tmp_path / "state")
    log = open_audit_log(config)
    _fill(log, 3)
    log.close()
    (tmp_path / "state" / "audit.sqlite3").unlink()
    log = open_audit_log(config)
    guard = Guard(platforms, load_policy(), log, RunScope("r", "t", frozenset({DE})))
    args = {"customer_id": DE, "budget_id": "9001", "amount_micros": "55000000"}
    refused = await guard.call("bidding", "set_campaign_budget", args, proposal_id="p1")
    assert (refused.decision, refused.error.rule) == ("deny", "audit.broken")
    assert "restore the database" in refused.error.message and "adpilot audit verify" in refused.error.message
    assert KEY not in refused.error.message
    read = await guard.call("bidding", "list_campaigns", {"customer_id": DE})
    assert read.ok


# --- end to end: the CLI -------------------------------------------------------------------------


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    file = tmp_path / "config.yaml"
    file.write_text(f"state_dir: {tmp_path / 'state'}\nlog: {{level: warning}}\n")
    monkeypatch.delenv("ADPILOT_CONFIG", raising=False)
    monkeypatch.delenv("ADPILOT_AUDIT_KEY", raising=False)
    return file


def _cli(capsys: pytest.CaptureFixture[str], config_file: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--config", str(config_file), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _budget(capsys: pytest.CaptureFixture[str], config_file: Path, micros: int) -> dict[str, Any]:
    args = json.dumps({"customer_id": DE, "budget_id": "9001", "amount_micros": str(micros)})
    _, out, _ = _cli(capsys, config_file, "tool", "call", "bidding", "set_campaign_budget", args, "--json")
    return json.loads(out)


def test_the_key_file_is_created_once_0600_outside_the_database_and_never_printed(capsys, config_file):
    state = config_file.parent / "state"
    assert _budget(capsys, config_file, 55_000_000)["decision"] == "allow"
    key_file = state / "keys" / "audit.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    code, out, err = _cli(capsys, config_file, "audit", "verify")
    assert code == EXIT_OK and "hash chain verified" in out and "keyed from row 1" in out
    assert key not in out + err and "created the audit key" not in err  # the warning came once, before
    code, out, err = _cli(capsys, config_file, "audit", "verify", "--json")
    report = json.loads(out)
    assert report["intact"] and report["sealed"] and report["anchor"] == str(state / "anchor" / "audit.anchor")
    assert key not in out


def test_the_first_use_warns_where_the_key_is(capsys, config_file):
    code, _, err = _cli(capsys, config_file, "audit", "verify")
    assert code == EXIT_OK
    key_file = config_file.parent / "state" / "keys" / "audit.key"
    assert f"created the audit key {key_file}" in err and "Keep a copy" in err
    assert key_file.read_text().strip() not in err


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ("edit", "audit row 2 was altered"),
        ("delete", "audit row 2 is missing"),
        ("truncate", "audit rows 3 to 6 are missing"),
        ("empty", "has no rows, but its anchor"),
        ("drop", "has no rows, but its anchor"),
        ("move", "has no rows, but its anchor"),
        ("reorder", "audit row 2"),
        ("recompute", "audit row 1 is not sealed with the audit key"),
        ("replace", "audit row 1 is not sealed with the audit key"),
    ],
)
def test_audit_verify_exits_6_naming_the_first_bad_row_or_the_missing_range(capsys, config_file, variant, message):
    for micros in (55_000_000, 60_000_000):
        _budget(capsys, config_file, micros)  # rows 1-2 (decision+intent), 3 (result), 4-6
    path = config_file.parent / "state" / "audit.sqlite3"
    (head,) = sqlite3.connect(path).execute("SELECT hash FROM audit WHERE seq = 2").fetchone()
    if variant in ("move", "replace"):
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{path}{suffix}").exists():
                os.replace(f"{path}{suffix}", config_file.parent / f"moved{suffix}")
        if variant == "replace":  # a fresh log of one plausible row, written without the key
            forged = AuditLog(path)
            _fill(forged, 1)
            forged.close()
    elif variant == "recompute":
        _recompute(path, None, lambda row: row.update(actor="nobody"))
    elif variant == "reorder":
        _tamper(
            path,
            "UPDATE audit SET seq = 100 WHERE seq = 2",
            "UPDATE audit SET seq = 2 WHERE seq = 3",
            "UPDATE audit SET seq = 3 WHERE seq = 100",
        )
    else:
        _tamper(
            path,
            *{
                "edit": ["UPDATE audit SET actor = 'nobody' WHERE seq = 2"],
                "delete": ["DELETE FROM audit WHERE seq = 2"],
                "truncate": ["DELETE FROM audit WHERE seq > 2", f"UPDATE audit_head SET seq = 2, hash = '{head}'"],
                "empty": ["DELETE FROM audit", "DELETE FROM audit_head"],
                "drop": ["DROP TABLE audit", "DROP TABLE audit_head"],
            }[variant],
        )
    code, out, err = _cli(capsys, config_file, "audit", "verify")
    assert code == EXIT_AUDIT == 6
    assert message in err and "NOT intact" in err
    code, out, _ = _cli(capsys, config_file, "audit", "verify", "--json")
    assert code == EXIT_AUDIT and json.loads(out)["intact"] is False


def test_moving_the_database_away_does_not_reset_the_budget_staircase(capsys, config_file):
    """+20 % three times is +72.8 % in a day: escalated. Without the window's history it would be
    a +20 % raise, allowed — so a log behind its anchor must refuse it instead."""
    assert _budget(capsys, config_file, 60_000_000)["decision"] == "allow"  # +20 %
    assert _budget(capsys, config_file, 72_000_000)["decision"] == "allow"  # +44 % on the day's lowest
    state = config_file.parent / "state"
    shutil.copytree(state, config_file.parent / "control")
    path = state / "audit.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{path}{suffix}").exists():
            os.replace(f"{path}{suffix}", config_file.parent / f"elsewhere{suffix}")
    third = _budget(capsys, config_file, 86_400_000)  # +72.8 % on the day's lowest, +20 % on the last
    assert (third["decision"], third["error"]["rule"]) == ("deny", "audit.broken"), third
    assert "restore the database" in third["error"]["message"]
    read = json.dumps({"customer_id": DE})
    listed = json.loads(_cli(capsys, config_file, "tool", "call", "bidding", "list_campaigns", read, "--json")[1])
    assert listed["ok"]  # reads go on
    assert _cli(capsys, config_file, "audit", "verify")[0] == EXIT_AUDIT
    # The control: with its history, the same raise escalates (it is never simply allowed).
    control = config_file.parent / "control.yaml"
    control.write_text(f"state_dir: {config_file.parent / 'control'}\nlog: {{level: warning}}\n")
    escalated = _budget(capsys, control, 86_400_000)
    assert (escalated["decision"], escalated["error"]["rule"]) == ("escalate", "budget.cumulative_increase")


def test_a_missing_key_file_is_not_silently_replaced(capsys, config_file):
    _budget(capsys, config_file, 55_000_000)
    (config_file.parent / "state" / "keys" / "audit.key").unlink()
    code, _, err = _cli(capsys, config_file, "audit", "verify")
    assert code == EXIT_USAGE and "restore the key file" in err
    assert not (config_file.parent / "state" / "keys" / "audit.key").exists()


def test_the_key_may_come_from_the_environment(capsys, config_file, monkeypatch):
    monkeypatch.setenv("ADPILOT_AUDIT_KEY", KEY)
    _budget(capsys, config_file, 55_000_000)
    assert not (config_file.parent / "state" / "keys").exists()
    code, out, err = _cli(capsys, config_file, "audit", "verify")
    assert code == EXIT_OK and "$ADPILOT_AUDIT_KEY" in out and KEY not in out + err
    monkeypatch.setenv("ADPILOT_AUDIT_KEY", "x" * 40)
    code, _, err = _cli(capsys, config_file, "audit", "verify")
    assert code == EXIT_USAGE and "another key" in err and "x" * 40 not in err
