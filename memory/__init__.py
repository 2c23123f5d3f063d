"""Chroma-backed memory: knowledge (RAG with citations), decisions and creatives."""

from __future__ import annotations

import importlib
from typing import Any

# Public names, imported on first use so that importing one submodule stays cheap.
_EXPORTS = {
    "MemoryStore": "adpilot.memory.store",
    "Passage": "adpilot.memory.store",
    "KnowledgeEvidence": "adpilot.memory.store",
    "MemoryMismatchError": "adpilot.memory.store",
    "embedding_backend": "adpilot.memory.embeddings",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
