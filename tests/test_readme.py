"""The README's examples run as printed: the sandbox walk-through against a served sandbox, every
command of the command list exists, and the console examples are understood."""

import os
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
ADPILOT = [sys.executable, "-m", "adpilot.app.cli"]


def section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.DOTALL)


def shell_lines(block: str) -> list[str]:
    """Commands of a shell block, continuation lines joined."""
    return [line.strip() for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The README's first line, `adpilot sandbox serve --port 8765 &`, on a free port; ready when it
    says so (no guessed delay)."""
    first = shell_lines(code_blocks(section("Using the sandbox"))[0])[0]
    assert first.startswith(".venv/bin/adpilot sandbox serve --port 8765") and first.endswith("&")
    port = free_port()
    args = shlex.split(first.removesuffix("&"))[1:]
    args[args.index("8765")] = str(port)
    process = subprocess.Popen(
        [*ADPILOT, *args], stderr=subprocess.PIPE, text=True, cwd=tmp_path_factory.mktemp("serve")
    )
    assert process.stderr is not None
    for line in process.stderr:
        if "sandbox ready on" in line:
            break
    else:
        pytest.fail(f"the sandbox did not start (exit {process.wait()})")
    yield port
    process.terminate()
    process.wait(timeout=30)


def walkthrough() -> list[str]:
    return shell_lines(code_blocks(section("Using the sandbox"))[0])[1:]


@pytest.mark.parametrize("line", walkthrough())
def test_each_sandbox_example_prints_what_it_promises(served, line):
    command = line.replace("localhost:8765", f"localhost:{served}")
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), f"{line!r} printed nothing"
    assert '"error"' not in done.stdout, done.stdout[:500]


def command_list() -> list[list[str]]:
    """`adpilot X Y` of every line of the command list, up to the first placeholder or option."""
    commands = []
    for line in code_blocks(section("Commands"))[0].splitlines():
        words = line.split()
        if words[:1] != ["adpilot"]:
            continue
        path = []
        for word in words[1:]:
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            path.append(word)
        commands.append(path)
    return commands


@pytest.mark.parametrize("path", command_list(), ids=" ".join)
def test_every_listed_command_exists(path):
    done = subprocess.run([*ADPILOT, *path, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def console_examples() -> list[str]:
    line = next(p for p in section("Commands").split("\n\n") if p.startswith("In the console:"))
    return [example for example in re.findall(r"`([^`]+)`", line) if not re.search(r"\b[A-Z_]{2,}\b", example)]


def test_the_console_examples_are_understood(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\nlog: {{level: warning}}\n")
    env = {**os.environ, "ADPILOT_CONFIG": str(config)}
    examples = console_examples()
    assert len(examples) >= 4
    for example in examples:
        done = subprocess.run(
            [*ADPILOT, "chat", "--once", example], capture_output=True, text=True, timeout=120, env=env
        )
        assert done.returncode in (0, 1), (example, done.stderr)
        out = done.stdout + done.stderr
        assert "Traceback" not in out
        assert not re.search(r"(?i)unknown command|nicht verstanden|did not understand", out), (example, out)
