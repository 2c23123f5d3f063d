"""The CLI in process against a state directory of its own (embedded sandbox, SQLite, Chroma)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adpilot.app.cli import main
from tests.conftest import DE


def run(capsys: pytest.CaptureFixture[str], config_file: Path, *argv: str) -> tuple[int, Any]:
    """One `adpilot` command in this process: its exit code and what it printed."""
    code = main(["--config", str(config_file), *argv])
    return code, capsys.readouterr()


def world(config_file: Path) -> dict[str, Any]:
    """The embedded sandbox's world as the commands left it."""
    return json.loads((config_file.parent / "state" / "sandbox-world.json").read_text())


def budget_9001(config_file: Path) -> str:
    """The amount (micros, as the world stores it) of the DE account's budget 9001, as the commands left it."""
    return world(config_file)["google_ads"]["customers"][DE]["campaign_budgets"]["9001"]["amount_micros"]


DEADLINE_S = 60.0  # bound of every wait on another process; the normal case takes a few seconds


def poll_until(
    what: str,
    probe: Callable[[], Any],
    *,
    process: subprocess.Popen[Any] | None = None,
    details: Callable[[], str] = lambda: "",
) -> Any:
    """Poll ``probe`` until it returns something truthy; fail at the deadline, or as soon as
    ``process`` ends first, with ``details()`` (its log) in the failure."""
    deadline = time.monotonic() + DEADLINE_S
    delay = 0.01
    while True:
        found = probe()
        if found:
            return found
        if process is not None and process.poll() is not None:
            pytest.fail(f"the process exited ({process.returncode}) before {what}:\n{details()}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {DEADLINE_S:g}s:\n{details()}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.05)
