"""The API's own records: threads created through it (before they have a run) and its runs.

One SQLite file in the state directory (``api.sqlite``). An adpilot run is one thread (its state in
the checkpointer, its index row in the run registry); an API run is one call that drives it: the
start, or a resume with decisions. This file keeps what only the API knows of them: a thread's
metadata and creation time, and each API run's status, caller and error.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adpilot.errors import UsageError
from adpilot.sqlite import open_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    thread_id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    metadata TEXT NOT NULL,
    owner TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    assistant_id TEXT NOT NULL,
    status TEXT NOT NULL,          -- pending | running | success | error | interrupted
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    metadata TEXT NOT NULL,
    caller TEXT NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_thread ON runs (thread_id, created);
"""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


@dataclass(frozen=True)
class ApiThread:
    thread_id: str
    created: str
    metadata: dict[str, Any]
    owner: str


@dataclass(frozen=True)
class ApiRun:
    run_id: str
    thread_id: str
    assistant_id: str
    status: str
    created: str
    updated: str
    metadata: dict[str, Any]
    caller: str
    error: str | None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "assistant_id": self.assistant_id,
            "created_at": self.created,
            "updated_at": self.updated,
            "status": self.status,
            "metadata": self.metadata,
            "multitask_strategy": "reject",
            "kwargs": {},
        }
        if self.error is not None:
            data["error"] = self.error
        return data


class ApiStore:
    def __init__(self, path: Path) -> None:
        self._db = open_database(path, _SCHEMA, what="the console's API records", error=UsageError)

    def close(self) -> None:
        self._db.close()

    def add_thread(self, thread_id: str, metadata: dict[str, Any], owner: str) -> ApiThread | None:
        """The new thread; None when ``thread_id`` exists already."""
        created = _now()
        try:
            self._db.execute(
                "INSERT INTO threads (thread_id, created, metadata, owner) VALUES (?, ?, ?, ?)",
                (thread_id, created, json.dumps(metadata, ensure_ascii=False), owner),
            )
        except sqlite3.IntegrityError:
            return None
        return ApiThread(thread_id, created, metadata, owner)

    def thread(self, thread_id: str) -> ApiThread | None:
        row = self._db.execute(
            "SELECT thread_id, created, metadata, owner FROM threads WHERE thread_id = ?", (thread_id,)
        ).fetchone()
        return ApiThread(row[0], row[1], json.loads(row[2]), row[3]) if row else None

    def threads(self) -> list[ApiThread]:
        rows = self._db.execute("SELECT thread_id, created, metadata, owner FROM threads").fetchall()
        return [ApiThread(r[0], r[1], json.loads(r[2]), r[3]) for r in rows]

    def add_run(self, run_id: str, thread_id: str, assistant_id: str, metadata: dict[str, Any], caller: str) -> ApiRun:
        now = _now()
        self._db.execute(
            "INSERT INTO runs (run_id, thread_id, assistant_id, status, created, updated, metadata, caller) "
            "VALUES (?, ?, ?, 'pending', ?, ?, ?, ?)",
            (run_id, thread_id, assistant_id, now, now, json.dumps(metadata, ensure_ascii=False), caller),
        )
        run = self.run(thread_id, run_id)
        assert run is not None
        return run

    def set_status(self, run_id: str, status: str, error: str | None = None) -> None:
        self._db.execute(
            "UPDATE runs SET status = ?, error = ?, updated = ? WHERE run_id = ?", (status, error, _now(), run_id)
        )

    def run(self, thread_id: str, run_id: str) -> ApiRun | None:
        row = self._db.execute("SELECT * FROM runs WHERE run_id = ? AND thread_id = ?", (run_id, thread_id)).fetchone()
        return _run(row) if row else None

    def runs(self, thread_id: str, *, limit: int, offset: int, status: str | None) -> list[ApiRun]:
        where, params = "WHERE thread_id = ?", [thread_id]
        if status is not None:
            where += " AND status = ?"
            params.append(status)
        rows = self._db.execute(
            f"SELECT * FROM runs {where} ORDER BY created DESC, rowid DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        ).fetchall()
        return [_run(r) for r in rows]

    def last_run(self, thread_id: str) -> ApiRun | None:
        found = self.runs(thread_id, limit=1, offset=0, status=None)
        return found[0] if found else None


def _run(row: tuple[Any, ...]) -> ApiRun:
    return ApiRun(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]), row[7], row[8])


def store_path(state_dir: Path) -> Path:
    return state_dir / "api.sqlite"
