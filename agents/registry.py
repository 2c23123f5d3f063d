"""Which runs exist and which wait for approvals — so another process can find and resume them.

The checkpointer holds each run's state; this small table indexes the runs (one row per
thread) so that `adpilot approvals list` and an interrupted `adpilot maintain` need not scan
checkpoints.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
)
"""


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
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)

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

    def find_pending(self, pending_id: str) -> RunRecord | None:
        for record in self.with_status("waiting"):
            if any(p["id"] == pending_id or p["id"].endswith(pending_id) for p in record.pending):
                return record
        return None
