"""The memory of adpilot, in Chroma: knowledge, decisions, creatives.

- ``knowledge``: the brand's own documents (brand voice, product facts, legal notes), chunked,
  every chunk with source, title, chunk index, tenant and a citation ``kb:SOURCE#INDEX``.
  Only :meth:`MemoryStore.ingest` writes here, and it reads local files a person chose: text
  that came from an ad platform or the CMS has no path into knowledge (no memory poisoning).
  (:meth:`MemoryStore.carry_over_knowledge` copies such documents from an archived store, for
  the demo, which archives the state directory but leaves a person's documents in place.)
  A document is its ingest root plus its path relative to that root (see
  :mod:`adpilot.memory.documents`); its *source id* (the ``SOURCE`` of citations) is the slug of
  that path, made unique when the document is first stored (``faq``, then ``faq~1a2b3c4d`` for
  another root's ``faq.md``) and kept when it is ingested again. Each chunk also records root,
  relative path, file kind, content kind (``doc_kind``: product, legal, brand_voice … or
  ``unspecified``, see :mod:`adpilot.memory.documents`), namespace (``user``; the demo's own
  documents are ``demo``) and when it was ingested, which ``adpilot memory list`` shows.
  :meth:`MemoryStore.search_knowledge` can be limited to some content kinds.
  Stores written by older versions keyed documents by file name only and have none of these
  fields: their documents are listed as ``legacy``, are searched and deleted as before, and the
  first ingest of a file with that name from any root takes the legacy document over (same
  source id, so citations stay valid) and says so.
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
import datetime as dt
import fcntl
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from adpilot.errors import AdpilotError, ConfigError, UsageError
from adpilot.memory.chunking import Chunk, chunk_text
from adpilot.memory.documents import (
    DOC_KINDS,
    UNSPECIFIED,
    DocumentError,
    Found,
    Skipped,
    check_doc_kind,
    discover,
    legacy_source_key,
    read_document,
    source_slug,
)
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
    kind: str = UNSPECIFIED  # the document's content kind

    @property
    def citation(self) -> str:
        return f"kb:{self.source}#{self.chunk}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "citation": self.citation,
            "title": self.title,
            "kind": self.kind,
            "score": round(self.score, 4),
            "text": self.text,
        }


@dataclass(frozen=True)
class StoredDocument:
    source: str
    path: str
    chunks: int
    replaced: int  # chunks of the earlier version
    note: str | None = None


@dataclass(frozen=True)
class IngestReport:
    files: int
    chunks: int
    replaced: int
    documents: list[StoredDocument] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[Skipped] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "chunks": self.chunks,
            "replaced": self.replaced,
            "documents": [vars(d) for d in self.documents],
            "skipped": [vars(s) for s in self.skipped],
            "notes": [vars(n) for n in self.notes],
        }


class NothingIngestedError(ConfigError):
    """No file of an ingest could be stored; ``report`` says why for each."""

    def __init__(self, report: IngestReport) -> None:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in report.skipped[:5])
        more = f" (and {len(report.skipped) - 5} more)" if len(report.skipped) > 5 else ""
        super().__init__(f"nothing ingested: {reasons or 'no documents found'}{more}")
        self.report = report


class UnknownDocumentError(UsageError):
    """No document of the tenant has this source id."""


@dataclass(frozen=True)
class DocumentInfo:
    """One document of the knowledge base, as ``adpilot memory list`` shows it."""

    source: str
    title: str
    chunks: int
    kind: str  # markdown, text, html, pdf, or legacy (stored by an older version)
    root: str | None
    path: str | None  # relative to root
    ingested_at: str | None
    namespace: str
    doc_kind: str = UNSPECIFIED  # the content kind: product, legal, brand_voice … (documents.DOC_KINDS)

    @property
    def location(self) -> str:
        return f"{self.root}/{self.path}" if self.root and self.path else "-"

    def as_dict(self) -> dict[str, Any]:
        return {**vars(self), "location": self.location}


def document_id(root: str, relpath: str) -> str:
    """The identity of a document: its root and relative path (hashed to fit a metadata filter)."""
    return hashlib.sha256(f"{root}\0{relpath}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Recalled:
    id: str
    text: str
    metadata: dict[str, Any]
    score: float


@contextlib.contextmanager
def _exclusive(location: Path | str, lock: str = ".adpilot-open.lock") -> Iterator[None]:
    """Hold the memory directory's lock: Chroma creates its tables and collections without one.

    Two processes opening a new directory at once both try to create the schema, and the second
    fails with "table collections already exists" (seen when two maintenance passes start
    together on a fresh state directory). A server (``http://``) does this itself.
    """
    if isinstance(location, str) and location.startswith(("http://", "https://")):
        yield
        return
    Path(location).mkdir(parents=True, exist_ok=True)
    with open(Path(location) / lock, "a") as handle:
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


@dataclass(frozen=True)
class _Stored:
    doc: str | None  # None: a legacy document (keyed by file name only)
    namespace: str | None
    ids: list[str]


@dataclass(frozen=True)
class _Plan:
    item: Found
    chunks: list[Chunk]
    metadata: dict[str, Any]
    old_ids: list[str]
    note: str | None


def _stored_documents(knowledge: Any) -> dict[str, _Stored]:
    found = knowledge.get(include=["metadatas"])
    docs: dict[str, _Stored] = {}
    for id_, metadata in zip(found["ids"], found["metadatas"] or [], strict=True):
        source = str(metadata["source"])
        if source not in docs:
            docs[source] = _Stored(_text(metadata.get("doc")), _text(metadata.get("namespace")), [])
        docs[source].ids.append(id_)
    return docs


def assign_source(
    identity: str,
    relpath: str,
    existing: Mapping[str, _Stored],
    by_document: Mapping[str, str],
    taken: set[str],
) -> tuple[str, str | None]:
    """The source id of the document ``identity`` (:func:`document_id`) and a note, and mark it taken.

    The id it already has; else a legacy document's id with the same file name (taken over, once);
    else the slug of ``relpath`` if free, else that slug with the document's own hash."""
    note = None
    source = by_document.get(identity)
    if source is None:
        legacy = legacy_source_key(relpath.rsplit("/", 1)[-1])
        if legacy in existing and existing[legacy].doc is None and legacy not in taken:
            source = legacy
            note = f"took over '{legacy}', stored by an older adpilot under its file name only"
        else:
            source = _free_source(source_slug(relpath), identity, existing, taken)
    taken.add(source)
    return source, note


def _free_source(base: str, identity: str, existing: Collection[str], taken: Collection[str]) -> str:
    """``base`` if no other document has it, else ``base~HASH`` (the document's own hash, so stable)."""
    candidates = [base, f"{base}~{identity[:8]}"]
    candidates += [f"{base}~{identity[:8]}-{n}" for n in range(2, 1000)]
    for candidate in candidates:
        if candidate not in existing and candidate not in taken:
            return candidate
    raise AdpilotError(f"no free source id for {base!r}")  # pragma: no cover - a thousand hash collisions


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


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
        namespace: str = "user",
        replace_namespace: bool = False,
        doc_kind: str | None = None,
    ) -> IngestReport:
        """Chunk and store local documents (what is read, and how: :mod:`adpilot.memory.documents`).

        A document already stored from the same root and relative path is replaced — its new chunks
        are written before the old ones are removed — and no other document is touched. A file that
        cannot be read is reported in ``skipped`` and the others are still stored; when none can be,
        :class:`NothingIngestedError`. ``replace_namespace`` also removes the documents of
        ``namespace`` that this ingest did not store (the demo refreshing its own documents).
        ``doc_kind`` is the content kind of the documents whose front matter names none (an unknown
        kind: :class:`UsageError`)."""
        if doc_kind is not None:
            try:
                check_doc_kind(doc_kind)
            except DocumentError as exc:
                raise UsageError(f"--doc-kind: {exc}") from None
        found = discover(paths)
        skipped, notes = list(found.skipped), list(found.notes)
        readable: list[tuple[Found, str, str, list[str]]] = []
        for item in found.files:
            try:
                document = read_document(item.path, item.kind, doc_kind=doc_kind)
            except DocumentError as exc:
                skipped.append(Skipped(item.shown, str(exc)))
                continue
            except OSError as exc:
                skipped.append(Skipped(item.shown, f"cannot read it: {exc.strerror or exc}"))
                continue
            if document.note:
                notes.append(Skipped(item.shown, document.note))
            readable.append((item, document.title, document.doc_kind, chunk_text(document.text)))
        if not readable:
            raise NothingIngestedError(IngestReport(0, 0, 0, [], skipped, notes))
        knowledge = self.collection("knowledge", tenant)
        with _exclusive(self.location, ".adpilot-ingest.lock"):
            existing = _stored_documents(knowledge)
            by_document = {doc.doc: source for source, doc in existing.items() if doc.doc}
            taken: set[str] = set()
            plans: list[_Plan] = []
            for item, title, content_kind, parts in readable:
                identity = document_id(str(item.root), item.relpath)
                source, note = assign_source(identity, item.relpath, existing, by_document, taken)
                if note:
                    notes.append(Skipped(item.shown, note))
                old_ids = existing[source].ids if source in existing else []
                metadata = {
                    "tenant": tenant,
                    "source": source,
                    "title": title,
                    "origin": "operator_file",
                    "doc": identity,
                    "root": str(item.root),
                    "path": item.relpath,
                    "kind": item.kind,
                    "doc_kind": content_kind,
                    "namespace": namespace,
                    "ingested_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                }
                chunks = [Chunk(source, title, i, part) for i, part in enumerate(parts)]
                plans.append(_Plan(item, chunks, metadata, old_ids, note))
            self._write(knowledge, tenant, plans, progress)
            if replace_namespace:
                for source, doc in existing.items():
                    if source not in taken and doc.namespace == namespace:
                        knowledge.delete(ids=doc.ids)
        documents = [
            StoredDocument(p.chunks[0].source, p.item.shown, len(p.chunks), len(p.old_ids), p.note) for p in plans
        ]
        return IngestReport(
            len(plans),
            sum(len(p.chunks) for p in plans),
            sum(len(p.old_ids) for p in plans),
            documents,
            skipped,
            notes,
        )

    def _write(
        self, knowledge: Any, tenant: str, plans: list[_Plan], progress: Callable[[int, int], None] | None
    ) -> None:
        """Write whole documents in batches of about ``_BATCH`` chunks; drop each one's stale chunks after."""
        total = sum(len(p.chunks) for p in plans)
        done = 0
        batch: list[_Plan] = []
        for index, plan in enumerate(plans):
            batch.append(plan)
            pending = sum(len(p.chunks) for p in batch)
            following = len(plans[index + 1].chunks) if index + 1 < len(plans) else 0
            if index + 1 < len(plans) and pending + following <= _BATCH:
                continue
            rows = [(c, p.metadata) for p in batch for c in p.chunks]
            for start in range(0, len(rows), _BATCH):
                part = rows[start : start + _BATCH]
                texts = [redact(chunk.text) for chunk, _ in part]
                knowledge.upsert(
                    ids=[f"{tenant}:{chunk.citation}" for chunk, _ in part],
                    embeddings=self.backend.embed_documents(texts),
                    documents=texts,
                    metadatas=[{**metadata, "chunk": chunk.index} for chunk, metadata in part],
                )
            for written in batch:
                fresh = {f"{tenant}:{chunk.citation}" for chunk in written.chunks}
                stale = [i for i in written.old_ids if i not in fresh]
                if stale:
                    knowledge.delete(ids=stale)
            done += pending
            batch = []
            if progress is not None:
                progress(done, total)

    def documents(self, *, tenant: str) -> list[DocumentInfo]:
        """The tenant's knowledge documents, by source id."""
        found = self.collection("knowledge", tenant).get(include=["metadatas"])
        grouped: dict[str, list[dict[str, Any]]] = {}
        for metadata in found["metadatas"] or []:
            grouped.setdefault(str(metadata["source"]), []).append(dict(metadata))
        listed = []
        for source, metas in sorted(grouped.items()):
            first = min(metas, key=lambda m: int(m.get("chunk", 0)))
            listed.append(
                DocumentInfo(
                    source=source,
                    title=str(first.get("title", "")),
                    chunks=len(metas),
                    kind=str(first.get("kind", "legacy")),
                    root=_text(first.get("root")),
                    path=_text(first.get("path")),
                    ingested_at=_text(first.get("ingested_at")),
                    namespace=str(first.get("namespace", "-")),
                    doc_kind=str(first.get("doc_kind", UNSPECIFIED)),
                )
            )
        return listed

    def delete_document(self, source: str, *, tenant: str) -> int:
        """Remove one document (all its chunks) by its exact source id; the number of chunks removed."""
        knowledge = self.collection("knowledge", tenant)
        ids = knowledge.get(where={"source": source}, include=[])["ids"]
        if not ids:
            raise UnknownDocumentError(
                f"no document with source id {source!r} in the knowledge base of tenant {tenant!r} "
                "(adpilot memory list shows the source ids)"
            )
        knowledge.delete(ids=list(ids))
        return len(ids)

    def carry_over_knowledge(self, previous: Path, *, leave_namespace: str, leave_legacy: Collection[str] = ()) -> int:
        """Copy the knowledge documents of every tenant from another (archived) local store into this
        one, except those of ``leave_namespace`` and the legacy documents named in ``leave_legacy``;
        the number of documents copied. Vectors are copied when both stores use the same embedding
        model, else the stored text is embedded again."""
        if not (previous / "chroma.sqlite3").exists():
            return 0
        old = _client(previous)
        carried: set[tuple[str, str]] = set()
        for collection in old.list_collections():
            if not collection.name.endswith(".knowledge"):
                continue
            tenant = collection.name.removesuffix(".knowledge")
            found = collection.get(include=["documents", "metadatas", "embeddings"])
            keep = [
                i
                for i, meta in enumerate(found["metadatas"] or [])
                if meta.get("namespace") != leave_namespace
                and not (meta.get("doc") is None and meta.get("source") in leave_legacy)
            ]
            if not keep:
                continue
            same_space = (collection.metadata or {}).get("embedding_model") == self.backend.name
            target = self.collection("knowledge", tenant)
            for start in range(0, len(keep), _BATCH):
                part = keep[start : start + _BATCH]
                texts = [found["documents"][i] for i in part]
                vectors = (
                    [[float(x) for x in found["embeddings"][i]] for i in part]
                    if same_space
                    else self.backend.embed_documents(texts)
                )
                target.upsert(
                    ids=[found["ids"][i] for i in part],
                    embeddings=vectors,
                    documents=texts,
                    metadatas=[found["metadatas"][i] for i in part],
                )
            carried.update((tenant, str(found["metadatas"][i]["source"])) for i in keep)
        return len(carried)

    def search_knowledge(
        self, query: str, *, tenant: str, k: int = 4, kinds: Collection[str] | None = None
    ) -> list[Passage]:
        """The ``k`` passages nearest to ``query``; with ``kinds``, only from documents of those
        content kinds (``unspecified`` included: documents without a kind, also those an older
        version stored)."""
        knowledge = self.collection("knowledge", tenant)
        if knowledge.count() == 0:
            return []
        filters: dict[str, Any] = {}
        if kinds is not None:
            for kind in kinds:
                if kind != UNSPECIFIED and kind not in DOC_KINDS:
                    raise UsageError(f"unknown document kind {kind!r} (known kinds: {', '.join(DOC_KINDS)})")
            wanted = sorted(set(kinds))
            if not wanted:
                return []
            if UNSPECIFIED in wanted:  # older stores have no doc_kind field at all: match the others out
                others = [kind for kind in DOC_KINDS if kind not in wanted]
                if others:
                    filters["where"] = {"doc_kind": {"$nin": others}}
            else:
                filters["where"] = {"doc_kind": {"$in": wanted}}
        result = knowledge.query(
            query_embeddings=[self.backend.embed_query(query)],
            n_results=max(1, k),
            include=["documents", "metadatas", "distances"],
            **filters,
        )
        return [
            Passage(
                doc,
                meta["source"],
                meta["title"],
                int(meta["chunk"]),
                1.0 - float(distance),
                str(meta.get("doc_kind", UNSPECIFIED)),
            )
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
        return Passage(
            found["documents"][0],
            meta["source"],
            meta["title"],
            int(meta["chunk"]),
            1.0,
            str(meta.get("doc_kind", UNSPECIFIED)),
        )

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
