"""The CLI in process against a state directory of its own (embedded sandbox, SQLite, Chroma)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adpilot.app.cli import main


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    file = tmp_path / "config.yaml"
    file.write_text(f"state_dir: {tmp_path / 'state'}\nlog: {{level: warning}}\n")
    monkeypatch.delenv("ADPILOT_CONFIG", raising=False)
    return file


def run(capsys: pytest.CaptureFixture[str], config_file: Path, *argv: str) -> tuple[int, Any]:
    """One `adpilot` command in this process: its exit code and what it printed."""
    code = main(["--config", str(config_file), *argv])
    return code, capsys.readouterr()


def world(config_file: Path) -> dict[str, Any]:
    """The embedded sandbox's world as the commands left it."""
    return json.loads((config_file.parent / "state" / "sandbox-world.json").read_text())
