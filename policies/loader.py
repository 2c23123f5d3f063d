"""Loading policy packs: a shipped pack by name, or a file or directory by path."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from adpilot.errors import PolicyError, SourceError
from adpilot.policies.model import Policy
from adpilot.sources import format_validation_error, load_yaml

PACKS = Path(__file__).resolve().parent / "packs"
M = TypeVar("M", bound=BaseModel)


def pack_path(name_or_path: str) -> Path:
    """Where a pack lives: ``default`` → the shipped pack; else a directory or a YAML file."""
    candidate = Path(name_or_path)
    if not candidate.exists() and (PACKS / name_or_path).is_dir():
        candidate = PACKS / name_or_path
    if candidate.is_dir():
        candidate = candidate / "policy.yaml"
    return candidate


def load_policy(name_or_path: str = "default") -> Policy:
    path = pack_path(name_or_path)
    if path.exists() and not path.is_file():
        raise PolicyError(f"{path}: is not a regular file (a pipe, socket or device?)")
    if not path.is_file():
        shipped = ", ".join(sorted(p.name for p in PACKS.iterdir() if p.is_dir()))
        raise PolicyError(f"policy pack {name_or_path!r} not found (shipped packs: {shipped}; or give a path)")
    # Parsed once per version of the file: many concurrent runs share one immutable Policy.
    return _parse_policy(path.resolve(), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _parse_policy(path: Path, mtime_ns: int) -> Policy:
    return load_model(Policy, path, what="policy pack")


def load_model(model: type[M], path: Path, *, what: str) -> M:
    """A YAML file of a policy pack as a validated model; errors name the file, line and key."""
    try:
        data, locator = load_yaml(path)
    except SourceError as exc:
        raise PolicyError(str(exc)) from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(format_validation_error(exc, locator, what=what)) from exc
