"""The audit log: append-only SQLite (WAL), one row per decision and per execution, hash-chained.

Every row stores the hash of its predecessor and its own hash over its content, so altering
or removing a row breaks the chain at that row; a head record (updated in the same
transaction) catches removal of the newest rows. Triggers refuse UPDATE and DELETE, so
tampering takes deliberate effort outside adpilot, and :meth:`AuditLog.verify` detects it.

Row kinds: ``decision`` (what the Guard decided and why), ``intent`` (written before a
side effect, with the before value and the planned after value) and ``result`` (after it,
with the outcome). An intent without a result marks an interrupted or unanswered call.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from adpilot.errors import AuditError, AuditTamperedError
from adpilot.sqlite import open_database

RowKind = Literal["decision", "intent", "result"]
GENESIS = "0" * 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    run_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    tool TEXT NOT NULL,
    args TEXT NOT NULL,
    call_hash TEXT NOT NULL,
    entity TEXT,
    decision TEXT,
    rule TEXT,
    reason TEXT,
    before TEXT,
    after TEXT,
    idempotency_key TEXT,
    status TEXT,
    result TEXT,
    policy_hash TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_run ON audit(run_id);
CREATE INDEX IF NOT EXISTS audit_key ON audit(idempotency_key);
CREATE INDEX IF NOT EXISTS audit_entity ON audit(entity, kind, ts);
CREATE TABLE IF NOT EXISTS audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

_JSON_FIELDS = ("args", "before", "after", "result")
_HASHED_FIELDS = (
    "seq",
    "ts",
    "kind",
    "run_id",
    "thread_id",
    "actor",
    "role",
    "tool",
    "args",
    "call_hash",
    "entity",
    "decision",
    "rule",
    "reason",
    "before",
    "after",
    "idempotency_key",
    "status",
    "result",
    "policy_hash",
)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _row_hash(prev_hash: str, row: dict[str, Any]) -> str:
    payload = canonical([row[name] for name in _HASHED_FIELDS])
    return hashlib.sha256(f"{prev_hash}\n{payload}".encode()).hexdigest()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    ts: str
    kind: str
    run_id: str
    thread_id: str
    actor: str
    role: str
    tool: str
    args: dict[str, Any]
    call_hash: str
    entity: str | None
    decision: str | None
    rule: str | None
    reason: str | None
    before: Any
    after: Any
    idempotency_key: str | None
    status: str | None
    result: Any
    policy_hash: str
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class KeyHistory:
    """What the audit log knows of one idempotency key: the call it names and how far it got."""

    call_hash: str | None = None  # the call the key was first used for
    first_seq: int | None = None
    completed: AuditRecord | None = None  # the successful result, if any
    unfinished: AuditRecord | None = None  # the latest intent without a conclusive result, if any


def _record(row: sqlite3.Row) -> AuditRecord:
    data = dict(row)
    for name in _JSON_FIELDS:
        data[name] = json.loads(data[name]) if data[name] is not None else None
    return AuditRecord(**data)


class AuditLog:
    """One SQLite file (or ``:memory:``); safe to share between the tasks of one process."""

    def __init__(self, path: Path | str, *, clock: Callable[[], dt.datetime] = utc_now) -> None:
        self.path = str(path)
        self.clock = clock
        self._db = open_database(self.path, _SCHEMA, what="the audit log", error=AuditError)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    def append(self, kind: RowKind, **fields: Any) -> AuditRecord:
        """Append one row; see :meth:`append_many` for the fields."""
        (seq,) = self.append_many([{"kind": kind, **fields}])
        record = self.get(seq)
        assert record is not None
        return record

    def append_many(self, rows: list[dict[str, Any]]) -> list[int]:
        """Append rows in one transaction (all or none); returns their sequence numbers.

        Each row names ``kind``, ``run_id``, ``thread_id``, ``actor``, ``role``, ``tool``,
        ``args``, ``call_hash`` and ``policy_hash``, and optionally ``entity``, ``decision``,
        ``rule``, ``reason``, ``before``, ``after``, ``idempotency_key``, ``status``, ``result``.
        """
        stamp = self.clock().isoformat(timespec="microseconds")
        prepared = []
        for fields in rows:
            unknown = set(fields) - set(_HASHED_FIELDS)
            if unknown:
                raise AuditError(f"unknown audit field(s): {sorted(unknown)}")
            row = {name: fields.get(name) for name in _HASHED_FIELDS if name != "seq"}
            row["ts"] = stamp
            row["args"] = canonical(row["args"] if row["args"] is not None else {})
            for name in ("before", "after", "result"):
                if row[name] is not None:
                    row[name] = canonical(row[name])
            prepared.append(row)
        seqs = []
        try:
            with self._transaction() as db:
                head = db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
                seq, prev_hash = (head["seq"], head["hash"]) if head else (0, GENESIS)
                for row in prepared:
                    seq += 1
                    row["seq"] = seq
                    row["prev_hash"] = prev_hash
                    row["hash"] = prev_hash = _row_hash(prev_hash, row)
                    columns = ", ".join(row)
                    placeholders = ", ".join("?" * len(row))
                    db.execute(f"INSERT INTO audit ({columns}) VALUES ({placeholders})", list(row.values()))
                    seqs.append(seq)
                db.execute(
                    "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                    (seq, prev_hash),
                )
        except sqlite3.Error as exc:
            raise AuditError(f"cannot write to the audit log at {self.path}: {exc}") from exc
        return seqs

    def get(self, seq: int) -> AuditRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM audit WHERE seq = ?", (seq,)).fetchone()
        return _record(row) if row else None

    def records(
        self,
        *,
        run_id: str | None = None,
        thread_id: str | None = None,
        tool: str | None = None,
        kind: str | None = None,
    ) -> list[AuditRecord]:
        clauses, params = [], []
        for column, value in (("run_id", run_id), ("thread_id", thread_id), ("tool", tool), ("kind", kind)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM audit {where} ORDER BY seq", params).fetchall()
        return [_record(r) for r in rows]

    def key_history(self, idempotency_key: str) -> KeyHistory:
        """Everything one key has seen, in one query: its call, its success, or its loose intent.

        Inconclusive means an intent with no result at all (the process died mid-call) or a
        result whose outcome is ``unknown`` (sent, but the answer was lost). A definite
        ``error`` is conclusive: nothing was applied.
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM audit WHERE idempotency_key = ? ORDER BY seq", (idempotency_key,)
            ).fetchall()
        if not rows:
            return KeyHistory()
        completed = next((r for r in reversed(rows) if r["kind"] == "result" and r["status"] == "ok"), None)
        effects = [r for r in rows if r["kind"] in ("intent", "result")]
        unfinished = None
        if completed is None and effects and (effects[-1]["kind"] == "intent" or effects[-1]["status"] == "unknown"):
            unfinished = next(r for r in reversed(effects) if r["kind"] == "intent")
        return KeyHistory(
            call_hash=rows[0]["call_hash"],
            first_seq=rows[0]["seq"],
            completed=_record(completed) if completed is not None else None,
            unfinished=_record(unfinished) if unfinished is not None else None,
        )

    def range_since(self, entity: str, since: dt.datetime) -> tuple[int, int] | None:
        """Lowest and highest integer value ``entity`` had in successful changes since ``since``.

        Computed in SQL over the before and after values, so its cost does not grow with the
        number of changes a busy entity accumulates in the window.
        """
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(v), MAX(v) FROM ("
                "  SELECT CAST(before AS INTEGER) AS v FROM audit WHERE entity = ?1 AND kind = 'result'"
                "    AND status = 'ok' AND ts >= ?2 AND json_type(before) = 'integer'"
                "  UNION ALL"
                "  SELECT CAST(after AS INTEGER) FROM audit WHERE entity = ?1 AND kind = 'result'"
                "    AND status = 'ok' AND ts >= ?2 AND json_type(after) = 'integer')",
                (entity, since.isoformat(timespec="microseconds")),
            ).fetchone()
        return None if row[0] is None else (int(row[0]), int(row[1]))

    def verify(self) -> int:
        """Check the whole chain; return the number of rows, or raise naming the first bad row."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM audit ORDER BY seq").fetchall()
            head = self._db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        prev_hash, expected_seq = GENESIS, 1
        for row in rows:
            data = dict(row)
            if data["seq"] != expected_seq:
                raise AuditTamperedError(
                    f"audit row {expected_seq} is missing (the next row present is {data['seq']})", expected_seq
                )
            if data["prev_hash"] != prev_hash:
                raise AuditTamperedError(
                    f"audit row {data['seq']} does not follow row {data['seq'] - 1}: chain broken", data["seq"]
                )
            if _row_hash(prev_hash, data) != data["hash"]:
                raise AuditTamperedError(
                    f"audit row {data['seq']} was altered: its content does not match its hash", data["seq"]
                )
            prev_hash, expected_seq = data["hash"], expected_seq + 1
        if head is not None and (head["seq"] != expected_seq - 1 or head["hash"] != prev_hash):
            raise AuditTamperedError(
                f"the newest audit rows are missing: the log ends at row {expected_seq - 1} "
                f"but row {head['seq']} was written",
                expected_seq,
            )
        return len(rows)
