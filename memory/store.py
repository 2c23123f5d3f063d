"""The memory of adpilot, in Chroma: knowledge, decisions, creatives.

- ``knowledge``: the brand's own documents (brand voice, product facts, legal notes), chunked,
  every chunk with source, title, chunk index, tenant and a citation ``kb:SOURCE#INDEX``.
  Only :meth:`MemoryStore.ingest` writes here, and it reads local files a person chose: text
  that came from an ad platform or the CMS has no path into knowledge (no memory poisoning).
- ``decisions``: what was done, why and with what outcome, linked to its audit row.
- ``creatives``: ad copy with its later performance.

Each tenant has its own collections (``TENANT.knowledge`` …), so no query can reach another
tenant's records — isolation by construction, not by a filter — and a query is a plain vector
search (a metadata filter over 10k records cost 30 ms). Records also carry their tenant, and
reads check it. Text is scrubbed of personal data
before it is stored. Each collection records which embedding model built it, and opening it
with another model is refused instead of silently mixing vector spaces. Vectors are always
computed here and passed to Chroma, so Chroma never tries to fetch a model of its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from adpilot.errors import AdpilotError, ConfigError
from adpilot.memory.chunking import chunk_file, text_files
from adpilot.memory.embeddings import EmbeddingBackend, embedding_backend
from adpilot.pii import redact
from adpilot.statedir import StateDir

COLLECTIONS = ("knowledge", "decisions", "creatives")
_BATCH = 500


class MemoryMismatchError(AdpilotError):
    """A collection was built with another embedding model than the configured one."""

    exit_code = 2


@dataclass(frozen=True)
class Passage:
    text: str
    source: str
    title: str
    chunk: int
    score: float

    @property
    def citation(self) -> str:
        return f"kb:{self.source}#{self.chunk}"

    def as_dict(self) -> dict[str, Any]:
        return {"citation": self.citation, "title": self.title, "score": round(self.score, 4), "text": self.text}


@dataclass(frozen=True)
class IngestReport:
    files: int
    chunks: int
    replaced: int


@dataclass(frozen=True)
class Recalled:
    id: str
    text: str
    metadata: dict[str, Any]
    score: float


@contextlib.contextmanager
def _exclusive(location: Path | str) -> Iterator[None]:
    """Hold the memory directory's lock: Chroma creates its tables and collections without one.

    Two processes opening a new directory at once both try to create the schema, and the second
    fails with "table collections already exists" (seen when two maintenance passes start
    together on a fresh state directory). A server (``http://``) does this itself.
    """
    if isinstance(location, str) and location.startswith(("http://", "https://")):
        yield
        return
    Path(location).mkdir(parents=True, exist_ok=True)
    with open(Path(location) / ".adpilot-open.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _client(location: Path | str) -> Any:
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    if isinstance(location, str) and location.startswith(("http://", "https://")):
        url = urlparse(location)
        return chromadb.HttpClient(
            host=url.hostname or "localhost",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=settings,
        )
    with _exclusive(location):
        return chromadb.PersistentClient(path=str(location), settings=settings)


class MemoryStore:
    def __init__(self, location: Path | str, backend: EmbeddingBackend) -> None:
        self.backend = backend
        self.location = location
        self.client = _client(location)
        self._collections: dict[str, Any] = {}

    @classmethod
    def from_config(cls, config: Any) -> MemoryStore:
        location = config.memory.server_url or StateDir(config.state_dir).chroma
        return cls(location, embedding_backend(config.memory.embedding))

    def collection(self, name: str, tenant: str) -> Any:
        if name not in COLLECTIONS:
            raise ValueError(f"unknown collection {name!r}")
        key = f"{tenant}.{name}"
        if key not in self._collections:
            with _exclusive(self.location):
                collection = self.client.get_or_create_collection(
                    key,
                    embedding_function=None,
                    metadata={"embedding_model": self.backend.name, "hnsw:space": "cosine"},
                )
            recorded = (collection.metadata or {}).get("embedding_model")
            if recorded != self.backend.name:
                raise MemoryMismatchError(
                    f"memory collection {name!r} was embedded with {recorded!r} but memory.embedding is "
                    f"{self.backend.name!r}; set memory.embedding back, or use a new state directory and re-ingest"
                )
            self._collections[key] = collection
        return self._collections[key]

    # --- knowledge ---------------------------------------------------------------------------
    def ingest(
        self,
        paths: Sequence[Path | str],
        *,
        tenant: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> IngestReport:
        """Chunk and store local documents; re-ingesting a file replaces its chunks."""
        files = text_files([Path(p) for p in paths])
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise ConfigError(f"cannot ingest: no such file(s): {', '.join(missing)}")
        knowledge = self.collection("knowledge", tenant)
        chunks = [chunk for file in files for chunk in chunk_file(file)]
        replaced = 0
        for source in sorted({c.source for c in chunks}):
            where = {"source": source}
            replaced += len(knowledge.get(where=where, include=[])["ids"])
            knowledge.delete(where=where)
        for start in range(0, len(chunks), _BATCH):
            batch = chunks[start : start + _BATCH]
            texts = [redact(c.text) for c in batch]
            knowledge.upsert(
                ids=[f"{tenant}:{c.citation}" for c in batch],
                embeddings=self.backend.embed_documents(texts),
                documents=texts,
                metadatas=[
                    {
                        "tenant": tenant,
                        "source": c.source,
                        "title": c.title,
                        "chunk": c.index,
                        "origin": "operator_file",
                    }
                    for c in batch
                ],
            )
            if progress is not None:
                progress(min(start + _BATCH, len(chunks)), len(chunks))
        return IngestReport(len(files), len(chunks), replaced)

    def search_knowledge(self, query: str, *, tenant: str, k: int = 4) -> list[Passage]:
        knowledge = self.collection("knowledge", tenant)
        if knowledge.count() == 0:
            return []
        result = knowledge.query(
            query_embeddings=[self.backend.embed_query(query)],
            n_results=max(1, k),
            include=["documents", "metadatas", "distances"],
        )
        return [
            Passage(doc, meta["source"], meta["title"], int(meta["chunk"]), 1.0 - float(distance))
            for doc, meta, distance in zip(
                result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
            )
        ]

    def passage(self, citation: str, *, tenant: str) -> Passage | None:
        """The chunk a citation names, if it belongs to this tenant."""
        found = self.collection("knowledge", tenant).get(
            ids=[f"{tenant}:{citation}"], include=["documents", "metadatas"]
        )
        if not found["ids"]:
            return None
        meta = found["metadatas"][0]
        if meta.get("tenant") != tenant:
            return None
        return Passage(found["documents"][0], meta["source"], meta["title"], int(meta["chunk"]), 1.0)

    # --- decisions and creatives -----------------------------------------------------------------
    def record_decision(
        self,
        *,
        tenant: str,
        account: str,
        run_id: str,
        tool: str,
        args: dict[str, Any],
        rationale: str,
        outcome: str,
        audit_seq: int | None = None,
    ) -> str:
        text = redact(f"{tool} {json.dumps(args, ensure_ascii=False, sort_keys=True)}: {rationale} → {outcome}")
        record_id = f"{tenant}:{run_id}:{audit_seq if audit_seq is not None else uuid.uuid4().hex}"
        self.collection("decisions", tenant).upsert(
            ids=[record_id],
            embeddings=[self.backend.embed_documents([text])[0]],
            documents=[text],
            metadatas=[
                {
                    "tenant": tenant,
                    "account": account,
                    "run_id": run_id,
                    "tool": tool,
                    "audit_seq": audit_seq if audit_seq is not None else -1,
                    "outcome": outcome,
                    "origin": "agent",
                }
            ],
        )
        return record_id

    def record_creative(
        self,
        *,
        tenant: str,
        account: str,
        ad: str,
        headlines: Sequence[str],
        descriptions: Sequence[str],
        metrics: dict[str, float | int] | None = None,
    ) -> str:
        text = redact(" | ".join([*headlines, *descriptions]))
        metadata: dict[str, Any] = {"tenant": tenant, "account": account, "ad": ad, "origin": "platform"}
        metadata.update({f"metric_{k}": v for k, v in (metrics or {}).items()})
        record_id = f"{tenant}:{account}:{ad}"
        self.collection("creatives", tenant).upsert(
            ids=[record_id],
            embeddings=[self.backend.embed_documents([text])[0]],
            documents=[text],
            metadatas=[metadata],
        )
        return record_id

    def recall(self, collection: str, query: str, *, tenant: str, k: int = 5, **where: Any) -> list[Recalled]:
        """Semantic search in decisions or creatives, within one tenant (and optional filters)."""
        if collection == "knowledge":
            raise ValueError("use search_knowledge for the knowledge collection")
        clauses = [{key: value} for key, value in where.items()]
        filters: dict[str, Any] = {}
        if clauses:
            filters["where"] = clauses[0] if len(clauses) == 1 else {"$and": clauses}
        store = self.collection(collection, tenant)
        if store.count() == 0:
            return []
        result = store.query(
            query_embeddings=[self.backend.embed_query(query)],
            n_results=max(1, k),
            include=["documents", "metadatas", "distances"],
            **filters,
        )
        return [
            Recalled(id_, doc, meta, 1.0 - float(distance))
            for id_, doc, meta, distance in zip(
                result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
            )
        ]

    def count(self, collection: str, *, tenant: str) -> int:
        return int(self.collection(collection, tenant).count())
