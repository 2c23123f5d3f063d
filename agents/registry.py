"""Which runs exist and which wait for approvals — so another process can find and resume them.

The checkpointer holds each run's state; this small table indexes the runs (one row per
thread) so that `adpilot approvals list` and an interrupted `adpilot maintain` need not scan
checkpoints.

The ``approvals`` table holds what a person is asked, one row per pending id: the call hash it
binds, who asked and when, when it expires, how many different people must approve, and whether
it is still open. A call hash has at most one open, unexpired approval (:meth:`RunRegistry.ask`,
in one ``BEGIN IMMEDIATE`` transaction): a later run escalating the same call reuses it. The
``approvers`` table counts each person once per approval (four-eyes).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adpilot.errors import UsageError
from adpilot.sqlite import open_database
from adpilot.tools.guard import person_key

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
CREATE TABLE IF NOT EXISTS approvals (
    pending_id TEXT PRIMARY KEY,   -- what a person is asked
    thread_id TEXT NOT NULL,
    call_hash TEXT NOT NULL,
    state TEXT NOT NULL,           -- open | decided | void
    requester TEXT NOT NULL,
    needed INTEGER NOT NULL,       -- different approvers it takes
    asked_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS approvals_by_call ON approvals (call_hash, state);
CREATE TABLE IF NOT EXISTS approvers (
    pending_id TEXT NOT NULL,      -- one row per person and approval: nobody counts twice
    approver TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (pending_id, approver)
);
CREATE TABLE IF NOT EXISTS stops (
    thread_id TEXT PRIMARY KEY,    -- a person stopped this one run (at most once)
    by TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
"""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


def same_person(a: str, b: str) -> bool:
    """Two identities name one person: case, blanks, invisible characters, accents and look-alike
    letters do not matter (:func:`adpilot.tools.guard.person_key`)."""
    return person_key(a) == person_key(b)


@dataclass(frozen=True)
class Asked:
    """One approval as asked: what it binds, who asked, when it expires, how many must approve."""

    pending_id: str
    thread_id: str
    call_hash: str
    state: str
    requester: str
    needed: int
    asked_at: str
    expires_at: str
    detail: dict[str, Any]
    approvers: tuple[str, ...] = ()

    def expired(self, now: dt.datetime | None = None) -> bool:
        return dt.datetime.fromisoformat(self.expires_at) <= (now or _now())


@dataclass(frozen=True)
class Reuse:
    """The outcome of asking: the approval that waits for this call (``reused``: asked earlier)."""

    pending_id: str
    reused: bool


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
class StopRequest:
    """A person stopped one run: who, why, when."""

    by: str
    reason: str
    at: str

    def __str__(self) -> str:
        return f"stopped by {self.by}: {self.reason}"


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

    def waiting_items(self) -> list[tuple[RunRecord, dict[str, Any], Asked | None]]:
        """Every approval waiting in the registry: its run, the pending item, and how it was asked
        (None for an item recorded before approvals were asked in the registry)."""
        return [
            (record, item, self.asked(item["id"])) for record in self.with_status("waiting") for item in record.pending
        ]

    def mark_running(self, thread_id: str) -> None:
        """The run is being driven again (its pending list is rewritten when it pauses or ends)."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self._db.execute(
            "UPDATE runs SET status = 'running', pending = '[]', updated = ? WHERE thread_id = ?", (now, thread_id)
        )

    def request_stop(self, thread_id: str, by: str, reason: str) -> StopRequest:
        """Record that ``by`` stopped run ``thread_id``, for ``reason``; a run is stopped once — a
        second stop is refused (UsageError naming the first)."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self._db.execute("BEGIN IMMEDIATE")
        try:
            earlier = self.stop_request(thread_id)
            if earlier is None:
                self._db.execute(
                    "INSERT INTO stops (thread_id, by, reason, at) VALUES (?, ?, ?, ?)", (thread_id, by, reason, now)
                )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        if earlier is not None:
            when = earlier.at.replace("T", " ")[:16]
            raise UsageError(f"run {thread_id} was already {earlier} (at {when} UTC); it cannot be stopped twice")
        return StopRequest(by, reason, now)

    def stop_request(self, thread_id: str) -> StopRequest | None:
        """Who stopped run ``thread_id``, and why (None: nobody)."""
        row = self._db.execute("SELECT by, reason, at FROM stops WHERE thread_id = ?", (thread_id,)).fetchone()
        return StopRequest(str(row[0]), str(row[1]), str(row[2])) if row is not None else None

    def mark_stopped(self, thread_id: str) -> None:
        """The run, running or waiting, is stopped; what it waits for stays listed (its approvals open)."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self._db.execute(
            "UPDATE runs SET status = 'stopped', updated = ? WHERE thread_id = ? AND status IN ('running', 'waiting')",
            (now, thread_id),
        )

    def record_decision(self, pending_id: str, thread_id: str, decision: str, approver: str) -> None:
        """Who decided an approval, and how (a record an attempt left before dying is replaced).

        Two people deciding at once are kept apart by the run's lease, not by this table: it only
        answers "decided by whom" afterwards."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO decisions (pending_id, thread_id, decision, approver, at) "
                "VALUES (?, ?, ?, ?, ?)",
                (pending_id, thread_id, decision, approver, now),
            )
            self._db.execute("UPDATE approvals SET state = 'decided' WHERE pending_id = ?", (pending_id,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def forget_decision(self, pending_id: str) -> None:
        """The decision was not carried out (the kill switch): the approval is open again, and
        whoever approved it must approve it again."""
        self._db.execute("DELETE FROM decisions WHERE pending_id = ?", (pending_id,))
        self._db.execute("DELETE FROM approvers WHERE pending_id = ?", (pending_id,))
        self._db.execute("UPDATE approvals SET state = 'open' WHERE pending_id = ?", (pending_id,))

    # --- what people are asked ----------------------------------------------------------
    def ask(
        self,
        pending_id: str,
        thread_id: str,
        call_hash: str,
        *,
        requester: str,
        needed: int,
        expire_after: dt.timedelta,
        detail: dict[str, Any],
        asked_at: dt.datetime | None = None,
        now: dt.datetime | None = None,
    ) -> Reuse:
        """Ask a person about ``pending_id`` — unless an open, unexpired approval of the same call
        hash waits already in a run nobody stopped: then that one is reused (and nothing is recorded
        for this id).

        Asking again for an id already recorded returns it unchanged, so a run that pauses twice
        with the same item keeps its first time and expiry."""
        now = now or _now()
        asked_at = asked_at or now
        self._db.execute("BEGIN IMMEDIATE")
        try:
            own = self._db.execute(
                "SELECT thread_id, state, expires_at FROM approvals WHERE pending_id = ?", (pending_id,)
            ).fetchone()
            if own is not None and own[0] == thread_id:
                self._db.execute("COMMIT")
                return Reuse(pending_id, False)
            other = self._db.execute(
                "SELECT pending_id FROM approvals WHERE call_hash = ? AND state = 'open' AND expires_at > ? "
                "AND thread_id != ? AND thread_id NOT IN (SELECT thread_id FROM stops) ORDER BY asked_at LIMIT 1",
                (call_hash, _iso(now), thread_id),
            ).fetchone()
            if other is not None:
                self._db.execute("COMMIT")
                return Reuse(other[0], True)
            if own is not None:
                # The same id was asked by another run before: decided, void or expired since. This
                # run asks afresh (nobody's earlier approval counts); an expired one still listed
                # as waiting in that run is void and leaves its list.
                self._db.execute("DELETE FROM approvers WHERE pending_id = ?", (pending_id,))
                if own[1] == "open":
                    self._drop_pending(str(own[0]), pending_id)
            self._db.execute(
                "INSERT OR REPLACE INTO approvals (pending_id, thread_id, call_hash, state, requester, needed, "
                "asked_at, expires_at, detail) VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?)",
                (
                    pending_id,
                    thread_id,
                    call_hash,
                    requester,
                    needed,
                    _iso(asked_at),
                    _iso(asked_at + expire_after),
                    json.dumps(detail, ensure_ascii=False, default=str),
                ),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return Reuse(pending_id, False)

    def requester_of(self, thread_id: str) -> str | None:
        """Who asked for the changes run ``thread_id`` escalates: the requester of its first
        approval (None: it asked nothing yet). A run resumed by an approver's process still asks
        in the name of whoever started it."""
        row = self._db.execute(
            "SELECT requester FROM approvals WHERE thread_id = ? ORDER BY asked_at, rowid LIMIT 1", (thread_id,)
        ).fetchone()
        return str(row[0]) if row is not None else None

    def _drop_pending(self, thread_id: str, pending_id: str) -> None:
        """Inside a transaction: ``pending_id`` no longer waits in run ``thread_id`` (a run left with
        nothing waiting is done)."""
        row = self._db.execute("SELECT pending, status FROM runs WHERE thread_id = ?", (thread_id,)).fetchone()
        if row is None:
            return
        left = [p for p in json.loads(row[0]) if p.get("id") != pending_id]
        status = "done" if row[1] == "waiting" and not left else row[1]
        self._db.execute(
            "UPDATE runs SET pending = ?, status = ? WHERE thread_id = ?",
            (json.dumps(left, ensure_ascii=False), status, thread_id),
        )

    def asked(self, pending_id: str) -> Asked | None:
        row = self._db.execute(
            "SELECT pending_id, thread_id, call_hash, state, requester, needed, asked_at, expires_at, detail "
            "FROM approvals WHERE pending_id = ?",
            (pending_id,),
        ).fetchone()
        if row is None:
            return None
        return Asked(
            str(row[0]),
            str(row[1]),
            str(row[2]),
            str(row[3]),
            str(row[4]),
            int(row[5]),
            str(row[6]),
            str(row[7]),
            json.loads(row[8]),
            self.approvers(pending_id),
        )

    def void(self, pending_id: str) -> None:
        """The approval can no longer be given (expired, or reused by another id)."""
        self._db.execute("UPDATE approvals SET state = 'void' WHERE pending_id = ?", (pending_id,))

    def approvers(self, pending_id: str) -> tuple[str, ...]:
        rows = self._db.execute(
            "SELECT approver FROM approvers WHERE pending_id = ? ORDER BY at, rowid", (pending_id,)
        ).fetchall()
        return tuple(r[0] for r in rows)

    def add_approver(self, pending_id: str, approver: str) -> tuple[str, ...]:
        """Count ``approver`` once for ``pending_id``; the approvers so far, in order.

        The same person (however spelled in case) approving twice is an error, not a second vote."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            given = [
                r[0] for r in self._db.execute("SELECT approver FROM approvers WHERE pending_id = ?", (pending_id,))
            ]
            if any(same_person(approver, g) for g in given):
                raise UsageError(
                    f"{approver} has already approved {pending_id}; it needs the approval of another person"
                )
            self._db.execute(
                "INSERT INTO approvers (pending_id, approver, at) VALUES (?, ?, ?)",
                (pending_id, approver, dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return self.approvers(pending_id)

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
        # A stopped run's approvals are still found: deciding them is refused with who stopped it.
        waiting = [(record, p["id"]) for record in self.with_status("waiting", "stopped") for p in record.pending]
        exact = [(record, full) for record, full in waiting if full == pending_id]
        if exact:
            # One id in two runs' lists: the run that asks it now (see :meth:`ask`) is the one.
            asked = self.asked(pending_id)
            return next((e for e in exact if asked is not None and e[0].thread_id == asked.thread_id), exact[0])
        # The whole id of an approval that no longer waits names that approval, never another whose
        # id it begins (its renewal "….r2", asked again because that approval did not cover it).
        if (earlier := self.decision(pending_id)) is not None:
            raise UsageError(f"approval {pending_id} was already decided: {earlier}")
        if (known := self.asked(pending_id)) is not None:
            raise UsageError(
                f"approval {pending_id} is {known.state}, no longer waiting (see `adpilot approvals list`)"
            )
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
        if len({full for _, full in matches}) == 1 and len(matches) > 1:
            return self.find_pending(matches[0][1])
        if len(matches) > 1:
            names = ", ".join(full for _, full in matches[:5])
            raise UsageError(f"{pending_id!r} matches {len(matches)} approvals ({names}); give more of the id")
        return matches[0]
