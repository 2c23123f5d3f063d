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

Row kinds: ``decision`` (what the Guard decided and why), ``intent`` (written before a
side effect, with the before value and the planned after value) and ``result`` (after it,
with the outcome). An intent without a result marks an interrupted or unanswered call.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from adpilot.errors import AuditError, AuditTamperedError
from adpilot.sqlite import open_database

RowKind = Literal["decision", "intent", "result"]
GENESIS = "0" * 64
KEYED = "hmac:"  # the prefix of a keyed (version 2) chain value; a plain (version 1) one is bare hex
MIN_KEY_CHARS = 32

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


def _record(row: sqlite3.Row) -> AuditRecord:
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
        f"adpilot: created the audit key {key_file.absolute()} (mode 0600). It seals the audit log: keep a copy "
        "somewhere other than this machine — without it the log cannot be verified or written.",
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
                if self._chain_key is None and prev_hash.startswith(KEYED):
                    raise AuditKeyError(
                        f"the audit log at {self.path} is sealed with a key: open it as the configuration does "
                        "(a Deployment), not without its key"
                    )
                if (anchored := self._anchored) is not None and self.problem is None:
                    # Cheap, and enough: the rows up to the anchored head are still there, unchanged.
                    row = db.execute("SELECT hash FROM audit WHERE seq = ?", (anchored.seq,)).fetchone()
                    if seq < anchored.seq or row is None or row["hash"] != anchored.head:
                        self.problem = _broken(_behind(seq, anchored, self._anchor.path if self._anchor else None))
                if self.problem is not None and any(row["kind"] == "intent" for row in prepared):
                    raise AuditTamperedError(self.problem, None)  # no intent, so no side effect, on a broken log
                for row in prepared:
                    seq += 1
                    row["seq"] = seq
                    row["prev_hash"] = prev_hash
                    row["hash"] = prev_hash = _row_hash(prev_hash, row, self._chain_key)
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
        if self.seal is not None:
            with self._lock:
                # After the commit: a crash between the two leaves the anchor behind the log, never ahead.
                self._unsealed += len(seqs)
                if self.problem is None and self._unsealed >= self.seal.every:
                    self._checkpoint(seq, prev_hash)
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

    def changes_in_run(self, run_id: str, customer_id: str | None, *, besides: str | None = None) -> int:
        """How many changes run ``run_id`` executed on one Google Ads account (``None``: on the CMS),
        counting results that may have landed (``unknown``) and leaving out the key ``besides``.
        One indexed query; the account is read from the stored arguments inside SQLite."""
        with self._lock:
            (count,) = self._db.execute(
                "SELECT COUNT(DISTINCT idempotency_key) FROM audit WHERE run_id = ? AND kind = 'result' "
                "AND status IN ('ok', 'unknown') AND idempotency_key IS NOT ? "
                "AND COALESCE(json_extract(args, '$.customer_id'), '') = ?",
                (run_id, besides, customer_id or ""),
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

    def verify(self) -> int:
        """Check the whole chain — and, sealed, every row's key and the anchor's checkpoints;
        return the number of rows, or raise naming the first bad row or the missing range."""
        return self._verify()

    def _verify(self, *, missing_anchor: bool = False) -> int:
        checkpoints = self._anchor.read_all() if self._anchor is not None and not missing_anchor else []
        with self._snapshot() as db:  # after the anchor: a checkpoint is written after its rows commit
            rows = db.execute("SELECT * FROM audit ORDER BY seq").fetchall()
            head = db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
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
        prev_hash, expected = self._walk(rows, GENESIS, 1, by_seq)
        if checkpoints:
            last = max(checkpoints, key=lambda c: c.seq)
            if expected - 1 < last.seq:
                assert self._anchor is not None
                raise AuditTamperedError(_behind(expected - 1, last, self._anchor.path), expected)
        self._check_head(head, prev_hash, expected)
        return len(rows)

    def _walk(
        self, rows: list[sqlite3.Row], prev_hash: str, expected_seq: int, checkpoints: dict[int, list[Checkpoint]]
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
