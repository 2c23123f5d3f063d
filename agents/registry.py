"""Which runs exist and which wait for approvals — so another process can find and resume them.

The checkpointer holds each run's state; this small table indexes the runs (one row per
thread) so that `adpilot approvals list` and an interrupted `adpilot maintain` need not scan
checkpoints.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adpilot.errors import UsageError
from adpilot.sqlite import open_database

MIN_PREFIX = 8  # the shortest id prefix that may name an approval

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    thread_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    accounts TEXT NOT NULL,
    status TEXT NOT NULL,          -- running | waiting | done | stopped | failed
    pending TEXT NOT NULL DEFAULT '[]',
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS decisions (
    pending_id TEXT PRIMARY KEY,   -- who decided each approval
    thread_id TEXT NOT NULL,
    decision TEXT NOT NULL,
    approver TEXT NOT NULL,
    at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Decided:
    decision: str
    approver: str
    at: str

    def __str__(self) -> str:
        verb = {"approve": "approved", "reject": "rejected", "edit": "edited and approved"}.get(
            self.decision, self.decision
        )
        return f"{verb} by {self.approver} at {self.at.replace('T', ' ')[:19]} UTC"


@dataclass(frozen=True)
class RunRecord:
    thread_id: str
    run_id: str
    kind: str
    accounts: list[str]
    status: str
    pending: list[dict[str, Any]]
    created: str
    updated: str


class RunRegistry:
    def __init__(self, path: Path) -> None:
        # The default (full) sync, as this index always had.
        self._db = open_database(path, _SCHEMA, what="the run registry", synchronous=None)

    def close(self) -> None:
        self._db.close()

    def upsert(
        self, thread_id: str, run_id: str, kind: str, accounts: list[str], status: str, pending: list[dict[str, Any]]
    ) -> None:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self._db.execute(
            "INSERT INTO runs (thread_id, run_id, kind, accounts, status, pending, created, updated) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(thread_id) DO UPDATE SET "
            "status = excluded.status, pending = excluded.pending, updated = excluded.updated",
            (thread_id, run_id, kind, json.dumps(accounts), status, json.dumps(pending, ensure_ascii=False), now, now),
        )

    def _rows(self, where: str, params: tuple[Any, ...]) -> list[RunRecord]:
        rows = self._db.execute(f"SELECT * FROM runs {where} ORDER BY created", params).fetchall()
        return [RunRecord(r[0], r[1], r[2], json.loads(r[3]), r[4], json.loads(r[5]), r[6], r[7]) for r in rows]

    def get(self, thread_id: str) -> RunRecord | None:
        found = self._rows("WHERE thread_id = ?", (thread_id,))
        return found[0] if found else None

    def with_status(self, *statuses: str) -> list[RunRecord]:
        marks = ", ".join("?" * len(statuses))
        return self._rows(f"WHERE status IN ({marks})", statuses)

    def mark_running(self, thread_id: str) -> None:
        """The run is being driven again (its pending list is rewritten when it pauses or ends)."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self._db.execute(
            "UPDATE runs SET status = 'running', pending = '[]', updated = ? WHERE thread_id = ?", (now, thread_id)
        )

    def record_decision(self, pending_id: str, thread_id: str, decision: str, approver: str) -> None:
        """Who decided an approval, and how (a record an attempt left before dying is replaced).

        Two people deciding at once are kept apart by the run's lease, not by this table: it only
        answers "decided by whom" afterwards."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self._db.execute(
            "INSERT OR REPLACE INTO decisions (pending_id, thread_id, decision, approver, at) VALUES (?, ?, ?, ?, ?)",
            (pending_id, thread_id, decision, approver, now),
        )

    def forget_decision(self, pending_id: str) -> None:
        """The decision was not carried out (the kill switch): the approval is open again."""
        self._db.execute("DELETE FROM decisions WHERE pending_id = ?", (pending_id,))

    def decision(self, pending_id: str) -> Decided | None:
        row = self._db.execute(
            "SELECT decision, approver, at FROM decisions WHERE pending_id = ?", (pending_id,)
        ).fetchone()
        return Decided(row[0], row[1], row[2]) if row else None

    def find_pending(self, pending_id: str) -> tuple[RunRecord, str]:
        """The waiting run and the full id of the approval ``pending_id`` names.

        An id names an approval exactly, or by a prefix of at least 8 characters that no other
        waiting approval shares; anything else is an error, never a guess.
        """
        waiting = [(record, p["id"]) for record in self.with_status("waiting") for p in record.pending]
        exact = [(record, full) for record, full in waiting if full == pending_id]
        if exact:
            return exact[0]
        if len(pending_id) < MIN_PREFIX:
            raise UsageError(
                f"no pending approval {pending_id!r}: give the whole id or at least {MIN_PREFIX} of its first "
                "characters (see `adpilot approvals list`)"
            )
        matches = [(record, full) for record, full in waiting if full.startswith(pending_id)]
        if not matches:
            decided = self._db.execute(
                "SELECT pending_id FROM decisions WHERE substr(pending_id, 1, ?) = ?", (len(pending_id), pending_id)
            ).fetchall()
            if len(decided) == 1 and (earlier := self.decision(decided[0][0])) is not None:
                raise UsageError(f"approval {decided[0][0]} was already decided: {earlier}")
            raise UsageError(f"no pending approval {pending_id!r} (see `adpilot approvals list`)")
        if len(matches) > 1:
            names = ", ".join(full for _, full in matches[:5])
            raise UsageError(f"{pending_id!r} matches {len(matches)} approvals ({names}); give more of the id")
        return matches[0]
