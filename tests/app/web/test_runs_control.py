"""Stopping one run and resuming an interrupted one, from the Runs page and on the Runner.

A stopped run keeps what it waits for (its approvals stay open, and deciding them is refused while
it is stopped); the stop is an audit row naming the person; a second stop is refused; a run that a
task drives stops after its step in flight; an interrupted run is resumed to its end.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from adpilot.agents.run import Runner
from adpilot.errors import StoppedError, UsageError
from tests.app.conftest import budget_9001
from tests.app.web.test_chat_page import RAISE, browsers, chat, csrf, follow, registry, status_of
from tests.conftest import DE

__all__ = ["browsers"]  # the fixture, shared with the chat page's tests


def stop_rows(config_file: Path) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(config_file.parent / "state" / "audit.sqlite3") as db:
        rows = db.execute(
            "SELECT kind, actor, thread_id, reason FROM audit WHERE tool = 'stop_run' ORDER BY seq"
        ).fetchall()
    return [(str(k), str(a), str(t), str(r)) for k, a, t, r in rows]


async def waiting_chat(browsers) -> tuple[str, str]:
    """marta's budget raise by chat, waiting for an approval: (thread, approval id)."""
    thread = await chat(browsers["marta"], RAISE)
    streamed = await follow(browsers["marta"], thread)
    found = re.search(r'data-approval="([^"]+)"', " ".join(data for _, _, data in streamed))
    assert found, streamed
    return thread, found.group(1)


async def stop(browser, thread: str, reason: str = "wrong campaign", confirm: str = "yes"):
    data = {"csrf": await csrf(browser), "reason": reason, "confirm": confirm}
    return await browser.post(f"/runs/{thread}/stop", data=data)


async def test_stopping_a_waiting_run_keeps_its_approvals_and_names_the_person(browsers, config_file):
    otto, lena = browsers["otto"], browsers["lena"]
    thread, pid = await waiting_chat(browsers)
    shown = (await otto.get(f"/runs/{thread}")).text
    assert 'id="stop-form"' in shown and 'id="resume-form"' not in shown

    unconfirmed = await stop(otto, thread, confirm="")
    assert unconfirmed.status_code == 400
    reasonless = await stop(otto, thread, reason="  ")
    assert reasonless.status_code == 400 and stop_rows(config_file) == []

    stopped = await stop(otto, thread)
    assert stopped.status_code == 303 and stopped.headers["location"] == f"/runs/{thread}?done=stop.done"
    runs = registry(config_file)
    try:
        record = runs.get(thread)
        assert record is not None and record.status == "stopped"
        assert [p["id"] for p in record.pending] == [pid]
        asked = runs.asked(pid)
        assert asked is not None and asked.state == "open" and runs.decision(pid) is None
    finally:
        runs.close()
    assert stop_rows(config_file) == [("decision", "otto", thread, "stopped by otto: wrong campaign")]
    page = (await otto.get(stopped.headers["location"])).text
    assert "Gestoppt von otto" in page and "wrong campaign" in page and 'id="stop-form"' not in page
    assert "Lauf gestoppt." in page

    again = await stop(otto, thread, reason="once more")
    assert again.status_code == 409 and "already stopped by otto: wrong campaign" in again.text
    assert len(stop_rows(config_file)) == 1

    # Its approval stays open, but nobody carries it out while the run is stopped.
    decided = await lena.post(f"/inbox/{pid}/decide", data={"csrf": await csrf(lena), "decision": "approve"})
    assert decided.status_code == 409 and f"run {thread} was stopped by otto" in decided.text
    assert budget_9001(config_file) == "50000000"
    in_chat = (await browsers["marta"].get(f"/chat?thread={thread}")).text
    assert "Bleibt offen" in in_chat and 'class="approval"' not in in_chat


async def test_a_viewer_cannot_stop_a_run(browsers, config_file):
    thread, _ = await waiting_chat(browsers)
    refused = await stop(browsers["vera"], thread)
    assert refused.status_code == 403 and stop_rows(config_file) == []
    assert 'id="stop-form"' not in (await browsers["vera"].get(f"/runs/{thread}")).text
    assert status_of(config_file, thread) == "waiting"


async def test_a_run_a_task_drives_stops_after_its_step_in_flight(config):
    nodes: list[str] = []
    async with Runner(config, requester="marta", actor="test") as runner:

        def step(thread: str, node: str) -> None:
            nodes.append(node)
            if thread == "chat-driven" and node == "supervisor" and runner.registry.stop_request(thread) is None:
                assert runner.stop(thread, by="otto", reason="enough") == "running"  # it is being driven

        runner.on_step = step
        result = await runner.start({"kind": "chat", "text": RAISE}, thread_id="chat-driven")
        assert result.status == "stopped" and result.report["stop_reason"] == "operator"
        assert nodes[nodes.index("supervisor") + 1] == "stop" and "bidding" not in nodes
        record = runner.registry.get("chat-driven")
        assert record is not None and record.status == "stopped"
        done = await runner.start({"kind": "chat", "text": "hilfe"}, thread_id="chat-done")
        assert done.status == "done"
        with pytest.raises(UsageError, match="chat-done is done: only a running, waiting or interrupted run stops"):
            runner.stop("chat-done", by="otto", reason="late")
        with pytest.raises(UsageError, match="no run 'chat-none'"):
            runner.stop("chat-none", by="otto", reason="?")


async def interrupted(config, thread: str) -> None:
    """A maintenance run that ended between two steps, as a crash leaves it."""
    async with Runner(config, actor="adpilot maintain") as runner:
        result = await runner.start(
            {"kind": "maintenance", "accounts": [DE], "scope": "ads"}, thread_id=thread, max_steps_this_call=2
        )
    assert result.status == "interrupted"


async def test_an_interrupted_run_is_resumed_to_its_end(browsers, config, config_file):
    otto = browsers["otto"]
    await interrupted(config, "maint-crashed")
    listed = (await otto.get("/runs")).text
    assert 'class="status interrupted"' in listed
    page = (await otto.get("/runs/maint-crashed")).text
    assert 'id="resume-form"' in page and 'id="stop-form"' in page
    resumed = await otto.post("/runs/maint-crashed/resume", data={"csrf": await csrf(otto)})
    assert resumed.status_code == 200, resumed.text
    runs = registry(config_file)
    try:
        record = runs.get("maint-crashed")
        assert record is not None and record.status in ("done", "waiting")
        assert f"Lauf fortgesetzt: {record.status}." in resumed.text
    finally:
        runs.close()
    again = await otto.post("/runs/maint-crashed/resume", data={"csrf": await csrf(otto)})
    assert again.status_code == 409 and "nicht unterbrochen" in again.text


async def test_a_stopped_interrupted_run_is_not_resumed(browsers, config, config_file):
    otto = browsers["otto"]
    await interrupted(config, "maint-halted")
    assert (await stop(otto, "maint-halted", reason="not today")).status_code == 303
    assert status_of(config_file, "maint-halted") == "stopped"
    page = (await otto.get("/runs/maint-halted")).text
    assert 'id="resume-form"' not in page and "Gestoppt von otto" in page
    async with Runner(config, actor="test") as runner:
        with pytest.raises(StoppedError, match="stopped by otto: not today"):
            await runner.continue_run("maint-halted")


def test_an_approval_of_a_stopped_run_is_not_reused_by_a_later_run(tmp_path):
    """A later run meeting the same change asks afresh: it must not wait on an approval nobody may
    decide while its run is stopped."""
    import datetime as dt

    from adpilot.agents.registry import RunRegistry

    runs = RunRegistry(tmp_path / "runs.sqlite")
    try:
        day = dt.timedelta(days=1)
        for thread in ("first", "second", "third"):
            runs.upsert(thread, thread, "maintenance", [DE], "waiting", [])
        assert not runs.ask("a1", "first", "hash", requester="x", needed=1, expire_after=day, detail={}).reused
        reused = runs.ask("a2", "second", "hash", requester="x", needed=1, expire_after=day, detail={})
        assert reused.reused and reused.pending_id == "a1"
        runs.request_stop("first", "otto", "no")
        fresh = runs.ask("a3", "third", "hash", requester="x", needed=1, expire_after=day, detail={})
        assert not fresh.reused and fresh.pending_id == "a3"
    finally:
        runs.close()
