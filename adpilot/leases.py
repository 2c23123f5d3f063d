"""Leases: one actor per account (and one for the website) at a time, across processes.

Two actors changing the same Google Ads account at once (a scheduled ``maintain``, a person's
``tool call``, an approval, a rollback) would judge their changes against state the other is
changing: budgets could be raised twice, a rollback could undo a change made a second earlier.
So every actor that mutates first takes the *lease* of each resource it touches, e.g.
``google_ads:1112223333`` or ``cms``; a second actor waits a bounded time or is refused with a
message naming the holder (:class:`~adpilot.errors.BusyError`, exit code 5).

The leases live in one SQLite file in the state directory, so every adpilot process on the
machine sees the same table, whichever command started it. ``BEGIN IMMEDIATE`` takes SQLite's
write lock before a lease row is read, so two processes can never both find a resource free and
both take it. Taking several resources is all-or-nothing in one transaction, so no actor ever
holds half of what it asked for. The file must be on a local disk: SQLite's WAL mode needs
shared memory and its locking is not reliable over network file systems.

A crashed actor must not block the next one forever. Each lease therefore expires ``ttl_s``
seconds after its last heartbeat (:class:`Heartbeat` renews it from an asyncio task), and a lease
whose holder ran on this host under a process id that no longer exists is free at once, so a
``kill -9``'d run does not block the next one for the TTL (should the process id have been
reused meanwhile, the lease simply waits for its expiry). The shortcut trusts the host name to
name the process-id namespace: containers sharing the state directory must have distinct host
names (Docker's default); leases of other hosts are only ever freed by expiry.

Leases are advisory: they exclude adpilot actors that take them, not changes made in the Google
Ads UI. A holder that stalls for longer than the TTL can lose its lease to another actor; it
finds out from :meth:`LeaseStore.renew` (or :attr:`Heartbeat.lost`) and must stop mutating that
resource. A deployment with several servers would need a shared lock service instead (for
example PostgreSQL advisory locks); this module covers processes that share one machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from adpilot.errors import AdpilotError, BusyError
from adpilot.logs import get_logger
from adpilot.sqlite import open_database

CMS = "cms"
_ACCOUNT_PREFIX = "google_ads:"
_POLL_FIRST_S = 0.05
_POLL_MAX_S = 0.5

_log = get_logger("adpilot.leases")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS leases (
    resource TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    label TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    acquired REAL NOT NULL,
    heartbeat REAL NOT NULL,
    expires REAL NOT NULL
)
"""
_COLUMNS = "resource, owner_id, label, host, pid, acquired, heartbeat, expires"


def resource_for_account(customer_id: str) -> str:
    """The lease resource of a Google Ads account.

    Dashes are dropped so that ``111-222-3333`` and ``1112223333`` can never hold two leases
    on one account.
    """
    return _ACCOUNT_PREFIX + customer_id.replace("-", "").strip()


def describe_resource(resource: str) -> str:
    """The resource in the words a person reads in an error message."""
    if resource.startswith(_ACCOUNT_PREFIX):
        return f"account {resource.removeprefix(_ACCOUNT_PREFIX)}"
    if resource == CMS:
        return "the website (CMS)"
    return f"resource {resource}"


@dataclass(frozen=True)
class Owner:
    """One acquiring actor instance; two instances never share an id, even with one label."""

    id: str
    label: str
    host: str
    pid: int

    @classmethod
    def here(cls, label: str) -> Owner:
        """A new owner for this process; the random suffix keeps two actors of one process apart."""
        host = socket.gethostname()
        pid = os.getpid()
        return cls(id=f"{label}/{host}/{pid}/{uuid.uuid4().hex[:8]}", label=label, host=host, pid=pid)


@dataclass(frozen=True)
class Lease:
    """One row of the lease table; times are unix seconds from the store's clock."""

    resource: str
    owner_id: str
    label: str
    host: str
    pid: int
    acquired: float
    heartbeat: float
    expires: float

    def describe(self) -> str:
        """Who holds it, in words: ``adpilot maintain (pid 4242 on host-a, since 19:02:11 UTC)``."""
        since = dt.datetime.fromtimestamp(self.acquired, tz=dt.UTC).strftime("%H:%M:%S UTC")
        return f"{self.label} (pid {self.pid} on {self.host}, since {since})"


def _pid_exists(pid: int) -> bool:
    """Whether a process with this id exists on this host; when unsure, say yes.

    Signal 0 checks existence without signalling. ``PermissionError`` means it exists under
    another user. Windows has no signal 0 (``os.kill`` would terminate the process) and pids
    ``<= 0`` address process groups, so both count as alive and only expiry frees them.
    """
    if os.name == "nt" or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True
    return True


def _is_live(lease: Lease, now: float) -> bool:
    """Whether the lease still excludes others: not expired, and its process is not known dead."""
    if now >= lease.expires:
        return False
    return not (lease.host == socket.gethostname() and not _pid_exists(lease.pid))


def _as_list(resources: Iterable[str]) -> list[str]:
    """Resources in the caller's order without duplicates; a bare string is a caller bug."""
    if isinstance(resources, str):
        raise TypeError(f"pass a list of resources, not the string {resources!r}")
    return list(dict.fromkeys(resources))


def _lease(row: tuple[str, str, str, str, int, float, float, float]) -> Lease:
    return Lease(*row)


class LeaseStore:
    """The lease table in one SQLite file (or ``:memory:``); safe to share between threads.

    ``clock`` stamps the leases (injected in tests to expire them without sleeping); waiting in
    :meth:`acquire` is measured with :func:`time.monotonic`, whatever the clock.
    """

    def __init__(self, path: Path | str, *, ttl_s: float = 30.0, clock: Callable[[], float] = time.time) -> None:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, not {ttl_s}")
        self.path = str(path)
        self.ttl_s = ttl_s
        self.clock = clock
        self._lock = threading.Lock()
        # Resources each owner took through this store and has not released: what renew checks.
        self._taken: dict[str, set[str]] = {}
        self._db = open_database(self.path, _SCHEMA, what="the lease file")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> LeaseStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: BEGIN IMMEDIATE takes the file's write lock before anything is read."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise AdpilotError(f"cannot lock the lease file at {self.path}: {exc}") from exc
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise AdpilotError(f"cannot write the lease file at {self.path}: {exc}") from exc
                raise

    def _row(self, db: sqlite3.Connection, resource: str) -> Lease | None:
        row = db.execute(f"SELECT {_COLUMNS} FROM leases WHERE resource = ?", (resource,)).fetchone()
        return _lease(row) if row else None

    def holder(self, resource: str) -> Lease | None:
        """The live holder of ``resource``, or None when it is free, expired or its process died."""
        with self._lock:
            lease = self._row(self._db, resource)
        return lease if lease is not None and _is_live(lease, self.clock()) else None

    def try_acquire(self, resources: Iterable[str], owner: Owner) -> Lease | None:
        """Take every resource, or none: returns None when all are now ``owner``'s.

        A resource can be taken when it is free, expired, held by a dead process on this host,
        or already held by ``owner`` (then its heartbeat is refreshed). Otherwise nothing is
        taken and the lease of the first live holder, in the order given, is returned.
        """
        wanted = _as_list(resources)
        with self._transaction() as db:
            now = self.clock()
            for resource in wanted:
                current = self._row(db, resource)
                if current is not None and current.owner_id != owner.id and _is_live(current, now):
                    return current  # leaving the block without an exception commits nothing written
            for resource in wanted:
                self._upsert(db, resource, owner, now)
            self._taken.setdefault(owner.id, set()).update(wanted)
        return None

    def _upsert(self, db: sqlite3.Connection, resource: str, owner: Owner, now: float) -> None:
        """Write ``owner``'s row; a row it already had keeps its ``acquired`` time."""
        db.execute(
            f"INSERT INTO leases ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(resource) DO UPDATE SET "
            "acquired = CASE WHEN leases.owner_id = excluded.owner_id THEN leases.acquired ELSE excluded.acquired END, "
            "owner_id = excluded.owner_id, label = excluded.label, host = excluded.host, pid = excluded.pid, "
            "heartbeat = excluded.heartbeat, expires = excluded.expires",
            (resource, owner.id, owner.label, owner.host, owner.pid, now, now, now + self.ttl_s),
        )

    def acquire(self, resources: Iterable[str], owner: Owner, *, wait_s: float = 0.0, what: str = "") -> None:
        """Take every resource, polling for up to ``wait_s`` seconds; else raise :class:`BusyError`.

        Polling starts at 50 ms and doubles up to 0.5 s, so a short wait reacts quickly and a
        long one does not keep the file's write lock busy. This blocks the calling thread; from
        async code run it in a worker thread (``asyncio.to_thread``).
        """
        wanted = _as_list(resources)
        deadline = time.monotonic() + max(wait_s, 0.0)
        attempt = 0
        while True:
            blocker = self.try_acquire(wanted, owner)
            if blocker is None:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BusyError(_busy_message(blocker, wait_s=wait_s, what=what))
            time.sleep(min(_POLL_FIRST_S * 2**attempt, _POLL_MAX_S, remaining))
            attempt += 1

    def renew(self, owner: Owner) -> list[str]:
        """Heartbeat every row ``owner`` still has; return the resources it has lost, sorted.

        Lost means taken through this store, not released, and no longer ``owner``'s row (another
        actor took it after it expired, or someone deleted it). An expired row nobody took is
        still ``owner``'s and is renewed: no other actor can have changed the resource under it.
        """
        with self._transaction() as db:
            now = self.clock()
            db.execute(
                "UPDATE leases SET heartbeat = ?, expires = ? WHERE owner_id = ?", (now, now + self.ttl_s, owner.id)
            )
            rows = db.execute("SELECT resource FROM leases WHERE owner_id = ?", (owner.id,)).fetchall()
            taken = set(self._taken.get(owner.id, ()))
        return sorted(taken - {resource for (resource,) in rows})

    def release(self, owner: Owner, resources: Iterable[str] | None = None) -> None:
        """Give up ``owner``'s leases (all of them when ``resources`` is None); never another's."""
        wanted = None if resources is None else _as_list(resources)
        with self._transaction() as db:
            if wanted is None:
                db.execute("DELETE FROM leases WHERE owner_id = ?", (owner.id,))
                self._taken.pop(owner.id, None)
            else:
                db.executemany(
                    "DELETE FROM leases WHERE owner_id = ? AND resource = ?", [(owner.id, r) for r in wanted]
                )
                self._taken.get(owner.id, set()).difference_update(wanted)

    def held_by(self, owner: Owner) -> list[str]:
        """The resources ``owner`` holds now (unexpired rows), sorted."""
        with self._lock:
            rows = self._db.execute(
                "SELECT resource FROM leases WHERE owner_id = ? AND expires > ? ORDER BY resource",
                (owner.id, self.clock()),
            ).fetchall()
        return [resource for (resource,) in rows]

    def holds(self, owner: Owner, resource: str) -> bool:
        """Whether ``owner`` may mutate ``resource`` now: its row exists and has not expired."""
        with self._lock:
            lease = self._row(self._db, resource)
        return lease is not None and lease.owner_id == owner.id and self.clock() < lease.expires


def _busy_message(blocker: Lease, *, wait_s: float, what: str) -> str:
    """Names the resource, the holder and what to do, e.g. for a CLI user at a terminal."""
    prefix = f"cannot {what}: " if what else ""
    waited = f" (waited {wait_s:g} s)" if wait_s > 0 else ""
    return (
        f"{prefix}{describe_resource(blocker.resource)} is in use by {blocker.describe()}{waited}; "
        "try again when it has finished (guard.lease_wait_s sets how long commands wait)"
    )


class Heartbeat:
    """Keeps ``owner``'s leases alive from an asyncio task; leaving the block releases them all.

    Renewal runs every ``interval_s`` (default: a third of the TTL, so a lease survives one
    missed or late beat) in a worker thread, so a busy SQLite file never stalls the event
    loop. Resources found lost collect in :attr:`lost`; the actor must check it before each
    mutation. ``sleep`` is injectable so tests can drive the beats with a fake clock.
    """

    def __init__(
        self,
        store: LeaseStore,
        owner: Owner,
        *,
        interval_s: float | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.store = store
        self.owner = owner
        self.interval_s = store.ttl_s / 3 if interval_s is None else interval_s
        self.lost: set[str] = set()
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Heartbeat:
        self._task = asyncio.create_task(self._run(), name=f"lease heartbeat {self.owner.id}")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._task is not None:
                self._task.cancel()
                # asyncio.wait, not `await task`: a cancellation of *this* task must propagate.
                await asyncio.wait([self._task])
                if not self._task.cancelled() and self._task.exception() is not None:
                    _log.warning("lease_heartbeat_failed", owner=self.owner.id, error=repr(self._task.exception()))
        finally:
            # Synchronous on purpose: it must happen even when this task is being cancelled. A
            # failure must not hide the block's own exception; the leases then lapse by expiry.
            try:
                self.store.release(self.owner)
            except AdpilotError as exc:
                _log.warning("lease_release_failed", owner=self.owner.id, error=str(exc))

    async def _run(self) -> None:
        while True:
            await self._sleep(self.interval_s)
            await self.beat()

    async def beat(self) -> None:
        """Renew once; a failure to reach the file is logged and retried at the next beat."""
        try:
            lost = await asyncio.to_thread(self.store.renew, self.owner)
        except AdpilotError as exc:
            _log.warning("lease_renew_failed", owner=self.owner.id, error=str(exc))
            return
        new = set(lost) - self.lost
        if new:
            _log.warning("lease_lost", owner=self.owner.id, resources=sorted(new))
        self.lost.update(new)
