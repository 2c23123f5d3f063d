"""Memory in Chroma: isolation, idempotence, provenance, and the embedding-model contract."""

import socket
from pathlib import Path

import pytest

from adpilot.memory.embeddings import HashingEmbeddings, embedding_backend
from adpilot.memory.store import MemoryMismatchError, MemoryStore

DEMO_KB = Path(__file__).resolve().parents[2] / "memory" / "knowledge" / "demo"


@pytest.fixture(scope="module")
def backend():
    return embedding_backend("default")


@pytest.fixture
def store(tmp_path, backend):
    return MemoryStore(tmp_path / "chroma", backend)


@pytest.fixture
def no_network(monkeypatch):
    def refuse(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"network access to {address} during a memory operation")
        return original(self, address)

    original = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_ingest_and_search_with_citations(store, no_network):
    report = store.ingest([DEMO_KB], tenant="alpine")
    assert report.files == 6 and report.chunks >= 6 and report.replaced == 0
    passages = store.search_knowledge("Welche Wassersäule hat die Regenjacke?", tenant="alpine", k=4)
    assert any(p.citation.startswith("kb:produkte-jacken#") for p in passages)
    top = passages[0]
    assert top.title and top.text and 0 < top.score <= 1


def test_reingesting_replaces_instead_of_duplicating(store, tmp_path):
    doc = tmp_path / "notes.md"
    doc.write_text("# Notizen\n\nErster Stand.\n\nZweiter Absatz.")
    store.ingest([doc], tenant="alpine")
    first = store.count("knowledge", tenant="alpine")
    doc.write_text("# Notizen\n\nNeuer Stand, nur ein Absatz.")
    report = store.ingest([doc], tenant="alpine")
    assert report.replaced == first
    assert store.count("knowledge", tenant="alpine") == report.chunks
    assert "Neuer Stand" in store.search_knowledge("Stand", tenant="alpine", k=1)[0].text


def test_no_query_returns_another_tenants_records(store, tmp_path):
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    a.write_text("# Alpha\n\nDie Regenjacke von Alpha kostet 100 Euro.")
    b.write_text("# Beta\n\nDie Regenjacke von Beta kostet 200 Euro.")
    store.ingest([a], tenant="alpha")
    store.ingest([b], tenant="beta")
    for query in ("Regenjacke Beta 200 Euro", "Regenjacke", "Alpha"):
        assert {p.source for p in store.search_knowledge(query, tenant="alpha", k=10)} == {"a"}
    assert store.passage("kb:b#0", tenant="alpha") is None
    assert store.passage("kb:b#0", tenant="beta") is not None
    store.record_decision(
        tenant="beta",
        account="1",
        run_id="r",
        tool="set_campaign_budget",
        args={},
        rationale="Beta raised",
        outcome="applied",
    )
    assert store.recall("decisions", "raised", tenant="alpha") == []
    assert len(store.recall("decisions", "raised", tenant="beta")) == 1


def test_personal_data_is_scrubbed_before_storing(store, tmp_path):
    doc = tmp_path / "kontakt.md"
    doc.write_text("# Kontakt\n\nFragen an max@example.org oder 0171 2345678, IBAN DE89 3704 0044 0532 0130 00.")
    store.ingest([doc], tenant="alpine")
    stored = store.search_knowledge("Kontakt", tenant="alpine", k=1)[0].text
    assert "max@example.org" not in stored and "2345678" not in stored and "DE89" not in stored
    assert "[E-MAIL]" in stored and "[PHONE]" in stored and "[IBAN]" in stored
    store.record_decision(
        tenant="alpine",
        account="1",
        run_id="r",
        tool="x",
        args={"note": "call 0171 2345678"},
        rationale="r",
        outcome="o",
    )
    assert "2345678" not in store.recall("decisions", "call", tenant="alpine")[0].text


def test_a_collection_refuses_another_embedding_model(tmp_path, backend):
    MemoryStore(tmp_path / "chroma", backend).ingest([DEMO_KB / "markenstimme.md"], tenant="alpine")
    other = MemoryStore(tmp_path / "chroma", HashingEmbeddings())
    with pytest.raises(MemoryMismatchError, match="embedded with 'use-multilingual-v3\\+hashing-2048-35'"):
        other.search_knowledge("x", tenant="alpine")


def test_decisions_link_to_audit_rows_and_filter_by_account(store):
    store.record_decision(
        tenant="t",
        account="111",
        run_id="run-1",
        tool="set_keyword_bid",
        args={"cpc_bid_micros": 1300000},
        rationale="CPA under target",
        outcome="applied",
        audit_seq=42,
    )
    store.record_decision(
        tenant="t",
        account="222",
        run_id="run-1",
        tool="set_keyword_bid",
        args={},
        rationale="CPA over target",
        outcome="applied",
        audit_seq=43,
    )
    (found,) = store.recall("decisions", "bid", tenant="t", account="111")
    assert found.id == "t:run-1:42" and found.metadata["audit_seq"] == 42 and "CPA under target" in found.text


def test_creatives_are_upserted_per_ad(store):
    for clicks in (10, 25):
        store.record_creative(
            tenant="t",
            account="111",
            ad="2101~31001",
            headlines=["Wasserdichte Wanderschuhe"],
            descriptions=["Jetzt Größe finden."],
            metrics={"clicks": clicks},
        )
    (found,) = store.recall("creatives", "Wanderschuhe", tenant="t")
    assert found.metadata["metric_clicks"] == 25


def test_knowledge_is_written_only_from_local_files(store):
    # There is no API that writes arbitrary text into knowledge: decisions and creatives carry
    # their own origin, and ingest reads only files a person names.
    assert not hasattr(store, "add_knowledge")
    with pytest.raises(Exception, match="no such file"):
        store.ingest(["/nonexistent/platform-text.md"], tenant="t")


_OPEN_AND_CREATE = """
import sys
from adpilot.memory.embeddings import embedding_backend
from adpilot.memory.store import MemoryStore
import chromadb  # imported before the start line, so that only opening is left to time
print("ready", flush=True)
sys.stdin.readline()
store = MemoryStore(sys.argv[1], embedding_backend("hashing"))
store.collection("knowledge", "alpine")
print("opened", flush=True)
"""


def _openers(location: Path, count: int) -> list:
    import subprocess
    import sys

    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_AND_CREATE, str(location)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    for process in processes:
        assert process.stdout.readline().strip() == "ready", process.stderr.read()
    return processes


def test_processes_opening_a_new_memory_directory_together_all_succeed(tmp_path):
    """Chroma creates its schema without a lock; two maintenance passes on a fresh state dir crashed."""
    for round_ in range(3):
        processes = _openers(tmp_path / f"chroma{round_}", 6)
        for process in processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        for process in processes:
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0 and "opened" in out, err


def test_opening_memory_waits_for_the_directory_lock(tmp_path):
    import fcntl
    import subprocess

    location = tmp_path / "chroma"
    location.mkdir()
    (opener,) = _openers(location, 1)
    with open(location / ".adpilot-open.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        opener.stdin.write("go\n")
        opener.stdin.flush()
        with pytest.raises(subprocess.TimeoutExpired):
            opener.wait(timeout=5)  # unlocked, opening takes well under a second
        assert not (location / "chroma.sqlite3").exists()
        fcntl.flock(lock, fcntl.LOCK_UN)
    out, err = opener.communicate(timeout=120)
    assert opener.returncode == 0 and "opened" in out, err
