"""The checkpoints file: a page reading a run never fails because the run is writing it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from langgraph.checkpoint.base import empty_checkpoint

from adpilot.agents.checkpoints import last_checkpoint, open_checkpoints


async def _save(path: Path, thread: str, values: dict[str, object]) -> str:
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = values
    async with open_checkpoints(path) as saver:
        config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
        await saver.aput(config, checkpoint, {"source": "loop", "step": 1}, {})
    return str(checkpoint["id"])


async def test_a_reader_does_not_fail_while_a_run_creates_the_tables(tmp_path: Path) -> None:
    """What CI met: the console read a chat while its run was setting the file up. Setting up from
    the reader (journal mode) then failed at once with "database is locked"."""
    path = tmp_path / "checkpoints.sqlite"
    run = sqlite3.connect(path, isolation_level=None)
    run.execute("BEGIN IMMEDIATE")
    run.execute("CREATE TABLE checkpoints (thread_id TEXT)")
    try:
        assert await last_checkpoint(path, "chat-1") == ({}, None)
    finally:
        run.execute("ROLLBACK")
        run.close()


async def test_a_reader_sees_the_last_committed_checkpoint_while_a_run_writes(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.sqlite"
    saved_id = await _save(path, "chat-1", {"text": "Wie läuft die Kampagne?"})
    run = sqlite3.connect(path, isolation_level=None)
    run.execute("BEGIN IMMEDIATE")
    run.execute("DELETE FROM checkpoints")
    try:
        assert await last_checkpoint(path, "chat-1") == ({"text": "Wie läuft die Kampagne?"}, saved_id)
    finally:
        run.execute("ROLLBACK")
        run.close()


async def test_the_runner_switches_the_file_to_wal_before_its_first_step(tmp_path: Path) -> None:
    """In WAL a reader never waits for the writer; the runner must not leave that to its first write."""
    path = tmp_path / "state" / "checkpoints.sqlite"
    async with open_checkpoints(path):
        mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


async def test_nothing_saved_reads_as_nothing_and_creates_no_file(tmp_path: Path) -> None:
    missing = tmp_path / "checkpoints.sqlite"
    assert await last_checkpoint(missing, "chat-1") == ({}, None)
    assert not missing.exists()
    await _save(missing, "chat-1", {"text": "x"})
    assert await last_checkpoint(missing, "chat-2") == ({}, None)


async def test_a_file_an_older_langgraph_wrote_is_read(tmp_path: Path) -> None:
    """Older savers had no writes.task_path; the runner's setup migrates it, a reader must read
    the file as it is (it never sets up)."""
    path = tmp_path / "checkpoints.sqlite"
    saved_id = await _save(path, "chat-1", {"text": "x"})
    old = sqlite3.connect(path)
    old.execute("ALTER TABLE writes DROP COLUMN task_path")
    old.commit()
    old.close()
    assert await last_checkpoint(path, "chat-1") == ({"text": "x"}, saved_id)
