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


# Limits a document written by a person never reaches; an attacker's document (an alias bomb, a
# nesting bomb, a huge file) is refused before it costs memory or time.
MAX_BYTES = 1_000_000
MAX_VALUES = 200_000  # values after every alias is expanded
MAX_DEPTH = 64
MERGE_TAG = "tag:yaml.org,2002:merge"
# Scalars whose construction can fail or cost more than their length: YAML 1.1 integers in base 60
# ("1:59:59:…") are built by repeated multiplication, quadratic in the number of groups (a 4 MB
# scalar: minutes of CPU), and a longer decimal than Python converts raises ValueError.
MAX_NUMBER_CHARS = 100
_INT_TAG = "tag:yaml.org,2002:int"
_CHECKED_TAGS = {_INT_TAG: "integer", "tag:yaml.org,2002:float": "number", "tag:yaml.org,2002:timestamp": "date"}


def _loader_class() -> type[yaml.SafeLoader]:
    loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return loader


def _key_text(node: yaml.Node) -> str | None:
    return str(node.value) if isinstance(node, yaml.ScalarNode) and node.tag != MERGE_TAG else None


_NO_KEY = object()


def _key_value(node: yaml.Node, constructor: yaml.constructor.SafeConstructor) -> Any:
    """The key a scalar becomes in Python: ``true`` and ``True``, ``1``, ``0x1`` and ``1.0``,
    ``null`` and ``~`` are one key each (a dict keeps only the last), however they are spelled."""
    if not isinstance(node, yaml.ScalarNode) or node.tag == MERGE_TAG:
        return _NO_KEY
    if node.tag == _INT_TAG and len(node.value) > MAX_NUMBER_CHARS:
        return _NO_KEY  # refused, with its line, when the key itself is checked
    try:
        value = constructor.construct_object(node)
        hash(value)
    except (ValueError, TypeError, AttributeError, OverflowError):
        constructor.recursive_objects.pop(node, None)  # a failed construction leaves its node marked
        return _NO_KEY  # not a value at all: said with its line when the key itself is checked
    return value


def _check_scalar(node: yaml.ScalarNode, constructor: yaml.constructor.SafeConstructor, source: str) -> None:
    """An integer, number or date that is too long to be one, or that is not one (``2026-13-45``,
    ``!!int x``): a :class:`SourceError` with its line, not a ValueError from deep inside PyYAML."""
    what = _CHECKED_TAGS[node.tag]
    line = node.start_mark.line + 1
    if len(node.value) > MAX_NUMBER_CHARS and node.tag == _INT_TAG:
        raise SourceError(f"an {what} of more than {MAX_NUMBER_CHARS} characters", source=source, line=line)
    try:
        constructor.construct_object(node)
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise SourceError(f"not a valid {what} ({type(exc).__name__})", source=source, line=line) from None


def _check_depth(text: str, source: str) -> None:
    """Refuse a document nested more than :data:`MAX_DEPTH` levels before it is composed: the C
    composer recurses once per level and a deep enough nesting ("[[[[…") overflows the C stack (a
    crash, not an exception). The parser's events come from a loop, so counting them is safe."""
    loader = _loader_class()(text)
    try:
        depth = 0
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    line = mark.line + 1 if mark is not None else None
                    raise SourceError(f"nested more than {MAX_DEPTH} levels deep", source=source, line=line)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    finally:
        loader.dispose()


def _check_tree(root: yaml.Node, source: str) -> None:
    """Refuse duplicate keys, recursive aliases, deep nesting and documents whose aliases expand
    to more than :data:`MAX_VALUES` values. Each distinct node is looked at once, so the check is
    linear in the text even for an alias bomb (whose expansion is exponential)."""
    expanded: dict[int, int] = {}
    on_path: set[int] = set()
    # An explicit stack of (node, depth, children still to visit): no recursion, so no depth limit
    # of Python's own is reached before ours.
    stack: list[tuple[yaml.Node, int, list[yaml.Node]]] = []
    constructor = yaml.constructor.SafeConstructor()

    def enter(node: yaml.Node, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise SourceError(f"nested more than {MAX_DEPTH} levels deep", source=source, line=node.start_mark.line + 1)
        if id(node) in on_path:
            raise SourceError(
                "an alias refers to a value that contains it", source=source, line=node.start_mark.line + 1
            )
        children: list[yaml.Node] = []
        if isinstance(node, yaml.ScalarNode) and node.tag in _CHECKED_TAGS:
            _check_scalar(node, constructor, source)
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            seen_values: dict[Any, int] = {}
            merged: int | None = None
            for key, value in node.value:
                name, first = _key_text(key), None
                if isinstance(key, yaml.ScalarNode) and key.tag == MERGE_TAG:
                    # Two merge keys ("<<") in one mapping: the second silently overrides the first.
                    name, first = "<<", merged
                    merged = key.start_mark.line + 1
                elif name is not None:
                    identity = _key_value(key, constructor)
                    first = seen.get(name, seen_values.get(identity) if identity is not _NO_KEY else None)
                    seen.setdefault(name, key.start_mark.line + 1)
                    if identity is not _NO_KEY:
                        seen_values.setdefault(identity, key.start_mark.line + 1)
                if name is not None and first is not None:
                    shown = name if len(name) <= 40 else name[:39] + "…"
                    raise SourceError(
                        f"duplicate key {shown!r} (first at line {first}); each key may appear once",
                        source=source,
                        line=key.start_mark.line + 1,
                    )
                children += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        on_path.add(id(node))
        stack.append((node, depth, children))

    enter(root, 1)
    while stack:
        node, depth, children = stack[-1]
        while children and id(children[-1]) in expanded:
            children.pop()
        if children:
            enter(children.pop(), depth + 1)
            continue
        stack.pop()
        on_path.discard(id(node))
        size = 1
        if isinstance(node, yaml.MappingNode):
            size += sum(expanded[id(k)] + expanded[id(v)] for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            size += sum(expanded[id(item)] for item in node.value)
        if size > MAX_VALUES:
            raise SourceError(
                f"expands to more than {MAX_VALUES:,} values through aliases (&anchor/*alias); "
                "write the values out or use fewer aliases",
                source=source,
                line=node.start_mark.line + 1,
            )
        expanded[id(node)] = size


def parse_yaml(text: str, source: str) -> tuple[Any, Locator]:
    """Parse one YAML document safely: syntax errors, duplicate keys, alias bombs, deep nesting and
    oversized input become :class:`SourceError` with the line; no message echoes the document."""
    if len(text) > MAX_BYTES:
        raise SourceError(f"larger than {MAX_BYTES:,} characters; not a document adpilot reads", source=source)
    loader = _loader_class()(text)
    try:
        _check_depth(text, source)
        root = loader.get_single_node()
        if root is None:
            return None, Locator(source, None)
        _check_tree(root, source)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise SourceError(f"invalid YAML: {exc.problem}", source=source, line=line) from exc
    except yaml.YAMLError as exc:
        raise SourceError(f"invalid YAML: {_excerpt(str(exc))}", source=source) from exc
    except RecursionError as exc:
        raise SourceError("nested too deeply", source=source) from exc
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:  # a value PyYAML cannot build
        raise SourceError(f"invalid YAML value ({type(exc).__name__})", source=source) from exc
    finally:
        loader.dispose()
    return data, Locator(source, root)


def read_file(path: Path, *, limit: int = MAX_BYTES, what: str = "a document adpilot reads") -> bytes:
    """A file's bytes, at most ``limit``; a missing, unreadable, special or oversized file is a
    :class:`SourceError` naming it (a FIFO is refused before opening: reading it would block)."""
    try:
        if path.exists() and not path.is_dir() and not path.is_file():
            raise SourceError("is not a regular file (a pipe, socket or device?)", source=str(path))
        with path.open("rb") as handle:
            raw = handle.read(limit + 1)
    except FileNotFoundError as exc:
        raise SourceError("file not found", source=str(path)) from exc
    except IsADirectoryError as exc:
        raise SourceError("is a directory, not a file", source=str(path)) from exc
    except OSError as exc:
        raise SourceError(f"cannot be read ({exc.strerror or exc})", source=str(path)) from exc
    if len(raw) > limit:
        raise SourceError(f"larger than {limit:,} bytes; not {what}", source=str(path))
    return raw


def decode_text(raw: bytes, source: str, *, what: str = "YAML text") -> str:
    """UTF-8 text (a byte-order mark allowed); binary or other encodings are a :class:`SourceError`."""
    if b"\0" in raw:
        raise SourceError(f"is a binary file, not {what}", source=source)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", source=source) from exc


def load_yaml(path: Path) -> tuple[Any, Locator]:
    """Read and parse a YAML file; a missing, unreadable or non-text file is a :class:`SourceError`
    naming it."""
    return parse_yaml(decode_text(read_file(path), str(path)), str(path))


def _excerpt(text: str, limit: int = 80) -> str:
    """At most ``limit`` characters of ``text``: error messages quote, they never echo a document."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


SECRET_WORDS = ("password", "secret", "token", "credential", "api_key", "apikey")


def looks_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in SECRET_WORDS) and not lowered.endswith("_env")


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
        if error["type"] == "missing":
            shown = ""
        elif origin or looks_secret(key):
            shown = " (the value is not shown)"
        else:
            shown = f" (got {_excerpt(repr(value))})"
        lines.append(f"  {where}{key}: {error['msg']}{shown}")
    return lines
