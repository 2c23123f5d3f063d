from pathlib import Path

import pytest

from adpilot.config import Config, dump_defaults, load_config
from adpilot.errors import ConfigError
from adpilot.sources import parse_yaml

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_config_yaml_equals_the_embedded_defaults():
    shipped, _ = parse_yaml((ROOT / "config.yaml").read_text(), "config.yaml")
    assert Config.model_validate(shipped) == Config()
    assert Config.model_validate(parse_yaml(dump_defaults(), "defaults")[0]) == Config()


def test_no_file_gives_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={})
    assert config == Config()
    assert config.uses_sandbox


def test_file_from_flag_then_env_var(tmp_path):
    file = tmp_path / "a.yaml"
    file.write_text("model: scripted:x.yaml\n")
    assert load_config(file, environ={}).model == "scripted:x.yaml"
    assert load_config(None, environ={"ADPILOT_CONFIG": str(file)}).model == "scripted:x.yaml"


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
