"""The default embedding backend keeps its measured retrieval quality (docs/BENCHMARKS.md)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from retrieval_quality import evaluate


def test_default_backend_recall_at_4_on_german_and_english():
    summary = evaluate("default", 200)
    assert summary["recall@4 all"] >= 0.9
    assert summary["recall@4 cross"] >= 0.8
    assert summary["mrr"] >= 0.85
