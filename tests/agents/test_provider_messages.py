"""What adpilot sends an OpenAI-compatible server is a request that llama.cpp's server accepts.

llama-cpp-python's server answers HTTP 500 to two shapes of the chat history: an assistant message
with ``content: null`` beside its ``tool_calls`` (what langchain-openai sends for a reply with calls
and no words), and a tool call whose name is null or empty (an invalid call the model sent without a
tool name). These tests capture the exact JSON body the OpenAI client posts (a fake server behind
httpx's MockTransport) after replies the model really sent, read by :func:`read_reply` and corrected
as the plan and supervisor nodes do, and check the body for both shapes and for a well-formed call
and result order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from adpilot.agents.llm import ModelProvider, build_provider
from adpilot.agents.loop import tool_message
from adpilot.agents.toolcalls import ToolDef, TransferArgs, correction, read_reply

URL = "http://llama.test/v1"
SPEC = f"openai-compatible:qwen2.5-coder-1.5b@{URL}"
TOOLS = [ToolDef("transfer_to_search", "hand a task to the search agent", TransferArgs)]
START: list[BaseMessage] = [SystemMessage("You are the supervisor."), HumanMessage("Lower the budget of Brand.")]


class FakeServer:
    """An OpenAI-compatible chat completions endpoint: records each request's JSON body and
    answers with the next scripted assistant message (then plain words)."""

    def __init__(self, replies: Sequence[dict[str, Any]] = ()) -> None:
        self.replies = list(replies)
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        message = self.replies.pop(0) if self.replies else {"role": "assistant", "content": "Done."}
        completion = {
            "id": f"chatcmpl-{len(self.bodies)}",
            "object": "chat.completion",
            "created": 0,
            "model": "qwen2.5-coder-1.5b",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
        return httpx.Response(200, json=completion)


def provider_for(server: FakeServer) -> ModelProvider:
    """The provider ``build_provider`` makes for an OpenAI-compatible spec, its chat model (of the
    class build_provider chose) talking to ``server``."""
    chosen = type(build_provider(SPEC).for_agent("supervisor"))
    client = httpx.AsyncClient(transport=httpx.MockTransport(server))
    model = chosen(
        model="qwen2.5-coder-1.5b",
        base_url=URL,
        api_key="not-needed",
        temperature=0,
        max_retries=0,
        http_async_client=client,
    )
    return ModelProvider(SPEC, model=model)


def native_call(name: str | None, arguments: str, call_id: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def assert_accepted(body: dict[str, Any]) -> None:
    """No ``content: null``, no tool call without a name or with arguments that are no JSON
    object, and every tool call answered by exactly one tool message right after its reply."""
    messages = body["messages"]
    for index, message in enumerate(messages):
        assert message.get("content") is not None, f"message {index} has content null: {message}"
        calls = message.get("tool_calls") or []
        for call in calls:
            name = call["function"]["name"]
            assert isinstance(name, str) and name.strip(), f"message {index} has a call without a name: {call}"
            assert isinstance(json.loads(call["function"]["arguments"]), dict), call
        following = []
        for later in messages[index + 1 :]:
            if later["role"] != "tool":
                break
            following.append(later["tool_call_id"])
        if message["role"] == "assistant":
            assert sorted(following) == sorted(c["id"] for c in calls), f"message {index}: results {following}"
        elif message["role"] != "tool":
            assert not following, f"tool messages after a {message['role']} message: {following}"


async def test_a_reply_of_calls_without_words_goes_back_with_empty_content() -> None:
    server = FakeServer(
        [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [native_call("transfer_to_search", '{"task": "lower the budget"}', "call_1")],
            }
        ]
    )
    provider = provider_for(server)
    reply = await provider.ask("supervisor", 0, START, [t.schema() for t in TOOLS])
    read = read_reply(reply, TOOLS, "supervisor-t0")
    assert read.calls and not read.invalid
    conversation = [*START, read.message, ToolMessage('{"ok": true}', tool_call_id="call_1")]
    await provider.ask("supervisor", 0, conversation, [t.schema() for t in TOOLS])
    sent = server.bodies[1]["messages"]
    assert sent[2]["role"] == "assistant"
    assert sent[2]["content"] == ""
    assert [c["function"]["name"] for c in sent[2]["tool_calls"]] == ["transfer_to_search"]
    assert_accepted(server.bodies[1])


async def test_a_native_call_without_a_name_goes_back_as_text_then_its_correction() -> None:
    server = FakeServer(
        [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [native_call(None, '{"task": "lower the budget"}', "call_1")],
            }
        ]
    )
    provider = provider_for(server)
    reply = await provider.ask("search", 0, START, [t.schema() for t in TOOLS])
    read = read_reply(reply, TOOLS, "t1-t0")
    (invalid,) = read.invalid
    # As the plan node answers it: the correction as the call's result.
    conversation = [*START, read.message, tool_message(correction(invalid), str(invalid.name), invalid.id)]
    await provider.ask("search", 0, conversation, [t.schema() for t in TOOLS])
    body = server.bodies[1]
    assert_accepted(body)
    assistant, told = body["messages"][2:]
    assert assistant["role"] == "assistant" and "tool_calls" not in assistant
    assert '"task": "lower the budget"' in assistant["content"]
    assert told["role"] == "user" and "invalid call, nothing was done" in told["content"]


async def test_a_written_call_without_a_name_keeps_the_models_words() -> None:
    written = '{"arguments": {"task": "lower the budget"}}\nI will hand it over.'
    server = FakeServer([{"role": "assistant", "content": written}])
    provider = provider_for(server)
    reply = await provider.ask("supervisor", 0, START, [t.schema() for t in TOOLS])
    read = read_reply(reply, TOOLS, "supervisor-t0")
    (invalid,) = read.invalid
    assert invalid.name is None
    # As the supervisor node answers it.
    conversation = [*START, read.message, ToolMessage(correction(invalid), tool_call_id=invalid.id)]
    await provider.ask("supervisor", 0, conversation, [t.schema() for t in TOOLS])
    body = server.bodies[1]
    assert_accepted(body)
    assistant, told = body["messages"][2:]
    assert assistant == {"role": "assistant", "content": written}
    assert told["role"] == "user" and json.loads(told["content"])["error"]["type"] == "invalid_call"


async def test_unparsable_arguments_beside_a_valid_call_keep_the_call_order() -> None:
    server = FakeServer(
        [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    native_call("transfer_to_search", '{"task": "find the campaign"}', "call_ok"),
                    native_call("transfer_to_search", "{task: lower the budget", "call_bad"),
                ],
            }
        ]
    )
    provider = provider_for(server)
    reply = await provider.ask("supervisor", 0, START, [t.schema() for t in TOOLS])
    read = read_reply(reply, TOOLS, "supervisor-t0")
    (invalid,) = read.invalid
    assert invalid.id == "call_bad" and read.calls[0]["id"] == "call_ok"
    conversation = [
        *START,
        read.message,
        ToolMessage(correction(invalid), tool_call_id="call_bad"),  # corrections come first
        ToolMessage('{"ok": true}', tool_call_id="call_ok"),
    ]
    await provider.ask("supervisor", 0, conversation, [t.schema() for t in TOOLS])
    body = server.bodies[1]
    assert_accepted(body)
    assistant, result, told = body["messages"][2:]
    assert [c["id"] for c in assistant["tool_calls"]] == ["call_ok"]
    assert "{task: lower the budget" in assistant["content"]
    assert result == {"role": "tool", "tool_call_id": "call_ok", "content": '{"ok": true}'}
    assert told["role"] == "user" and "invalid call" in told["content"]


async def test_a_named_invalid_call_still_goes_back_as_a_tool_call() -> None:
    server = FakeServer(
        [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [native_call("transfer_to_nobody", '{"task": "lower the budget"}', "call_1")],
            }
        ]
    )
    provider = provider_for(server)
    reply = await provider.ask("supervisor", 0, START, [t.schema() for t in TOOLS])
    read = read_reply(reply, TOOLS, "supervisor-t0")
    (invalid,) = read.invalid
    conversation = [*START, read.message, ToolMessage(correction(invalid), tool_call_id="call_1")]
    await provider.ask("supervisor", 0, conversation, [t.schema() for t in TOOLS])
    body = server.bodies[1]
    assert_accepted(body)
    assistant, told = body["messages"][2:]
    assert assistant["content"] == ""
    assert [c["function"]["name"] for c in assistant["tool_calls"]] == ["transfer_to_nobody"]
    assert told["role"] == "tool" and told["tool_call_id"] == "call_1"


CALL_KINDS = st.sampled_from(["valid", "unknown tool", "no name", "empty name", "not JSON", "not an object"])


def _turn(number: int, words: str, kinds: list[str], order: list[int], then_user: bool) -> list[BaseMessage]:
    """One reply as read_reply leaves it in the conversation, its results and corrections (in
    ``order``), and maybe the operator's next message."""
    calls, invalid, results = [], [], []
    for n, kind in enumerate(kinds):
        call_id = f"t{number}-{n}"
        if kind == "valid":
            calls.append({"type": "tool_call", "id": call_id, "name": "transfer_to_search", "args": {"task": "x"}})
            results.append(ToolMessage('{"ok": true}', tool_call_id=call_id))
            continue
        name, args = {
            "unknown tool": ("transfer_to_nobody", '{"task": "x"}'),
            "no name": (None, '{"task": "x"}'),
            "empty name": ("", '{"task": "x"}'),
            "not JSON": ("transfer_to_search", "{task: 55 * 1000000"),
            "not an object": ("transfer_to_search", '"x"'),
        }[kind]
        invalid.append({"type": "invalid_tool_call", "id": call_id, "name": name, "args": args, "error": kind})
        results.append(ToolMessage(f"invalid call, nothing was done: {kind} ({call_id})", tool_call_id=call_id))
    reply = AIMessage(content=words, tool_calls=calls, invalid_tool_calls=invalid)
    ordered = [results[i] for i in order if i < len(results)]
    return [reply, *ordered, *([HumanMessage(f"and then {number}")] if then_user else [])]


@st.composite
def conversations(draw: st.DrawFn) -> list[BaseMessage]:
    messages = list(START)
    for number in range(draw(st.integers(1, 4))):
        kinds = draw(st.lists(CALL_KINDS, max_size=4))
        order = draw(st.permutations(range(len(kinds))))
        words = draw(st.sampled_from(["", "Handing it over."]))
        messages += _turn(number, words, kinds, list(order), draw(st.booleans()))
    return messages


@settings(max_examples=60, deadline=None)
@given(conversations())
def test_any_conversation_of_valid_and_invalid_calls_is_sent_in_an_accepted_shape(
    conversation: list[BaseMessage],
) -> None:
    server = FakeServer()
    asyncio.run(provider_for(server).ask("supervisor", 0, conversation, [t.schema() for t in TOOLS]))
    (body,) = server.bodies
    assert_accepted(body)
    sent = body["messages"]
    assert sum(m["role"] == "assistant" for m in sent) == sum(isinstance(m, AIMessage) for m in conversation)
    for message in conversation:  # every result and correction reaches the model
        if isinstance(message, ToolMessage):
            assert any(message.content in m["content"] for m in sent if m["role"] in ("tool", "user"))
