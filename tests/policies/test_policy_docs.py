"""docs/POLICY.md explains every key of the policy, and its examples are valid policy."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from adpilot.evals.scenario import patched_policy
from adpilot.policies.model import Policy

DOC = (Path(__file__).resolve().parents[2] / "docs" / "POLICY.md").read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```yaml\n(.*?)```", DOC, flags=re.S)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if (found := _model_in(arg)) is not None:
            return found
    return None


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        inner = _model_in(field.annotation)
        if inner is None or typing.get_origin(field.annotation) is not None:
            keys.append(key)  # a section (a nested mapping) is explained by its keys
        if inner is not None and typing.get_origin(field.annotation) is not dict:
            keys.extend(_keys(inner, f"{key}."))
    return keys


@pytest.mark.parametrize("key", _keys(Policy))
def test_every_policy_key_is_documented(key):
    leaf = key.rsplit(".", 1)[-1]
    assert f"`{key}`" in DOC or f"`{leaf}`" in DOC, f"docs/POLICY.md does not explain {key}"


def test_the_docs_have_examples():
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.split("\n", 1)[0][:40] for e in EXAMPLES])
def test_every_example_is_valid_on_the_default_pack(example):
    data = yaml.safe_load(example)
    patch: dict[str, Any] = {}

    def flatten(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and prefix.count(".") < 1 and prefix != "limits.currencies":
            for key, value in node.items():
                flatten(value, f"{prefix}.{key}" if prefix else str(key))
        else:
            patch[prefix] = node

    flatten(data, "")
    Policy.model_validate(patched_policy(patch))
