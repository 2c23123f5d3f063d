"""Ingest keeps every document and its boundaries (issue 19): documents are keyed by root and relative
path, never by file name; symlinks stay inside the folder; hidden and system paths are never read;
one bad file is reported and skipped, never the end of the batch; PDF, HTML, Markdown and text are
read properly; documents can be listed and deleted; the demo leaves a person's documents alone."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from adpilot.app.cli import main
from adpilot.memory.documents import (
    UnsafePath,
    decode_text,
    discover,
    html_text,
    pdf_text,
    relative_key,
    source_slug,
)
from adpilot.memory.embeddings import embedding_backend
from adpilot.memory.store import (
    MemoryStore,
    NothingIngestedError,
    UnknownDocumentError,
    _Stored,
    assign_source,
    document_id,
)

TENANT = "alpine"


def tiny_pdf(text: str, title: str | None = None) -> bytes:
    """A real one-page PDF with a text layer, written by hand (offsets computed)."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if title is not None:
        objects.append(b"<< /Title (" + title.encode("latin-1") + b") >>")
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    info = b" /Info %d 0 R" % len(objects) if title is not None else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info, xref)
    return out


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def backend():
    return embedding_backend("hashing")


@pytest.fixture
def store(tmp_path, backend):
    return MemoryStore(tmp_path / "chroma", backend)


@pytest.fixture
def tree(tmp_path):
    """A folder with everything the issue met: same names in two folders, two README.md, links out of
    the folder and to a hidden file, hidden files and folders, a PDF, binary and non-UTF-8 files."""
    root = tmp_path / "kb"
    write(root / "d1" / "faq.md", "# FAQ Rücksendung\n\nRücksendungen sind 30 Tage lang kostenlos.")
    write(root / "d2" / "faq.md", "# FAQ Gutscheine\n\nGutscheine gelten drei Jahre ab Kauf.")
    write(root / "README.md", "# Übersicht\n\nDieser Ordner enthält das Markenwissen.")
    write(root / "produkte" / "README.md", "# Produkte\n\nDie Produktblätter der Saison.")
    write(root / "handbuch.pdf", tiny_pdf("Die Wassersaeule der Summit Shell betraegt 20000 mm.", "Handbuch"))
    write(
        root / "seite.html",
        "<html><head><title>Versand</title><style>p{x:y}</style></head><body>"
        "<h1>Versand</h1><p>Versand in 1&ndash;2 Werktagen.</p><script>alert('x')</script></body></html>",
    )
    write(root / "alt-windows.txt", "Größe für Übergrößen: Maßtabelle".encode("cp1252"))
    write(root / "kaputt.txt", b"\x81\x8d\x8f\x90\x9d not text " * 3)  # neither UTF-8 nor cp1252
    noise = random.Random(19)
    write(root / "blob.txt", bytes(noise.randrange(256) for _ in range(2048)) + b"\x00\x00")
    write(root / "bild.png", b"\x89PNG\r\n\x1a\n" + bytes(64))
    write(root / "fake.md", tiny_pdf("a pdf in disguise"))
    write(root / ".env", "OPENAI_API_KEY=sk-geheimnis-im-env")
    write(root / ".git" / "notes.md", "# Git intern\n\ngeheimnis im git")
    secret = write(tmp_path / "outside" / "secret.md", "# Secret\n\nDas Passwort ist geheimnis-draussen.")
    (root / "link-out.md").symlink_to(os.path.relpath(secret, root))  # ../outside/secret.md
    (root / "link-hidden.md").symlink_to(".env")
    (root / "link-dir").symlink_to(tmp_path / "outside", target_is_directory=True)
    (root / "link-inside.md").symlink_to("d1/faq.md")
    return root


def _by_name(entries, root):
    return {
        str(Path(e.path).relative_to(root)) if Path(e.path).is_relative_to(root) else e.path: e.reason for e in entries
    }


def test_a_tree_keeps_every_good_document_and_reports_each_bad_one(store, tree):
    report = store.ingest([tree], tenant=TENANT)
    stored = {Path(d.path).relative_to(tree).as_posix(): d.source for d in report.documents}
    assert stored == {
        "README.md": "readme",
        "alt-windows.txt": "alt-windows",
        "d1/faq.md": "d1/faq",
        "d2/faq.md": "d2/faq",
        "handbuch.pdf": "handbuch",
        "link-inside.md": "link-inside",
        "produkte/README.md": "produkte/readme",
        "seite.html": "seite",
    }
    assert report.files == 8 and report.replaced == 0
    skipped = _by_name(report.skipped, tree)
    assert set(skipped) == {
        "blob.txt",
        "kaputt.txt",
        "bild.png",
        "fake.md",
        "link-out.md",
        "link-hidden.md",
        "link-dir",
    }
    assert "NUL" in skipped["blob.txt"] and "binary" in skipped["blob.txt"]
    assert "neither UTF-8 nor Windows-1252" in skipped["kaputt.txt"]
    assert "unsupported file type '.png'" in skipped["bild.png"]
    assert "PDF" in skipped["fake.md"]
    assert "outside the ingest folder" in skipped["link-out.md"]
    assert "hidden file" in skipped["link-hidden.md"]
    assert "folder is not followed" in skipped["link-dir"]
    notes = _by_name(report.notes, tree)
    assert notes[".env"] == "hidden file, skipped" and notes[".git"] == "hidden folder, skipped"
    assert "Windows-1252" in notes["alt-windows.txt"]
    # Nothing from outside the folder, from hidden files or from refused files is searchable.
    texts = " ".join(p.text for p in store.search_knowledge("geheimnis Passwort", tenant=TENANT, k=20))
    assert "geheimnis" not in texts and "sk-" not in texts
    # Each format was read as text: the PDF's text layer, the HTML's visible text, cp1252 umlauts.
    (pdf,) = [
        p for p in store.search_knowledge("Wassersaeule Summit Shell", tenant=TENANT, k=3) if p.source == "handbuch"
    ]
    assert "20000 mm" in pdf.text and pdf.title == "Handbuch" and pdf.citation == "kb:handbuch#0"
    (html,) = [p for p in store.search_knowledge("Versand Werktagen", tenant=TENANT, k=3) if p.source == "seite"]
    assert html.text == "Versand\n\nVersand in 1–2 Werktagen." and html.title == "Versand"
    (windows,) = [p for p in store.search_knowledge("Maßtabelle", tenant=TENANT, k=3) if p.source == "alt-windows"]
    assert "Größe für Übergrößen" in windows.text
    # Both faq.md and both README.md are there, each with its own text.
    assert {p.source for p in store.search_knowledge("Rücksendungen kostenlos", tenant=TENANT, k=2)} >= {"d1/faq"}
    assert store.passage("kb:d2/faq#0", tenant=TENANT).text.startswith("# FAQ Gutscheine")
    assert store.passage("kb:produkte/readme#0", tenant=TENANT).title == "Produkte"


def test_same_file_name_from_another_root_is_another_document(store, tree):
    first = store.ingest([tree / "d1" / "faq.md"], tenant=TENANT)
    second = store.ingest([tree / "d2"], tenant=TENANT)
    assert first.documents[0].source == "faq" and second.replaced == 0
    other = second.documents[0].source
    assert other.startswith("faq~") and other == "faq~" + document_id(str(tree / "d2"), "faq.md")[:8]
    docs = {d.source: d for d in store.documents(tenant=TENANT)}
    assert docs["faq"].path == "faq.md" and docs["faq"].root == str(tree / "d1")
    assert docs[other].root == str(tree / "d2") and docs["faq"].chunks == docs[other].chunks == 1
    assert "Rücksendungen" in store.passage("kb:faq#0", tenant=TENANT).text  # d1 is still there


def test_reingest_replaces_exactly_one_document(store, tree):
    store.ingest([tree / "d1", tree / "d2"], tenant=TENANT)
    before = {d.source: d for d in store.documents(tenant=TENANT)}
    write(
        tree / "d1" / "faq.md", "# FAQ neu\n\n" + "\n\n".join(f"Absatz {i}. " + "Neuer Text. " * 30 for i in range(4))
    )
    report = store.ingest([tree / "d1" / "faq.md"], tenant=TENANT)  # the same root (d1) and path: the same document
    (document,) = report.documents
    assert document.source == "faq" and document.replaced == before["faq"].chunks == report.replaced
    after = {d.source: d for d in store.documents(tenant=TENANT)}
    assert set(after) == set(before) and after["faq"].chunks == report.chunks > 1
    assert after["faq"].title == "FAQ neu" and after[document.source].kind == "markdown"
    other = next(s for s in before if s != "faq")
    assert after[other] == before[other]
    assert store.count("knowledge", tenant=TENANT) == report.chunks + before[other].chunks
    # Shrinking the document removes its surplus chunks, nothing else.
    write(tree / "d1" / "faq.md", "# FAQ kurz\n\nNur noch ein Absatz.")
    again = store.ingest([tree / "d1"], tenant=TENANT)
    assert again.replaced == report.chunks and store.count("knowledge", tenant=TENANT) == 1 + before[other].chunks


def test_a_file_that_broke_keeps_its_stored_version(store, tree):
    store.ingest([tree / "d1"], tenant=TENANT)
    write(tree / "d1" / "faq.md", b"\x00binary now")
    with pytest.raises(NothingIngestedError, match=r"faq\.md: a binary file") as caught:
        store.ingest([tree / "d1"], tenant=TENANT)
    assert caught.value.exit_code == 2 and caught.value.report.files == 0
    assert "Rücksendungen" in store.passage("kb:faq#0", tenant=TENANT).text


def test_system_paths_and_dot_dot_arguments_are_refused(store, tree, monkeypatch):
    monkeypatch.chdir(tree / "d1")
    passwd = os.path.relpath("/etc/passwd", tree / "d1")  # ../../…/etc/passwd
    report = store.ingest([passwd, "../d2/faq.md", "../.env", "nowhere.md"], tenant=TENANT)
    reasons = {s.path: s.reason for s in report.skipped}
    assert "system path" in reasons[passwd] and passwd.startswith("../")
    assert "hidden" in reasons["../.env"] and reasons["nowhere.md"] == "no such file or directory"
    assert [d.source for d in report.documents] == ["faq"]  # ../d2/faq.md is a plain file of the user's
    with pytest.raises(NothingIngestedError, match="system path"):
        store.ingest(["/etc", "/proc/self/environ"], tenant=TENANT)


def test_list_and_delete(store, tree):
    store.ingest([tree / "d1", tree / "produkte"], tenant=TENANT)
    listed = store.documents(tenant=TENANT)
    assert [(d.source, d.path, d.chunks, d.kind, d.namespace) for d in listed] == [
        ("faq", "faq.md", 1, "markdown", "user"),
        ("readme", "README.md", 1, "markdown", "user"),
    ]
    assert listed[0].location == f"{tree / 'd1'}/faq.md" and listed[0].ingested_at.endswith("+00:00")
    with pytest.raises(UnknownDocumentError, match="no document with source id 'fa'") as caught:
        store.delete_document("fa", tenant=TENANT)  # exact ids only, no prefixes
    assert caught.value.exit_code == 2
    assert store.delete_document("faq", tenant=TENANT) == 1
    assert [d.source for d in store.documents(tenant=TENANT)] == ["readme"]
    with pytest.raises(UnknownDocumentError):
        store.delete_document("readme", tenant="another-tenant")


def test_a_store_written_by_the_old_code_keeps_working_and_is_taken_over(store, tree):
    # What the old code wrote: ids and sources by file name only, no root, path or kind.
    knowledge = store.collection("knowledge", TENANT)
    old = ["# FAQ alt\n\nAlte Antwort zur Rücksendung.", "Zweiter alter Absatz."]
    knowledge.upsert(
        ids=[f"{TENANT}:kb:faq#{i}" for i in range(2)],
        embeddings=store.backend.embed_documents(old),
        documents=old,
        metadatas=[
            {"tenant": TENANT, "source": "faq", "title": "FAQ alt", "chunk": i, "origin": "operator_file"}
            for i in range(2)
        ],
    )
    (legacy,) = store.documents(tenant=TENANT)
    assert (legacy.source, legacy.kind, legacy.chunks, legacy.location) == ("faq", "legacy", 2, "-")
    assert store.search_knowledge("Rücksendung", tenant=TENANT, k=1)[0].citation == "kb:faq#0"
    report = store.ingest([tree / "d1", tree / "d2"], tenant=TENANT)
    taken = [d for d in report.documents if d.note]
    assert len(taken) == 1 and taken[0].source == "faq" and taken[0].replaced == 2  # citations stay valid
    assert any("older adpilot" in n.reason for n in report.notes)
    sources = sorted(d.source for d in store.documents(tenant=TENANT))
    assert sources[0] == "faq" and sources[1].startswith("faq~") and len(sources) == 2
    assert store.count("knowledge", tenant=TENANT) == 2


def test_the_cli_lists_deletes_and_reports_skipped_files(capsys, tmp_path, tree, monkeypatch):
    config = tmp_path / "config.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\nlog: {{level: warning}}\nmemory: {{embedding: hashing}}\n")
    monkeypatch.delenv("ADPILOT_CONFIG", raising=False)

    def cli(*argv):
        code = main(["--config", str(config), *argv])
        return code, capsys.readouterr()

    code, out = cli("memory", "ingest", str(tree))
    assert code == 0 and out.out.startswith("ingested 8 file(s) as 8 chunk(s); replaced 0 older chunk(s); skipped 7")
    assert f"skipped {tree / 'blob.txt'}: a binary file" in out.err and f"note: {tree / '.env'}: hidden" in out.err
    code, out = cli("memory", "list", "--json")
    listed = {d["source"]: d for d in json.loads(out.out)}
    assert code == 0 and listed["d1/faq"]["path"] == "d1/faq.md" and listed["handbuch"]["kind"] == "pdf"
    code, out = cli("memory", "list")
    assert code == 0 and "d2/faq" in out.out and "ingested at" in out.out
    code, out = cli("memory", "delete", "d1/faq")
    assert code == 0 and "deleted d1/faq: 1 chunk(s)" in out.out
    code, out = cli("memory", "delete", "d1/faq")
    assert code == 2 and "no document with source id 'd1/faq'" in out.err
    code, out = cli("memory", "ingest", str(tree / "blob.txt"), str(tree / "nothing-here"), "--json")
    assert code == 2 and json.loads(out.out)["files"] == 0
    assert "adpilot: nothing ingested" in out.err and "blob.txt" in out.err and "nothing-here" in out.err


def _adpilot(cwd, *argv):
    env = {k: v for k, v in os.environ.items() if k != "ADPILOT_CONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "adpilot.app.cli", *argv], cwd=cwd, capture_output=True, text=True, env=env, timeout=300
    )


def test_running_the_demo_again_keeps_a_persons_documents(tmp_path):
    # Each command is its own process, as for a person (Chroma's native state is per process).
    first = _adpilot(tmp_path, "demo")
    assert first.returncode == 0, first.stderr[-2000:]
    mine = write(tmp_path / "docs" / "markenstimme.md", "# Meine Notizen\n\nUnser Maskottchen heißt Gämsi.")
    ingest = _adpilot(tmp_path, "memory", "ingest", str(mine.parent))
    assert ingest.returncode == 0, ingest.stderr
    again = _adpilot(tmp_path, "demo")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "earlier demo state moved to" in again.stdout and "kept the 1 document(s)" in again.stdout
    assert "2. Knowledge base: ingested 6 documents" in again.stdout
    listed = _adpilot(tmp_path, "memory", "list", "--json")
    documents = {d["source"]: d for d in json.loads(listed.stdout)}
    assert len(documents) == 7 and sum(d["namespace"] == "demo" for d in documents.values()) == 6
    (person,) = [d for d in documents.values() if d["namespace"] == "user"]
    assert person["root"] == str(mine.parent) and person["path"] == "markenstimme.md"
    assert person["source"].startswith("markenstimme~")  # the demo's own markenstimme came first
    found = _adpilot(tmp_path, "memory", "search", "Maskottchen Gämsi", "--json")
    assert any("Gämsi" in p["text"] for p in json.loads(found.stdout))


# --- keys: properties -------------------------------------------------------------------------


@given(st.text(max_size=40))
def test_a_relative_key_never_leaves_its_root(text):
    try:
        key = relative_key(text)
    except UnsafePath:
        return
    assert key == text  # accepted keys are canonical: one spelling per file
    parts = key.split("/")
    assert not key.startswith("/") and ".." not in parts and "." not in parts and "" not in parts
    assert "\\" not in key and "\x00" not in key
    assert os.path.normpath(os.path.join("/root-dir", key)).startswith("/root-dir/")


@pytest.mark.parametrize(
    "odd",
    [
        "",
        "/etc/passwd",
        "../etc/passwd",
        "a/../../b",
        "a/./b",
        "a//b",
        "a/",
        ".",
        "..",
        "C:\\x",
        "a\\b",
        "a\x00b",
        "a\nb",
        "bad-\udcff.md",
    ],
)
def test_odd_relative_paths_are_refused(odd):
    with pytest.raises(UnsafePath):
        relative_key(odd)


_NAME = st.text(alphabet="Ffaq Ü-_.", min_size=1, max_size=6).filter(lambda n: n not in (".", ".."))
_RELPATH = st.lists(_NAME, min_size=1, max_size=3).map("/".join).map(lambda p: p + ".md")


@given(st.lists(st.tuples(st.sampled_from(["/a", "/b"]), _RELPATH), max_size=12, unique=True))
def test_no_two_documents_share_a_source_id_and_ids_are_stable(documents):
    documents = [(root, rel) for root, rel in documents if _accepted(rel)]
    identities = [document_id(root, rel) for root, rel in documents]
    assert len(set(identities)) == len(documents)
    taken: set[str] = set()
    sources = [assign_source(i, rel, {}, {}, taken)[0] for i, (_, rel) in zip(identities, documents, strict=True)]
    assert len(set(sources)) == len(sources)
    # Ingested again (in another order, everything already stored): every document keeps its id.
    existing = {s: _Stored(i, "user", []) for s, i in zip(sources, identities, strict=True)}
    by_document = {i: s for s, i in zip(sources, identities, strict=True)}
    again = {
        i: assign_source(i, rel, existing, by_document, set())[0]
        for i, (_, rel) in reversed(list(zip(identities, documents, strict=True)))
    }
    assert [again[i] for i in identities] == sources


def _accepted(relpath):
    try:
        relative_key(relpath)
    except UnsafePath:
        return False
    return True


@hsettings(max_examples=30)
@given(st.lists(_RELPATH, min_size=1, max_size=8, unique=True))
def test_discovery_finds_each_file_once_under_its_own_path(relpaths):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder).resolve()
        created = set()
        for rel in relpaths:
            path = root / rel
            if any(p.startswith(".") for p in rel.split("/")) or not _accepted(rel):
                continue
            try:
                write(path, "# x\n\ny")
            except (FileExistsError, NotADirectoryError, IsADirectoryError):
                continue  # a name that is a file in one path and a folder in another
            created.add(rel)
        found = discover([root])
        keys = [f.relpath for f in found.files]
        assert len(keys) == len(set(keys)) and set(keys) == {r for r in created if (root / r).is_file()}
        assert all(f.root == root and (root / f.relpath) == f.path for f in found.files)


# --- readers ----------------------------------------------------------------------------------


def test_text_decoding_is_utf8_then_cp1252_and_refuses_binary():
    assert decode_text("Größe".encode()) == ("Größe", None)
    assert decode_text(b"\xef\xbb\xbfmit BOM") == ("mit BOM", None)
    assert decode_text("Größe".encode("utf-16")) == ("Größe", "read as UTF-16 (byte-order mark)")
    text, note = decode_text("Maß – 5 €".encode("cp1252"))
    assert text == "Maß – 5 €" and "Windows-1252" in note
    for binary in (b"abc\x00def", bytes(range(1, 9)) * 20):
        with pytest.raises(ValueError, match="binary"):
            decode_text(binary)


def test_pdf_and_html_readers():
    text, title = pdf_text(tiny_pdf("Hello PDF", "Der Titel"))
    assert text == "Hello PDF" and title == "Der Titel"
    with pytest.raises(ValueError, match="not a PDF"):
        pdf_text(b"hello")
    with pytest.raises(ValueError, match="unreadable PDF"):
        pdf_text(b"%PDF-1.4\n garbage")
    text, title = html_text("<p>a<br>b</p><noscript>n</noscript><h1>Kopf</h1>")
    assert text == "a\n\nb\n\nKopf" and title == "Kopf"


def test_source_slugs_are_readable():
    assert source_slug("Produkte/Jacken Herbst.md") == "produkte/jacken-herbst"
    assert source_slug("Über uns.PDF") == "uber-uns"
    assert source_slug("___.md") == "document"
