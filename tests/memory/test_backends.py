"""Embedding backends by configuration, and the Chroma server path (HttpClient)."""

import os
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from adpilot.config import Config
from adpilot.errors import ConfigError
from adpilot.memory.embeddings import embedding_backend
from adpilot.memory.store import MemoryStore

DEMO_KB = Path(__file__).resolve().parents[2] / "memory" / "knowledge" / "demo"


def test_any_langchain_embeddings_class_by_spec(tmp_path):
    backend = embedding_backend("langchain:tests.memory.fake_embeddings:LetterCounts:letters")
    assert backend.name == "langchain:tests.memory.fake_embeddings:LetterCounts:letters"
    store = MemoryStore(tmp_path / "chroma", backend)
    store.ingest([DEMO_KB / "service-en.md"], tenant="t")
    assert store.search_knowledge("gift cards", tenant="t", k=1)[0].source == "service-en"


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("langchain:no_such_module:X", "cannot import no_such_module"),
        ("langchain:tests.memory.fake_embeddings:Missing", "has no Missing"),
        ("langchain:x", "expected langchain:MODULE:CLASS"),
        ("word2vec", "is unknown"),
    ],
)
def test_bad_embedding_specs_name_the_fix(spec, fragment):
    with pytest.raises(ConfigError, match=fragment):
        embedding_backend(spec)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path):
    chroma = Path(os.environ.get("VIRTUAL_ENV", "")) / "bin" / "chroma"
    if not chroma.exists():
        import sys

        chroma = Path(sys.executable).parent / "chroma"
    port = _free_port()
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert process.stdout is not None
        for line in process.stdout:  # the server announces itself; no guessing a delay
            if "Connect to Chroma at" in line:
                break
        else:
            pytest.fail(f"the Chroma server did not start (exit {process.wait()})")
        # the announcement can precede the socket by a moment: the transport retries connecting
        with httpx.Client(transport=httpx.HTTPTransport(retries=10), timeout=5) as http:
            assert http.get(f"{url}/api/v2/heartbeat").status_code == 200
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_memory_on_a_chroma_server(chroma_server, tmp_path):
    config = Config(state_dir=tmp_path / "state", memory={"server_url": chroma_server, "embedding": "hashing"})
    store = MemoryStore.from_config(config)
    report = store.ingest([DEMO_KB], tenant="alpine-outfitters")
    assert report.files == 6
    passages = store.search_knowledge("Wassersäule Regenjacke", tenant="alpine-outfitters", k=2)
    assert passages and all(p.citation.startswith("kb:") for p in passages)
    assert not (tmp_path / "state" / "chroma").exists()  # nothing embedded locally
