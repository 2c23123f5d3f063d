"""Retrieval quality of the embedding backends on German and English brand knowledge.

    .venv/bin/python bench/retrieval_quality.py [--backends use-multilingual-v3 e5-small-q4 hashing]

For each backend: recall@4 and MRR over the labelled set in bench/data/retrieval_set.yaml,
alone and with 200 and 1000 distractor sentences (deterministic, same topic area), split by
query language; and embedding throughput. No network: every backend ships its model.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np
import yaml

from adpilot.memory.embeddings import embedding_backend

DATA = Path(__file__).parent / "data" / "retrieval_set.yaml"

_SUBJECTS = [
    "Die Wanderhose",
    "Der Rucksack",
    "Das Zelt",
    "Die Stirnlampe",
    "Der Schlafsack",
    "Die Trinkflasche",
    "The backpack",
    "The headlamp",
    "Our sleeping bag",
    "The trekking pole",
    "Die Fleecejacke",
    "Der Kocher",
]
_VERBS = [
    "ist erhältlich in",
    "passt gut zu",
    "wird geliefert mit",
    "eignet sich für",
    "comes with",
    "is made for",
    "kostet weniger als",
    "hat ein Fach für",
    "works well with",
    "wiegt mehr als",
]
_OBJECTS = [
    "Mehrtagestouren",
    "einer Regenhülle",
    "Kinder ab acht Jahren",
    "winter camping",
    "drei Farben",
    "a rain cover",
    "Klettersteige",
    "den Stadtalltag",
    "long distance hikes",
    "einem Packsack",
    "Radreisen",
]


def distractors(count: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    return [
        f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} (Artikel {rng.randrange(1000, 9999)})."
        for _ in range(count)
    ]


def evaluate(backend_name: str, extra: int) -> dict[str, float]:
    data = yaml.safe_load(DATA.read_text())
    ids = list(data["chunks"])
    texts = [data["chunks"][i] for i in ids] + distractors(extra)
    ids += [f"d{i}" for i in range(extra)]
    backend = embedding_backend(backend_name)
    start = time.perf_counter()
    matrix = np.asarray(backend.embed_documents(texts), dtype=np.float32)
    rate = len(texts) / (time.perf_counter() - start)
    results: dict[str, list[tuple[bool, float]]] = {}
    for query in data["queries"]:
        scores = matrix @ np.asarray(backend.embed_query(query["q"]), dtype=np.float32)
        ranking = [ids[i] for i in np.argsort(-scores)]
        rank = min(ranking.index(r) for r in query["relevant"]) + 1
        for group in ("all", query["lang"]):
            results.setdefault(group, []).append((rank <= 4, 1.0 / rank))
    summary = {f"recall@4 {g}": sum(h for h, _ in v) / len(v) for g, v in results.items()}
    summary["mrr"] = sum(r for _, r in results["all"]) / len(results["all"])
    summary["sentences/s"] = rate
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--backends",
        nargs="*",
        default=["use+hashing", "use+e5+hashing", "use+e5", "use-multilingual-v3", "e5-small-q4", "hashing"],
    )
    options = parser.parse_args()
    columns = ("R@4 all", "R@4 de", "R@4 en", "R@4 x", "MRR", "sent/s")
    print(f"{'backend':<22} {'distract':>8} " + " ".join(f"{c:>8}" for c in columns))
    for name in options.backends:
        for extra in (0, 200, 1000):
            s = evaluate(name, extra)
            values = [s["recall@4 all"], s["recall@4 de"], s.get("recall@4 en", 0.0), s["recall@4 cross"], s["mrr"]]
            print(f"{name:<22} {extra:>8} " + " ".join(f"{v:>8.2f}" for v in values) + f" {s['sentences/s']:>8.0f}")


if __name__ == "__main__":
    main()
