"""Splitting documents into overlapping chunks that keep paragraphs whole where they can."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

TEXT_SUFFIXES = (".md", ".markdown", ".txt")


@dataclass(frozen=True)
class Chunk:
    source: str  # stable key of the document: its file name without suffix
    title: str
    index: int
    text: str

    @property
    def citation(self) -> str:
        return f"kb:{self.source}#{self.index}"


def source_key(path: Path) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")


def document_title(text: str, fallback: str) -> str:
    heading = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
    return heading.group(1).strip() if heading else fallback


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


def chunk_file(path: Path, *, size: int = 500, overlap: int = 120) -> list[Chunk]:
    text = path.read_text(encoding="utf-8")
    key = source_key(path)
    title = document_title(text, path.stem.replace("-", " "))
    return [Chunk(key, title, i, part) for i, part in enumerate(chunk_text(text, size=size, overlap=overlap))]


def text_files(paths: list[Path]) -> list[Path]:
    """The text files named, directories searched recursively, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in TEXT_SUFFIXES and p.is_file()))
        else:
            found.append(path)
    return found
