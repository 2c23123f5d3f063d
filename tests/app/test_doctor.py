"""`adpilot doctor` (issue 16, item 6): green on the shipped defaults; on each broken setup it names
the problem with its fix, exits with the code of the worst kind of failure, and never prints a
secret. Real platforms are the sandbox served over loopback (`adpilot sandbox serve`), reached
with a real base_url and credentials from environment variables, as a deployment would."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adpilot.app.doctor import Check, exit_code
from adpilot.config import dump_defaults
from adpilot.errors import ExitCode
from adpilot.tools.sandbox.demo import (
    SANDBOX_APP_PASSWORD,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_DEVELOPER_TOKEN,
    SANDBOX_REFRESH_TOKEN,
    SANDBOX_USER,
)
from tests.app.conftest import run
from tests.conftest import AT, DE

HOST = "127.0.0.1"
MANAGER = "9990001111"
# Variable names no real deployment uses, so the user's own credentials never leak into a test.
ENV = {
    "developer_token_env": "DOCTOR_TEST_DEVELOPER_TOKEN",
    "client_id_env": "DOCTOR_TEST_CLIENT_ID",
    "client_secret_env": "DOCTOR_TEST_CLIENT_SECRET",
    "refresh_token_env": "DOCTOR_TEST_REFRESH_TOKEN",
    "access_token_env": "DOCTOR_TEST_ACCESS_TOKEN",
}
WP_ENV = "DOCTOR_TEST_WP_PASSWORD"
WRONG_REFRESH = "1//doctor-revoked-refresh-token-xyz"
WRONG_PASSWORD = "wrng pass word abcd efgh ijkl"
SECRETS = (
    SANDBOX_APP_PASSWORD,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_DEVELOPER_TOKEN,
    SANDBOX_REFRESH_TOKEN,
    WRONG_REFRESH,
    WRONG_PASSWORD,
    "sk-doctor-test-secret-key",
)


# --- helpers ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`adpilot sandbox serve` on a free loopback port, ready when it says so (no guessed delay)."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "adpilot.app.cli", "sandbox", "serve", "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path_factory.mktemp("doctor-serve"),
    )
    assert process.stderr is not None
    for line in process.stderr:
        if "sandbox ready on" in line:
            break
    else:
        pytest.fail(f"the sandbox did not start (exit {process.wait()})")
    yield f"http://{HOST}:{port}"
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [*ENV.values(), WP_ENV, "OPENAI_API_KEY"]:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("ADPILOT__"):
            monkeypatch.delenv(name)


def _config(directory: Path, **settings: Any) -> Path:
    """A config file: the shipped defaults (sandbox) with ``settings`` merged in, state in ``directory``."""
    import yaml

    data = yaml.safe_load(dump_defaults())
    data["state_dir"] = str(directory / "state")
    data["memory"]["embedding"] = "hashing"
    for key, value in settings.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    file = directory / "config.yaml"
    file.write_text(yaml.safe_dump(data), encoding="utf-8")
    return file


def _real_ads(url: str, **more: Any) -> dict[str, Any]:
    return {"base_url": url, "token_url": f"{url}/token", **ENV, **more}


def _real_wp(url: str) -> dict[str, Any]:
    return {"base_url": url, "username": SANDBOX_USER, "app_password_env": WP_ENV}


def _ads_credentials(monkeypatch: pytest.MonkeyPatch, refresh_token: str = SANDBOX_REFRESH_TOKEN) -> None:
    monkeypatch.setenv(ENV["developer_token_env"], SANDBOX_DEVELOPER_TOKEN)
    monkeypatch.setenv(ENV["client_id_env"], SANDBOX_CLIENT_ID)
    monkeypatch.setenv(ENV["client_secret_env"], SANDBOX_CLIENT_SECRET)
    monkeypatch.setenv(ENV["refresh_token_env"], refresh_token)


def doctor(capsys: pytest.CaptureFixture[str], config: Path, *flags: str) -> tuple[int, dict[str, dict[str, Any]], str]:
    """Run `adpilot doctor` twice (text, then --json): exit code, checks by name, the text output.
    Neither output may contain a secret value."""
    code, text = run(capsys, config, "doctor", *flags)
    code_json, out = run(capsys, config, "doctor", "--json", *flags)
    assert code == code_json
    document = json.loads(out.out)
    assert document["exit_code"] == code and document["ok"] == (code == 0)
    for secret in SECRETS:
        assert secret not in text.out + text.err + out.out + out.err
    return code, {c["name"]: c for c in document["checks"]}, text.out


def _posts(url: str) -> int:
    return len(httpx.get(f"{url}/_sandbox/state", params={"path": "cms.posts"}).json())


# --- green -----------------------------------------------------------------------------------------


def test_green_on_the_shipped_defaults_and_it_changes_nothing(capsys, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(dump_defaults(), encoding="utf-8")
    code, checks, text = doctor(capsys, config)
    assert code == ExitCode.OK, text
    assert {c["status"] for c in checks.values()} <= {"ok", "skip"}, text
    expected = {
        "config",
        "state_dir",
        "audit.key",
        "audit.log",
        "google_ads.credentials",
        "google_ads.api_version",
        "google_ads.token",
        "google_ads.accounts",
        "google_ads.manager",
        "wordpress.reachable",
        "wordpress.credentials",
        "wordpress.seo_fields",
        "model",
        "memory",
    }
    assert set(checks) == expected
    assert "read back equal" in checks["wordpress.seo_fields"]["found"]
    assert DE in checks["google_ads.accounts"]["found"] and AT in checks["google_ads.accounts"]["found"]
    assert text.splitlines()[0].startswith("✓ config") and "all 13 checks passed" in text
    assert not (tmp_path / ".adpilot").exists(), "the doctor created the state directory"


def test_green_on_a_used_state_directory_then_a_broken_audit_log_exits_6(capsys, tmp_path):
    config = _config(tmp_path)
    budget = json.dumps({"customer_id": DE, "budget_id": "9001", "amount_micros": "55000000"})
    assert run(capsys, config, "tool", "call", "bidding", "set_campaign_budget", budget)[0] == ExitCode.OK
    code, checks, text = doctor(capsys, config)
    assert code == ExitCode.OK, text
    assert checks["audit.log"]["status"] == "ok" and "intact" in checks["audit.log"]["found"]
    assert checks["audit.key"]["status"] == "ok"
    # The sandbox world the commands share is read, never written back (the draft lives in a copy).
    world = tmp_path / "state" / "sandbox-world.json"
    before = world.read_bytes()
    doctor(capsys, config)
    assert world.read_bytes() == before

    shutil.move(tmp_path / "state" / "audit.sqlite3", tmp_path / "elsewhere.sqlite3")
    code, checks, text = doctor(capsys, config)
    assert code == ExitCode.AUDIT_BROKEN, text
    assert checks["audit.log"]["status"] == "fail"
    assert "restore the audit database and its anchor" in checks["audit.log"]["fix"]
    assert "docs/AUDIT.md" in text and "✗ audit.log" in text


def test_another_audit_key_than_the_log_was_sealed_with_is_a_key_problem(capsys, tmp_path, monkeypatch):
    config = _config(tmp_path)
    budget = json.dumps({"customer_id": DE, "budget_id": "9001", "amount_micros": "55000000"})
    assert run(capsys, config, "tool", "call", "bidding", "set_campaign_budget", budget)[0] == ExitCode.OK
    monkeypatch.setenv("ADPILOT_AUDIT_KEY", "k" * 40)
    code, checks, text = doctor(capsys, config)
    assert code == ExitCode.USAGE, text
    assert checks["audit.log"]["status"] == "fail" and "never create a new key" in checks["audit.log"]["fix"]
    assert "k" * 40 not in text
    monkeypatch.delenv("ADPILOT_AUDIT_KEY")
    (tmp_path / "state" / "keys" / "audit.key").unlink()
    code, checks, text = doctor(capsys, config)
    assert code == ExitCode.USAGE, text
    assert checks["audit.key"]["status"] == "fail" and "restore the key file" in checks["audit.key"]["fix"]
    assert checks["audit.log"]["status"] == "skip"


def test_served_platforms_with_real_credentials_are_green(capsys, tmp_path, served, monkeypatch):
    _ads_credentials(monkeypatch)
    monkeypatch.setenv(WP_ENV, SANDBOX_APP_PASSWORD)
    config = _config(tmp_path, google_ads=_real_ads(served, login_customer_id=MANAGER), wordpress=_real_wp(served))
    posts = _posts(served)
    code, checks, text = doctor(capsys, config)
    assert code == ExitCode.OK, text
    assert checks["google_ads.manager"]["status"] == "ok" and MANAGER in checks["google_ads.manager"]["found"]
    assert "OAuth2 refresh token" in checks["google_ads.credentials"]["found"]
    # A real site: read-only unless asked to write.
    assert "read-only check" in checks["wordpress.seo_fields"]["found"]
    code, checks, text = doctor(capsys, config, "--write-test")
    assert code == ExitCode.OK, text
    assert "read back equal" in checks["wordpress.seo_fields"]["found"]
    assert _posts(served) == posts, "the doctor's draft post was not deleted"


# --- each problem, named with its fix -------------------------------------------------------------


def test_a_sunset_api_version(capsys, tmp_path, monkeypatch):
    config = _config(tmp_path)
    monkeypatch.setenv("ADPILOT__GOOGLE_ADS__API_VERSION", "v19")
    code, checks, text = doctor(capsys, config)
    assert code == ExitCode.USAGE
    assert checks["config"]["status"] == "fail"
    assert "google_ads.api_version" in text and "2026-02-11" in text and "v23" in text
    assert "ADPILOT__GOOGLE_ADS__API_VERSION" in text
    assert list(checks) == ["config"]  # nothing else can be judged without a configuration


def test_a_configuration_that_does_not_load_is_a_finding_not_a_crash(capsys, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("google_ads:\n  base_urll: https://googleads.googleapis.com\n", encoding="utf-8")
    code, checks, text = doctor(capsys, config)
    assert code == ExitCode.USAGE and "base_urll" in checks["config"]["found"] and "fix:" in text
    code, checks, _ = doctor(capsys, tmp_path / "missing.yaml")
    assert code == ExitCode.USAGE and "missing.yaml" in checks["config"]["found"]


def test_missing_google_ads_variables_for_a_real_base_url(capsys, tmp_path):
    config = _config(tmp_path, google_ads=_real_ads("https://googleads.googleapis.com"))
    code, checks, _ = doctor(capsys, config)
    assert code == ExitCode.USAGE
    found = checks["google_ads.credentials"]
    assert found["status"] == "fail"
    for name in ENV.values():
        assert name in found["found"]
    assert "docs/CONNECTING.md" in found["fix"]
    assert checks["google_ads.token"]["status"] == "skip" and checks["google_ads.accounts"]["status"] == "skip"
    assert checks["wordpress.seo_fields"]["status"] == "ok"  # the rest is still judged


def test_a_refused_oauth_refresh(capsys, tmp_path, served, monkeypatch):
    _ads_credentials(monkeypatch, refresh_token=WRONG_REFRESH)
    config = _config(tmp_path, google_ads=_real_ads(served))
    code, checks, text = doctor(capsys, config)
    assert code == ExitCode.USAGE, text
    token = checks["google_ads.token"]
    assert token["status"] == "fail" and "invalid_grant" in token["found"]
    assert ENV["refresh_token_env"] in token["found"] and "consent flow" in token["fix"]
    assert checks["google_ads.accounts"]["status"] == "skip"


def test_an_unreachable_platform_alone_exits_9(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV["developer_token_env"], SANDBOX_DEVELOPER_TOKEN)
    monkeypatch.setenv(ENV["access_token_env"], "static-doctor-token")
    config = _config(tmp_path, google_ads=_real_ads(f"http://{HOST}:{_free_port()}"))
    code, checks, text = doctor(capsys, config)
    assert code == ExitCode.PLATFORM, text
    assert checks["google_ads.accounts"]["status"] == "fail"
    assert checks["google_ads.token"]["status"] == "warn"  # a static token: works, but expires
    assert "static-doctor-token" not in text


def test_a_wrong_wordpress_application_password(capsys, tmp_path, served, monkeypatch):
    monkeypatch.setenv(WP_ENV, WRONG_PASSWORD)
    config = _config(tmp_path, wordpress=_real_wp(served))
    code, checks, text = doctor(capsys, config)
    assert code == ExitCode.USAGE, text
    assert checks["wordpress.reachable"]["status"] == "ok"
    creds = checks["wordpress.credentials"]
    assert creds["status"] == "fail" and WP_ENV in creds["found"] and "Application Passwords" in creds["fix"]
    assert checks["wordpress.seo_fields"]["status"] == "skip"


def test_a_missing_wordpress_password_variable(capsys, tmp_path, served):
    config = _config(tmp_path, wordpress=_real_wp(served))
    code, checks, _ = doctor(capsys, config)
    assert code == ExitCode.USAGE and WP_ENV in checks["wordpress.credentials"]["found"]


def test_the_seo_plugin_not_installed_fails_the_round_trip(capsys, tmp_path, served, monkeypatch):
    monkeypatch.setenv(WP_ENV, SANDBOX_APP_PASSWORD)
    config = _config(tmp_path, wordpress=_real_wp(served))
    httpx.post(f"{served}/_sandbox/patch", json={"cms.seo_plugin": "none"}).raise_for_status()
    try:
        posts = _posts(served)
        code, checks, text = doctor(capsys, config, "--write-test")
        assert code == ExitCode.USAGE, text
        seo = checks["wordpress.seo_fields"]
        assert seo["status"] == "fail" and "adpilot_meta_description" in seo["found"]
        assert "integrations/wordpress/adpilot-seo" in seo["fix"]
        assert _posts(served) == posts, "the doctor's draft post was not deleted"
        code, checks, _ = doctor(capsys, config)  # read-only: the key is not in the posts' meta
        assert code == ExitCode.USAGE and checks["wordpress.seo_fields"]["status"] == "fail"
    finally:
        httpx.post(f"{served}/_sandbox/reset", json={"seed": 7}).raise_for_status()


def test_a_state_dir_that_is_a_file(capsys, tmp_path):
    config = _config(tmp_path)
    (tmp_path / "state").write_text("not a directory", encoding="utf-8")
    code, checks, _ = doctor(capsys, config)
    assert code == ExitCode.USAGE
    assert checks["config"]["status"] == "ok"
    assert checks["state_dir"]["status"] == "fail" and "is a file" in checks["state_dir"]["found"]
    assert checks["audit.log"]["status"] == "skip"
    assert checks["google_ads.accounts"]["status"] == "ok"  # the platforms are still checked


def test_a_model_without_a_price(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-doctor-test-secret-key")
    config = _config(tmp_path, model="openai:gpt-doctor-unpriced")
    code, checks, _ = doctor(capsys, config)
    assert code == ExitCode.USAGE
    assert checks["model.price"]["status"] == "fail" and "prices" in checks["model.price"]["found"]
    assert checks["model.api_key"]["status"] == "ok" and "OPENAI_API_KEY" in checks["model.api_key"]["found"]


@pytest.mark.skipif(importlib.util.find_spec("langchain_anthropic") is not None, reason="the extra is installed")
def test_a_model_whose_extra_is_missing_and_key_unset(capsys, tmp_path):
    config = _config(tmp_path, model="anthropic:claude-sonnet-4-0")
    code, checks, text = doctor(capsys, config)
    assert code == ExitCode.USAGE
    assert checks["model.price"]["status"] == "ok"
    assert checks["model.extra"]["status"] == "fail" and "pip install 'adpilot[anthropic]'" in text
    assert checks["model.api_key"]["status"] == "fail" and "ANTHROPIC_API_KEY" in checks["model.api_key"]["found"]


def test_a_scripted_model_needs_its_script_and_online_calls_nothing_for_it(capsys, tmp_path):
    script = tmp_path / "script.yaml"
    script.write_text("bidding: []\n", encoding="utf-8")
    code, checks, text = doctor(capsys, _config(tmp_path, model=f"scripted:{script}"), "--online")
    assert code == ExitCode.OK, text
    assert "bidding" in checks["model"]["found"] and checks["model.online"]["status"] == "skip"
    code, checks, _ = doctor(capsys, _config(tmp_path, model=f"scripted:{tmp_path / 'gone.yaml'}"))
    assert code == ExitCode.USAGE and "gone.yaml does not exist" in checks["model"]["found"]


def test_a_version_newer_than_verified_is_a_warning_not_a_failure(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ADPILOT__GOOGLE_ADS__API_VERSION", "v24")
    code, checks, text = doctor(capsys, _config(tmp_path))
    assert code == ExitCode.OK, text
    assert checks["google_ads.api_version"]["status"] == "warn" and "! google_ads.api_version" in text
    assert "fix: accepted" in text


def test_an_unknown_embedding(capsys, tmp_path):
    config = _config(tmp_path, memory={"embedding": "word2vec"})
    code, checks, _ = doctor(capsys, config)
    assert code == ExitCode.USAGE and "word2vec" in checks["memory"]["found"]


def test_exit_code_precedence():
    def failing(code: int) -> Check:
        return Check("x", "fail", "", "", code)

    assert exit_code([Check("a", "ok", ""), Check("b", "warn", "", "fix"), Check("c", "skip", "")]) == 0
    assert exit_code([failing(ExitCode.PLATFORM)]) == ExitCode.PLATFORM
    assert exit_code([failing(ExitCode.PLATFORM), failing(ExitCode.USAGE)]) == ExitCode.USAGE
    assert exit_code([failing(ExitCode.USAGE), failing(ExitCode.AUDIT_BROKEN)]) == ExitCode.AUDIT_BROKEN
    assert exit_code([failing(ExitCode.INTERNAL), failing(ExitCode.PLATFORM)]) == ExitCode.PLATFORM
