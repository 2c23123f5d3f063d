"""Chroma-backed memory: knowledge (RAG with citations), decisions and creatives."""

from __future__ import annotations

from adpilot.lazy import lazy_exports

# Public names, imported on first use so that importing one submodule stays cheap.
_EXPORTS = {
    "MemoryStore": "adpilot.memory.store",
    "Passage": "adpilot.memory.store",
    "MemoryMismatchError": "adpilot.memory.store",
    "IngestReport": "adpilot.memory.store",
    "DocumentInfo": "adpilot.memory.store",
    "NothingIngestedError": "adpilot.memory.store",
    "UnknownDocumentError": "adpilot.memory.store",
    "embedding_backend": "adpilot.memory.embeddings",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
