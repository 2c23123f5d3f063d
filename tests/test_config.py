import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from adpilot.config import MASK, Config, dump_defaults, load_config, shown_config
from adpilot.errors import ConfigError
from adpilot.sources import parse_yaml

ROOT = Path(__file__).resolve().parent.parent


def shipped_config_texts() -> list[str]:
    """config.yaml as committed (a user may edit theirs, as its header invites) and as it is now
    (a change of the defaults edits both in one commit)."""
    texts = [(ROOT / "config.yaml").read_text()]
    committed = subprocess.run(
        ["git", "-C", str(ROOT), "show", "HEAD:config.yaml"], capture_output=True, text=True, check=False
    )
    if committed.returncode == 0:
        texts.append(committed.stdout)
    return texts


def test_shipped_config_yaml_equals_the_embedded_defaults():
    def is_default(text: str) -> bool:
        try:
            return Config.model_validate(parse_yaml(text, "config.yaml")[0]) == Config()
        except ValidationError:
            return False  # the committed file of an older default (e.g. a version since switched off)

    assert any(is_default(text) for text in shipped_config_texts())
    assert Config.model_validate(parse_yaml(dump_defaults(), "defaults")[0]) == Config()


def test_no_file_gives_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={})
    assert config == Config()
    assert config.uses_sandbox


def test_file_from_flag_then_env_var(tmp_path):
    file = tmp_path / "a.yaml"
    file.write_text("model: scripted:x.yaml\n")
    assert load_config(file, environ={}).model == f"scripted:{tmp_path / 'x.yaml'}"
    assert load_config(None, environ={"ADPILOT_CONFIG": str(file)}).model == f"scripted:{tmp_path / 'x.yaml'}"


def test_environment_overrides_win_and_are_typed(tmp_path):
    file = tmp_path / "a.yaml"
    file.write_text("google_ads:\n  timeout_s: 5\n")
    config = load_config(file, environ={"ADPILOT__GOOGLE_ADS__TIMEOUT_S": "7.5", "ADPILOT__MODEL": "none"})
    assert config.google_ads.timeout_s == 7.5


def test_relative_state_dir_is_relative_to_the_config_file(tmp_path):
    file = tmp_path / "conf" / "c.yaml"
    file.parent.mkdir()
    file.write_text("state_dir: state\n")
    assert load_config(file, environ={}).state_dir == tmp_path / "conf" / "state"


def test_invalid_file_names_line_key_value_and_expectation(tmp_path):
    file = tmp_path / "bad.yaml"
    file.write_text("log:\n  level: loud\naccounts: ['123-456-7890']\nbogus: 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(file, environ={})
    message = str(info.value)
    assert f"{file}: invalid configuration" in message
    assert "line 2: log.level" in message and "'loud'" in message and "'debug'" in message
    assert "line 3: accounts" in message and "10-digit" in message
    assert "line 4: bogus" in message


def test_invalid_override_names_the_variable():
    with pytest.raises(ConfigError, match=r"\$ADPILOT__SANDBOX__SEED: sandbox.seed"):
        load_config(
            None,
            environ={
                "ADPILOT__SANDBOX__SEED": "seven",
                "ADPILOT_CONFIG": str(ROOT / "config.yaml"),
            },
        )


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    file = tmp_path / "broken.yaml"
    file.write_text("model: none\nlog: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken.yaml:\d+: invalid YAML"):
        load_config(file, environ={})


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_every_path_in_the_file_is_relative_to_the_file_not_the_working_directory(tmp_path, monkeypatch):
    conf = tmp_path / "deploy"
    (conf / "packs" / "mine").mkdir(parents=True)
    file = conf / "config.yaml"
    file.write_text(
        "state_dir: state\npolicy: packs/mine\nmodel: scripted:turns.yaml\n"
        "audit:\n  key_file: keys/audit.key\n  anchor_path: ../anchors/audit.anchor\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(file, environ={"ADPILOT__AUDIT__KEY_FILE": "from-env.key"})
    assert config.state_dir == conf / "state"
    assert config.policy == str(conf / "packs" / "mine")
    assert config.model == f"scripted:{conf / 'turns.yaml'}"
    assert config.audit.anchor_path == conf / ".." / "anchors" / "audit.anchor"
    assert config.audit.key_file == Path("from-env.key")  # an override is relative to where it is given
    assert load_config(file, environ={"ADPILOT__POLICY": "default"}).policy == "default"


def test_a_shipped_pack_name_is_not_a_path(tmp_path):
    file = tmp_path / "config.yaml"
    file.write_text("policy: default\n")
    assert load_config(file, environ={}).policy == "default"


@pytest.mark.parametrize("state_dir", ["blocker", "blocker/inside"])
def test_a_state_dir_that_is_a_file_is_one_clear_error_for_every_command(tmp_path, state_dir):
    (tmp_path / "blocker").write_text("not a directory")
    file = tmp_path / "config.yaml"
    file.write_text(f"state_dir: {state_dir}\n")
    for command in (["stop"], ["resume"], ["approvals", "list"], ["audit", "verify"], ["memory", "search", "x"]):
        done = subprocess.run(
            [sys.executable, "-m", "adpilot.app.cli", "--config", str(file), *command],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, (command, done.stderr)
        assert "is a file, not a directory" in done.stderr and "Traceback" not in done.stderr


def test_a_config_yaml_that_is_a_directory_is_an_error_not_silently_skipped(tmp_path, monkeypatch):
    (tmp_path / "config.yaml").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(environ={})


def test_without_a_config_file_the_cli_says_which_defaults_are_in_force(tmp_path):
    env = {k: v for k, v in __import__("os").environ.items() if k != "ADPILOT_CONFIG"}
    done = subprocess.run(
        [sys.executable, "-m", "adpilot.app.cli", "approvals", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0
    assert "no config file" in done.stderr and "built-in defaults" in done.stderr


userinfo = st.text(st.characters(codec="ascii", categories=("Ll", "Lu", "Nd")), min_size=1, max_size=16)


@given(userinfo, userinfo, st.sampled_from(["http", "https", "postgresql"]))
def test_config_show_never_prints_a_password_inside_a_url(user, password, scheme):
    url = f"{scheme}://{user}:{password}@chroma.internal:8000/?token={password}&tenant=x"
    shown = shown_config(Config.model_validate({"memory": {"server_url": url}}))["memory"]["server_url"]
    assert shown == f"{scheme}://{user}:{MASK}@chroma.internal:8000/?token={MASK}&tenant=x"


def test_the_shipped_config_yaml_writes_out_every_setting():
    """A setting missing from config.yaml is one a user never learns of (the defaults still apply)."""
    shipped = parse_yaml((ROOT / "config.yaml").read_text(), "config.yaml")[0]

    def missing(written: dict, defaults: dict, path: str = "") -> list[str]:
        gaps = []
        for key, value in defaults.items():
            if key not in written:
                gaps.append(path + key)
            elif isinstance(value, dict) and isinstance(written[key], dict) and key != "prices":
                gaps += missing(written[key], value, f"{path}{key}.")
        return gaps

    assert missing(shipped, Config().model_dump(mode="json")) == []
