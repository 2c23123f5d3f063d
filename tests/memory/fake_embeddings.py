"""A tiny langchain-core Embeddings class, to prove any Embeddings plugs in by configuration."""

from langchain_core.embeddings import Embeddings


class LetterCounts(Embeddings):
    """Counts of the letters a–z: deterministic, offline, and enough to rank by shared letters."""

    def __init__(self, model: str = "letters") -> None:
        self.model = model

    def _vector(self, text: str) -> list[float]:
        lowered = text.lower()
        return [float(lowered.count(chr(c))) + 0.01 for c in range(ord("a"), ord("z") + 1)]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)
