"""Model specs, scripted turns, and decision memory written at the end of a run."""

import pytest

from adpilot.agents.llm import ScriptedChatModel, build_provider, load_script, scripted_message
from adpilot.agents.run import Runner
from adpilot.errors import ConfigError
from adpilot.memory.embeddings import embedding_backend
from adpilot.memory.store import MemoryStore


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("openai:gpt-4o-mini", "OPENAI_API_KEY"),
        ("anthropic:claude-sonnet", "ANTHROPIC_API_KEY"),
        ("google:gemini-2.0-flash", "GOOGLE_API_KEY"),
        ("gpt-4o", "not a model spec"),
        ("openai-compatible:llama", "MODEL@URL"),
        ("scripted", "needs a script"),
    ],
)
def test_model_specs_fail_with_the_fix(spec, fragment):
    with pytest.raises(ConfigError, match=fragment):
        build_provider(spec, environ={})


def test_a_provider_without_its_package_names_the_extra():
    with pytest.raises(ConfigError, match=r"adpilot\[ollama\]"):
        build_provider("ollama:llama3.2", environ={})


def test_none_means_skills_only():
    provider = build_provider("none")
    assert not provider.enabled and provider.for_agent("bidding") is None


def test_script_files_are_validated(tmp_path):
    good = tmp_path / "s.yaml"
    good.write_text("bidding:\n  - content: done\n")
    assert load_script(good) == {"bidding": [{"content": "done"}]}
    bad = tmp_path / "b.yaml"
    bad.write_text("bidding:\n  - say: hello\n")
    with pytest.raises(ConfigError, match=r"b.yaml:2: turn 0 of bidding"):
        load_script(bad)


def test_scripted_turns_and_invalid_calls():
    message = scripted_message({"tool_calls": [{"name": "x", "args": "not json"}, {"name": "y", "args": {"a": 1}}]}, 0)
    assert [c["name"] for c in message.tool_calls] == ["y"]
    assert message.invalid_tool_calls[0]["name"] == "x"
    model = ScriptedChatModel(turns=[{"content": "first"}, {"content": "second"}], offset=1)
    assert model.invoke("hi").content == "second"
    assert ScriptedChatModel(turns=[]).invoke("hi").content == "Nothing further to do."


async def test_executed_decisions_are_remembered_with_their_rationale(config, platforms, audit, tmp_path):
    memory = MemoryStore(tmp_path / "chroma", embedding_backend("hashing"))
    async with Runner(config, platforms=platforms, audit=audit, memory=memory, models=build_provider("none")) as runner:
        result = await runner.start({"kind": "maintenance", "scope": "ads"})
    applied = result.report["applied"]
    assert applied
    recalled = memory.recall("decisions", "set_keyword_bid ROAS", tenant=config.memory.tenant, k=50)
    assert len(recalled) == len(applied)
    bid = next(r for r in recalled if r.metadata["tool"] == "set_keyword_bid")
    assert "ROAS" in bid.text and bid.metadata["audit_seq"] > 0 and bid.metadata["run_id"] == result.run_id
