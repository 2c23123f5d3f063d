"""Retention (issue 17, item 4): old audit rows move into sealed archive segments, verification
still covers the whole history, and every way of abusing the archive to hide rows is caught —
`audit verify` exits 6 and the Guard refuses every change (rule ``audit.broken``)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest

from adpilot.app.cli import EXIT_AUDIT, EXIT_OK, EXIT_USAGE, main
from adpilot.errors import AuditTamperedError, ConfigError, UsageError
from adpilot.policies import load_policy
from adpilot.tools.audit import AuditLog, Seal, check_retention, retention_floor
from adpilot.tools.guard import Guard, RunScope
from adpilot.tools.rollback import change_at
from tests.conftest import DE, Clock

KEY = "k" * 40  # a test key; never a real one
ROW = {
    "run_id": "run-1",
    "thread_id": "t",
    "actor": "adpilot",
    "role": "bidding",
    "tool": "set_keyword_bid",
    "args": {"note": "Kunde max@example.com"},
    "call_hash": "h",
    "policy_hash": "p",
}


def _seal(folder: Path) -> Seal:
    return Seal(KEY.encode(), "test", folder / "anchor" / "audit.anchor")


def _open(folder: Path, clock: Clock) -> AuditLog:
    return AuditLog(folder / "audit.sqlite3", seal=_seal(folder), clock=clock)


def _fill(log: AuditLog, rows: int, *, run: str = "run-1") -> None:
    for index in range(rows):
        log.append("result", status="ok", entity="e", before=index, after=index + 1, **{**ROW, "run_id": run})


@pytest.fixture
def aged(tmp_path: Path) -> tuple[Path, Clock]:
    """A sealed log: 10 rows 40 days old, 3 rows 10 days old, 4 rows from the last hour."""
    clock = Clock()
    log = _open(tmp_path, clock)
    _fill(log, 10, run="old")
    clock.advance(30 * 24)
    _fill(log, 3, run="middle")
    clock.advance(10 * 24 - 1)
    _fill(log, 4, run="new")
    clock.advance(1)
    log.close()
    return tmp_path, clock


def _archive(folder: Path, clock: Clock, days: int = 20, **more) -> dict:
    log = _open(folder, clock)
    try:
        return log.archive(clock() - dt.timedelta(days=days), **more)
    finally:
        log.close()


def _tamper(path: Path, *statements: str) -> None:
    db = sqlite3.connect(path)
    db.executescript(
        "DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete; "
        "DROP TRIGGER IF EXISTS audit_archived_no_update; DROP TRIGGER IF EXISTS audit_archived_no_delete;"
    )
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()


def _broken(folder: Path, clock: Clock) -> str:
    """Both checks: the full verification raises, and opening finds the log broken (so the Guard
    refuses every change); returns the verification's message."""
    log = _open(folder, clock)
    try:
        with pytest.raises(AuditTamperedError) as caught:
            log.verify()
        assert log.problem is not None and "broken" in log.problem
    finally:
        log.close()
    return str(caught.value)


def test_archiving_moves_old_rows_into_a_sealed_segment_and_verify_stays_green(aged):
    folder, clock = aged
    report = _archive(folder, clock)
    assert (report["first_seq"], report["last_seq"], report["rows"]) == (1, 10, 10)
    segment = Path(report["segment"])
    assert segment.parent == folder / "audit-archive" and segment.exists()
    manifest = json.loads(Path(report["manifest"]).read_text())
    assert manifest["last_seq"] == 10 and manifest["mac"] and manifest["sha256"]
    lines = [json.loads(line) for line in segment.read_text().splitlines()]
    assert [r["seq"] for r in lines] == list(range(1, 11))
    assert "max@example.com" not in segment.read_text()  # the archive holds tokens only

    log = _open(folder, clock)
    assert log.problem is None
    assert [r.seq for r in log.records()] == list(range(11, 18))
    assert log.verify(archives=True) == 7
    assert len(log.records_about("max@example.com")) == 17  # the archived rows are found too
    # A second archive continues where the first ended, and the chain goes on across both.
    report = log.archive(clock() - dt.timedelta(days=5))
    assert (report["first_seq"], report["last_seq"]) == (11, 13)
    _fill(log, 2)
    assert log.verify(archives=True) == 6
    log.close()
    assert main_verify(folder) == EXIT_OK


def main_verify(folder: Path) -> int:
    log = AuditLog(folder / "audit.sqlite3", seal=_seal(folder))
    try:
        log.verify(archives=True)
    except AuditTamperedError:
        return EXIT_AUDIT
    finally:
        log.close()
    return EXIT_OK


def test_a_dry_run_moves_nothing(aged):
    folder, clock = aged
    report = _archive(folder, clock, dry_run=True)
    assert report["rows"] == 10 and not (folder / "audit-archive").exists()
    assert len(_open(folder, clock).records()) == 17


def test_the_floor_keeps_what_the_guard_reads(aged):
    folder, clock = aged
    # Asked for everything: only rows older than the floor (the longest window the Guard reads) go.
    report = _archive(folder, clock, days=0, keep=dt.timedelta(hours=72))
    assert (report["first_seq"], report["last_seq"]) == (1, 13)
    log = _open(folder, clock)
    assert [r.run_id for r in log.records()] == ["new"] * 4
    # Even a keep shorter than the Guard's own window is raised to it.
    clock.advance(23)
    assert log.archive(clock(), keep=dt.timedelta(0))["rows"] == 0
    assert log.verify() == 4
    log.close()


def test_an_intent_whose_outcome_is_unknown_is_never_archived(tmp_path):
    clock = Clock()
    log = _open(tmp_path, clock)
    _fill(log, 2)
    log.append("intent", idempotency_key="t:p1", **ROW)  # sent, never answered
    _fill(log, 2)
    clock.advance(100 * 24)
    report = log.archive(clock())
    assert (report["last_seq"], report["kept_because"]) == (2, "an intent whose outcome is not known yet")
    assert log.key_history("t:p1").unfinished is not None
    log.close()


def test_the_retention_must_outlast_the_guards_windows():
    policy = load_policy()
    assert retention_floor(policy) == dt.timedelta(hours=72)  # approvals wait 72 h; limits look back 24 h
    with pytest.raises(ConfigError, match=r"audit\.retention_days = 3 is too short"):
        check_retention(3, policy)
    check_retention(4, policy)
    check_retention(None, policy)


def test_rollback_of_an_archived_row_says_why_not(aged):
    folder, clock = aged
    _archive(folder, clock)
    log = _open(folder, clock)
    with pytest.raises(UsageError, match=r"audit row 3 was archived on .* no longer rolled back"):
        change_at(log, 3)
    assert change_at(log, 12).seq == 12
    log.close()


# --- tampering with the archive ---------------------------------------------------------------


def test_an_edited_segment_is_caught(aged):
    folder, clock = aged
    segment = Path(_archive(folder, clock)["segment"])
    text = segment.read_text()
    segment.write_text(text.replace('"before":"3"', '"before":"4"'))  # same size: only the digest tells
    log = _open(folder, clock)
    with pytest.raises(AuditTamperedError, match="was altered"):
        log.verify()
    log.close()
    segment.write_text(text.replace('"before":"3"', '"before":"30"'))  # cut or grown: caught on opening too
    assert "was altered" in _broken(folder, clock)


def test_an_edited_manifest_or_a_segment_rewritten_with_it_is_caught(aged):
    folder, clock = aged
    report = _archive(folder, clock)
    manifest = Path(report["manifest"])
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "last_ts": "2020-01-01T00:00:00+00:00"}))
    with pytest.raises(AuditTamperedError, match="manifest"):
        _open(folder, clock).verify()


def test_a_deleted_archive_record_is_caught(aged):
    folder, clock = aged
    _archive(folder, clock)
    _tamper(folder / "audit.sqlite3", "DELETE FROM audit_archived")
    assert "rows 1 to 10 are missing" in _broken(folder, clock)


def test_an_edited_archive_record_is_caught(aged):
    folder, clock = aged
    _archive(folder, clock)
    # Claim that more rows were archived, to hide the next ones.
    _tamper(
        folder / "audit.sqlite3",
        "UPDATE audit_archived SET last_seq = 12, rows = 12",
        "DELETE FROM audit WHERE seq <= 12",
    )
    assert "does not carry a valid seal" in _broken(folder, clock)


@pytest.mark.parametrize("rows", ["seq = 11", "seq = 14", "seq BETWEEN 12 AND 13"])
def test_rows_deleted_outside_an_archive_are_caught(aged, rows):
    folder, clock = aged
    _archive(folder, clock)
    _tamper(folder / "audit.sqlite3", f"DELETE FROM audit WHERE {rows}")
    assert "missing" in _broken(folder, clock)


def test_the_trigger_lets_only_archived_ranges_go(aged):
    folder, clock = aged
    _archive(folder, clock)
    db = sqlite3.connect(folder / "audit.sqlite3")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM audit WHERE seq = 11")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM audit_archived")
    db.close()


def test_a_missing_segment_is_reported_only_when_asked_for(aged):
    folder, clock = aged
    segment = Path(_archive(folder, clock)["segment"])
    moved = folder / "cold"
    moved.mkdir()
    segment.rename(moved / segment.name)
    log = _open(folder, clock)
    assert log.problem is None and log.verify() == 7  # moved to cold storage: fine
    with pytest.raises(AuditTamperedError, match="is missing"):
        log.verify(archives=True)
    log.archive_dir = moved  # pointed at: checked there
    assert log.verify(archives=True) == 7
    log.close()


async def test_the_guard_refuses_changes_after_the_archive_was_abused(aged, platforms):
    folder, clock = aged
    _archive(folder, clock)
    _tamper(folder / "audit.sqlite3", "DELETE FROM audit_archived")
    log = _open(folder, clock)
    guard = Guard(platforms, load_policy(), log, RunScope("r", "t", frozenset({DE})))
    args = {"customer_id": DE, "budget_id": "9001", "amount_micros": "55000000"}
    refused = await guard.call("bidding", "set_campaign_budget", args, proposal_id="p1")
    assert (refused.decision, refused.error.rule) == ("deny", "audit.broken")
    log.close()


# --- the command --------------------------------------------------------------------------------


def _cli(capsys, config_file: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--config", str(config_file), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_archive_command(capsys, config_file, monkeypatch):
    monkeypatch.setenv("ADPILOT_AUDIT_KEY", KEY)
    args = json.dumps({"customer_id": DE, "budget_id": "9001", "amount_micros": "55000000"})
    assert _cli(capsys, config_file, "tool", "call", "bidding", "set_campaign_budget", args)[0] == EXIT_OK
    code, _, err = _cli(capsys, config_file, "audit", "archive")
    assert code == EXIT_USAGE and "audit.retention_days" in err
    code, out, _ = _cli(capsys, config_file, "audit", "archive", "--before", "2030-01-01T00:00:00Z", "--json")
    assert code == EXIT_OK and json.loads(out)["rows"] == 0  # everything is younger than the floor
    config_file.write_text(config_file.read_text() + "audit: {retention_days: 2}\n")
    code, _, err = _cli(capsys, config_file, "audit", "archive", "--dry-run")
    assert code == EXIT_USAGE and "audit.retention_days = 2 is too short" in err
    assert _cli(capsys, config_file, "audit", "verify")[0] == EXIT_OK


def test_a_log_from_before_archiving_gets_the_new_trigger(tmp_path):
    path = tmp_path / "audit.sqlite3"
    clock = Clock()
    log = _open(tmp_path, clock)
    _fill(log, 3)
    log.close()
    db = sqlite3.connect(path)  # as a log written before archiving existed: every DELETE refused
    db.executescript(
        "DROP TRIGGER audit_no_delete; CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    )
    db.close()
    clock.advance(100 * 24)
    log = _open(tmp_path, clock)
    _fill(log, 1)
    assert log.archive(clock())["last_seq"] == 3
    assert log.verify() == 1
    log.close()
