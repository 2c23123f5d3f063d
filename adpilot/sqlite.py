"""Opening one of the state directory's SQLite files, the same way for every store.

WAL, so readers never wait for the writer; a busy timeout, so two processes wait for each other
instead of failing at once; autocommit, so each store runs its own explicit transactions; and a
failure to open that names the file, in the store's own error class.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from adpilot.errors import AdpilotError


def open_database(
    path: Path | str,
    schema: str,
    *,
    what: str,
    error: type[AdpilotError] = AdpilotError,
    synchronous: str | None = "NORMAL",
) -> sqlite3.Connection:
    """Open (or create) ``path`` with ``schema``; ``what`` names it in errors ("the audit log")."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        # busy_timeout first: switching to WAL and creating tables wait for other openers.
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("PRAGMA journal_mode=WAL")
        if synchronous is not None:
            db.execute(f"PRAGMA synchronous={synchronous}")
        db.executescript(schema)
    except sqlite3.Error as exc:
        raise error(f"cannot open {what} at {path}: {exc}") from exc
    return db
