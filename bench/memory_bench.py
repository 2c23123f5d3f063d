"""Memory at scale: ingest throughput and query latency with 10,000 chunks in embedded Chroma.

    .venv/bin/python bench/memory_bench.py [--chunks 10000] [--queries 200] [--backend default]

Chunks are generated German/English product sentences (deterministic). Ingest goes through
``MemoryStore.ingest`` (chunking, PII scrub, embedding, upsert); a query is
``search_knowledge`` end to end (query embedding + search in the tenant's collection).
Baseline in the same run: the query embedding alone, so the store's own share is visible.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

from adpilot.memory.embeddings import embedding_backend
from adpilot.memory.store import MemoryStore

_PRODUCTS = [
    "Wanderschuh",
    "Regenjacke",
    "Rucksack",
    "Zelt",
    "Schlafsack",
    "Trail Runner",
    "Daunenjacke",
    "hiking boot",
    "rain jacket",
    "backpack",
    "tent",
    "sleeping bag",
]
_FACTS = [
    "wiegt {n} Gramm",
    "hat eine Wassersäule von {n} mm",
    "kostet {n} Euro",
    "ist in {n} Farben erhältlich",
    "weighs {n} grams",
    "costs {n} euros",
    "comes in {n} colours",
    "hält bis minus {n} Grad warm",
]


def documents(chunks: int, folder: Path, per_file: int = 100) -> list[Path]:
    rng = random.Random(3)
    paths = []
    for file_index in range(chunks // per_file):
        paragraphs = []
        for _ in range(per_file):
            # 300–480 characters: two never fit one 500-character chunk, so one paragraph = one chunk.
            text = f"{rng.choice(_PRODUCTS)} {rng.randrange(1000)}:"
            while len(text) < 300:
                fact = rng.choice(_FACTS).format(n=rng.randrange(2, 900))
                text += f" Das Modell {rng.randrange(100, 999)} {fact}."
            paragraphs.append(text[:480])
        path = folder / f"katalog-{file_index:04d}.md"
        path.write_text("\n\n".join(paragraphs))
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backend", default="default")
    options = parser.parse_args()
    backend = embedding_backend(options.backend)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        paths = documents(options.chunks, folder)
        store = MemoryStore(Path(tmp) / "chroma", backend)
        start = time.perf_counter()
        report = store.ingest(paths, tenant="bench")
        ingest_s = time.perf_counter() - start
        rng = random.Random(9)
        queries = [
            f"Welcher {rng.choice(_PRODUCTS)} {rng.choice(_FACTS).format(n=rng.randrange(2, 900))}?"
            for _ in range(options.queries)
        ]
        store.search_knowledge("warm up", tenant="bench")
        embed_only, end_to_end = [], []
        for query in queries:
            t0 = time.perf_counter()
            backend.embed_query(query)
            t1 = time.perf_counter()
            store.search_knowledge(query, tenant="bench", k=4)
            t2 = time.perf_counter()
            embed_only.append(t1 - t0)
            end_to_end.append(t2 - t1)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def pct(samples: list[float], q: int) -> float:
        return statistics.quantiles(samples, n=100)[q - 1] * 1000

    print(f"backend {backend.name}; {report.chunks} chunks from {report.files} files")
    print(f"ingest: {ingest_s:.1f} s, {report.chunks / ingest_s:.0f} chunks/s")
    print(f"query embedding alone: p50 {pct(embed_only, 50):.1f} ms, p95 {pct(embed_only, 95):.1f} ms")
    p50, p95 = pct(end_to_end, 50), pct(end_to_end, 95)
    print(f"search_knowledge (embed + search in the tenant's collection): p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    print(f"store's own share at p50: {pct(end_to_end, 50) - pct(embed_only, 50):.1f} ms; peak RSS {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
