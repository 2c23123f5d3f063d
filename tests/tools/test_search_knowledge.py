"""search_knowledge as a governed tool: scoped, tenant-bound, cited."""

from pathlib import Path

from adpilot.compose import build_guard
from adpilot.config import Config
from adpilot.memory.embeddings import embedding_backend
from adpilot.memory.store import MemoryStore
from adpilot.tools.guard import RunScope
from tests.conftest import DE

DEMO_KB = Path(__file__).resolve().parents[2] / "memory" / "knowledge" / "demo"


async def test_agents_get_cited_passages_of_their_tenant(platforms, audit, tmp_path):
    store = MemoryStore(tmp_path / "chroma", embedding_backend("default"))
    store.ingest([DEMO_KB], tenant="alpine-outfitters")
    store.ingest([DEMO_KB / "service-en.md"], tenant="someone-else")
    guard = build_guard(Config(), platforms, audit, RunScope("r", "t", frozenset({DE})), memory=store)
    result = await guard.call("creative", "search_knowledge", {"query": "Testsieger Wanderschuh", "k": 3})
    assert result.ok and len(result.data) == 3
    assert all(p["citation"].startswith("kb:") for p in result.data)
    backed = await guard.call(
        "creative",
        "create_responsive_search_ad",
        {
            "customer_id": DE,
            "ad_group_id": "2101",
            # The claim names its source in its own line, as a test result must; citing the
            # knowledge-base passage cites the registry entry that lists it as a ref.
            "headlines": ["Alpine Trek GTX", "Wasserdichte Wanderschuhe", "Jetzt Größe finden"],
            "descriptions": ["Testsieger im Outdoor Magazin 10/2026.", "Versand in 1–2 Werktagen."],
            "final_url": "https://www.alpine-outfitters.example/de/wanderschuhe",
            "evidence": ["kb:testbericht-outdoor-magazin-2026#0"],
        },
    )
    assert backed.decision == "allow", backed.error


async def test_without_memory_the_tool_says_so(platforms, audit):
    guard = build_guard(Config(), platforms, audit, RunScope("r", "t", frozenset({DE})))
    result = await guard.call("seo", "search_knowledge", {"query": "x"})
    assert result.error.type == "unavailable" and "memory" in result.error.message
    bidding = await guard.call("bidding", "search_knowledge", {"query": "x"})
    assert bidding.error.type == "unavailable"  # bidding holds memory:read; memory is what is missing
    outsider = await guard.call("intruder", "search_knowledge", {"query": "x"})
    assert outsider.error.rule == "scope.role"
