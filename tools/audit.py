"""The audit log: append-only SQLite (WAL), one row per decision and per execution, chained.

Every row stores the chain value of its predecessor and its own over its content, so altering
or removing a row breaks the chain at that row; a head record (updated in the same
transaction) catches removal of the newest rows. Triggers refuse UPDATE and DELETE, so
tampering takes deliberate effort outside adpilot, and :meth:`AuditLog.verify` detects it.

Opened with a :class:`Seal` (as every :class:`~adpilot.compose.Deployment` opens it), the chain is
keyed and anchored outside the database:

* each new row's chain value is ``hmac:`` + HMAC-SHA256 under a key kept outside the database
  (an environment variable or a 0600 key file), so a history rewritten and re-chained without the
  key does not verify. Rows written before a log was first opened with a key keep their plain
  SHA-256 chain value (chain version 1); the log is *adopted*: its plain chain is verified once and
  its head sealed as the first checkpoint, and every later row must be keyed (version 2) — no
  migration rewrites old rows;
* after every ``every`` rows a sealed checkpoint of the head — seq, chain value, row count, time,
  the last plain row, the key's id, and an HMAC over them — is appended to an anchor file in
  another directory and fsynced, so that a truncated, emptied, dropped, replaced or deleted
  database is behind its anchor;
* opening compares the head with the anchor's last checkpoint (and verifies the rows after it):
  a log that is behind its anchor or broken reports :attr:`AuditLog.problem`, the Guard refuses
  every change while it does (rule ``audit.broken``), and no checkpoint is written for it.

What no local file can tell: the anchor and the database rolled back together to an older
consistent state, or both deleted along with the key (a fresh start). Keep the anchor on another
volume or host (``audit.anchor_path``) and a copy of the key elsewhere.

Personal data (e-mail addresses, phone numbers, IBANs) in a row's args, before, after, result and
reason is replaced by keyed tokens before its chain value is taken (:func:`adpilot.pii.pseudonymise`);
the exact originals are kept encrypted in ``audit_vault``, outside the chain, for rollback
(:meth:`AuditLog.reveal`), data-subject requests (:meth:`AuditLog.records_about`) and erasure
(:meth:`AuditLog.forget`). Retention (:meth:`AuditLog.archive`) moves old rows into sealed segment
files; sealed records in ``audit_archived`` keep the whole history verifiable. See docs/AUDIT.md.

Row kinds: ``decision`` (what the Guard decided and why), ``intent`` (written before a
side effect, with the before value and the planned after value) and ``result`` (after it,
with the outcome). An intent without a result marks an interrupted or unanswered call.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from adpilot.errors import AuditError, AuditTamperedError, ConfigError, UsageError
from adpilot.pii import TOKEN, find_pii, literal_token, pseudonym, pseudonymise, subject_tokens
from adpilot.sqlite import open_database

RowKind = Literal["decision", "intent", "result"]
GENESIS = "0" * 64
KEYED = "hmac:"  # the prefix of a keyed (version 2) chain value; a plain (version 1) one is bare hex
# A vault original that is text which looked like a token when it was written (see _scrub): it is
# revealed as written, never read as a token again.
_VERBATIM = "\0verbatim\0"
MIN_KEY_CHARS = 32

# Rows leave the log only as a sealed archive segment: a DELETE passes only for rows inside a range
# that an archive record (written in the same transaction) names. Anything else is refused.
_NO_DELETE = """CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
WHEN NOT EXISTS (SELECT 1 FROM audit_archived WHERE OLD.seq BETWEEN first_seq AND last_seq)
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"""

_SCHEMA = (
    """
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
CREATE TABLE IF NOT EXISTS audit_archived (
    first_seq INTEGER PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    prev_hash TEXT NOT NULL,
    last_hash TEXT NOT NULL,
    file TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    first_ts TEXT NOT NULL,
    last_ts TEXT NOT NULL,
    archived_at TEXT NOT NULL,
    kid TEXT NOT NULL,
    mac TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_archived_no_update BEFORE UPDATE ON audit_archived
BEGIN SELECT RAISE(ABORT, 'the audit archive records are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_archived_no_delete BEFORE DELETE ON audit_archived
BEGIN SELECT RAISE(ABORT, 'the audit archive records are append-only'); END;
"""
    + _NO_DELETE
    + """
CREATE TABLE IF NOT EXISTS audit_vault (
    token TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    value TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_vault_subject ON audit_vault(subject);
CREATE INDEX IF NOT EXISTS audit_vault_last ON audit_vault(last_seq);
CREATE TABLE IF NOT EXISTS audit_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
)

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


def _row_hash(prev_hash: str, row: dict[str, Any], chain_key: bytes | None = None) -> str:
    """A row's chain value: plain SHA-256 (version 1) without a key, ``hmac:`` + HMAC-SHA256 with one."""
    message = f"{prev_hash}\n{canonical([row[name] for name in _HASHED_FIELDS])}".encode()
    if chain_key is None:
        return hashlib.sha256(message).hexdigest()
    return KEYED + hmac.new(chain_key, message, hashlib.sha256).hexdigest()


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


def _record(row: sqlite3.Row | Mapping[str, Any]) -> AuditRecord:
    data = dict(row)
    for name in _JSON_FIELDS:
        data[name] = json.loads(data[name]) if data[name] is not None else None
    return AuditRecord(**data)


def _line(number: int) -> str:
    return f"line {number}" if number else "a line near the end"


class AuditKeyError(AuditError):
    """The audit key is missing, too short or not the one the anchor was sealed with: a
    configuration problem (restore the key), not evidence of tampering."""

    exit_code = 2


def _derive(key: bytes, purpose: str) -> bytes:
    return hmac.new(key, f"adpilot audit {purpose}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class Seal:
    """What keys and anchors a log: the secret (never shown), where it came from (for messages),
    the anchor file, and how many rows may pass between two checkpoints."""

    key: bytes = field(repr=False)
    source: str
    anchor: Path
    every: int = 1

    @property
    def chain_key(self) -> bytes:
        return _derive(self.key, "chain v2")

    @property
    def anchor_key(self) -> bytes:
        return _derive(self.key, "anchor v1")

    @property
    def key_id(self) -> str:
        """A fingerprint that names the key in messages without revealing it."""
        return _derive(self.key, "key id").hex()[:16]

    @property
    def pii_key(self) -> bytes:
        """The salt of the tokens that stand for personal data in the log (see :mod:`adpilot.pii`)."""
        return _Privacy(self.key).pii_key

    @property
    def archive_key(self) -> bytes:
        return _derive(self.key, "archive v1")


@dataclass(frozen=True)
class _Privacy:
    """The keys that pseudonymise personal data and lock its originals in the vault, all derived
    from one secret: the audit key (a sealed log) or a salt kept in the database (an unsealed one —
    tests and the eval harness: no raw personal data in the file, but no protection against a guess
    by whoever holds the file)."""

    root: bytes = field(repr=False)

    @property
    def pii_key(self) -> bytes:
        return _derive(self.root, "pii v1")

    def lock(self, token: str, value: str) -> str:
        """``value`` encrypted for the vault: a SHAKE-256 key stream under a random nonce, then an
        HMAC over the token, nonce and cipher text (so an entry cannot be moved to another token)."""
        nonce = secrets.token_bytes(16)
        data = value.encode()
        cipher = bytes(a ^ b for a, b in zip(data, self._stream(nonce, len(data)), strict=True))
        return "v1:" + base64.b64encode(nonce + cipher + self._tag(token, nonce, cipher)).decode()

    def unlock(self, token: str, locked: str) -> str | None:
        """The value :meth:`lock` locked, or None when it was not locked with these keys for this token."""
        if not locked.startswith("v1:"):
            return None
        try:
            blob = base64.b64decode(locked[3:], validate=True)
        except ValueError:
            return None
        nonce, cipher, tag = blob[:16], blob[16:-16], blob[-16:]
        if len(blob) < 32 or not hmac.compare_digest(tag, self._tag(token, nonce, cipher)):
            return None
        data = bytes(a ^ b for a, b in zip(cipher, self._stream(nonce, len(cipher)), strict=True))
        return data.decode("utf-8", "replace")

    def _stream(self, nonce: bytes, size: int) -> bytes:
        return hashlib.shake_256(_derive(self.root, "vault stream v1") + nonce).digest(size)

    def _tag(self, token: str, nonce: bytes, cipher: bytes) -> bytes:
        mac = hmac.new(_derive(self.root, "vault mac v1"), token.encode() + b"\0" + nonce + cipher, hashlib.sha256)
        return mac.digest()[:16]


def _subject_of(token: str) -> str:
    """What every token of one person starts with: ``[kind:<subject>-``."""
    return token[: token.index("-") + 1]


@dataclass(frozen=True)
class Archived:
    """A sealed archive segment: which rows left the database, the chain value before the first
    and after the last, where the file went and its digest, and an HMAC under the audit key over
    all of it. Stored in the table ``audit_archived`` and, as the manifest, next to the file."""

    first_seq: int
    last_seq: int
    rows: int
    prev_hash: str
    last_hash: str
    file: str
    sha256: str
    size: int
    first_ts: str
    last_ts: str
    archived_at: str
    kid: str
    mac: str = ""

    def sealed(self, key: bytes) -> str:
        fields = {name: value for name, value in asdict(self).items() if name != "mac"}
        return hmac.new(key, canonical(fields).encode(), hashlib.sha256).hexdigest()

    def what(self) -> str:
        return f"audit rows {self.first_seq} to {self.last_seq}"


#: The least history the log keeps whatever the retention: the Guard's default rolling window.
MIN_KEEP = dt.timedelta(hours=24)


def retention_floor(policy: Any) -> dt.timedelta:
    """How far back the Guard reads the log under ``policy``: the longest rolling window of its
    limits (budgets, bids) and how long an approval may wait for a person (its escalation row)."""
    limits = policy.limits
    hours = max(limits.budget.window_hours, limits.keyword_bid.window_hours, policy.approvals.expire_after_hours)
    return max(dt.timedelta(hours=hours), MIN_KEEP)


def check_retention(days: int | None, policy: Any) -> None:
    """Refuse an ``audit.retention_days`` that would archive rows the Guard still reads."""
    if days is None:
        return
    floor = retention_floor(policy)
    if dt.timedelta(days=days) <= floor:
        raise ConfigError(
            f"audit.retention_days = {days} is too short: it must be longer than the longest window the Guard "
            f"reads from the audit log ({floor.total_seconds() / 3600:g} h: the policy's limits.budget.window_hours, "
            "limits.keyword_bid.window_hours and approvals.expire_after_hours)"
        )


def load_key(
    env_name: str, key_file: Path, *, anchor: Path, environ: dict[str, str] | None = None
) -> tuple[bytes, str]:
    """The audit key and where it came from: the environment variable ``env_name`` when set, else
    ``key_file`` — created (0600, 64 hex characters) on first use, with a one-time warning on
    stderr that names the file, but only while there is no anchor yet: a lost key is restored,
    never silently replaced."""
    env = os.environ if environ is None else environ
    value = env.get(env_name, "").strip()
    if value:
        if len(value) < MIN_KEY_CHARS:
            raise AuditKeyError(
                f"the audit key in ${env_name} is too short: it needs at least {MIN_KEY_CHARS} characters "
                "(e.g. the output of `python -c 'import secrets; print(secrets.token_hex(32))'`)"
            )
        return value.encode(), f"${env_name}"
    try:
        text = key_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        if anchor.exists() and anchor.stat().st_size > 0:
            raise AuditKeyError(
                f"the audit key file {key_file} is missing, but the anchor {anchor} holds checkpoints sealed "
                f"with a key: restore the key file from your copy (or set ${env_name}); a new key could not "
                "verify the log"
            ) from None
        text = _create_key(key_file)
    except OSError as exc:
        raise AuditKeyError(f"cannot read the audit key file {key_file}: {exc.strerror}") from exc
    if len(text) < MIN_KEY_CHARS:
        raise AuditKeyError(f"the audit key file {key_file} holds fewer than {MIN_KEY_CHARS} characters")
    return text.encode(), str(key_file)


def _create_key(key_file: Path) -> str:
    """Write a new key atomically (a second process creating it at the same time reads the winner's)."""
    key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = secrets.token_hex(32)
    temporary = key_file.with_name(f".{key_file.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(descriptor, f"{text}\n".encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    try:
        os.link(temporary, key_file)
    except FileExistsError:
        return key_file.read_text(encoding="utf-8").strip()
    finally:
        temporary.unlink(missing_ok=True)
    print(
        f"adpilot: created the audit key {key_file.absolute()} (mode 0600).\n"
        "adpilot: it seals the audit log. Keep a copy off this machine: without it the log cannot be verified "
        "or written.",
        file=sys.stderr,
    )
    return text


@dataclass(frozen=True)
class Checkpoint:
    """One sealed line of the anchor: the head at ``seq`` (``rows`` rows), when, and the last
    row of the plain chain (rows after it must be keyed)."""

    seq: int
    head: str
    rows: int
    at: str
    plain: int
    kid: str
    line: int = 0  # 1-based line in the anchor file, for messages (0: not read from it)


class Anchor:
    """The append-only file of sealed checkpoints, outside the database."""

    _TAIL = 65536

    def __init__(self, seal: Seal) -> None:
        self.path = seal.anchor
        self._key = seal.anchor_key
        self.kid = seal.key_id
        self._source = seal.source

    def _mac(self, checkpoint: Checkpoint) -> str:
        body = canonical(
            [checkpoint.seq, checkpoint.head, checkpoint.rows, checkpoint.at, checkpoint.plain, checkpoint.kid]
        )
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()

    def append(self, checkpoint: Checkpoint) -> None:
        fields = {
            "seq": checkpoint.seq,
            "head": checkpoint.head,
            "rows": checkpoint.rows,
            "at": checkpoint.at,
            "plain": checkpoint.plain,
            "kid": checkpoint.kid,
            "mac": self._mac(checkpoint),
        }
        line = (json.dumps(fields, separators=(",", ":")) + "\n").encode()
        try:
            created = not self.path.exists()
            if created:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            descriptor = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                size = os.fstat(descriptor).st_size
                if size and os.pread(descriptor, 1, size - 1) != b"\n":
                    line = b"\n" + line  # after a write a crash cut short, start a line of its own
                os.write(descriptor, line)  # one write to an O_APPEND file: lines of two processes never mix
                (getattr(os, "fdatasync", None) or os.fsync)(descriptor)
            finally:
                os.close(descriptor)
            if created:  # the new directory entry must survive a crash too
                directory = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(directory)
                finally:
                    os.close(directory)
        except OSError as exc:
            raise AuditError(f"cannot write the audit anchor at {self.path}: {exc.strerror or exc}") from exc

    def _parse(self, text: str, number: int, first: Checkpoint | None) -> Checkpoint | None:
        """One line's checkpoint, or None for a line a crash cut short (not JSON: it seals nothing)."""
        try:
            data = json.loads(text)
        except ValueError:
            return None
        try:
            checkpoint = Checkpoint(
                int(data["seq"]),
                str(data["head"]),
                int(data["rows"]),
                str(data["at"]),
                int(data["plain"]),
                str(data["kid"]),
                number,
            )
            mac = str(data["mac"])
        except (ValueError, KeyError, TypeError):
            raise AuditTamperedError(
                f"{_line(number)} of the audit anchor {self.path} is not a checkpoint", None
            ) from None
        if checkpoint.kid != self.kid and (first is None or first.kid == checkpoint.kid):
            raise AuditKeyError(
                f"the audit anchor {self.path} was sealed with another key (key id {checkpoint.kid}) than the "
                f"configured one from {self._source} (key id {self.kid}): configure the key the log was written with"
            )
        if not hmac.compare_digest(mac, self._mac(checkpoint)):
            raise AuditTamperedError(
                f"{_line(number)} of the audit anchor {self.path} does not carry a valid seal: the anchor was edited",
                None,
            )
        return checkpoint

    def _lines(self, data: bytes, start_line: int) -> list[tuple[int, str]]:
        """Complete lines (an unterminated last line is a write a crash cut short: ignored)."""
        parts = data.split(b"\n")
        number = (lambda i: start_line + i) if start_line else (lambda i: 0)
        return [(number(i), part.decode("utf-8", "replace")) for i, part in enumerate(parts[:-1]) if part.strip()]

    def read_all(self) -> list[Checkpoint]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise AuditError(f"cannot read the audit anchor at {self.path}: {exc.strerror or exc}") from exc
        checkpoints: list[Checkpoint] = []
        for number, text in self._lines(data, 1):
            if (checkpoint := self._parse(text, number, checkpoints[0] if checkpoints else None)) is not None:
                checkpoints.append(checkpoint)
        return checkpoints

    def ends(self) -> tuple[Checkpoint, Checkpoint] | None:
        """The first checkpoint and the highest of the file's last ones, read from its two ends only."""
        try:
            with self.path.open("rb") as handle:
                head = handle.read(self._TAIL)
                size = handle.seek(0, os.SEEK_END)
                if size <= self._TAIL:
                    tail, start = head, 1
                else:
                    handle.seek(size - self._TAIL)
                    tail = handle.read()
                    tail = tail[tail.index(b"\n") + 1 :] if b"\n" in tail else b""
                    start = 0  # the numbers of tail lines are unknown
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AuditError(f"cannot read the audit anchor at {self.path}: {exc.strerror or exc}") from exc
        first = None
        for number, text in self._lines(head, 1):
            if (first := self._parse(text, number, None)) is not None:
                break
        if first is None:
            return None
        parsed = (self._parse(text, number, first) for number, text in self._lines(tail, start))
        last = [checkpoint for checkpoint in parsed if checkpoint is not None]
        return first, max(last or [first], key=lambda c: c.seq)


def _broken(detail: str) -> str:
    return (
        f"the audit log is broken: {detail}. Nothing changes until it is repaired: restore the database "
        "(and its anchor) from a backup; `adpilot audit verify` names the first bad row"
    )


class AuditLog:
    """One SQLite file (or ``:memory:``); safe to share between the tasks of one process.

    With a ``seal`` (as a Deployment opens it) new rows are keyed and checkpoints of the head are
    anchored outside the database; opening compares the head with the anchor's last checkpoint and
    sets :attr:`problem` when the log is behind it or broken. Without one (tests, the eval
    harness, in-memory logs) the chain is plain and nothing is anchored; such a log refuses to
    append to a keyed log, and its :meth:`verify` checks only the sequence and links of keyed rows.
    """

    def __init__(
        self, path: Path | str, *, clock: Callable[[], dt.datetime] = utc_now, seal: Seal | None = None
    ) -> None:
        self.path = str(path)
        self.clock = clock
        self.seal = seal
        # Sealed, a commit is durable before its checkpoint is: a power cut must not leave the log
        # behind an anchor that sealed rows the database then lost.
        synchronous = "FULL" if seal is not None else "NORMAL"
        self._db = open_database(self.path, _SCHEMA, what="the audit log", error=AuditError, synchronous=synchronous)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        try:
            self._migrate()
            self._privacy = self._privacy_keys()
        except sqlite3.Error as exc:
            self._db.close()
            raise AuditError(f"cannot open the audit log at {self.path}: {exc}") from exc
        #: Where archive segments are looked for first (``audit.archive_dir``); else where they were written.
        self.archive_dir: Path | None = None
        self._anchor = Anchor(seal) if seal is not None else None
        self._chain_key = seal.chain_key if seal is not None else None
        #: Why no change may be made now (a sentence for a person), or None while the log is sound.
        self.problem: str | None = None
        self._anchored: Checkpoint | None = None  # the highest checkpoint this process knows of
        self._plain = 0  # rows up to this seq carry plain (version 1) chain values
        self._unsealed = 0  # rows this process appended since its last checkpoint
        if self._anchor is not None:
            try:
                self._open_anchor()
            except BaseException:
                self._db.close()
                raise

    def close(self) -> None:
        try:
            self.checkpoint()
        finally:
            self._db.close()

    def _migrate(self) -> None:
        """A log from before archiving refuses every DELETE; now archived ranges may leave."""
        row = self._db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_no_delete'"
        ).fetchone()
        if row is not None and "audit_archived" not in str(row[0]):
            self._db.executescript(f"BEGIN IMMEDIATE; DROP TRIGGER audit_no_delete; {_NO_DELETE}; COMMIT;")

    def _privacy_keys(self) -> list[_Privacy]:
        """The keys of the tokens: the audit key's (sealed) or a salt kept in the database
        (unsealed); a sealed log that was written unsealed before also reads the salt's tokens."""
        row = self._db.execute("SELECT value FROM audit_meta WHERE name = 'pii_salt'").fetchone()
        head = self._db.execute("SELECT hash FROM audit_head WHERE id = 1").fetchone()
        if row is None and self.seal is None and (head is None or not str(head[0]).startswith(KEYED)):
            salt = secrets.token_hex(32)
            self._db.execute("INSERT OR IGNORE INTO audit_meta (name, value) VALUES ('pii_salt', ?)", (salt,))
            row = self._db.execute("SELECT value FROM audit_meta WHERE name = 'pii_salt'").fetchone()
        salted = [_Privacy(bytes.fromhex(row[0]))] if row is not None else []
        if self.seal is not None:
            return [_Privacy(self.seal.key), *salted]
        # A keyed log read without its key (it refuses appends): its tokens stay tokens.
        return salted or [_Privacy(secrets.token_bytes(32))]

    def checkpoint(self) -> None:
        """Seal the head now if rows were appended since the last checkpoint (``every`` > 1)."""
        if self._anchor is not None and self.problem is None and self._unsealed:
            with self._lock:
                head = self._db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
                if head is not None:
                    self._checkpoint(head["seq"], head["hash"])

    # --- the anchor ---------------------------------------------------------------------------
    def _open_anchor(self) -> None:
        """The cheap check on opening: the head against the anchor's last checkpoint, and the rows
        after it (a few, with a checkpoint per append) verified; a log from before keys is adopted."""
        assert self._anchor is not None
        try:
            ends = self._anchor.ends()  # before the database: a checkpoint is written after its rows commit
        except AuditTamperedError as exc:
            self.problem = _broken(str(exc))
            return
        with self._snapshot() as db:
            head = db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
            top = db.execute("SELECT MAX(seq) FROM audit").fetchone()[0] or 0
            checked = ends[1].seq if ends is not None else 0
            tail = db.execute("SELECT * FROM audit WHERE seq >= ? ORDER BY seq", (checked,)).fetchall()
            archived = _archived(db)
            oldest = db.execute("SELECT seq, prev_hash FROM audit ORDER BY seq LIMIT 1").fetchone()
            (count,) = db.execute("SELECT COUNT(*) FROM audit").fetchone()
        if ends is None:
            if head is None and top == 0:
                return  # a new log
            self._adopt(top)
            return
        first, last = ends
        self._plain = first.plain
        end = min(top, head["seq"] if head is not None else 0)
        if end < last.seq:
            self.problem = _broken(_behind(end, last, self._anchor.path))
            return
        try:
            if not tail or tail[0]["seq"] != last.seq or tail[0]["hash"] != last.head:
                raise AuditTamperedError(_rewritten(last), last.seq)
            # From the checkpointed row on (its own content included), to the head.
            prev_hash, expected = self._walk(tail, tail[0]["prev_hash"], last.seq, {})
            self._check_head(head, prev_hash, expected)
            # Cheap, and it catches rows deleted anywhere: the archive records are sealed and
            # cover everything before the oldest row, which links to them, and no row is missing.
            start_hash, start_seq = self._check_archived(archived, {last.seq: [last]})
            if oldest is not None and (oldest["seq"] != start_seq or oldest["prev_hash"] != start_hash):
                self._walk([oldest], start_hash, start_seq, {})  # raises, naming the missing range
            if head is not None and count != head["seq"] - start_seq + 1:
                missing = head["seq"] - start_seq + 1 - count
                raise AuditTamperedError(
                    f"{missing} audit row(s) between row {start_seq} and row {head['seq']} are missing", None
                )
            self._check_segments(archived, {}, every=False, digest=False)
        except AuditTamperedError as exc:
            self.problem = _broken(str(exc))
            return
        self._anchored = last

    def _adopt(self, top: int) -> None:
        """A log with rows and no anchor: one written before keys (its plain chain verifies) is
        sealed as it is and continued keyed; one with keyed rows lost its anchor."""
        assert self._anchor is not None
        self._plain = top
        try:
            self._verify(missing_anchor=True)
        except AuditTamperedError as exc:
            self.problem = _broken(str(exc))
            return
        with self._lock:
            head = self._db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        self._checkpoint(head["seq"], head["hash"])
        print(
            f"adpilot: the audit log {self.path} ({top} rows, plain hash chain) is now sealed: its head is "
            f"anchored in {self._anchor.path}, and new rows are keyed",
            file=sys.stderr,
        )

    def _checkpoint(self, seq: int, head: str) -> None:
        assert self._anchor is not None and self.seal is not None
        checkpoint = Checkpoint(
            seq, head, seq, self.clock().isoformat(timespec="seconds"), self._plain, self.seal.key_id
        )
        self._anchor.append(checkpoint)
        self._unsealed = 0
        if self._anchored is None or seq > self._anchored.seq:
            self._anchored = checkpoint

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

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: the statements in it see the same state, whoever writes meanwhile."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
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
        locked: list[list[tuple[str, str, str]]] = []
        for fields in rows:
            unknown = set(fields) - set(_HASHED_FIELDS)
            if unknown:
                raise AuditError(f"unknown audit field(s): {sorted(unknown)}")
            row = {name: fields.get(name) for name in _HASHED_FIELDS if name != "seq"}
            row["ts"] = stamp
            # Personal data becomes keyed tokens before the chain value is taken; the originals go
            # to the vault, encrypted (see :meth:`reveal`).
            found: dict[str, str] = {}
            row["args"] = canonical(self._scrub(row["args"] if row["args"] is not None else {}, found))
            for name in ("before", "after", "result"):
                if row[name] is not None:
                    row[name] = canonical(self._scrub(row[name], found))
            if isinstance(row["reason"], str):
                row["reason"] = self._scrub(row["reason"], found)
            if isinstance(row["idempotency_key"], str):
                # A proposal id is chosen by an agent or a person ("reply-max@example.com"): the same
                # tokens, and every lookup by key pseudonymises the key it is given the same way.
                row["idempotency_key"] = self._stored_key(row["idempotency_key"])
            prepared.append(row)
            locked.append([(t, _subject_of(t), self._privacy[0].lock(t, v)) for t, v in found.items()])
        seqs = []
        try:
            with self._transaction() as db:
                head = db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
                seq, prev_hash = (head["seq"], head["hash"]) if head else (0, GENESIS)
                if self._chain_key is None and prev_hash.startswith(KEYED):
                    raise AuditKeyError(
                        f"the audit log at {self.path} is sealed with a key: open it as the configuration does "
                        "(a Deployment), not without its key"
                    )
                if (anchored := self._anchored) is not None and self.problem is None:
                    # Cheap, and enough: the rows up to the anchored head are still there, unchanged.
                    found = db.execute("SELECT hash FROM audit WHERE seq = ?", (anchored.seq,)).fetchone()
                    if found is None and seq >= anchored.seq:  # archived meanwhile, by another process?
                        found = self._archived_hash(db, anchored)
                    if seq < anchored.seq or found is None or found["hash"] != anchored.head:
                        self.problem = _broken(_behind(seq, anchored, self._anchor.path if self._anchor else None))
                if self.problem is not None and any(row["kind"] == "intent" for row in prepared):
                    raise AuditTamperedError(self.problem, None)  # no intent, so no side effect, on a broken log
                for row, vault in zip(prepared, locked, strict=True):
                    seq += 1
                    row["seq"] = seq
                    row["prev_hash"] = prev_hash
                    row["hash"] = prev_hash = _row_hash(prev_hash, row, self._chain_key)
                    columns = ", ".join(row)
                    placeholders = ", ".join("?" * len(row))
                    db.execute(f"INSERT INTO audit ({columns}) VALUES ({placeholders})", list(row.values()))
                    db.executemany(
                        "INSERT INTO audit_vault (token, subject, value, first_seq, last_seq) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT(token) DO UPDATE SET last_seq = excluded.last_seq",
                        [(token, subject, value, seq, seq) for token, subject, value in vault],
                    )
                    seqs.append(seq)
                db.execute(
                    "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                    (seq, prev_hash),
                )
        except sqlite3.Error as exc:
            raise AuditError(f"cannot write to the audit log at {self.path}: {exc}") from exc
        if self.seal is not None:
            with self._lock:
                # After the commit: a crash between the two leaves the anchor behind the log, never ahead.
                self._unsealed += len(seqs)
                if self.problem is None and self._unsealed >= self.seal.every:
                    self._checkpoint(seq, prev_hash)
        return seqs

    # --- personal data ----------------------------------------------------------------------
    def _scrub(self, value: Any, found: dict[str, str]) -> Any:
        """``value`` with personal data in every string (keys too) replaced by tokens; only the
        string leaves are scanned, once each."""
        if isinstance(value, str):
            key = self._privacy[0].pii_key
            if "[" in value and TOKEN.search(value):
                # Text that already holds a token (pasted from `audit show`, or planted) must not be
                # revealed as the data of the person whose token it is: it gets a token of its own
                # whose original is that text, as written.
                def literal(match: Any) -> str:
                    token = literal_token(match.group(), key)
                    found[token] = _VERBATIM + match.group()
                    return token

                value = TOKEN.sub(literal, value)
            text, originals = pseudonymise(value, key)
            found.update(originals)
            return text
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, Mapping):
            return {
                (self._scrub(k, found) if isinstance(k, str) else k): self._scrub(v, found) for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self._scrub(item, found) for item in value]
        return self._scrub(str(value), found)  # as canonical() would write it

    def _stored_key(self, key: str) -> str:
        """An idempotency key as the log stores it (personal data in it as tokens). Idempotent: a key
        read from a row finds that row again."""
        return pseudonymise(key, self._privacy[0].pii_key)[0]

    def _key_forms(self, key: str) -> tuple[str, str]:
        """How a row may hold the idempotency key ``key``: pseudonymised, or as written by a version
        from before keys were pseudonymised (a retry across an upgrade must still find its intent)."""
        return self._stored_key(key), key

    def reveal(self, value: Any, missing: list[str] | None = None, *, only: Sequence[str] | None = None) -> Any:
        """``value`` (a row's args, before, after, result or reason) with each token replaced by
        the exact text it stands for, from the vault. A token whose original was erased
        (:meth:`forget`) or archived stays as it is and is added to ``missing``. ``only``: reveal
        just the tokens of these subjects (:meth:`subject_tokens`), e.g. one person's own data."""
        tokens: set[str] = set()
        _tokens_in(value, tokens)
        if only is not None:
            tokens = {t for t in tokens if t.startswith(tuple(only))}
        if not tokens:
            return value
        known: dict[str, str] = {}
        pending = tokens
        for _ in range(4):  # an original may hold a token of an earlier round
            found = self._unlock(pending)
            known.update(found)
            nested: set[str] = set()
            _tokens_in([v for v in found.values() if not v.startswith(_VERBATIM)], nested)
            pending = nested - known.keys()
            if not pending:
                break
        lost: list[str] = []

        def text(match: Any, depth: int = 0) -> str:
            if only is not None and not match.group().startswith(tuple(only)):
                return str(match.group())
            original = known.get(match.group())
            if original is None or depth > 4:
                lost.append(match.group())
                return str(match.group())
            if original.startswith(_VERBATIM):
                return original.removeprefix(_VERBATIM)
            return TOKEN.sub(lambda inner: text(inner, depth + 1), original)

        revealed = _map_strings(value, lambda s: TOKEN.sub(text, s))
        if missing is not None:
            missing.extend(dict.fromkeys(lost))
        return revealed

    def _unlock(self, tokens: set[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        ordered = sorted(tokens)
        with self._lock:
            for start in range(0, len(ordered), 500):
                chunk = ordered[start : start + 500]
                rows = self._db.execute(
                    f"SELECT token, value FROM audit_vault WHERE token IN ({', '.join('?' * len(chunk))})", chunk
                ).fetchall()
                for token, locked in rows:
                    for keys in self._privacy:
                        if (value := keys.unlock(token, locked)) is not None:
                            out[token] = value
                            break
        return out

    def reveal_record(self, record: AuditRecord) -> tuple[AuditRecord, list[str]]:
        """The record with its personal data revealed (see :meth:`reveal`), and the tokens that
        could not be (erased or archived)."""
        missing: list[str] = []
        fields = {name: self.reveal(getattr(record, name), missing) for name in (*_JSON_FIELDS, "reason")}
        return dataclasses.replace(record, **fields), missing

    def subject_tokens(self, subject: str) -> list[str]:
        """What the tokens of the person ``subject`` start with (see :func:`adpilot.pii.subject_tokens`:
        a phone number written nationally and internationally, too)."""
        return self._subjects(subject)

    def _subjects(self, subject: str) -> list[str]:
        try:
            return list(dict.fromkeys(s for keys in self._privacy for s in subject_tokens(subject, keys.pii_key)))
        except ValueError as exc:
            raise UsageError(f"{exc}: give one person's e-mail address, phone number or IBAN") from None

    def forget(self, subject: str, *, actor: str = "adpilot") -> int:
        """Erase the originals of one person's tokens from the vault (a request to erase personal
        data); returns how many entries were erased. The rows keep their tokens, so the chain still
        verifies; a change whose values they were can no longer be rolled back exactly. The erasure
        itself is a row (rule ``privacy.erasure``) naming the person only by their subject hash."""
        subjects = self._subjects(subject)
        try:
            with self._transaction() as db:
                db.execute("PRAGMA secure_delete = ON")
                # By the token itself too: the subject column is a copy of its start that no seal
                # covers, and an entry whose copy was altered must not survive an erasure.
                prefixes = " OR ".join("substr(token, 1, ?) = ?" for _ in subjects)
                erased = db.execute(
                    f"DELETE FROM audit_vault WHERE subject IN ({', '.join('?' * len(subjects))}) OR {prefixes}",
                    [*subjects, *(part for s in subjects for part in (len(s), s))],
                ).rowcount
        except sqlite3.Error as exc:
            raise AuditError(f"cannot erase from the audit log at {self.path}: {exc}") from exc
        with self._lock:
            self._db.execute("PRAGMA secure_delete = OFF")
            if self.path != ":memory:":
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # no older copy of the pages stays in the WAL
        named = ", ".join(s.rstrip("-") + "…]" for s in subjects)
        self.append(
            "decision",
            run_id="audit-forget",
            thread_id="audit-forget",
            actor=actor,
            role="operator",
            tool="audit_forget",
            args={"subjects": [s.rstrip("-") + "…]" for s in subjects]},
            call_hash=hashlib.sha256(canonical(subjects).encode()).hexdigest(),
            policy_hash="",
            decision="allow",
            rule="privacy.erasure",
            reason=f"erased the personal data of {named} from the vault ({int(erased)} value(s))",
        )
        return int(erased)

    def record_hold(
        self, entity: str, *, by: str, until: dt.datetime | None = None, reason: str = "", released: bool = False
    ) -> AuditRecord:
        """A person put ``entity`` on hold (``adpilot hold``) or released it (``released``): a row of
        its own — tool ``hold`` or ``release``, rule ``patience.hold`` or ``patience.release``, the
        person as actor, ``until`` (None: until released) and the reason in its arguments."""
        tool = "release" if released else "hold"
        shown = until.isoformat() if until is not None else None
        args: dict[str, Any] = {"entity": entity} if released else {"entity": entity, "until": shown, "reason": reason}
        lasts = "" if released else f" until {until:%Y-%m-%d %H:%M} UTC" if until else " until released"
        said = f": {reason}" if reason and not released else ""
        return self.append(
            "decision",
            run_id=tool,
            thread_id=tool,
            actor=by,
            role="operator",
            tool=tool,
            args=args,
            call_hash=hashlib.sha256(canonical([tool, args]).encode()).hexdigest(),
            policy_hash="",
            entity=entity,
            decision="allow",
            rule=f"patience.{tool}",
            reason=f"{'released' if released else 'held'} by {by}{lasts}{said}",
        )

    def records_about(self, subject: str) -> list[AuditRecord]:
        """Every row — in the database and in the archive segments at hand — that concerns the
        person ``subject`` (an e-mail address, phone number or IBAN in any spelling): rows with
        one of their tokens, and rows from before pseudonymisation that quote it as written."""
        needles = self._subjects(subject)
        raw = subject.strip().lower()
        columns = (*_JSON_FIELDS, "reason", "idempotency_key")
        clauses = [f"instr(COALESCE({c}, ''), ?) > 0" for c in columns for _ in needles]
        clauses += [f"instr(lower(COALESCE({c}, '')), ?) > 0" for c in columns]
        params = [n for _ in columns for n in needles] + [raw] * len(columns)
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM audit WHERE {' OR '.join(clauses)} ORDER BY seq", params).fetchall()
        found = [_record(row) for row in rows]
        for record in self.archives():
            path = self._segment_path(record)
            if not path.exists():
                continue
            for line in path.read_text(encoding="utf-8").splitlines():
                if any(n in line for n in needles) or raw in line.lower():
                    found.append(_record(_segment_row(json.loads(line))))
        about = [quoting for record in found if (quoting := self._quoting(record, needles)) is not None]
        return sorted(about, key=lambda r: r.seq)

    def _quoting(self, record: AuditRecord, needles: Sequence[str]) -> AuditRecord | None:
        """A row found by the text as written (from before pseudonymisation): really about the person
        — "x@y.de" is a substring of "max@y.de" — and with every *other* person's data in it replaced
        by their token, since the rows go to the person who asked. Rows with their tokens as they are."""
        fields = {name: getattr(record, name) for name in (*_JSON_FIELDS, "reason", "idempotency_key")}
        if any(n in canonical(fields) for n in needles):
            return record
        key, own = self._privacy[0].pii_key, tuple(needles)
        mentioned = False

        def mask(text: str) -> str:
            nonlocal mentioned
            out, position = [], 0
            for match in sorted(find_pii(text), key=lambda m: (m.start, -m.end)):
                if match.start < position:
                    continue
                token = pseudonym(match.kind, match.text, key)
                if token.startswith(own):
                    mentioned = True
                    continue
                out += [text[position : match.start], token]
                position = match.end
            return "".join(out) + text[position:]

        masked = {name: _map_all_strings(value, mask) for name, value in fields.items()}
        return dataclasses.replace(record, **masked) if mentioned else None

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
        role: str | None = None,
        decision: str | None = None,
        call_hash: str | None = None,
        idempotency_key: str | None = None,
        account: str | None = None,
        entity: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        exclude_tools: tuple[str, ...] = (),
        limit: int | None = None,
    ) -> list[AuditRecord]:
        """The rows that match every filter given, oldest first (one query).

        ``account``: a Google Ads customer id (its entities, or its ``customer_id`` argument), or
        ``"cms"`` (WordPress entities). ``entity``: the whole entity, or its last part(s), e.g.
        ``campaign_budget:9101`` or ``9101``. ``since``/``until``: at or after / before (zone-aware).
        ``exclude_tools``: leave out rows of these tools (e.g. the reads). ``limit``: only the newest
        ``limit`` rows (still oldest first)."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("run_id", run_id),
            ("thread_id", thread_id),
            ("tool", tool),
            ("kind", kind),
            ("role", role),
            ("decision", decision),
            ("call_hash", call_hash),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if idempotency_key is not None:
            clauses.append("idempotency_key IN (?, ?)")
            params.extend(self._key_forms(idempotency_key))
        if account is not None:
            if account == "cms":
                clauses.append("entity LIKE 'wordpress:%'")
            else:
                clauses.append(
                    "(substr(entity, 1, ?) = ? OR (entity IS NULL AND json_extract(args, '$.customer_id') = ?))"
                )
                prefix = f"google_ads:{account}:"
                params.extend([len(prefix), prefix, account])
        if entity is not None:
            suffix = f":{entity}"
            clauses.append("(entity = ? OR substr(entity, -?) = ?)")
            params.extend([entity, len(suffix), suffix])
        for operator, moment in ((">=", since), ("<", until)):
            if moment is not None:
                clauses.append(f"ts {operator} ?")
                params.append(moment.astimezone(dt.UTC).isoformat(timespec="microseconds"))
        if exclude_tools:
            clauses.append(f"tool NOT IN ({', '.join('?' * len(exclude_tools))})")
            params.extend(exclude_tools)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        query = f"SELECT * FROM audit {where} ORDER BY seq"
        if limit is not None:
            query = f"SELECT * FROM (SELECT * FROM audit {where} ORDER BY seq DESC LIMIT ?) ORDER BY seq"
            params.append(max(0, limit))
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        return [_record(r) for r in rows]

    def undoing(self, seq: int) -> list[AuditRecord]:
        """The rows of rollbacks that undid (or tried to undo) the change audit row ``seq`` records:
        their idempotency keys name it (``<thread>:rollback-<seq>``, ``….<n>`` for a further call of
        the undo, ``…-<8 hex>`` for one a person approved; see :mod:`adpilot.tools.rollback`)."""
        import re

        names = re.compile(rf"rollback-{seq}(?:\.[0-9]+)?(?:-[0-9a-f]{{8}})?")
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM audit WHERE run_id LIKE 'rollback-%' AND idempotency_key LIKE ? ORDER BY seq",
                (f"%:rollback-{seq}%",),
            ).fetchall()
        return [_record(r) for r in rows if names.fullmatch(str(r["idempotency_key"]).partition(":")[2])]

    def changes_in_run(self, run_id: str, customer_id: str | None, *, besides: str | None = None) -> int:
        """How many changes run ``run_id`` executed on one Google Ads account (``None``: on the CMS),
        counting results that may have landed (``unknown``) and leaving out the key ``besides``.
        One indexed query; the account is read from the stored arguments inside SQLite."""
        with self._lock:
            (count,) = self._db.execute(
                "SELECT COUNT(DISTINCT idempotency_key) FROM audit WHERE run_id = ? AND kind = 'result' "
                "AND status IN ('ok', 'unknown') AND idempotency_key IS NOT ? AND idempotency_key IS NOT ? "
                "AND COALESCE(json_extract(args, '$.customer_id'), '') = ?",
                (run_id, *(self._key_forms(besides) if besides is not None else (None, None)), customer_id or ""),
            ).fetchone()
        return int(count)

    def key_history(self, idempotency_key: str) -> KeyHistory:
        """Everything one key has seen, in one query: its call, its success, or its loose intent.

        Inconclusive means an intent with no result at all (the process died mid-call) or a
        result whose outcome is ``unknown`` (sent, but the answer was lost). A definite
        ``error`` is conclusive: nothing was applied.
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM audit WHERE idempotency_key IN (?, ?) ORDER BY seq", self._key_forms(idempotency_key)
            ).fetchall()
        if not rows:
            return KeyHistory()
        completed = next((r for r in reversed(rows) if r["kind"] == "result" and r["status"] == "ok"), None)
        effects = [r for r in rows if r["kind"] in ("intent", "result")]
        unfinished = None
        if completed is None and effects and (effects[-1]["kind"] == "intent" or effects[-1]["status"] == "unknown"):
            unfinished = next(r for r in reversed(effects) if r["kind"] == "intent")
        # Revealed: a replay answers with the real result, a retry compares the real values.
        return KeyHistory(
            call_hash=rows[0]["call_hash"],
            first_seq=rows[0]["seq"],
            completed=self.reveal_record(_record(completed))[0] if completed is not None else None,
            unfinished=self.reveal_record(_record(unfinished))[0] if unfinished is not None else None,
        )

    def changes_of(self, entity: str, since: dt.datetime) -> list[AuditRecord]:
        """The results and the rejections of exactly ``entity`` at or after ``since``, oldest first:
        what the Guard's patience rule weighs. One query on the entity index, so its cost does not
        grow with the rows of other entities."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM audit WHERE entity = ? AND kind IN ('result', 'decision') AND ts >= ? "
                "AND (kind = 'result' OR decision = 'reject') ORDER BY seq",
                (entity, since.astimezone(dt.UTC).isoformat(timespec="microseconds")),
            ).fetchall()
        return [_record(r) for r in rows]

    def range_since(self, entity: str, since: dt.datetime) -> tuple[int, int] | None:
        """Lowest and highest integer value ``entity`` had in changes since ``since`` that landed —
        or may have: a result whose answer was lost (``unknown``) and an intent no result followed
        (the process died mid-call) count too, or a change that did land would leave the window
        and a staircase of limits would start again from its new value.

        Computed in SQL over the before and after values, so its cost does not grow with the
        number of changes a busy entity accumulates in the window.
        """
        landed = (
            "entity = ?1 AND ts >= ?2 AND ((kind = 'result' AND status IN ('ok', 'unknown')) OR (kind = 'intent'"
            " AND NOT EXISTS (SELECT 1 FROM audit r WHERE r.idempotency_key = a.idempotency_key"
            " AND r.kind = 'result' AND r.seq > a.seq)))"
        )
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(v), MAX(v) FROM ("
                f"  SELECT CAST(before AS INTEGER) AS v FROM audit a WHERE {landed} AND json_type(before) = 'integer'"
                "  UNION ALL"
                f"  SELECT CAST(after AS INTEGER) FROM audit a WHERE {landed} AND json_type(after) = 'integer')",
                (entity, since.isoformat(timespec="microseconds")),
            ).fetchone()
        return None if row[0] is None else (int(row[0]), int(row[1]))

    def verify(self, *, archives: bool = False) -> int:
        """Check the whole chain — and, sealed, every row's key and the anchor's checkpoints;
        return the number of rows, or raise naming the first bad row or the missing range.

        Archived rows: the sealed archive records must cover every row before the first one left,
        and the segment files at hand are checked against them and the chain (``archives``:
        every segment must be at hand)."""
        return self._verify(archives=archives)

    def _verify(self, *, missing_anchor: bool = False, archives: bool = False) -> int:
        checkpoints = self._anchor.read_all() if self._anchor is not None and not missing_anchor else []
        with self._snapshot() as db:  # after the anchor: a checkpoint is written after its rows commit
            rows = db.execute("SELECT * FROM audit ORDER BY seq").fetchall()
            head = db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
            archived = _archived(db)
        if self._anchor is not None and not checkpoints:
            keyed = next((row["seq"] for row in rows if str(row["hash"]).startswith(KEYED)), None)
            if keyed is not None:
                raise AuditTamperedError(
                    f"the anchor {self._anchor.path} is missing, but audit rows from row {keyed} on are sealed "
                    "with the key: the anchor was deleted or moved (restore it, or point audit.anchor_path at it)",
                    keyed,
                )
            self._plain = rows[-1]["seq"] if rows else 0
        elif checkpoints:
            self._plain = checkpoints[0].plain
        by_seq: dict[int, list[Checkpoint]] = {}
        for checkpoint in checkpoints:
            by_seq.setdefault(checkpoint.seq, []).append(checkpoint)
        if self.seal is None and archived and (head is None or not str(head["hash"]).startswith(KEYED)):
            # Only a keyed, anchored log is ever archived (see :meth:`archive`), and its head is a keyed
            # row. Without the key no record's seal can be checked: in a log that was never keyed an
            # archive record is only a way to make the DELETE trigger let rows go.
            raise AuditTamperedError(
                f"the audit log holds an archive record of {archived[0].what()}, but it was never sealed with "
                "a key and only a sealed log is archived: the rows were deleted",
                archived[0].first_seq,
            )
        start_hash, start_seq = self._check_archived(archived, by_seq)
        prev_hash, expected = self._walk(rows, start_hash, start_seq, by_seq)
        self._check_segments(archived, by_seq, every=archives)
        if checkpoints:
            last = max(checkpoints, key=lambda c: c.seq)
            if expected - 1 < last.seq:
                assert self._anchor is not None
                raise AuditTamperedError(_behind(expected - 1, last, self._anchor.path), expected)
        self._check_head(head, prev_hash, expected)
        return len(rows)

    def _walk(
        self,
        rows: Sequence[sqlite3.Row | Mapping[str, Any]],
        prev_hash: str,
        expected_seq: int,
        checkpoints: dict[int, list[Checkpoint]],
    ) -> tuple[str, int]:
        """Follow the chain from ``prev_hash`` at ``expected_seq``; the last chain value and the next seq."""
        for row in rows:
            data = dict(row)
            seq = data["seq"]
            if seq != expected_seq:
                missing = (
                    f"row {expected_seq} is" if seq == expected_seq + 1 else f"rows {expected_seq} to {seq - 1} are"
                )
                raise AuditTamperedError(f"audit {missing} missing (the next row present is {seq})", expected_seq)
            if data["prev_hash"] != prev_hash:
                raise AuditTamperedError(f"audit row {seq} does not follow row {seq - 1}: chain broken", seq)
            keyed = str(data["hash"]).startswith(KEYED)
            if self.seal is not None and keyed != (seq > self._plain):
                if keyed:
                    raise AuditTamperedError(
                        f"audit row {seq} carries a keyed chain value, but the log was keyed from row "
                        f"{self._plain + 1}: the history was rewritten",
                        seq,
                    )
                raise AuditTamperedError(
                    f"audit row {seq} is not sealed with the audit key (a plain hash where the log is keyed from "
                    f"row {self._plain + 1}): the history was rewritten without the key",
                    seq,
                )
            if keyed and self._chain_key is None:
                expected_hash = None  # without the key only the sequence and the links can be checked
            else:
                expected_hash = _row_hash(prev_hash, data, self._chain_key if keyed else None)
            if expected_hash is not None and not hmac.compare_digest(expected_hash, str(data["hash"])):
                raise AuditTamperedError(f"audit row {seq} was altered: its content does not match its hash", seq)
            for checkpoint in checkpoints.get(seq, ()):
                if checkpoint.head != data["hash"]:
                    raise AuditTamperedError(_rewritten(checkpoint), seq)
            prev_hash, expected_seq = data["hash"], seq + 1
        return prev_hash, expected_seq

    def _check_head(self, head: sqlite3.Row | None, prev_hash: str, expected: int) -> None:
        if head is None and expected > 1:
            raise AuditTamperedError(
                f"the audit log's head record is missing, though it holds rows up to row {expected - 1}", expected
            )
        if head is not None and (head["seq"] != expected - 1 or head["hash"] != prev_hash):
            raise AuditTamperedError(
                f"the newest audit rows are missing: the log ends at row {expected - 1} "
                f"but row {head['seq']} was written",
                expected,
            )

    # --- retention: archive segments --------------------------------------------------------
    def archives(self) -> list[Archived]:
        """The archive records: which rows left the database for which segment file."""
        with self._lock:
            return _archived(self._db)

    def archive_of(self, seq: int) -> Archived | None:
        """The archive record of row ``seq``, if it was archived."""
        return next((a for a in self.archives() if a.first_seq <= seq <= a.last_seq), None)

    def _segment_path(self, record: Archived) -> Path:
        written = Path(record.file)
        if self.archive_dir is not None and (moved := self.archive_dir / written.name).exists():
            return moved
        return written

    def _archived_hash(self, db: sqlite3.Connection, checkpoint: Checkpoint) -> dict[str, str] | None:
        """The chain value of an archived checkpointed row, as its sealed archive record says."""
        for record in _archived(db):
            if record.first_seq <= checkpoint.seq <= record.last_seq and self._sealed(record):
                return {"hash": record.last_hash if record.last_seq == checkpoint.seq else checkpoint.head}
        return None

    def _sealed(self, record: Archived) -> bool:
        if self.seal is None:
            return True  # without the key only the links can be checked
        return hmac.compare_digest(record.mac, record.sealed(self.seal.archive_key))

    def _check_archived(self, archived: list[Archived], checkpoints: dict[int, list[Checkpoint]]) -> tuple[str, int]:
        """The archive records cover rows 1 to the last archived one without a gap, each sealed
        and linked to the one before; returns the chain value and seq the database goes on from."""
        prev_hash, expected = GENESIS, 1
        for record in archived:
            if record.first_seq != expected:
                raise AuditTamperedError(
                    f"audit rows {expected} to {record.first_seq - 1} are missing: no archive record covers them",
                    expected,
                )
            if not self._sealed(record) or record.rows != record.last_seq - record.first_seq + 1:
                raise AuditTamperedError(
                    f"the archive record of {record.what()} does not carry a valid seal: it was edited",
                    record.first_seq,
                )
            if record.prev_hash != prev_hash:
                raise AuditTamperedError(
                    f"the archive record of {record.what()} does not follow row {record.first_seq - 1}: chain broken",
                    record.first_seq,
                )
            for checkpoint in checkpoints.get(record.last_seq, ()):
                if checkpoint.head != record.last_hash:
                    raise AuditTamperedError(_rewritten(checkpoint), record.last_seq)
            prev_hash, expected = record.last_hash, record.last_seq + 1
        return prev_hash, expected

    def _check_segments(
        self, archived: list[Archived], checkpoints: dict[int, list[Checkpoint]], *, every: bool, digest: bool = True
    ) -> None:
        """Each segment file at hand (``every``: each segment) against its sealed record: size,
        SHA-256, manifest, and its rows' chain from the record's first chain value to its last.
        Without ``digest`` (opening) only the sizes: a file cut short or grown."""
        for record in archived:
            path = self._segment_path(record)
            try:
                data = path.read_bytes() if digest else b""
                size = len(data) if digest else path.stat().st_size
            except FileNotFoundError:
                if every:
                    raise AuditTamperedError(
                        f"the archive segment {path} of {record.what()} is missing (restore it, or point "
                        "audit.archive_dir at it)",
                        record.first_seq,
                    ) from None
                continue
            except OSError as exc:
                raise AuditError(f"cannot read the archive segment {path}: {exc.strerror or exc}") from exc
            if size != record.size or (digest and hashlib.sha256(data).hexdigest() != record.sha256):
                raise AuditTamperedError(
                    f"the archive segment {path} of {record.what()} was altered: it does not match its sealed digest",
                    record.first_seq,
                )
            if not digest:
                continue
            manifest = path.with_name(path.name.removesuffix(".jsonl") + ".manifest.json")
            if manifest.exists():
                try:
                    sealed = Archived(**json.loads(manifest.read_text(encoding="utf-8")))
                except (ValueError, TypeError):
                    sealed = None
                if sealed is None or dataclasses.replace(sealed, file=record.file) != record:
                    raise AuditTamperedError(
                        f"the manifest {manifest} does not match the archive record of {record.what()}",
                        record.first_seq,
                    )
            try:
                rows = [_segment_row(json.loads(line)) for line in data.decode("utf-8").splitlines()]
            except ValueError:
                raise AuditTamperedError(f"the archive segment {path} is not JSON lines", record.first_seq) from None
            last_hash, following = self._walk(rows, record.prev_hash, record.first_seq, checkpoints)
            if following != record.last_seq + 1 or last_hash != record.last_hash:
                raise AuditTamperedError(
                    f"the archive segment {path} does not hold {record.what()} as sealed", record.first_seq
                )

    def archive(
        self,
        before: dt.datetime,
        *,
        keep: dt.timedelta = MIN_KEEP,
        directory: Path | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Move the rows older than ``before`` into a sealed segment file (retention).

        Never the rows of the last ``keep`` (at least :data:`MIN_KEEP`: what the Guard's rolling
        windows and waiting approvals read), of an intent whose outcome is not known yet, or of the
        newest checkpoint on; the segment ends at a checkpointed row. The segment (JSON lines, each
        row exactly as stored) and its manifest are written and synced first; then, in one
        transaction, the sealed archive record is added, the rows deleted (the trigger lets only a
        recorded range go) and the vault entries only they used erased."""
        if self.seal is None or self._anchor is None or self.path == ":memory:":
            raise AuditError("only a keyed, anchored audit log in a file is archived")
        if self.problem is not None:
            raise AuditTamperedError(self.problem, None)
        self.verify()  # a broken history is evidence: it stays where it is
        now = self.clock()
        floor = now - max(keep, MIN_KEEP)
        cutoff = min(before, floor).astimezone(dt.UTC)
        folder = directory or self.archive_dir or Path(self.path).parent / "audit-archive"
        checkpoints = sorted({c.seq for c in self._anchor.read_all()})
        with self._snapshot() as db:
            archived = _archived(db)
            done = archived[-1].last_seq if archived else 0
            prev_hash = archived[-1].last_hash if archived else GENESIS
            (young,) = db.execute(
                "SELECT MIN(seq) FROM audit WHERE ts >= ?", (cutoff.isoformat(timespec="microseconds"),)
            ).fetchone()
            (loose,) = db.execute(
                "SELECT MIN(a.seq) FROM audit a WHERE a.kind = 'intent' AND a.idempotency_key IS NOT NULL "
                "AND NOT EXISTS (SELECT 1 FROM audit r WHERE r.idempotency_key = a.idempotency_key "
                "AND r.kind = 'result' AND r.status IN ('ok', 'error') AND r.seq > a.seq)"
            ).fetchone()
            (top,) = db.execute("SELECT MAX(seq) FROM audit").fetchone()
            limits = {
                "older than the cut-off": (young or (top or 0) + 1) - 1,
                "an intent whose outcome is not known yet": (loose or (top or 0) + 1) - 1,
                "the newest checkpoint": (checkpoints[-1] if checkpoints else 1) - 1,
            }
            upto = min(limits.values())
            upto = max((c for c in checkpoints if c <= upto), default=0)
            selected = db.execute("SELECT * FROM audit WHERE seq > ? AND seq <= ? ORDER BY seq", (done, upto))
            rows = [dict(r) for r in selected]
        report: dict[str, Any] = {
            "cutoff": cutoff.isoformat(timespec="seconds"),
            "requested": before.astimezone(dt.UTC).isoformat(timespec="seconds"),
            "floor": floor.astimezone(dt.UTC).isoformat(timespec="seconds"),
            "already_archived": done,
            "rows": len(rows),
            "kept_because": min(limits, key=lambda k: limits[k]),
            "dry_run": dry_run,
        }
        if not rows:
            return {**report, "first_seq": None, "last_seq": None, "segment": None}
        first, last = rows[0]["seq"], rows[-1]["seq"]
        name = f"audit-{first:012d}-{last:012d}"
        segment = folder.resolve() / f"{name}.jsonl"
        report.update(first_seq=first, last_seq=last, segment=str(segment))
        if dry_run:
            return report
        data = "".join(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n" for row in rows).encode()
        record = Archived(
            first,
            last,
            len(rows),
            prev_hash,
            rows[-1]["hash"],
            str(segment),
            hashlib.sha256(data).hexdigest(),
            len(data),
            rows[0]["ts"],
            rows[-1]["ts"],
            now.isoformat(timespec="seconds"),
            self.seal.key_id,
        )
        record = dataclasses.replace(record, mac=record.sealed(self.seal.archive_key))
        manifest = json.dumps(asdict(record), indent=2, ensure_ascii=False).encode()
        _write_synced(segment, data)
        _write_synced(segment.with_name(f"{name}.manifest.json"), manifest)
        try:
            with self._transaction() as db:
                now_archived = _archived(db)
                if (now_archived[-1].last_seq if now_archived else 0) != done:
                    raise AuditError("another process archived audit rows meanwhile: run the archive again")
                db.execute("PRAGMA secure_delete = ON")
                fields = asdict(record)
                db.execute(
                    f"INSERT INTO audit_archived ({', '.join(fields)}) VALUES ({', '.join('?' * len(fields))})",
                    list(fields.values()),
                )
                db.execute("DELETE FROM audit WHERE seq BETWEEN ? AND ?", (first, last))
                db.execute("DELETE FROM audit_vault WHERE last_seq <= ?", (last,))
        except sqlite3.Error as exc:
            raise AuditError(f"cannot archive audit rows of {self.path}: {exc}") from exc
        finally:
            with self._lock:
                self._db.execute("PRAGMA secure_delete = OFF")
        return {**report, "manifest": str(segment.with_name(f"{name}.manifest.json"))}

    def anchor_status(self) -> dict[str, Any]:
        """What the anchor says, for `adpilot audit verify`: where it is, the last checkpoint, and
        from which row the chain is keyed (nothing secret)."""
        if self._anchor is None or self.seal is None:
            return {"sealed": False}
        ends = self._anchor.ends()
        last = ends[1] if ends is not None else None
        return {
            "sealed": True,
            "key_source": self.seal.source,
            "key_id": self.seal.key_id,
            "anchor": str(self._anchor.path),
            "keyed_from_row": self._plain + 1,
            "last_checkpoint": None if last is None else {"seq": last.seq, "rows": last.rows, "at": last.at},
        }


def _behind(end: int, checkpoint: Checkpoint, anchor: Path | None) -> str:
    where = f"its anchor {anchor}" if anchor is not None else "its anchor"
    if end <= 0:
        return (
            f"the audit log has no rows, but {where} sealed {checkpoint.rows} rows (checkpoint of {checkpoint.at}): "
            "the database was emptied, its tables dropped, or the file replaced or deleted"
        )
    missing = f"row {end + 1} is" if end + 1 == checkpoint.seq else f"rows {end + 1} to {checkpoint.seq} are"
    return (
        f"audit {missing} missing: the log ends at row {end}, but {where} sealed rows up to {checkpoint.seq} "
        f"(checkpoint of {checkpoint.at}) — the newest rows were deleted, or the database was replaced by an older copy"
    )


def _rewritten(checkpoint: Checkpoint) -> str:
    return (
        f"audit row {checkpoint.seq} does not match the anchor's checkpoint of {checkpoint.at}: the history up to "
        f"row {checkpoint.seq} was rewritten"
    )


def _tokens_in(value: Any, into: set[str]) -> None:
    if isinstance(value, str):
        if "[" in value:
            into.update(match.group() for match in TOKEN.finditer(value))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _tokens_in(key, into)
            _tokens_in(item, into)
    elif isinstance(value, list | tuple):
        for item in value:
            _tokens_in(item, into)


def _map_strings(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return change(value) if "[" in value else value
    if isinstance(value, Mapping):
        return {(change(k) if isinstance(k, str) else k): _map_strings(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(item, change) for item in value]
    if isinstance(value, tuple):
        return tuple(_map_strings(item, change) for item in value)
    return value


def _map_all_strings(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, Mapping):
        return {(change(k) if isinstance(k, str) else k): _map_all_strings(v, change) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_map_all_strings(item, change) for item in value]
    return value


def _segment_row(data: Mapping[str, Any]) -> dict[str, Any]:
    """One line of an archive segment: the row's columns exactly as stored."""
    return {name: data.get(name) for name in (*_HASHED_FIELDS, "prev_hash", "hash")}


def _archived(db: sqlite3.Connection) -> list[Archived]:
    return [Archived(**dict(row)) for row in db.execute("SELECT * FROM audit_archived ORDER BY first_seq")]


def _write_synced(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all, and durably: a temporary file, synced, renamed."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        raise AuditError(f"cannot write the audit archive {path}: {exc.strerror or exc}") from exc
