"""A configured model explains what the maintenance skills propose: its words are quoted beside
each change and never alter one; a reply that cannot be used leaves the changes as they are; a
provider that fails stops the run."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from adpilot.agents.explain import read_explanations, reply_schema
from adpilot.agents.llm import ModelProvider
from adpilot.agents.run import Runner
from tests.agents.conftest import results
from tests.agents.skills.test_creative_model import Unreachable
from tests.conftest import DE

# The demo world's maintenance of DE proposes, task by task: 2 compliance, 2 bidding, 3 creative, 3 SEO changes.
COUNTS = {"compliance": 2, "bidding": 2, "creative": 3, "seo": 3}


def _turn(role: str, count: int) -> dict[str, str]:
    lines = [f"{role} explanation {n}: worth it because the numbers say so" for n in range(count)]
    return {"content": json.dumps({"explanations": lines})}


async def _maintain(make_runner, explainer: list[dict[str, str]] | None):
    scripts = {"explainer": explainer} if explainer is not None else {}
    async with make_runner(scripts=scripts) as runner:
        return await runner.start({"kind": "maintenance", "accounts": [DE]})


async def test_each_proposal_carries_the_models_explanation_and_the_changes_are_the_skills(make_runner, audit):
    explained = await _maintain(make_runner, [_turn(role, count) for role, count in COUNTS.items()])
    # The changes are the demo world's maintenance, as without a model (docs/MAINTENANCE.md).
    bids = {
        a["args"]["criterion_id"]: a["args"]["cpc_bid_micros"]
        for a in explained.report["applied"]
        if a["tool"] == "set_keyword_bid"
    }
    assert bids == {"41002": "990000", "41005": "440000"}
    paused = sorted(a["args"]["ad_id"] for a in explained.report["applied"] if a["tool"] == "set_ad_status")
    assert paused == ["31002", "31006"]
    assert sorted(p["args"]["post_id"] for p in explained.pending) == [501, 502, 504]
    # … each with its explanation quoted after what the skill found
    applied = explained.report["applied"]
    assert all(
        "the model explains: “bidding explanation" in a["rationale"] for a in applied if a["tool"] == "set_keyword_bid"
    )
    assert all(a["rationale"].startswith("bid for ") for a in applied if a["tool"] == "set_keyword_bid")
    assert all("the model explains: “seo explanation" in p["rationale"] for p in explained.pending)
    assert not [n for n in explained.report["notes"] if "explanations" in n]


async def test_a_reply_that_cannot_be_used_leaves_the_changes_unexplained_and_says_so(make_runner):
    garbled = [{"content": "Sure! These changes are great."}] + [_turn(r, c) for r, c in list(COUNTS.items())[1:]]
    result = await _maintain(make_runner, garbled)
    (note,) = [n for n in result.report["notes"] if "explanations" in n]
    assert note == (
        "compliance: the explanations of the model scripted could not be used (it is not the JSON asked for); "
        "the changes stand"
    )
    paused = [a for a in result.report["applied"] if a["tool"] == "set_ad_status"]
    assert paused and not any("explains" in a["rationale"] for a in paused)


async def test_a_model_that_cannot_be_reached_stops_the_maintenance_run(config, platforms, audit):
    models = ModelProvider("openai:gpt-4o", model=Unreachable())
    async with Runner(config, platforms=platforms, audit=audit, models=models, skills=True) as runner:
        result = await runner.start({"kind": "maintenance", "accounts": [DE]})
    assert result.status == "stopped" and result.report["stop_reason"] == "model"
    assert results(audit) == []  # stopped before its first task's changes


@given(text=st.text(max_size=300), count=st.integers(min_value=1, max_value=5))
def test_any_reply_is_read_as_that_many_explanations_or_as_a_reason(text, count):
    read = read_explanations(text, count)
    assert isinstance(read, str) or (len(read) == count and all(line.strip() for line in read))


def test_the_schema_asks_for_exactly_one_explanation_per_change():
    items = reply_schema(3)["properties"]["explanations"]
    assert (items["minItems"], items["maxItems"]) == (3, 3)
    assert read_explanations('```json\n{"explanations": ["a", "b"]}\n```', 2) == ["a", "b"]
    assert read_explanations('{"explanations": ["a", ""]}', 2) == "an explanation is empty"
    (long,) = read_explanations(json.dumps({"explanations": [" ".join(["word"] * 50)]}), 1)
    assert long == " ".join(["word"] * 40) + "…"
