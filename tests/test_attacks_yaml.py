"""Attacks on the hardened YAML loader (adpilot.sources): inputs that crashed the process or hid
a duplicate key behind another spelling of it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from adpilot.errors import SourceError
from adpilot.sources import parse_yaml


@pytest.mark.parametrize(
    "text",
    [
        "'[' * 200_000 + ']' * 200_000",  # a deep flow sequence, 400 kB
        "'{a: ' * 150_000 + '1' + '}' * 150_000",  # a deep flow mapping, 750 kB
        "'- ' * 300_000 + 'x'",  # nested block sequences on one line
    ],
    ids=["flow-sequence", "flow-mapping", "block-sequence"],
)
def test_a_deep_nesting_is_refused_before_it_crashes_the_c_composer(text):
    # The C composer recursed once per level: a deep enough document overflowed the C stack and
    # the process died with SIGSEGV (no exception, no message) — any command loading it.
    code = textwrap.dedent(
        f"""
        import sys
        from adpilot.errors import SourceError
        from adpilot.sources import parse_yaml
        try:
            parse_yaml({text}, "deep.yaml")
        except SourceError as exc:
            print(exc, file=sys.stderr)
            sys.exit(2)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, (done.returncode, done.stderr[-500:])
    assert "nested more than" in done.stderr


@pytest.mark.parametrize(
    "text",
    [
        "true: 1\nTrue: 2\n",  # one boolean key, spelled twice
        "1: a\n0x1: b\n",  # one integer key, in decimal and hex
        "1: a\n1.0: b\n",  # 1 == 1.0: one Python dict key
        "null: a\n~: b\n",  # one None key
        "yes_no: {on: 1, true: 2}\n",  # YAML 1.1: "on" is True
    ],
)
def test_one_key_in_two_spellings_is_a_duplicate(text):
    # Before: the dict silently kept the last value.
    with pytest.raises(SourceError, match="duplicate key"):
        parse_yaml(text, "dup.yaml")


def test_two_merge_keys_in_one_mapping_are_a_duplicate():
    # The second "<<" silently overrode what the first merged in (x was 2, not 1).
    text = "a: &a {x: 1}\nb: &b {x: 2}\nc:\n  <<: *a\n  <<: *b\n"
    with pytest.raises(SourceError, match=r"dup.yaml:5: duplicate key '<<' \(first at line 4\)"):
        parse_yaml(text, "dup.yaml")


def test_distinct_keys_and_one_merge_stay_allowed():
    data, _ = parse_yaml("a: &a {x: 1}\nc:\n  <<: *a\n  '<<': literal\n  '2': s\n  1: i\n  y: 2\n", "ok.yaml")
    assert data["c"] == {"x": 1, "<<": "literal", "2": "s", 1: "i", "y": 2}


@pytest.mark.parametrize(
    "text",
    [
        "'a: 1' + ':59' * 300_000 + '\\n'",  # a YAML 1.1 base-60 integer: built by quadratic multiplication
        "'? 1' + ':59' * 300_000 + '\\n: x\\n'",  # the same as an explicit key
    ],
    ids=["value", "key"],
)
def test_a_base_60_integer_does_not_cost_minutes_of_cpu(text):
    # 0.9 MB (under the size limit) takes minutes when built (the time grows with the square of the
    # groups; 40,000 groups: 0.7 s).
    # Run in a child with a CPU limit, so a regression fails instead of hanging the suite.
    code = textwrap.dedent(
        f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_CPU, (20, 20))
        from adpilot.errors import SourceError
        from adpilot.sources import parse_yaml
        try:
            parse_yaml({text}, "sexagesimal.yaml")
        except SourceError as exc:
            print(exc, file=sys.stderr)
            sys.exit(2)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, (done.returncode, done.stderr[-300:])
    assert "sexagesimal.yaml:1: an integer of more than" in done.stderr


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: " + "1" * 5000 + "\n", 1),  # more digits than Python converts: ValueError
        ("a: 1\nb: 0x" + "f" * 5000 + "\n", 2),
        ("when: 2026-13-45\n", 1),  # resolved as a date, not one: ValueError
        ("when: !!timestamp 'soon'\n", 1),  # AttributeError
        ("n: !!int many\n", 1),
        ("x: !!float much\n", 1),
        ("2026-13-45: x\n", 1),  # as a key
    ],
)
def test_a_value_pyyaml_cannot_build_is_a_source_error_with_its_line(text, line):
    # parse_yaml promised SourceError; these escaped as ValueError/AttributeError (a traceback).
    with pytest.raises(SourceError, match=rf"^bad.yaml:{line}: "):
        parse_yaml(text, "bad.yaml")


def test_ordinary_numbers_and_dates_still_load():
    data, _ = parse_yaml("a: 12345\nb: 1:30\nc: 2026-01-02\nd: 0x1f\ne: 2.5\n", "ok.yaml")
    assert data == {"a": 12345, "b": 90, "c": __import__("datetime").date(2026, 1, 2), "d": 31, "e": 2.5}
