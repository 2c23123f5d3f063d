"""Splitting documents into overlapping chunks that keep paragraphs whole where they can."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from adpilot.memory.documents import KINDS, document_title, legacy_source_key, read_document

__all__ = ["Chunk", "chunk_file", "chunk_text", "document_title", "source_key"]


@dataclass(frozen=True)
class Chunk:
    source: str  # the document's source id (see adpilot.memory.documents)
    title: str
    index: int
    text: str

    @property
    def citation(self) -> str:
        return f"kb:{self.source}#{self.index}"


def source_key(path: Path) -> str:
    """The key of a file standing alone: its name without suffix, slugged (what older versions keyed by)."""
    return legacy_source_key(path.name)


def chunk_text(text: str, *, size: int = 500, overlap: int = 120) -> list[str]:
    """Paragraph-aligned chunks of about ``size`` characters; each repeats the previous one's
    last ``overlap`` characters (from a sentence start) so no statement is cut off from its context."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    chunks: list[str] = []
    current = ""
    for paragraph in paragraphs:
        pieces = [paragraph] if len(paragraph) <= size else re.split(r"(?<=[.!?])\s+", paragraph)
        for piece in pieces:
            candidate = f"{current}\n\n{piece}".strip() if current else piece
            if len(candidate) <= size or not current:
                current = candidate
                continue
            chunks.append(current)
            tail = current[-overlap:]
            sentence = re.search(r"(?<=[.!?])\s+(\S.*)$", tail, re.DOTALL)
            carry = sentence.group(1) if sentence else ""
            current = f"{carry}\n\n{piece}".strip() if carry else piece
    if current:
        chunks.append(current)
    return chunks


def chunk_file(path: Path, *, size: int = 500, overlap: int = 120, source: str | None = None) -> list[Chunk]:
    """One file's chunks (any supported kind), under ``source`` (default: :func:`source_key`)."""
    document = read_document(path, KINDS.get(path.suffix.lower(), "text"))
    key = source if source is not None else source_key(path)
    parts = chunk_text(document.text, size=size, overlap=overlap)
    return [Chunk(key, document.title, i, part) for i, part in enumerate(parts)]
