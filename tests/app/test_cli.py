"""The adpilot command line, run as a user runs it."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from adpilot.app.cli import main
from tests.conftest import ADS_HEADERS, DE

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pydantic", "httpx", "starlette", "yaml", "structlog", "langgraph", "chromadb")


def test_help_imports_nothing_heavy():
    code = (
        "import sys; from adpilot.app import cli\n"
        "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_sandbox_show_prints_the_world(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["sandbox", "show"]) == 0
    out = capsys.readouterr().out
    expected = ("Alpine Outfitters DE", "Boots - Search", "9001: 50.00 EUR", "Alpine Outfitters AT", "Wintersale 2026")
    assert all(text in out for text in expected)


def test_sandbox_show_json_is_one_document(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["sandbox", "show", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [a["customer_id"] for a in data["accounts"]] == [DE, "4445556666"]


def test_demo_json_is_one_document(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ADPILOT_CONFIG"}
    done = subprocess.run(
        [sys.executable, "-m", "adpilot.app.cli", "demo", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    runs = json.loads(done.stdout)
    assert {r["status"] for r in runs} == {"done", "waiting"}


def test_bad_config_exits_2_naming_the_key(tmp_path, capsys):
    bad = tmp_path / "c.yaml"
    bad.write_text("sandbox:\n  seed: many\n")
    assert main(["--config", str(bad), "demo"]) == 2
    err = capsys.readouterr().err
    assert "line 2: sandbox.seed" in err and "'many'" in err


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served_sandbox():
    port = _free_port()
    env = {**os.environ, "ADPILOT_CONFIG": str(ROOT / "config.yaml")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "adpilot.app.cli",
            "sandbox",
            "serve",
            "--port",
            str(port),
            "--seed",
            "7",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "sandbox ready" in line:
                break
        else:
            pytest.fail(f"sandbox never became ready (exit {process.wait()})")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_sandbox_serve_answers_gaql_and_wordpress(served_sandbox):
    with httpx.Client(base_url=served_sandbox, timeout=10) as http:
        ads = http.post(
            f"/v23/customers/{DE}/googleAds:search",
            json={"query": "SELECT campaign.id, campaign.name FROM campaign WHERE campaign.id = 111"},
            headers=ADS_HEADERS,
        )
        assert ads.json()["results"][0]["campaign"]["name"] == "Boots - Search"
        posts = http.get("/wp-json/wp/v2/posts")
        assert posts.headers["X-WP-Total"] == "2"
        state = http.get("/_sandbox/state").json()
        assert state["google_ads"]["customers"][DE]["campaigns"]["111"]["status"] == "ENABLED"


def test_sandbox_show_prints_the_world_as_the_commands_left_it(capsys, config_file):
    from tests.app.conftest import run

    raised = json.dumps({"customer_id": DE, "budget_id": "9001", "amount_micros": "55000000"})
    assert run(capsys, config_file, "tool", "call", "bidding", "set_campaign_budget", raised)[0] == 0
    code, out = run(capsys, config_file, "sandbox", "show")
    assert code == 0 and out.out.startswith("the current world") and "9001: 55.00 EUR" in out.out
    code, out = run(capsys, config_file, "sandbox", "show", "--seed", "7")
    assert code == 0 and "the seeded world (seed 7" in out.out and "9001: 50.00 EUR" in out.out


def test_sandbox_advance_day_moves_the_calendar_of_the_shared_world(capsys, config_file):
    from tests.app.conftest import run

    code, out = run(capsys, config_file, "sandbox", "advance-day", "3", "--json")
    moved = json.loads(out.out)
    assert code == 0 and len(moved["simulated"]) == 3
    code, out = run(capsys, config_file, "sandbox", "show", "--json")
    assert json.loads(out.out)["today"] == moved["today"]
    assert run(capsys, config_file, "sandbox", "advance-day", "0")[0] == 2


def test_tool_list_shows_each_tool_s_arguments_and_unknown_roles_are_named(capsys, config_file):
    from tests.app.conftest import run

    code, out = run(capsys, config_file, "tool", "list", "--json")
    budget = next(t for t in json.loads(out.out) if t["tool"] == "set_campaign_budget")
    assert [(a["name"], a["required"]) for a in budget["arguments"]] == [
        ("customer_id", True),
        ("budget_id", True),
        ("amount_micros", True),
    ]
    code, out = run(capsys, config_file, "tool", "list")
    assert "get_performance(customer_id, level, [days])" in out.out
    assert max(len(line) for line in out.out.splitlines()) <= 120  # readable in a terminal
    code, out = run(capsys, config_file, "tool", "call", "boss", "set_campaign_budget", "{}")
    assert code == 2 and "unknown role 'boss'" in out.err and "bidding" in out.err
    code, out = run(capsys, config_file, "tool", "list", "--role", "boss")
    assert code == 2 and "unknown role 'boss'" in out.err
