"""Finding and reading the documents a person hands to ``adpilot memory ingest``.

**Keys.** Every argument of an ingest is a *root*: a folder is its own root, a file named on its own
has its folder as root. A document is identified by its root (the resolved absolute folder) and its
path relative to that root (``relative_key``: POSIX separators, never absolute, never ``..``), so
``d1/faq.md`` and ``d2/faq.md`` are two documents, and ingesting the same file from the same root
again replaces exactly that document. Its citation name, the *source id*, is derived from the
relative path (``source_slug``) and made unique in the store when it is first ingested
(:mod:`adpilot.memory.store`).

**Boundaries.** Symbolic links are followed only to regular files inside the root that are not
hidden; links to folders are not followed. Hidden files and folders (``.git``, ``.env`` …) are
skipped with a note, and a system path (``/etc``, ``/proc`` …) is never read, also not when it is
named directly (``../../etc/passwd``).

**Formats.** Markdown (``.md``, ``.markdown``), plain text (``.txt``, ``.text``), HTML (``.html``,
``.htm``: the visible text, without scripts and styles) and PDF (``.pdf``: the text layer, read with
the pure-Python package ``pypdf``, imported only when a PDF is read). Any other file is refused
with a message, and so is a file with a text suffix whose bytes are binary (NUL bytes, control
characters, a PDF header).

**Encodings.** Text is read as UTF-8 (a UTF-8 or UTF-16 byte-order mark is honoured). Text that is
not valid UTF-8 is read as Windows-1252 (cp1252: the superset of Latin-1 that older German Windows
tools write) and the report says so; bytes that are not cp1252 either are refused with the advice
to save the file as UTF-8.

**Content kinds.** Besides its file format, a document has a *content kind* that says what it may be
used for (:data:`DOC_KINDS`): ``product`` (product facts), ``service`` (service facts: shipping,
returns, stores), ``review`` (a test report or review), ``legal`` (legal notes for copy),
``brand_voice`` (the brand's writing guideline) and ``care_guide`` (care and sizing advice). Only
the :data:`COPY_KINDS` (product, service, review) are facts ad copy may state or cite; the others
are guidelines and never become copy. A Markdown or text document names its kind in a leading
front-matter block (``---`` / ``kind: product`` / ``---``, read with adpilot's safe YAML loader
and not part of the stored text); ``adpilot memory ingest --doc-kind KIND`` gives the kind of the
documents that do not name one. A document with neither is ``unspecified`` (never used as copy);
an unknown kind refuses that file.

Every refusal is a :class:`DocumentError` (or a :class:`Skipped` entry of a :class:`Discovery`) for
that one file; a batch never stops because of one bad file.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Literal, get_args

from adpilot.errors import SourceError
from adpilot.sources import parse_yaml

KINDS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
SUPPORTED = ", ".join(sorted(KINDS))
# Folders whose files are the system's, never a brand's documents (resolved paths are compared).
SYSTEM_PATHS = (
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/run",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/usr/bin",
    "/usr/sbin",
    "/usr/lib",
    "/usr/libexec",
    "/var/run",
    "/var/log",
)
DocKind = Literal["product", "service", "review", "legal", "brand_voice", "care_guide"]
DOC_KINDS: tuple[str, ...] = get_args(DocKind)
COPY_KINDS = frozenset({"product", "service", "review"})  # facts copy may state and cite
UNSPECIFIED = "unspecified"
MAX_BYTES = 50_000_000
PYPDF_REQUIREMENT = "pypdf==7.1.0"


class UnsafePath(ValueError):
    """A relative path that cannot be a document key: absolute, ``..``, empty or odd characters."""


class DocumentError(ValueError):
    """One file cannot be read as a document; the message says why, for a person."""


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True)
class Found:
    """A file to read: ``relpath`` is its key under ``root`` (resolved), ``path`` where to read it."""

    root: Path
    relpath: str
    path: Path
    kind: str

    @property
    def shown(self) -> str:
        return str(self.root / self.relpath)


@dataclass
class Discovery:
    files: list[Found] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)  # refused: counts as a failed file
    notes: list[Skipped] = field(default_factory=list)  # left out on purpose (hidden files)


@dataclass(frozen=True)
class Document:
    text: str
    title: str
    kind: str
    note: str | None = None  # e.g. the encoding fallback that was used
    doc_kind: str = UNSPECIFIED  # the content kind (DOC_KINDS), from front matter or the ingest's default


# --- keys ------------------------------------------------------------------------------------


_ODD = re.compile(r"[\x00-\x1f\x7f\\]")


def relative_key(relpath: str) -> str:
    """The key of a path relative to an ingest root; refuses anything that is not a plain, canonical
    relative POSIX path (so no key can name a file outside its root, and no two spellings one file)."""
    if not relpath:
        raise UnsafePath("empty path")
    if relpath.startswith("/") or re.match(r"^[A-Za-z]:", relpath):
        raise UnsafePath(f"absolute path {relpath!r}")
    if _ODD.search(relpath):
        raise UnsafePath(f"control character or backslash in {relpath!r}")
    try:
        relpath.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafePath(f"file name is not valid UTF-8: {relpath!r}") from None
    for part in relpath.split("/"):
        if part in ("", ".", ".."):
            raise UnsafePath(f"{relpath!r} is not a plain relative path (empty, '.' or '..' part)")
    return relpath


def source_slug(relpath: str) -> str:
    """A readable citation name for a relative path: ``Produkte/Jacken Herbst.md`` → ``produkte/jacken-herbst``.

    Not unique by itself (``FAQ.md`` and ``faq.txt`` give the same name); the store makes it unique."""
    parts = relpath.split("/")
    parts[-1] = os.path.splitext(parts[-1])[0] or parts[-1]
    slugs = [_slug(part) for part in parts]
    return "/".join(s for s in slugs if s) or "document"


def legacy_source_key(name: str) -> str:
    """The key older versions gave a document: its file name without suffix, slugged (folders ignored)."""
    return re.sub(r"[^a-z0-9]+", "-", Path(name).stem.lower()).strip("-")


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _hidden(name: str) -> bool:
    return name.startswith(".") and name not in (".", "..")


def is_system_path(path: Path) -> bool:
    text = path.as_posix()
    return any(text == p or text.startswith(p + "/") for p in SYSTEM_PATHS)


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


# --- finding files ---------------------------------------------------------------------------


def discover(paths: Sequence[Path | str]) -> Discovery:
    """The documents named by ``paths`` (folders searched recursively, in a stable order), with
    every file that was refused and why. Never raises for one bad path."""
    found = Discovery()
    seen: set[tuple[Path, str]] = set()
    for given in paths:
        argument = Path(given)
        for item in _discover_one(argument, found):
            if (item.root, item.relpath) not in seen:
                seen.add((item.root, item.relpath))
                found.files.append(item)
    return found


def _discover_one(argument: Path, found: Discovery) -> list[Found]:
    shown = str(argument)
    if not argument.exists() and not argument.is_symlink():
        found.skipped.append(Skipped(shown, "no such file or directory"))
        return []
    if any(_hidden(part) for part in argument.parts):
        found.skipped.append(Skipped(shown, "a hidden file or folder is never ingested (secrets live there)"))
        return []
    resolved = argument.resolve()
    if is_system_path(resolved):
        found.skipped.append(Skipped(shown, f"{resolved} is a system path; it is never ingested"))
        return []
    if argument.is_dir():
        return _walk(resolved, found)
    if not argument.exists():
        found.skipped.append(Skipped(shown, "a broken symlink"))
        return []
    root = Path(os.path.abspath(argument)).parent.resolve()
    item = _file(root, argument.name, Path(os.path.abspath(argument)), found, shown)
    return [item] if item is not None else []


def _walk(root: Path, found: Discovery) -> list[Found]:
    files: list[Found] = []

    def unreadable(error: OSError) -> None:
        found.skipped.append(Skipped(str(error.filename or root), f"cannot read the folder: {error.strerror}"))

    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=unreadable):
        folder = Path(dirpath)
        prefix = folder.relative_to(root).as_posix()
        prefix = "" if prefix == "." else prefix + "/"
        kept = []
        for name in sorted(dirnames):
            if _hidden(name):
                found.notes.append(Skipped(str(folder / name), "hidden folder, skipped"))
            elif (folder / name).is_symlink():
                found.skipped.append(Skipped(str(folder / name), "a symlink to a folder is not followed"))
            else:
                kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            if _hidden(name):
                found.notes.append(Skipped(str(folder / name), "hidden file, skipped"))
                continue
            item = _file(root, prefix + name, folder / name, found, str(folder / name))
            if item is not None:
                files.append(item)
    return files


def _file(root: Path, relpath: str, path: Path, found: Discovery, shown: str) -> Found | None:
    try:
        key = relative_key(relpath)
    except UnsafePath as exc:
        found.skipped.append(Skipped(shown, f"refused path: {exc}"))
        return None
    if path.is_symlink():
        target = path.resolve()
        if not target.exists():
            found.skipped.append(Skipped(shown, "a broken symlink"))
            return None
        if not _within(target, root) or is_system_path(target):
            found.skipped.append(Skipped(shown, "a symlink to a file outside the ingest folder is not followed"))
            return None
        if any(_hidden(part) for part in target.relative_to(root).parts):
            found.skipped.append(Skipped(shown, "a symlink to a hidden file is not followed"))
            return None
    if not path.is_file():
        found.skipped.append(Skipped(shown, "not a regular file (a device, pipe or socket)"))
        return None
    suffix = path.suffix.lower()
    kind = KINDS.get(suffix)
    if kind is None:
        what = f"'{suffix}'" if suffix else "without a suffix"
        found.skipped.append(Skipped(shown, f"unsupported file type {what} (supported: {SUPPORTED})"))
        return None
    return Found(root, key, path, kind)


# --- reading ---------------------------------------------------------------------------------


def check_doc_kind(value: object) -> str:
    """``value`` if it is one of :data:`DOC_KINDS`, else :class:`DocumentError` naming the known kinds."""
    if isinstance(value, str) and value in DOC_KINDS:
        return value
    raise DocumentError(f"unknown document kind {value!r} (known kinds: {', '.join(DOC_KINDS)})")


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(?P<body>.*?)^---[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE)


def front_matter(text: str) -> tuple[dict[str, object], str]:
    """The leading ``---`` front-matter block of a text as a mapping, and the text after it.

    A text without one is ``({}, text)``; a block that is not a YAML mapping is a
    :class:`DocumentError` (the caller names the file)."""
    found = _FRONT_MATTER.match(text)
    if found is None:
        return {}, text
    try:
        data, _ = parse_yaml(found.group("body"), "front matter")
    except SourceError as exc:
        raise DocumentError(str(exc)) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DocumentError("front matter: expected `key: value` lines such as `kind: product`")
    return {str(k): v for k, v in data.items()}, text[found.end() :]


def read_document(path: Path, kind: str, *, fallback_title: str | None = None, doc_kind: str | None = None) -> Document:
    """The text and title of one file; :class:`DocumentError` (or ``OSError``) if it cannot be read.

    Its content kind is the ``kind`` of its front matter (Markdown and text), else ``doc_kind``,
    else ``unspecified``; an unknown kind is a :class:`DocumentError`."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise DocumentError(f"too large ({size // 1_000_000} MB; at most {MAX_BYTES // 1_000_000} MB)")
    data = path.read_bytes()
    fallback = fallback_title or path.stem.replace("-", " ").replace("_", " ")
    if kind == "pdf":
        text, title = pdf_text(data)
        note = None
    else:
        if data.lstrip()[:5] == b"%PDF-":
            raise DocumentError("a PDF file with a text suffix: name it .pdf")
        text, note = decode_text(data)
        if kind in ("markdown", "text"):
            meta, text = front_matter(text)
            if "kind" in meta:
                try:
                    doc_kind = check_doc_kind(meta["kind"])
                except DocumentError as exc:
                    raise DocumentError(f"front matter: {exc}") from None
        if kind == "html":
            text, title = html_text(text)
        else:
            title = document_title(text, fallback) if kind == "markdown" else None
    if not text.strip():
        raise DocumentError("no text in it")
    return Document(text, title or fallback, kind, note, check_doc_kind(doc_kind) if doc_kind else UNSPECIFIED)


def document_title(text: str, fallback: str) -> str:
    heading = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
    return heading.group(1).strip() if heading else fallback


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def decode_text(data: bytes) -> tuple[str, str | None]:
    """Text from bytes: UTF-8 (BOMs honoured), else Windows-1252 with a note; binary is refused."""
    if data.startswith(codecs.BOM_UTF8):
        return _checked(data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict"), data), None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _checked(data.decode("utf-16"), data), "read as UTF-16 (byte-order mark)"
        except UnicodeDecodeError:
            raise DocumentError("a UTF-16 byte-order mark, but not UTF-16 text") from None
    if b"\x00" in data:
        raise DocumentError("a binary file (it contains NUL bytes), not text")
    try:
        return _checked(data.decode("utf-8"), data), None
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise DocumentError(
            f"neither UTF-8 nor Windows-1252 text (byte {first_bad}): save it as UTF-8 and ingest it again"
        ) from None
    return _checked(text, data), f"not UTF-8 (byte {first_bad}): read as Windows-1252 (cp1252)"


def _checked(text: str, data: bytes) -> str:
    controls = len(_CONTROL.findall(text))
    if controls > max(8, len(text) // 200):
        raise DocumentError(f"a binary file ({controls} control characters in {len(data)} bytes), not text")
    return text


_SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "head", "iframe", "object"}
_BLOCK_TAGS = {
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "tr",
    "table",
    "section",
    "article",
    "header",
    "footer",
    "main",
    "nav",
    "aside",
    "blockquote",
    "pre",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "dt",
    "dd",
    "figcaption",
    "hr",
}


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.in_title = False
        self.in_h1 = False
        self.title = ""
        self.h1 = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
        elif tag in _SKIP_TAGS:
            self.skipping += 1
        if tag == "h1":
            self.in_h1 = True
        if tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif tag in _SKIP_TAGS and self.skipping:
            self.skipping -= 1
        if tag == "h1":
            self.in_h1 = False
        if tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data
            return
        if self.skipping:
            return
        if self.in_h1:
            self.h1 += data
        self.parts.append(data)


def html_text(markup: str) -> tuple[str, str | None]:
    """The visible text of an HTML page (paragraphs kept apart) and its title."""
    parser = _Visible()
    parser.feed(markup)
    parser.close()
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", "".join(parser.parts))]
    title = " ".join(parser.title.split()) or " ".join(parser.h1.split()) or None
    return "\n\n".join(p for p in paragraphs if p), title


def pdf_text(data: bytes) -> tuple[str, str | None]:
    """The text layer of a PDF, page by page, and its title; refuses encrypted and image-only PDFs."""
    if b"%PDF-" not in data[:1024]:
        raise DocumentError("not a PDF (no %PDF- header)")
    try:
        from pypdf import PdfReader
    except ImportError:
        raise DocumentError(f"reading PDFs needs the package pypdf: pip install '{PYPDF_REQUIREMENT}'") from None
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("an encrypted PDF: save a copy without a password")
        pages = [page.extract_text() or "" for page in reader.pages]
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except DocumentError:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files; each is this file's problem
        raise DocumentError(f"an unreadable PDF ({type(exc).__name__}: {exc})") from None
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise DocumentError("a PDF without a text layer (scanned pages?): run OCR on it first")
    return text, (title.strip() or None) if isinstance(title, str) else None
