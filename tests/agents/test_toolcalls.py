"""Tool calls as models send them: written into the text in any of the forms small models use,
judged by the tools' strict argument models, bound with tool_choice, or asked for as JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import BaseModel, ConfigDict, Field

from adpilot.agents.llm import ModelProvider, build_provider, split_spec, tools_in_prompt, turn_schema
from adpilot.agents.nodes.supervisor import TRANSFER_TOOLS
from adpilot.agents.run import Runner
from adpilot.agents.toolcalls import ToolDef, looks_like_a_call, read_reply, validate
from adpilot.errors import ConfigError
from adpilot.tools.catalogue import CATALOGUE
from tests.agents.test_chat import budget
from tests.conftest import DE


class Budget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    budget_id: str = Field(..., pattern=r"^[1-9][0-9]{0,8}$", description="the budget's id")
    amount_micros: int = Field(..., ge=0, description="integer micros")


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(..., min_length=1)


TOOLS = [ToolDef("set_budget", "set a budget", Budget), ToolDef("note", "write a note", Note)]
BY_NAME = {t.name: t for t in TOOLS}
CATALOGUE_TOOLS = [ToolDef(s.name, s.description, s.args) for s in CATALOGUE]


def read(text: str, tools: list[ToolDef] = TOOLS):
    return read_reply(AIMessage(content=text), tools, "t0")


def calls_of(text: str, tools: list[ToolDef] = TOOLS) -> list[tuple[str, Any]]:
    turn = read(text, tools)
    assert turn.invalid == [], turn.invalid
    return [(c["name"], c["args"]) for c in turn.calls]


BUDGET_CALL = {"customer_id": DE, "budget_id": "9001", "amount_micros": "55000000"}


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>{"name": "set_campaign_budget", "arguments": ARGS}</tool_call>',
        '<tool_call>\n{"name": "set_campaign_budget", "arguments": ARGS}\n',  # never closed
        '```json\n{"name": "set_campaign_budget", "arguments": ARGS}\n```',
        '```\n{"name": "set_campaign_budget", "args": ARGS}\n``` That should do it.',
        '{"name": "set_campaign_budget", "parameters": ARGS}',
        '{{"name": "set_campaign_budget", "arguments": ARGS}}}',
        '{"name": "set_campaign_budget", "arguments": ARGS}}\nI have set the budget.',
        '[{"name": "set_campaign_budget", "arguments": ARGS}]',
        '{"function": {"name": "set_campaign_budget", "arguments": "ARGS_TEXT"}}',
        '{"tool_calls": [{"name": "set_campaign_budget", "arguments": ARGS}], "answer": ""}',
        'Sure. {"name": "set_campaign_budget", "arguments": ARGS}',
    ],
)
def test_calls_written_as_text_in_every_form_are_read(text):
    args = json.dumps(BUDGET_CALL)
    text = text.replace("ARGS_TEXT", args.replace('"', '\\"')).replace("ARGS", args)
    assert calls_of(text, CATALOGUE_TOOLS) == [("set_campaign_budget", BUDGET_CALL)]


def test_all_doubled_braces_are_read_as_single_ones():
    assert calls_of('{{"name": "note", "arguments": {{"text": "hello"}}}}') == [("note", {"text": "hello"})]


def test_several_calls_in_one_reply():
    text = '<tool_call>{"name": "note", "arguments": {"text": "a"}}</tool_call>\n' * 2
    assert calls_of(text) == [("note", {"text": "a"}), ("note", {"text": "a"})]
    bare = '{"name": "note", "arguments": {"text": "a"}}\n{"name": "set_budget", "args": {"budget_id": "7", "amount_micros": 1}}'  # noqa: E501
    assert calls_of(bare) == [("note", {"text": "a"}), ("set_budget", {"budget_id": "7", "amount_micros": 1})]


@pytest.mark.parametrize(
    ("text", "name", "fragments"),
    [
        (
            '{"name": "set_budget", "arguments": {"budget_id": "9001", "amount_micros": 55 * 1000000}}',
            "set_budget",
            ["no arithmetic", "one number"],
        ),
        (
            '{"name": "set_budget", "arguments": {"budget_id": "9001", // the boots budget\n "amount_micros": 1}}',
            "set_budget",
            ["no comments"],
        ),
        (
            '{"name": "set_budget", "arguments": {"budget_id": "your_budget_id", "amount_micros": 1}}',
            "set_budget",
            ["budget_id", "'your_budget_id'", "placeholder"],
        ),
        (
            '{"name": "set_budgets", "arguments": {"budget_id": "9001"}}',
            "set_budgets",
            ["no tool 'set_budgets'", "did you mean set_budget", "your tools are: set_budget, note"],
        ),
        (
            '{"name": "set_budget", "arguments": {"budget_id": "9001"}}',
            "set_budget",
            ["amount_micros is missing", "expected: integer micros", "its arguments are: budget_id, amount_micros"],
        ),
        (
            '{"name": "set_budget", "arguments": {"budget_id": "9001", "amount_micros": 1, "currency": "EUR"}}',
            "set_budget",
            ["currency is not an argument of set_budget"],
        ),
        (
            '{"name": "set_budget", "arguments": {"budget_id": "3101~31001", "amount_micros": 1}}',
            "set_budget",
            ["budget_id", "the budget's id"],
        ),
        ('{"name": "set_budget", "arguments": {"budget_id": "9001", "amount', "set_budget", ["not valid JSON"]),
        ('{"arguments": {"text": "x"}}', None, ["no tool name"]),
        ("```json\nnot json at all\n```", None, ["looks like a tool call but holds none"]),
    ],
)
def test_invalid_calls_get_a_correction_never_an_answer(text, name, fragments):
    turn = read(text)
    assert turn.answer is None and turn.calls == []
    (invalid,) = turn.invalid
    assert invalid.name == name
    for fragment in fragments:
        assert fragment in invalid.error, invalid.error
    # In the conversation the reply carries the invalid call, so that its correction has a call to answer.
    assert [c["id"] for c in turn.message.invalid_tool_calls] == [invalid.id]


def test_native_calls_are_judged_by_the_same_models():
    reply = AIMessage(
        content="",
        tool_calls=[
            {"type": "tool_call", "id": "a", "name": "note", "args": {"text": "fine"}},
            {"type": "tool_call", "id": "b", "name": "set_budget", "args": {"budget_id": "x", "amount_micros": -1}},
            {"type": "tool_call", "id": "c", "name": "rm_rf", "args": {}},
        ],
    )
    turn = read_reply(reply, TOOLS, "t0")
    assert turn.calls == [{"id": "a", "name": "note", "args": {"text": "fine"}}]
    assert [(i.id, i.name) for i in turn.invalid] == [("b", "set_budget"), ("c", "rm_rf")]
    assert "budget_id" in turn.invalid[0].error and "amount_micros" in turn.invalid[0].error


@pytest.mark.parametrize(
    "text",
    [
        "I set the budget to 55 EUR.",
        "Done: the budget of campaign {Boots} is higher now.",
        "Nothing to change [all good].",
        "",
    ],
)
def test_prose_stays_an_answer(text):
    turn = read(text)
    assert turn.answer == text and turn.calls == [] and turn.invalid == []


# --- properties ---------------------------------------------------------------------------------

WORDS = st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyz ÄÖÜäöüß.,!?-'\"\\/:"), min_size=1, max_size=30)
CALL = st.one_of(
    st.builds(
        lambda b, a: ("set_budget", {"budget_id": b, "amount_micros": a}),
        st.from_regex(r"\A[1-9][0-9]{0,8}\Z"),
        st.integers(min_value=0, max_value=10**12),
    ),
    st.builds(lambda t: ("note", {"text": t}), WORDS),
)


def _render(name: str, args: dict[str, Any], shape: str) -> dict[str, Any]:
    if shape == "function":
        return {"type": "function", "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)}}
    return {"name": name, shape: args}


def _written(calls: list[str], form: str) -> str:
    if form == "tags":
        return "\n".join(f"<tool_call>{c}</tool_call>" for c in calls)
    if form == "fenced":
        return "\n".join(f"```json\n{c}\n```" for c in calls)
    if form == "doubled":
        return "\n".join("{" + c + "}}" for c in calls)
    if form == "prose after":
        return "\n".join(calls) + "\nThat is all I need to do."
    return "\n".join(calls)


@given(
    st.lists(CALL, min_size=1, max_size=3),
    st.sampled_from(["arguments", "args", "parameters", "function"]),
    st.sampled_from(["tags", "fenced", "bare", "doubled", "prose after", "array"]),
)
def test_any_valid_call_written_in_any_form_reads_back_as_itself(calls, shape, form):
    for name, args in calls:
        assume(validate(name, args, BY_NAME) is None)
    rendered = [json.dumps(_render(name, args, shape), ensure_ascii=False) for name, args in calls]
    text = json.dumps([_render(n, a, shape) for n, a in calls], ensure_ascii=False) if form == "array" else None
    assert calls_of(text or _written(rendered, form)) == calls


@given(st.text(max_size=200))
def test_garbage_yields_an_answer_or_judged_calls_never_an_unchecked_call(text):
    turn = read(text)
    assert all(validate(c["name"], c["args"], BY_NAME) is None for c in turn.calls)
    assert (turn.answer is not None) != bool(turn.calls or turn.invalid)  # never silently nothing
    if looks_like_a_call(text) and turn.answer is not None:  # only the JSON form of an answer
        assert json.JSONDecoder().raw_decode(text.strip())[0]["answer"] == turn.answer


# --- binding: tool_choice, and the modes for servers without tool calling -------------------------


class Recording(BaseChatModel):
    """A chat model that answers from a list and records how it was bound and called."""

    replies: list[AIMessage]
    bound: list[dict[str, Any]] = Field(default_factory=list)
    calls: list[dict[str, Any]] = Field(default_factory=list)
    seen: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "recording"

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        self.bound.append({"tools": [t["function"]["name"] for t in tools], **kwargs})
        return self

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any):
        self.calls.append(kwargs)
        self.seen.append(list(messages))
        reply = self.replies[min(len(self.calls) - 1, len(self.replies) - 1)]
        return ChatResult(generations=[ChatGeneration(message=reply)])


SPEC = "openai-compatible:fake@http://127.0.0.1:9/v1"


async def test_every_model_turn_binds_its_tools_with_tool_choice_auto(config, platforms, audit, sandbox):
    model = Recording(
        replies=[
            AIMessage(content='{"name": "transfer_to_bidding", "arguments": {"task": "budget 9001 to 55 EUR"}}'),
            AIMessage(content=f'<tool_call>{{"name": "set_campaign_budget", "arguments": {json.dumps(BUDGET_CALL)}}}'),
            AIMessage(content="Set."),
            AIMessage(content="Budget 9001 is 55 EUR."),
        ]
    )
    async with Runner(config, platforms=platforms, audit=audit, models=ModelProvider(SPEC, model=model)) as runner:
        done = await runner.start({"kind": "chat", "text": "the boots budget should be a little higher"})
    assert done.status == "done" and budget(sandbox) == "55000000"
    assert [b["tool_choice"] for b in model.bound] == ["auto"] * 4
    assert model.bound[0]["tools"] == [t.name for t in TRANSFER_TOOLS]
    assert "set_campaign_budget" in model.bound[1]["tools"]


async def test_json_schema_mode_asks_for_json_and_reads_the_same_calls():
    model = Recording(replies=[AIMessage(content='{"tool_calls": [{"name": "note", "arguments": {"text": "hi"}}]}')])
    spec = "openai-compatible:m@http://127.0.0.1:9/v1#json_schema"
    provider = ModelProvider(spec, model=model, tool_mode="json_schema")
    messages = [SystemMessage("You are the bidding agent."), HumanMessage("note hi")]
    schemas = [t.schema() for t in TOOLS]
    reply = await provider.ask("bidding", 0, messages, schemas)
    assert model.bound == []  # no tool binding: the server has no tool calling
    assert model.calls[0]["response_format"]["json_schema"]["schema"] == turn_schema(schemas)
    system = model.seen[0][0]
    assert isinstance(system, SystemMessage) and "set_budget: set a budget" in str(system.content)
    assert calls_of(str(reply.content)) == [("note", {"text": "hi"})]
    answered = read('{"tool_calls": [], "answer": "all done"}')
    assert answered.answer == "all done" and answered.calls == [] and answered.invalid == []


def test_text_mode_shows_earlier_calls_as_text_and_results_as_user_messages():
    turn = read('{"name": "note", "arguments": {"text": "a"}}')
    from langchain_core.messages import ToolMessage

    history = [
        SystemMessage("sys"),
        HumanMessage("task"),
        turn.message,
        ToolMessage('<tool_result tool="note">{"ok": true}</tool_result>', tool_call_id=turn.calls[0]["id"]),
    ]
    sent = tools_in_prompt(history, [t.schema() for t in TOOLS], "text")
    assert "<tool_call>" in str(sent[0].content) and "note: write a note" in str(sent[0].content)
    assert isinstance(sent[2], AIMessage) and not sent[2].tool_calls
    assert isinstance(sent[3], HumanMessage) and "tool_result" in str(sent[3].content)


def test_tool_modes_from_the_spec_or_the_configuration():
    from adpilot.config import ModelsConfig

    assert split_spec("openai-compatible:m@http://h:1/v1#text") == ("openai-compatible:m@http://h:1/v1", "text")
    assert build_provider("scripted", scripts={}, options=ModelsConfig(tool_mode="json_schema")).tool_mode == (
        "json_schema"
    )
    assert build_provider("scripted#text", scripts={}).tool_mode == "text"
    with pytest.raises(ConfigError, match="#grammar is not a tool mode"):
        build_provider("scripted#grammar", scripts={})
    with pytest.raises(ConfigError, match="json_schema tool mode needs"):
        build_provider("anthropic:claude#json_schema", environ={"ANTHROPIC_API_KEY": "k"})


@pytest.mark.parametrize("mode", ["text", "json_schema"])
async def test_a_run_without_native_tool_calling_gets_its_work_done(config, platforms, audit, sandbox, mode):
    def turn(name: str, args: dict[str, Any]) -> dict[str, str]:
        if mode == "text":
            return {"content": f'<tool_call>{{"name": "{name}", "arguments": {json.dumps(args)}}}</tool_call>'}
        return {"content": json.dumps({"tool_calls": [{"name": name, "arguments": args}], "answer": ""})}

    done_words = "Budget 9001 is 55 EUR." if mode == "text" else json.dumps({"tool_calls": [], "answer": "55 EUR."})
    scripts = {
        "supervisor": [turn("transfer_to_bidding", {"task": "budget 9001 to 55 EUR"}), {"content": done_words}],
        "bidding": [turn("set_campaign_budget", BUDGET_CALL), {"content": done_words}],
    }
    models = build_provider(f"scripted#{mode}", scripts=scripts)
    async with Runner(config, platforms=platforms, audit=audit, models=models) as runner:
        done = await runner.start({"kind": "chat", "text": "the boots budget should be a little higher"})
    assert done.status == "done" and budget(sandbox) == "55000000"
    assert (done.answer or "").startswith("Done: budget 9001 → €55.00 per day (set_campaign_budget)")
