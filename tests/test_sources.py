"""Every YAML loader (configuration, policy packs, eval scenarios) refuses hostile input with a
clear error naming the file and line: random bytes, alias bombs, recursive aliases, nesting bombs,
duplicate keys, odd paths. No message echoes the document."""

import os
import resource
import subprocess
import sys
import textwrap

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adpilot.config import load_config
from adpilot.errors import AdpilotError, ConfigError, PolicyError, SourceError
from adpilot.evals.scenario import load_file
from adpilot.policies.compliance import ComplianceEngine
from adpilot.policies.loader import load_policy, pack_path
from adpilot.sources import MAX_DEPTH, MAX_VALUES, load_yaml, parse_yaml

LOADERS = {
    "config": lambda path: load_config(path, environ={}),
    "policy": lambda path: load_policy(str(path)),
    "scenario": load_file,
}


def bomb(width: int, levels: int) -> str:
    lines = [f"l0: &l0 [{', '.join(['x'] * width)}]"]
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def expansion(width: int, levels: int) -> int:
    """Values an alias bomb expands to, counted as the loader counts them (the keys too)."""
    size = 1 + width  # l0: the sequence and its scalars
    total = 1 + 2 + size  # the mapping, plus l0's key and value
    for _ in range(levels):
        size = 1 + width * size
        total += 1 + size
    return total


@given(st.binary(max_size=400))
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_bytes_give_a_source_error_or_data(tmp_path, data):
    path = tmp_path / "random.yaml"
    path.write_bytes(data)
    try:
        load_yaml(path)
    except SourceError as exc:
        message = str(exc)
    else:
        return
    assert message.startswith(str(path))
    assert len(message) < 400


@given(st.integers(2, 12), st.integers(1, 9))
def test_alias_expansion_is_bounded_and_exact(width, levels):
    text = bomb(width, levels)
    if expansion(width, levels) > MAX_VALUES:
        with pytest.raises(SourceError, match="expands to more than"):
            parse_yaml(text, "bomb.yaml")
    else:
        data, _ = parse_yaml(text, "bomb.yaml")
        assert len(data[f"l{levels}"]) == width


def test_a_billion_laughs_is_refused_in_a_small_memory_budget(tmp_path):
    """Run in a process capped at 512 MB of address space above what it starts with: if the
    loader expanded the aliases it would die of memory (or run for minutes) instead of exiting 2."""
    path = tmp_path / "config.yaml"
    path.write_text(bomb(10, 9))  # 10^10 values when expanded
    script = textwrap.dedent(
        f"""
        import resource, sys
        from adpilot.app.cli import main
        soft = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 + 512 * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (soft + 2**30, soft + 2**30))
        sys.exit(main(["--config", {str(path)!r}, "config", "show"]))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "expands to more than" in done.stderr
    assert len(done.stderr) < 400
    assert resource  # the cap is set inside the child


@given(st.integers(MAX_DEPTH + 1, MAX_DEPTH + 3000), st.sampled_from(["[", "{a: "]))
def test_nesting_bombs_are_refused(depth, opener):
    closer = "]" if opener == "[" else "}"
    with pytest.raises(SourceError, match="nested"):
        parse_yaml(opener * depth + "1" + closer * depth, "deep.yaml")


def test_recursive_aliases_are_refused():
    for text in ("r: &r [*r]\n", "r: &r {a: *r}\n", "a: &a [1, &b [*a]]\n"):
        with pytest.raises(SourceError, match="contains it"):
            parse_yaml(text, "rec.yaml")


keys = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12).filter(
    lambda k: k.strip() == k and k not in ("<<",)
)


@given(st.lists(keys, min_size=1, max_size=6, unique=True), st.data())
def test_a_duplicate_key_is_an_error_naming_it_and_both_lines(names, data):
    duplicate = data.draw(st.sampled_from(names))
    lines = [f"{yaml.safe_dump(name).strip().removesuffix('...').strip()}: {i}" for i, name in enumerate(names)]
    first = names.index(duplicate) + 1
    lines.append(f"{yaml.safe_dump(duplicate).strip().removesuffix('...').strip()}: again")
    text = "\n".join(lines) + "\n"
    try:
        yaml.safe_load(text)
    except yaml.YAMLError:
        return  # a key YAML itself cannot take as written
    with pytest.raises(SourceError) as caught:
        parse_yaml(text, "dup.yaml")
    message = str(caught.value)
    assert message.startswith(f"dup.yaml:{len(names) + 1}: duplicate key")
    assert f"(first at line {first})" in message


def test_duplicate_keys_nested_and_in_lists_are_errors_merge_keys_are_not():
    with pytest.raises(SourceError, match=r"rec.yaml:4: duplicate key 'max_steps'"):
        parse_yaml("runs:\n  max_steps: 5\n  max_tokens: 9\n  max_steps: 500\n", "rec.yaml")
    with pytest.raises(SourceError, match="duplicate key 'id'"):
        parse_yaml("- {id: a, id: b}\n", "rec.yaml")
    data, _ = parse_yaml("base: &b {x: 1, y: 2}\nover:\n  <<: *b\n  y: 3\n", "merge.yaml")
    assert data["over"] == {"x": 1, "y": 3}


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_every_loader_refuses_odd_paths_with_a_clear_error(tmp_path, loader):
    load = LOADERS[loader]
    directory = tmp_path / "a-directory.yaml"
    directory.mkdir()
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\x00\x01\x02PK\x03\x04")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("locale: d\xe9\n".encode("latin-1"))
    cases = {
        tmp_path / "missing.yaml": "not found",
        binary: "binary",
        latin: "not UTF-8",
        fifo: "not a regular file",
    }
    if loader != "policy":  # a policy pack may be a directory; an empty one lacks its files
        cases[directory] = "directory"
    for path, why in cases.items():
        with pytest.raises(AdpilotError, match=why) as caught:
            load(path)
        assert isinstance(caught.value, SourceError | ConfigError | PolicyError)
        assert caught.value.exit_code == 2


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_every_loader_refuses_a_bomb_and_a_duplicate_key(tmp_path, loader):
    for name, text, why in (
        ("bomb.yaml", bomb(10, 9), "expands to more than"),
        ("dup.yaml", "a: 1\na: 2\n", "duplicate key 'a'"),
    ):
        path = tmp_path / name
        if loader == "policy":
            path = tmp_path / name.removesuffix(".yaml") / "policy.yaml"
            path.parent.mkdir()
        path.write_text(text)
        with pytest.raises(AdpilotError, match=why) as caught:
            LOADERS[loader](path.parent if loader == "policy" else path)
        assert str(path) in str(caught.value)


def test_a_secret_in_an_environment_override_is_never_echoed():
    secret = "sk-live-9f8e7d6c5b4a39281706"
    with pytest.raises(ConfigError) as caught:
        load_config(None, environ={"ADPILOT__RUNS__MAX_STEPS": secret})
    assert secret not in str(caught.value)
    assert "ADPILOT__RUNS__MAX_STEPS" in str(caught.value)


def test_a_long_bad_value_is_quoted_as_a_short_excerpt(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("runs:\n  max_steps: '" + "9" * 5000 + "x'\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert "runs.max_steps" in str(caught.value)
    assert len(str(caught.value)) < 400


def test_a_policy_pack_with_two_rule_files_for_one_locale_is_refused(tmp_path):
    pack = tmp_path / "pack"
    shipped = pack_path("default").parent
    pack.mkdir()
    for file in shipped.iterdir():
        (pack / file.name).write_bytes(file.read_bytes())
    (pack / "copy_rules.de-extra.yaml").write_bytes((shipped / "copy_rules.de.yaml").read_bytes())
    with pytest.raises(PolicyError, match=r"locale 'de' is already set by copy_rules\.de"):
        ComplianceEngine.from_pack(str(pack))
