"""The console's people: users with a role, their sessions, and the throttle on failed logins.

One SQLite file in the state directory (``console.sqlite``). A password is stored only as its
scrypt hash (memory-hard: n=2^14, r=8, p=1, 16 MiB per attempt) with a salt of its own, and is
compared in constant time. A session is a random token given to the browser; the table keeps only
the token's SHA-256, so a copy of the database signs nobody in (so does an API token, one a user, for
the JSON API). A session ends at its expiry
(:data:`SESSION_TTL`), at logout, or when its user is removed.

Failed logins are counted per user name and client address: after :data:`FREE_FAILURES` of them,
each further attempt waits twice as long as the one before (1 s, 2 s, 4 s … at most
:data:`MAX_LOCK`); a successful login clears the count.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from adpilot.errors import UsageError
from adpilot.sqlite import open_database

ROLES = ("viewer", "operator", "approver", "admin")  # each role may do everything the ones before it may
MIN_PASSWORD = 10
SESSION_TTL = dt.timedelta(hours=8)
FREE_FAILURES = 3
MAX_LOCK = dt.timedelta(minutes=15)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "maxmem": 64 * 1024 * 1024, "dklen": 32}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    salt BLOB NOT NULL,
    hash BLOB NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    csrf TEXT NOT NULL,
    expires TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    token_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,     -- one token a user: a new one replaces the old
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS login_failures (
    who TEXT PRIMARY KEY,          -- user name and client address
    failures INTEGER NOT NULL,
    locked_until TEXT NOT NULL
);
"""

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def rank(role: str) -> int:
    return ROLES.index(role)


def hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, **_SCRYPT)


@dataclass(frozen=True)
class User:
    name: str
    role: str
    created: str

    def may(self, role: str) -> bool:
        """Whether this user's role includes ``role``'s rights."""
        return rank(self.role) >= rank(role)


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    expires: dt.datetime


class Throttled(Exception):
    """Too many failed logins for this user from this address: wait ``seconds``."""

    def __init__(self, seconds: int) -> None:
        super().__init__(f"too many failed logins: try again in {seconds} s")
        self.seconds = seconds


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"user name {name!r}: 1-64 characters, letters, digits and . _ @ - (starting with a letter or digit)"
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UsageError(f"role {role!r}: one of {', '.join(ROLES)}")
    return role


class UserStore:
    def __init__(self, path: Path, *, clock: Clock = utc_now) -> None:
        self.path = path
        self.clock = clock
        self._db = open_database(path, _SCHEMA, what="the console's user database", error=UsageError)

    def close(self) -> None:
        self._db.close()

    # --- users ---------------------------------------------------------------------------------

    def add(self, name: str, role: str, password: str) -> User:
        check_name(name)
        check_role(role)
        if len(password) < MIN_PASSWORD:
            raise UsageError(f"the password needs at least {MIN_PASSWORD} characters")
        salt = secrets.token_bytes(16)
        created = self.clock().isoformat(timespec="seconds")
        try:
            self._db.execute(
                "INSERT INTO users (name, role, salt, hash, created) VALUES (?, ?, ?, ?, ?)",
                (name, role, salt, hash_password(password, salt), created),
            )
        except sqlite3.IntegrityError:
            raise UsageError(f"user {name!r} exists already (remove it first to change it)") from None
        return User(name, role, created)

    def remove(self, name: str) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            gone = self._db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount
            self._db.execute("DELETE FROM sessions WHERE name = ?", (name,))
            self._db.execute("DELETE FROM api_tokens WHERE name = ?", (name,))
        if not gone:
            raise UsageError(f"no user {name!r} (`adpilot users list` shows them)")

    def list(self) -> list[User]:
        rows = self._db.execute("SELECT name, role, created FROM users ORDER BY name").fetchall()
        return [User(*row) for row in rows]

    def get(self, name: str) -> User | None:
        row = self._db.execute("SELECT name, role, created FROM users WHERE name = ?", (name,)).fetchone()
        return User(*row) if row else None

    # --- logging in ----------------------------------------------------------------------------

    def authenticate(self, name: str, password: str, client: str) -> User | None:
        """The user when the password is theirs, else None; raises :class:`Throttled` while this
        user and address must wait (the password is not even checked then)."""
        who = f"{name}\n{client}"
        now = self.clock()
        row = self._db.execute("SELECT failures, locked_until FROM login_failures WHERE who = ?", (who,)).fetchone()
        if row is not None and dt.datetime.fromisoformat(row[1]) > now:
            raise Throttled(max(1, int((dt.datetime.fromisoformat(row[1]) - now).total_seconds() + 0.999)))
        found = self._db.execute("SELECT role, salt, hash, created FROM users WHERE name = ?", (name,)).fetchone()
        # Hash even for an unknown user: the answer takes as long either way.
        salt = found[1] if found else b"\0" * 16
        matches = hmac.compare_digest(hash_password(password, salt), found[2] if found else b"")
        if found and matches:
            self._db.execute("DELETE FROM login_failures WHERE who = ?", (who,))
            return User(name, found[0], found[3])
        failures = (row[0] if row else 0) + 1
        lock = dt.timedelta(0)
        if failures > FREE_FAILURES:
            lock = min(dt.timedelta(seconds=2 ** (failures - FREE_FAILURES - 1)), MAX_LOCK)
        self._db.execute(
            "INSERT INTO login_failures (who, failures, locked_until) VALUES (?, ?, ?) ON CONFLICT(who) DO UPDATE "
            "SET failures = excluded.failures, locked_until = excluded.locked_until",
            (who, failures, (now + lock).isoformat()),
        )
        return None

    # --- sessions ------------------------------------------------------------------------------

    def open_session(self, user: User) -> str:
        """A new session of ``user``: the token the browser keeps."""
        token = secrets.token_urlsafe(32)
        expires = self.clock() + SESSION_TTL
        self._db.execute("DELETE FROM sessions WHERE expires <= ?", (self.clock().isoformat(),))
        self._db.execute(
            "INSERT INTO sessions (token_hash, name, csrf, expires) VALUES (?, ?, ?, ?)",
            (_digest(token), user.name, secrets.token_urlsafe(32), expires.isoformat()),
        )
        return token

    def session(self, token: str) -> Session | None:
        """The live session of ``token`` (None when unknown, expired or its user was removed)."""
        row = self._db.execute(
            "SELECT s.csrf, s.expires, u.name, u.role, u.created FROM sessions s JOIN users u ON u.name = s.name "
            "WHERE s.token_hash = ?",
            (_digest(token),),
        ).fetchone()
        if row is None:
            return None
        expires = dt.datetime.fromisoformat(row[1])
        if expires <= self.clock():
            self.close_session(token)
            return None
        return Session(User(row[2], row[3], row[4]), row[0], expires)

    def close_session(self, token: str) -> None:
        self._db.execute("DELETE FROM sessions WHERE token_hash = ?", (_digest(token),))

    # --- API tokens ---------------------------------------------------------------------------

    def issue_token(self, name: str) -> str:
        """A new API token of user ``name``, shown once: only its SHA-256 is kept, and it replaces
        the user's earlier token (which stops working)."""
        if self.get(name) is None:
            raise UsageError(f"no user {name!r} (`adpilot users list` shows them)")
        token = "adp_" + secrets.token_urlsafe(32)
        created = self.clock().isoformat(timespec="seconds")
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM api_tokens WHERE name = ?", (name,))
            self._db.execute(
                "INSERT INTO api_tokens (token_hash, name, created) VALUES (?, ?, ?)", (_digest(token), name, created)
            )
        return token

    def token_user(self, token: str) -> User | None:
        """The user whose API token ``token`` is (None: unknown, replaced, or its user was removed)."""
        row = self._db.execute(
            "SELECT u.name, u.role, u.created FROM api_tokens t JOIN users u ON u.name = t.name WHERE t.token_hash = ?",
            (_digest(token),),
        ).fetchone()
        return User(*row) if row else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def store_path(state_dir: Path) -> Path:
    return state_dir / "console.sqlite"


def open_users(state_dir: Path, *, clock: Clock = utc_now) -> UserStore:
    return UserStore(store_path(state_dir), clock=clock)
