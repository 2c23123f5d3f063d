"""The runs' checkpoints file (LangGraph's SQLite saver), opened one way by the runner and by readers.

The runner opens it for writing and sets it up at once (WAL, tables), before any step runs, with
a busy timeout long enough for two processes to wait for each other. Readers — the console's
pages and its API — open it read-only and never set it up: setting up writes (journal mode,
``CREATE TABLE``), and a write that meets a run creating the file's tables fails at once with
"database is locked" instead of waiting.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

BUSY_TIMEOUT_S = 30.0


@asynccontextmanager
async def open_checkpoints(path: Path) -> AsyncIterator[AsyncSqliteSaver]:
    """The saver a runner writes through, set up before it is handed out."""
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path.parent.mkdir(parents=True, exist_ok=True)
    async with aiosqlite.connect(str(path), timeout=BUSY_TIMEOUT_S) as conn:
        saver = AsyncSqliteSaver(conn)
        await saver.setup()
        yield saver


async def last_checkpoint(path: Path, thread: str) -> tuple[dict[str, Any], str | None]:
    """A thread's last checkpointed values and the checkpoint's id; nothing saved yet: ``{}, None``.

    Read-only: a page that shows a run never takes a write lock on the file the run writes.
    """
    uri = _read_only_uri(path)
    if uri is None:
        return {}, None
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with aiosqlite.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S) as conn:
        saver = AsyncSqliteSaver(conn)
        saver.is_setup = True  # set up by the runner; a reader must not write
        try:
            # A file an older LangGraph wrote has no writes.task_path until a runner migrates it;
            # the saver's setup would notice, and a reader skips setup: it asks the file itself.
            async with conn.execute("PRAGMA table_info(writes)") as cursor:
                columns = {row[1] async for row in cursor}
            saver._has_task_path = "task_path" in columns or not columns
            saved = await saver.aget_tuple({"configurable": {"thread_id": thread}})
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # the runner has not set the file up yet
                return {}, None
            raise
    if saved is None:
        return {}, None
    return dict(saved.checkpoint.get("channel_values", {})), str(saved.checkpoint.get("id"))


def _read_only_uri(path: Path) -> str | None:
    """The file's read-only SQLite URI, or None when no run has created it yet."""
    return f"{path.resolve().as_uri()}?mode=ro" if path.exists() else None
