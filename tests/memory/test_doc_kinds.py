"""Knowledge-base documents carry a content kind (issue 15): product facts, service facts, reviews,
legal notes, the brand voice, care guides — from front matter or ``memory ingest --doc-kind`` — and
a search can be limited to some kinds, so guidelines never reach ad copy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.app.cli import main
from adpilot.compose import build_guard
from adpilot.config import Config
from adpilot.memory.documents import DOC_KINDS, DocumentError, front_matter, read_document
from adpilot.memory.embeddings import embedding_backend
from adpilot.memory.store import MemoryStore, NothingIngestedError
from adpilot.tools.guard import RunScope
from tests.conftest import DE

DEMO_KB = Path(__file__).resolve().parents[2] / "memory" / "knowledge" / "demo"
TENANT = "alpine"
DEMO_KINDS = {
    "markenstimme": "brand_voice",
    "produkte-jacken": "product",
    "produkte-wanderschuhe": "product",
    "rechtliche-hinweise": "legal",
    "service-en": "service",
    "testbericht-outdoor-magazin-2026": "review",
}


@pytest.fixture
def store(tmp_path):
    return MemoryStore(tmp_path / "chroma", embedding_backend("hashing"))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_every_demo_document_has_its_kind_and_the_front_matter_is_not_stored(store):
    store.ingest([DEMO_KB], tenant=TENANT)
    assert {d.source: d.doc_kind for d in store.documents(tenant=TENANT)} == DEMO_KINDS
    texts = [p.text for p in store.search_knowledge("kind", tenant=TENANT, k=20)]
    assert len(texts) == 11 and not any("kind:" in text or text.startswith("---") for text in texts)


def test_front_matter_names_the_kind_and_the_ingest_default_fills_the_rest(store, tmp_path):
    root = tmp_path / "kb"
    write(root / "pflege.md", "---\nkind: care_guide\nauthor: Team\n---\n# Pflege\n\nLeder regelmäßig wachsen.")
    write(root / "notiz.txt", "Eine Notiz ohne Art.")
    write(root / "seite.html", "<html><body><p>Versand in 1–2 Werktagen.</p></body></html>")
    store.ingest([root], tenant=TENANT)
    assert {d.source: d.doc_kind for d in store.documents(tenant=TENANT)} == {
        "pflege": "care_guide",
        "notiz": "unspecified",
        "seite": "unspecified",
    }
    store.ingest([root], tenant=TENANT, doc_kind="service")  # front matter wins over the default
    assert {d.source: d.doc_kind for d in store.documents(tenant=TENANT)} == {
        "pflege": "care_guide",
        "notiz": "service",
        "seite": "service",
    }


def test_an_unknown_kind_refuses_that_file_and_names_it(store, tmp_path):
    root = tmp_path / "kb"
    bad = write(root / "rezept.md", "---\nkind: recipe\n---\n# Rezept\n\nKaiserschmarrn.")
    not_a_map = write(root / "liste.md", "---\n- kind\n---\n# Liste\n\nText.")
    good = write(root / "fakten.md", "---\nkind: product\n---\n# Fakten\n\nDie Jacke wiegt 310 Gramm.")
    report = store.ingest([root], tenant=TENANT)
    reasons = {s.path: s.reason for s in report.skipped}
    assert "unknown document kind 'recipe'" in reasons[str(bad)] and "product, service" in reasons[str(bad)]
    assert "front matter" in reasons[str(not_a_map)]
    assert [d.path for d in report.documents] == [str(good)]
    with pytest.raises(NothingIngestedError, match=r"rezept\.md: front matter: unknown document kind 'recipe'"):
        store.ingest([bad], tenant=TENANT)
    plain = write(tmp_path / "plain.txt", "Ohne Vorspann.")
    with pytest.raises(DocumentError, match="unknown document kind 'manual'"):
        read_document(plain, "text", doc_kind="manual")


def test_the_search_can_be_limited_to_kinds(store, tmp_path):
    store.ingest([DEMO_KB], tenant=TENANT)
    write(tmp_path / "x" / "notiz.md", "# Notiz\n\nWanderschuhe am Nachmittag anprobieren.")
    store.ingest([tmp_path / "x"], tenant=TENANT)
    for kinds in (["product"], ["legal", "brand_voice"], ["review", "service"], ["unspecified"]):
        found = store.search_knowledge("Wanderschuhe Versand Rückgabe", tenant=TENANT, k=20, kinds=kinds)
        assert found and {p.kind for p in found} == set(kinds)
    assert store.search_knowledge("Wanderschuhe", tenant=TENANT, k=20, kinds=[]) == []
    everything = store.search_knowledge("Wanderschuhe", tenant=TENANT, k=20)
    assert {p.kind for p in everything} == {*DEMO_KINDS.values(), "unspecified"}


def test_documents_an_older_version_stored_count_as_unspecified(store):
    knowledge = store.collection("knowledge", TENANT)
    knowledge.upsert(
        ids=[f"{TENANT}:kb:alt#0"],
        embeddings=store.backend.embed_documents(["Alte Notiz zu Wanderschuhen."]),
        documents=["Alte Notiz zu Wanderschuhen."],
        metadatas=[{"tenant": TENANT, "source": "alt", "title": "Alt", "chunk": 0}],
    )
    store.ingest([DEMO_KB / "markenstimme.md"], tenant=TENANT)
    assert [p.source for p in store.search_knowledge("Notiz", tenant=TENANT, k=5, kinds=["unspecified"])] == ["alt"]
    assert [p.source for p in store.search_knowledge("Notiz", tenant=TENANT, k=5, kinds=["product"])] == []
    assert {d.source: d.doc_kind for d in store.documents(tenant=TENANT)}["alt"] == "unspecified"


async def test_the_tool_filters_by_kind_and_refuses_an_unknown_one(platforms, audit, tmp_path):
    store = MemoryStore(tmp_path / "chroma", embedding_backend("default"))
    store.ingest([DEMO_KB], tenant=Config().memory.tenant)
    guard = build_guard(Config(), platforms, audit, RunScope("r", "t", frozenset({DE})), memory=store)
    facts = await guard.call(
        "creative", "search_knowledge", {"query": "Wir siezen unsere Kunden", "k": 10, "kinds": ["product", "review"]}
    )
    assert facts.ok and facts.data and {p["kind"] for p in facts.data} <= {"product", "review"}
    assert not any("siezen" in p["text"] for p in facts.data)
    everything = await guard.call("creative", "search_knowledge", {"query": "Wir siezen unsere Kunden", "k": 10})
    assert any(p["kind"] == "brand_voice" and "siezen" in p["text"] for p in everything.data)
    bad = await guard.call("creative", "search_knowledge", {"query": "x", "kinds": ["recipe"]})
    assert not bad.ok and "kinds" in bad.error.message


def test_the_cli_takes_a_kind_and_lists_it(capsys, tmp_path, monkeypatch):
    config = tmp_path / "config.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\nlog: {{level: warning}}\nmemory: {{embedding: hashing}}\n")
    monkeypatch.delenv("ADPILOT_CONFIG", raising=False)
    root = tmp_path / "kb"
    write(root / "pflege.md", "# Pflege\n\nLeder regelmäßig wachsen.")
    write(root / "fakten.md", "---\nkind: product\n---\n# Fakten\n\nDie Jacke wiegt 310 Gramm.")
    bad = write(tmp_path / "bad" / "rezept.md", "---\nkind: recipe\n---\n# Rezept\n\nKaiserschmarrn.")

    def cli(*argv: str) -> tuple[int, object]:
        code = main(["--config", str(config), *argv])
        return code, capsys.readouterr()

    code, out = cli("memory", "ingest", "--doc-kind", "care_guide", str(root))
    assert code == 0, out.err
    code, out = cli("memory", "list", "--json")
    assert {d["source"]: d["doc_kind"] for d in json.loads(out.out)} == {"pflege": "care_guide", "fakten": "product"}
    code, out = cli("memory", "list")
    assert code == 0 and "care_guide" in out.out and "format" in out.out
    code, out = cli("memory", "ingest", "--doc-kind", "recipe", str(root))
    assert code == 2 and "--doc-kind: unknown document kind 'recipe'" in out.err
    code, out = cli("memory", "ingest", str(bad))
    assert code == 2 and f"{bad}: front matter: unknown document kind 'recipe'" in out.err


@given(st.text(max_size=300))
def test_front_matter_never_fails_otherwise_and_keeps_the_rest(text):
    try:
        meta, rest = front_matter(text)
    except DocumentError:
        assert text.startswith("---")
        return
    assert isinstance(meta, dict) and text.endswith(rest)
    if not text.startswith("---"):
        assert (meta, rest) == ({}, text)


@given(st.sampled_from(DOC_KINDS), st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=80))
def test_a_kind_in_front_matter_is_read_back(kind, body):
    meta, rest = front_matter(f"---\nkind: {kind}\n---\n{body}")
    assert meta == {"kind": kind} and rest == body
