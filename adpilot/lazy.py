"""Package-level public names, imported on first use (PEP 562).

A package lists its public names once; importing any one of its submodules then stays cheap
(no LangGraph or Chroma pulled in just to reach a small helper), which keeps the CLI fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` that resolves ``exports`` (name → module) on first use."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name]), name)

    return __getattr__
