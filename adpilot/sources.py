"""YAML documents that remember where each value came from.

Configuration, policy packs and eval scenarios are written by people; when one is wrong the
error must point at the file and line. :func:`load_yaml` returns the parsed data together with
a :class:`Locator` that maps a key path (as pydantic reports it) back to a line number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from adpilot.errors import SourceError

if TYPE_CHECKING:
    from pydantic import ValidationError


@dataclass(frozen=True)
class Locator:
    """Finds the line (1-based) of a key path inside one parsed YAML document."""

    source: str
    root: yaml.Node | None
    prefix: tuple[str | int, ...] = ()

    def within(self, path: Sequence[str | int]) -> Locator:
        """A locator whose key paths start at ``path``: one document of several in a list."""
        return replace(self, prefix=(*self.prefix, *path))

    def line(self, path: Sequence[str | int]) -> int | None:
        node = self.root
        best = node.start_mark.line + 1 if node is not None else None
        for key in (*self.prefix, *path):
            node = _child(node, key)
            if node is None:
                break
            best = node.start_mark.line + 1
        return best


def _child(node: yaml.Node | None, key: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if str(key_node.value) == str(key):
                return value_node
    elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key]
    return None


def parse_yaml(text: str, source: str) -> tuple[Any, Locator]:
    """Parse one YAML document; syntax errors become :class:`SourceError` with the line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise SourceError(f"invalid YAML: {exc.problem}", source=source, line=line) from exc
    except yaml.YAMLError as exc:
        raise SourceError(f"invalid YAML: {exc}", source=source) from exc
    return data, Locator(source, root)


def load_yaml(path: Path) -> tuple[Any, Locator]:
    """Read and parse a YAML file; a missing file is a :class:`SourceError` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SourceError("file not found", source=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise SourceError(f"not UTF-8 text ({exc.reason})", source=str(path)) from exc
    return parse_yaml(text, str(path))


def format_validation_error(
    exc: Exception, locator: Locator, *, what: str, origins: dict[str, str] | None = None
) -> str:
    """Render a pydantic ValidationError under a ``<source>: invalid <what>:`` header.

    ``origins`` maps dotted keys to another source (an environment variable) that set them.
    """
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return f"{locator.source}: invalid {what}: {exc}"
    return "\n".join([f"{locator.source}: invalid {what}:", *validation_problems(exc, locator, origins)])


def validation_problems(exc: ValidationError, locator: Locator, origins: dict[str, str] | None = None) -> list[str]:
    """One indented line per problem: where (line or ``$ENV``), key, message, offending value."""
    lines = []
    for error in exc.errors(include_url=False):
        loc = [part for part in error["loc"] if not isinstance(part, str) or part[:1] != "["]
        key = ".".join(str(part) for part in loc) or "(top level)"
        origin = (origins or {}).get(key)
        line = None if origin else locator.line(loc)
        where = f"${origin}: " if origin else f"line {line}: " if line is not None else ""
        value = error.get("input")
        shown = "" if error["type"] == "missing" else f" (got {value!r})"
        lines.append(f"  {where}{key}: {error['msg']}{shown}")
    return lines
