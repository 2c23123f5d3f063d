"""The terminal console understands what the chat understands, edits lines like a shell, and keeps
log lines and the graph's internals out of the conversation."""

from __future__ import annotations

import io
import os
import re
import select
import subprocess
import sys
import time

from adpilot.config import load_config
from adpilot.logs import configure_logging
from tests.app.conftest import DEADLINE_S


async def test_freigaben_and_approvals_agree_and_no_internals_or_logs_show(config_file, tmp_path, capsys):
    from adpilot.app.console import _loop

    configure_logging("info")  # the Guard logs its refusals at info: they must not reach the person
    out = io.StringIO()
    log = tmp_path / "console.log"
    script = (
        "pausiere Kampagne Boots - Search\nfreigaben\n/approvals\nwas hat sich heute geändert?\n"
        "set budget 9010 to 55 EUR\n/quit\n"
    )
    code = await _loop(load_config(config_file), False, io.StringIO(script), out, log=log)
    text, printed = out.getvalue(), capsys.readouterr()
    assert code == 0
    (pending_id,) = re.findall(r"/approve (\S+)   /reject", text)
    answers = text.split("adpilot> ")
    freigaben = next(a for a in answers if a.startswith("  · ") and "Freigabe" in a and "/approve ID" in a)
    approvals = next(a for a in answers if "(run chat-" in a)
    assert pending_id in freigaben and pending_id in approvals
    assert "__interrupt__" not in text and "__" not in text
    assert '"event"' not in text + printed.out + printed.err  # no log line in the conversation
    assert "guard.refused" in log.read_text(encoding="utf-8")  # it went to the log file
    assert "Änderungen heute" in text
    # a mistyped id: the nearest ids, and the run ends by itself
    assert "“9010”: nothing matches that command" in text and "Closest: budget “Boots - Search” (9001)" in text
    assert "run stopped" not in text


def _read_until(fd: int, wanted: str, seen: list[str]) -> str:
    """Read the terminal until ``wanted`` appears after what ``seen`` holds; fail at the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    start = len("".join(seen))
    while wanted not in "".join(seen)[start:]:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {wanted!r} on the terminal:\n{''.join(seen)}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                seen.append(os.read(fd, 65536).decode("utf-8", "replace"))
            except OSError:  # the other side closed
                break
    return "".join(seen)[start:]


def test_on_a_terminal_arrow_keys_recall_history_and_logs_stay_out(config_file):
    main, side = os.openpty()
    env = {**os.environ, "ADPILOT_CONFIG": str(config_file), "TERM": "xterm", "ADPILOT__LOG__LEVEL": "info"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "adpilot.app.cli", "chat", "--no-memory"],
        stdin=side,
        stdout=side,
        stderr=side,
        env=env,
        close_fds=True,
    )
    os.close(side)
    seen: list[str] = []
    try:
        _read_until(main, "adpilot> ", seen)
        os.write(main, b"hilfe\r")
        first = _read_until(main, "adpilot> ", seen)
        assert "Befehle, die ich kenne" in first
        os.write(main, b"\x1b[A\r")  # arrow up: the last line again
        again = _read_until(main, "adpilot> ", seen)
        assert "Befehle, die ich kenne" in again and "^[[A" not in again and "keinem Befehl" not in again
        os.write(main, b"pause campaign Boots - Search\r")
        paused = _read_until(main, "adpilot> ", seen)
        assert "waiting for approval" in paused and '"event"' not in paused and "guard.refused" not in paused
        os.write(main, b"/quit\r")
        assert proc.wait(timeout=DEADLINE_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(main)
    state = config_file.parent / "state"
    history = (state / "console-history").read_text(encoding="utf-8").splitlines()
    assert history == ["hilfe", "pause campaign Boots - Search", "/quit"]  # a repeated line is kept once
    assert "guard.refused" in (state / "console.log").read_text(encoding="utf-8")
