"""The audit log is append-only and tamper-evident."""

import datetime as dt
import sqlite3

import pytest

from adpilot.errors import AuditTamperedError
from adpilot.tools.audit import AuditLog

# The fields every row needs; tests add what they are about.
ROW = {
    "run_id": "r",
    "thread_id": "t",
    "actor": "a",
    "role": "r",
    "tool": "x",
    "args": {},
    "call_hash": "h",
    "policy_hash": "p",
}


def _fill(log: AuditLog, rows: int = 5) -> None:
    for index in range(rows):
        log.append(
            "result",
            run_id="run-1",
            thread_id="t",
            actor="adpilot",
            role="bidding",
            tool="set_keyword_bid",
            args={"cpc_bid_micros": 1_000_000 + index},
            call_hash=f"h{index}",
            policy_hash="p",
            entity="google_ads:1:ad_group_criterion:1~2",
            before=1_000_000 + index - 1,
            after=1_000_000 + index,
            status="ok",
        )


@pytest.fixture
def log(tmp_path):
    audit = AuditLog(tmp_path / "audit.sqlite3")
    _fill(audit)
    yield audit
    audit.close()


def _tamper(path, sql):
    db = sqlite3.connect(path)
    db.executescript("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
    db.execute(sql)
    db.commit()
    db.close()


def test_an_untouched_log_verifies(log):
    assert log.verify() == 5


def test_updates_and_deletes_are_refused(log):
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        log._db.execute("UPDATE audit SET reason = 'x' WHERE seq = 2")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        log._db.execute("DELETE FROM audit WHERE seq = 2")


def test_an_altered_row_is_named(log, tmp_path):
    _tamper(tmp_path / "audit.sqlite3", "UPDATE audit SET after = '9999999' WHERE seq = 3")
    with pytest.raises(AuditTamperedError, match="row 3 was altered") as info:
        AuditLog(tmp_path / "audit.sqlite3").verify()
    assert info.value.seq == 3


def test_a_rewritten_row_with_a_recomputed_hash_breaks_the_next_link(log, tmp_path):
    from adpilot.tools.audit import _row_hash

    row = dict(log._db.execute("SELECT * FROM audit WHERE seq = 2").fetchone())
    row["after"] = "5"
    forged = _row_hash(row["prev_hash"], row)
    _tamper(tmp_path / "audit.sqlite3", f"UPDATE audit SET after = '5', hash = '{forged}' WHERE seq = 2")
    with pytest.raises(AuditTamperedError, match="row 3 does not follow row 2"):
        AuditLog(tmp_path / "audit.sqlite3").verify()


def test_a_removed_row_is_named(log, tmp_path):
    _tamper(tmp_path / "audit.sqlite3", "DELETE FROM audit WHERE seq = 2")
    with pytest.raises(AuditTamperedError, match="row 2 is missing"):
        AuditLog(tmp_path / "audit.sqlite3").verify()


def test_removing_the_newest_rows_is_detected(log, tmp_path):
    _tamper(tmp_path / "audit.sqlite3", "DELETE FROM audit WHERE seq >= 4")
    with pytest.raises(AuditTamperedError, match="newest audit rows are missing"):
        AuditLog(tmp_path / "audit.sqlite3").verify()


def test_the_chain_continues_across_reopening(log, tmp_path):
    log.close()
    reopened = AuditLog(tmp_path / "audit.sqlite3")
    _fill(reopened, 2)
    assert reopened.verify() == 7


def test_range_since_only_sees_the_window(tmp_path):
    now = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)
    clock = [now - dt.timedelta(hours=30)]
    audit = AuditLog(tmp_path / "a.sqlite3", clock=lambda: clock[0])
    _fill(audit, 1)
    clock[0] = now
    _fill(audit, 1)
    entity = "google_ads:1:ad_group_criterion:1~2"
    assert audit.range_since(entity, now - dt.timedelta(hours=24)) == (999_999, 1_000_000)
    assert audit.range_since(entity, now - dt.timedelta(hours=48)) == (999_999, 1_000_000)
    assert audit.range_since("google_ads:1:campaign:9", now - dt.timedelta(hours=48)) is None


def test_range_since_ignores_failed_and_non_numeric_changes(tmp_path):
    audit = AuditLog(tmp_path / "a.sqlite3")
    common = {**ROW, "entity": "e"}
    audit.append("result", status="error", before=1, after=99, **common)
    audit.append("result", status="ok", before="ENABLED", after="PAUSED", **common)
    audit.append("result", status="ok", before=5, after=7, **common)
    assert audit.range_since("e", dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) == (5, 7)


def test_key_history_tells_completed_unfinished_and_the_call(tmp_path):
    audit = AuditLog(tmp_path / "a.sqlite3")
    assert audit.key_history("k").call_hash is None
    audit.append("intent", idempotency_key="k", **ROW)
    history = audit.key_history("k")
    assert history.unfinished is not None and history.completed is None
    assert history.call_hash == ROW["call_hash"]
    audit.append("result", idempotency_key="k", status="unknown", **ROW)
    assert audit.key_history("k").unfinished is not None
    audit.append("result", idempotency_key="k", status="error", **ROW)
    assert audit.key_history("k").unfinished is None  # a definite error is conclusive: nothing applied
    audit.append("intent", idempotency_key="k", **ROW)
    audit.append("result", idempotency_key="k", status="ok", result={"id": 1}, **ROW)
    history = audit.key_history("k")
    assert history.unfinished is None and history.completed.result == {"id": 1}
