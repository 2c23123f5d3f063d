"""Chat models from a spec string: ``none``, ``scripted:FILE``, and real providers.

    none                         skills only, no model (the default)
    scripted:FILE                turns per agent from a YAML/JSON file (tests and evals)
    openai:MODEL                 langchain-openai      (OPENAI_API_KEY)
    anthropic:MODEL              langchain-anthropic   (ANTHROPIC_API_KEY)
    google:MODEL                 langchain-google-genai (GOOGLE_API_KEY)
    ollama:MODEL                 langchain-ollama      (a local Ollama; OLLAMA_HOST optional)
    openai-compatible:MODEL@URL  langchain-openai against vLLM, llama.cpp server, LM Studio

Provider packages are optional extras (``pip install 'adpilot[openai]'`` …); a missing
package or key is a configuration error that names the fix. Temperature is 0 everywhere; each
request's time limit and retries come from the configuration's ``models`` section.

How tools reach the model (``models.tool_mode``, or a ``#native``/``#text``/``#json_schema``/
``#json_object`` suffix on the spec): ``native`` binds them with ``tool_choice="auto"`` (so servers
such as llama.cpp's ``chatml-function-calling`` offer them at all); ``text`` describes them in the
system prompt and reads calls written into the reply; ``json_schema`` and ``json_object`` do the
same and constrain the reply to one call of one of the turn's tools, with that tool's arguments,
or an answer (:func:`turn_schema`) — ``json_schema`` through OpenAI's ``response_format``
(OpenAI, vLLM, llama.cpp's ``llama-server``), ``json_object`` through ``{"type": "json_object",
"schema": …}`` (llama-cpp-python's server, which turns the schema into a grammar), ``format`` for
Ollama. Whatever the mode, :mod:`adpilot.agents.toolcalls` reads and validates the calls. Natively,
a call with no tool name or unparsable arguments goes back to the model as text, its correction as
a user message (:func:`provider_messages`), and an OpenAI-compatible server is sent ``content: ""``,
not ``null``, beside an assistant message's tool calls: llama.cpp's server answers both with HTTP 500.

A provider that fails — unreachable, timed out, an HTTP error, a refused key — raises
:class:`ModelProviderError` (exit code 2), whose one-line message names the provider and why.

The scripted model is a real langchain-core chat model: each agent consumes its own list of
turns in order. Its position is passed in from the graph state, so a node that re-runs after
a crash replays exactly the same turns. A turn may state the usage a provider would report
(``usage: {input_tokens, output_tokens}``), which is priced like a real model's.

What a turn costs: :func:`price_for` finds the spec's price in the configuration's ``prices``
(the spec itself, else ``KIND:*``; a spec without a price is a configuration error, since its
cost could not be counted), and :meth:`Price.usage` turns a reply's ``usage_metadata`` into the
state's ``tokens`` and exact ``cost_pico_usd``.

With tracing on (adpilot/telemetry.py), each model call an agent makes is a ``chat`` span
(:class:`ModelCallSpans`): provider, model, temperature and token usage, no messages unless
``telemetry.capture_content`` (docs/TRACING.md).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from uuid import UUID

from langchain_core.callbacks import (
    AsyncCallbackHandler,
    AsyncCallbackManagerForLLMRun,
    BaseCallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult, LLMResult

from adpilot import telemetry
from adpilot.errors import AdpilotError, ConfigError, ExitCode, SourceError
from adpilot.sources import load_yaml

if TYPE_CHECKING:
    from adpilot.config import ModelsConfig

FINAL_WHEN_EMPTY = "Nothing further to do."
TOOL_MODES = ("native", "text", "json_schema", "json_object")
JSON_MODES = ("json_schema", "json_object")


class ModelProviderError(AdpilotError):
    """The model provider failed (unreachable, timed out, an HTTP error, a refused key): the run
    stops with the reason ``model``; the message is one line naming the provider and why."""

    exit_code = ExitCode.USAGE


def split_spec(spec: str) -> tuple[str, str | None]:
    """A model spec and its tool-mode suffix: ``openai-compatible:m@URL#json_schema`` →
    (``openai-compatible:m@URL``, ``json_schema``); no suffix → (spec, None)."""
    base, hash_, mode = spec.rpartition("#")
    if not hash_:
        return spec, None
    if mode not in TOOL_MODES:
        raise ConfigError(f"model {spec!r}: the suffix #{mode} is not a tool mode; use #{', #'.join(TOOL_MODES)}")
    return base, mode


def scripted_message(turn: Mapping[str, Any], index: int) -> AIMessage:
    """One scripted turn as the AIMessage a provider would return (invalid calls included)."""
    calls, invalid = [], []
    for n, call in enumerate(turn.get("tool_calls") or []):
        call_id = str(call.get("id") or f"call-{index}-{n}")
        name = call.get("name")
        args = call.get("args", {})
        if isinstance(args, str):
            with contextlib.suppress(json.JSONDecodeError):
                args = json.loads(args)
        if not isinstance(name, str) or not isinstance(args, dict):
            invalid.append(
                {
                    "type": "invalid_tool_call",
                    "id": call_id,
                    "name": name if isinstance(name, str) else None,
                    "args": args if isinstance(args, str) else json.dumps(args, default=str),
                    "error": "the tool call's arguments are not a JSON object"
                    if isinstance(name, str)
                    else "no tool name",
                }
            )
            continue
        calls.append({"type": "tool_call", "id": call_id, "name": name, "args": args})
    content = turn.get("content") or ""
    usage = turn.get("usage")
    if isinstance(usage, Mapping):
        tokens_in, tokens_out = int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
        metadata = {"input_tokens": tokens_in, "output_tokens": tokens_out, "total_tokens": tokens_in + tokens_out}
        return AIMessage(content=content, tool_calls=calls, invalid_tool_calls=invalid, usage_metadata=metadata)
    return AIMessage(content=content, tool_calls=calls, invalid_tool_calls=invalid)


class ScriptedChatModel(BaseChatModel):
    """Plays one agent's scripted turns; the turn is ``offset`` + the AI turns seen so far."""

    turns: list[dict[str, Any]]
    offset: int = 0

    @property
    def _llm_type(self) -> str:
        return "adpilot-scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        return self

    def _turn(self, messages: Sequence[BaseMessage]) -> AIMessage:
        index = self.offset + sum(1 for m in messages if isinstance(m, AIMessage))
        if index >= len(self.turns):
            return AIMessage(content=FINAL_WHEN_EMPTY)
        return scripted_message(self.turns[index], index)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._turn(messages))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._turn(messages))])


# gen_ai.provider.name by spec kind (OpenTelemetry GenAI conventions; an OpenAI-compatible server
# is reached with the OpenAI client, so "openai", with server.address naming the server).
GENAI_PROVIDERS = {
    "openai": "openai",
    "openai-compatible": "openai",
    "anthropic": "anthropic",
    "google": "gcp.gemini",
    "ollama": "ollama",
    "scripted": "adpilot.scripted",
}


_ROLES = {"human": "user", "ai": "assistant"}  # message types as GenAI message roles


class ModelCallSpans(AsyncCallbackHandler):
    """One ``chat`` span per model call of one agent (telemetry on): provider, model, temperature,
    token usage, finish reasons; messages only with ``capture_content``."""

    run_inline = True

    def __init__(self, spec: str, agent: str) -> None:
        self.agent = agent
        kind, _, name = split_spec(spec)[0].partition(":")
        model, _, url = name.partition("@") if kind == "openai-compatible" else (name, "", "")
        self.provider = GENAI_PROVIDERS.get(kind, kind or "_OTHER")
        self.model = model or kind
        self.server = urlsplit(url).hostname if url else None
        self._spans: dict[UUID, telemetry.Span] = {}

    async def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        meta = metadata or {}
        self._spans[run_id] = telemetry.start(
            f"chat {self.model}",
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": self.provider,
                "gen_ai.request.model": self.model,
                "gen_ai.request.temperature": meta.get("ls_temperature"),
                "gen_ai.request.max_tokens": meta.get("ls_max_tokens"),
                "gen_ai.agent.name": self.agent,
                "server.address": self.server,
                "gen_ai.input.messages": telemetry.content(
                    [{"role": _ROLES.get(m.type, m.type), "content": m.content} for batch in messages for m in batch]
                ),
            },
        )

    async def on_llm_end(
        self,
        response: LLMResult,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        span = self._spans.pop(run_id, None)
        if span is None:
            return
        generation = response.generations[0][0] if response.generations and response.generations[0] else None
        message = generation.message if isinstance(generation, ChatGeneration) else None
        if isinstance(message, AIMessage):
            usage: Mapping[str, Any] = message.usage_metadata or {}
            meta: Mapping[str, Any] = message.response_metadata or {}
            finish = meta.get("finish_reason") or meta.get("stop_reason")
            finish = finish or ("tool_calls" if message.tool_calls else None)
            span.update(
                {
                    "gen_ai.usage.input_tokens": usage.get("input_tokens"),
                    "gen_ai.usage.output_tokens": usage.get("output_tokens"),
                    "gen_ai.response.model": meta.get("model_name") or meta.get("model"),
                    "gen_ai.response.finish_reasons": [str(finish)] if finish else None,
                    "gen_ai.output.messages": telemetry.content(
                        [{"role": "assistant", "content": message.content, "tool_calls": message.tool_calls}]
                    ),
                }
            )
        span.end()

    async def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        span = self._spans.pop(run_id, None)
        if span is not None:
            span.fail(type(error).__qualname__)
            span.end()


class ModelProvider:
    """Hands each agent its chat model (``None`` means skills only) and asks it for a turn."""

    def __init__(
        self,
        spec: str,
        *,
        model: BaseChatModel | None = None,
        scripts: Mapping[str, list[dict[str, Any]]] | None = None,
        tool_mode: str = "native",
        timeout_s: float | None = None,
    ) -> None:
        self.spec = spec
        self._model = model
        self._scripts = dict(scripts or {})
        self.tool_mode = tool_mode
        self.timeout_s = timeout_s

    def bind(self, model: BaseChatModel, tools: Sequence[Mapping[str, Any]], *, must_call: bool = False) -> Any:
        """``model`` ready for a turn with ``tools`` (OpenAI function format): bound with
        ``tool_choice="auto"`` (native); for the JSON modes, the reply's schema requested; for
        ``text``, the model as it is (the tools are in the prompt: :func:`tools_in_prompt`).
        ``must_call``: in the JSON modes the reply can only be a call (no answer)."""
        if self.tool_mode == "native":
            return model.bind_tools([dict(tool) for tool in tools], tool_choice="auto")
        if self.tool_mode in JSON_MODES:
            return self._constrained(model, turn_schema(tools, answer=not must_call))
        return model

    def _constrained(self, model: BaseChatModel, schema: dict[str, Any]) -> Any:
        """``model`` asked for a reply that fits ``schema``, as the tool mode's server takes it."""
        if self.spec.startswith("ollama:"):
            return model.bind(format=schema)
        if self.tool_mode == "json_object":
            return model.bind(response_format={"type": "json_object", "schema": schema})
        return model.bind(
            response_format={"type": "json_schema", "json_schema": {"name": "adpilot_turn", "schema": schema}}
        )

    async def ask_json(
        self, agent: str, offset: int, messages: Sequence[BaseMessage], schema: dict[str, Any]
    ) -> AIMessage:
        """One reply of ``agent``'s model that should be JSON fitting ``schema``: constrained to it
        in the JSON tool modes, asked for in words otherwise (the caller reads and checks it); a
        provider's failure is a :class:`ModelProviderError`."""
        model = self.for_agent(agent, offset)
        if model is None:
            raise ConfigError(f"agent {agent} has no model (model: {self.spec})")
        bound = self._constrained(model, schema) if self.tool_mode in JSON_MODES else model
        return await self._reply(bound, list(messages))

    async def _reply(self, runnable: Any, sent: list[BaseMessage]) -> AIMessage:
        """``runnable``'s reply to ``sent``; a provider's failure as a :class:`ModelProviderError`."""
        try:
            reply = await runnable.ainvoke(sent)
        except Exception as exc:
            failure = provider_failure(self.spec, exc, self.timeout_s)
            if failure is None:
                raise
            raise failure from exc
        if not isinstance(reply, AIMessage):
            raise ModelProviderError(f"the model provider failed: {self.spec} sent no chat message")
        return reply

    async def ask(
        self,
        agent: str,
        offset: int,
        messages: Sequence[BaseMessage],
        tools: Sequence[Mapping[str, Any]],
        *,
        must_call: bool = False,
    ) -> AIMessage:
        """One turn of ``agent``'s model over ``messages`` with ``tools`` (natively, the conversation
        as :func:`provider_messages` gives it); a provider's failure is a :class:`ModelProviderError`.
        ``must_call``: a turn that has to be a tool call (where the reply is constrained: the JSON
        modes); the prompt is the same either way, so a server's cached prefix still serves it."""
        model = self.for_agent(agent, offset)
        if model is None:
            raise ConfigError(f"agent {agent} has no model (model: {self.spec})")
        sent = (
            provider_messages(messages)
            if self.tool_mode == "native"
            else tools_in_prompt(messages, tools, self.tool_mode)
        )
        return await self._reply(self.bind(model, tools, must_call=must_call), sent)

    @property
    def enabled(self) -> bool:
        return self._model is not None or self.spec.startswith("scripted")

    @property
    def scripted(self) -> bool:
        return self.spec.startswith("scripted")

    @property
    def explains(self) -> bool:
        """Whether maintenance asks this model to explain the skills' proposals: a real model
        does; a scripted one when its script has turns for the ``explainer``."""
        return self._model is not None or "explainer" in self._scripts

    def for_agent(self, agent: str, offset: int = 0) -> BaseChatModel | None:
        model: BaseChatModel | None = self._model
        if self.scripted:
            model = ScriptedChatModel(turns=list(self._scripts.get(agent, [])), offset=offset)
        if model is None or not telemetry.enabled():
            return model
        # Traced: a copy of the model whose calls each open a span (child of the node's).
        spans = ModelCallSpans(self.spec, agent)
        callbacks = model.callbacks
        if isinstance(callbacks, BaseCallbackManager):
            callbacks = callbacks.copy()
            callbacks.add_handler(spans)
        else:
            callbacks = [*(callbacks or []), spans]
        return model.model_copy(update={"callbacks": callbacks})


_TEXT_TOOLS = """

To call a tool, write only the call, one per line, as
<tool_call>{"name": "TOOL", "arguments": {ARGUMENTS}}</tool_call>
The results come back in the next message. When the task is done, answer in plain words, with no call."""

_JSON_TOOLS = """

Reply with one JSON object and nothing else. To call a tool:
{"name": "TOOL", "arguments": {ARGUMENTS}}
(its result comes back in the next message); when the task is done:
{"answer": "your words to the operator"}"""


def _inlined(schema: Any, defs: Mapping[str, Any]) -> Any:
    """``schema`` with its ``$ref``s to ``defs`` replaced by their targets, and without the keys
    that only document it (titles, descriptions, defaults) or that grammar builders get wrong
    (``pattern``, ``format``: llama.cpp turns ``\\S`` in a pattern into a grammar it cannot parse,
    and its server then crashes): what a grammar is built from. The tool layer still checks them."""
    if isinstance(schema, list):
        return [_inlined(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _inlined(defs.get(ref.removeprefix("#/$defs/"), {}), defs)
    return {
        key: (
            {name: _inlined(value, defs) for name, value in item.items()}
            if key == "properties" and isinstance(item, dict)
            else _inlined(item, defs)
        )
        for key, item in schema.items()
        if key not in ("$defs", "title", "description", "default", "examples", "pattern", "format")
    }


def turn_schema(tools: Sequence[Mapping[str, Any]], *, answer: bool = True) -> dict[str, Any]:
    """The JSON schema of a reply in the JSON tool modes: one call of one of ``tools`` (OpenAI
    function format) with that tool's own arguments, or (``answer``) an answer. A server that turns the schema
    into a grammar (llama.cpp, vLLM, Ollama) can only produce a known tool with well-formed
    arguments — the tool layer still validates them, and the Guard decides."""
    alternatives: list[dict[str, Any]] = []
    for tool in tools:
        function = tool["function"]
        parameters = dict(function.get("parameters") or {"type": "object"})
        arguments = _inlined(parameters, parameters.get("$defs") or {})
        alternatives.append(
            {
                "type": "object",
                "properties": {"name": {"const": str(function["name"])}, "arguments": arguments},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
        )
    if answer:
        alternatives.append(
            {
                "type": "object",
                "properties": {"answer": {"type": "string"}},
                "required": ["answer"],
                "additionalProperties": False,
            }
        )
    return {"anyOf": alternatives}


def _kind(schema: Mapping[str, Any]) -> str:
    """A property's accepted values in a few words: its choices, else its types."""
    options = [schema, *schema.get("anyOf", [])]
    choices = [str(v) for option in options for v in option.get("enum", [])]
    if choices:
        return "one of " + ", ".join(choices)
    kinds = [str(o.get("type")) for o in options if o.get("type") not in (None, "null")]
    return " or ".join(dict.fromkeys(kinds)) or "a value"


def tool_listing(tool: Mapping[str, Any]) -> str:
    """One tool for a prompt, compactly: name, description, then each argument with whether it is
    needed and what it takes (a small model reads this more reliably than a JSON schema, and it
    costs far fewer tokens)."""
    function = tool["function"]
    parameters = function.get("parameters") or {}
    defs = parameters.get("$defs") or {}
    required = set(parameters.get("required") or [])
    lines = [f"- {function['name']}: {function.get('description', '')}"]
    for name, raw in (parameters.get("properties") or {}).items():
        prop = _inlined(raw, defs)
        need = "required" if name in required else "optional"
        about = str(raw.get("description") or "") if isinstance(raw, dict) else ""
        lines.append(f"    {name} ({need}, {_kind(prop)})" + (f": {about}" if about else ""))
    return "\n".join(lines)


def tools_in_prompt(
    messages: Sequence[BaseMessage], tools: Sequence[Mapping[str, Any]], mode: str
) -> list[BaseMessage]:
    """The conversation for a model without tool calling: the tools and the reply format in the
    system prompt, earlier calls as the text the model wrote, tool results as user messages."""
    listing = "\n".join(tool_listing(t) for t in tools)
    guide = (_JSON_TOOLS if mode in JSON_MODES else _TEXT_TOOLS) + "\n\nYour tools:\n" + listing
    sent: list[BaseMessage] = []
    for message in messages:
        if isinstance(message, SystemMessage) and not sent:
            sent.append(SystemMessage(str(message.content) + guide))
        elif isinstance(message, AIMessage):
            calls = [{"name": c["name"], "arguments": c["args"]} for c in message.tool_calls]
            written = str(message.content) or "\n".join(
                f"<tool_call>{json.dumps(c, ensure_ascii=False)}</tool_call>" for c in calls
            )
            sent.append(AIMessage(content=written))
        elif isinstance(message, ToolMessage):
            sent.append(HumanMessage(str(message.content)))
        else:
            sent.append(message)
    if not sent or not isinstance(sent[0], SystemMessage):
        sent.insert(0, SystemMessage(guide.strip()))
    return sent


def _sendable(call: Mapping[str, Any]) -> bool:
    """Whether an invalid call can go back to a provider as a tool call: it names a tool and its
    arguments are a JSON object."""
    name, args = call.get("name"), call.get("args")
    if not isinstance(name, str) or not name.strip():
        return False
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            return False
    return isinstance(args, dict)


def _as_written(call: Mapping[str, Any]) -> str:
    """A call that cannot go back as a tool call, as the text the model sent."""
    return f'{{"name": {json.dumps(call.get("name"))}, "arguments": {call.get("args") or "{}"}}}'


def provider_messages(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """The conversation as a provider is sent it with native tools. An invalid call with no tool
    name, or whose arguments are not a JSON object, is no tool call there (llama.cpp's server
    answers HTTP 500 to a call named null): it stays in the assistant's message as text — the
    reply's own words, else the call as it was sent — and its correction becomes a user message
    after the results of that message's other calls. Every other message is sent as it is."""
    sent: list[BaseMessage] = []
    as_text: set[str] = set()  # ids of the calls kept as text
    held: list[str] = []  # their corrections, sent after the tool results that follow the reply
    for message in messages:
        if isinstance(message, ToolMessage) and message.tool_call_id in as_text:
            held.append(str(message.content))
            continue
        if held and not isinstance(message, ToolMessage):
            sent.append(HumanMessage("\n\n".join(held)))
            held = []
        if isinstance(message, AIMessage) and not all(_sendable(c) for c in message.invalid_tool_calls):
            text = [c for c in message.invalid_tool_calls if not _sendable(c)]
            as_text.update(str(c.get("id")) for c in text)
            words = message.content or "\n".join(_as_written(c) for c in text)
            kept = [c for c in message.invalid_tool_calls if _sendable(c)]
            message = message.model_copy(update={"content": words, "invalid_tool_calls": kept})
        sent.append(message)
    if held:
        sent.append(HumanMessage("\n\n".join(held)))
    return sent


# Where a provider's exceptions come from: its client library, its HTTP stack, the network.
_PROVIDER_MODULES = frozenset(
    {
        "openai",
        "anthropic",
        "google",
        "grpc",
        "ollama",
        "httpx",
        "httpcore",
        "requests",
        "urllib3",
        "aiohttp",
        "langchain_openai",
        "langchain_anthropic",
        "langchain_google_genai",
        "langchain_ollama",
    }
)


def _chain(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found and len(found) < 12:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def _status(exc: BaseException) -> int | None:
    for value in (getattr(exc, "status_code", None), getattr(getattr(exc, "response", None), "status_code", None)):
        if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
            return value
    code = getattr(exc, "code", None)  # google.api_core errors: the HTTP status
    if type(exc).__module__.startswith("google") and isinstance(code, int) and 100 <= code <= 599:
        return code
    return None


def _where(spec: str) -> str:
    kind, _, name = split_spec(spec)[0].partition(":")
    if kind == "openai-compatible":
        return f"openai-compatible at {name.partition('@')[2]}"
    return f"{kind} ({name})" if name else kind


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] + ("…" if len(text) > 160 else "")


def provider_failure(spec: str, exc: BaseException, timeout_s: float | None = None) -> ModelProviderError | None:
    """``exc`` from a model call as the provider's failure, in one line; None when it is not one
    (an error of adpilot's own, which stays what it is)."""
    chain = _chain(exc)
    status = next((code for e in chain if (code := _status(e)) is not None), None)
    ours = status is not None or any(
        type(e).__module__.split(".")[0] in _PROVIDER_MODULES or isinstance(e, OSError | TimeoutError) for e in chain
    )
    if not ours:
        return None
    names = " ".join(type(e).__name__ for e in chain)
    key = _PROVIDERS.get(split_spec(spec)[0].partition(":")[0], (None, None, None, None))[2]
    if status in (401, 403):
        why = f"refused the credentials (HTTP {status})" + (f": check {key}" if key else "")
    elif status == 404:
        why = "does not know the model or the endpoint (HTTP 404)"
    elif status == 429:
        why = "is rate-limiting the requests (HTTP 429), also after the retries (models.max_retries)"
    elif status is not None and status >= 500:
        why = f"failed with HTTP {status}"
    elif status is not None:
        why = f"refused the request (HTTP {status}: {_short(exc)})"
    elif any(isinstance(e, ConnectionRefusedError) for e in chain):
        why = "is unreachable (connection refused)"
    elif any(isinstance(e, socket.gaierror) for e in chain):
        why = "is unreachable (its host name does not resolve)"
    elif "Timeout" in names or any(isinstance(e, TimeoutError) for e in chain):
        why = f"did not answer within {timeout_s:g} s (models.timeout_s)" if timeout_s else "timed out"
    elif "Connect" in names:
        why = f"is unreachable ({_short(exc)})"
    else:
        why = f"failed ({type(exc).__name__}: {_short(exc)})"
    return ModelProviderError(f"the model provider failed: {_where(spec)} {why}")


def load_script(path: Path) -> dict[str, list[dict[str, Any]]]:
    try:
        data, locator = load_yaml(path)
    except SourceError as exc:
        raise ConfigError(str(exc)) from exc
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ConfigError(f"{path}: a script maps agent names to lists of turns")
    for agent, turns in data.items():
        for index, turn in enumerate(turns):
            if not isinstance(turn, dict) or not set(turn) <= {"tool_calls", "content", "usage"}:
                line = locator.line([agent, index])
                raise ConfigError(
                    f"{path}:{line}: turn {index} of {agent} must have tool_calls and/or content (and optionally usage)"
                )
            usage = turn.get("usage")
            if usage is not None and not _valid_usage(usage):
                line = locator.line([agent, index, "usage"])
                raise ConfigError(
                    f"{path}:{line}: usage of turn {index} of {agent} must be "
                    "{input_tokens: N, output_tokens: N} with whole numbers >= 0"
                )
    return data


def _valid_usage(usage: Any) -> bool:
    return (
        isinstance(usage, dict)
        and set(usage) <= {"input_tokens", "output_tokens"}
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in usage.values())
    )


@dataclass(frozen=True)
class Price:
    """A model's price per token in pico-dollars (10^-12 USD), so that every cost is a whole number."""

    input_pico_per_token: int = 0
    output_pico_per_token: int = 0

    @classmethod
    def per_million(cls, input_usd: Decimal, output_usd: Decimal) -> Price:
        # USD per 10^6 tokens = 10^6 pico-dollars per token per USD; exact for up to 6 decimal places.
        scaled = (Decimal(input_usd) * 1_000_000, Decimal(output_usd) * 1_000_000)
        if any(value != value.to_integral_value() for value in scaled):
            raise ConfigError("a model price has at most 6 decimal places (USD per million tokens)")
        return cls(int(scaled[0]), int(scaled[1]))

    def usage(self, reply: AIMessage) -> dict[str, int]:
        """The state update for one reply: its tokens and their exact cost (none reported: 0)."""
        usage = reply.usage_metadata
        if not usage:
            return {"tokens": 0, "cost_pico_usd": 0}
        tokens_in, tokens_out = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
        total = int(usage.get("total_tokens") or 0) or tokens_in + tokens_out
        cost = tokens_in * self.input_pico_per_token + tokens_out * self.output_pico_per_token
        return {"tokens": total, "cost_pico_usd": cost}


FREE = Price()


def price_for(spec: str, prices: Mapping[str, Any]) -> Price:
    """The price of a model spec from the configuration's ``prices`` (spec, else ``KIND:*``).

    ``none`` uses no model and costs nothing; any other spec without a price is a ConfigError
    naming the key to add.
    """
    if spec in ("none", ""):
        return FREE
    spec = split_spec(spec)[0]
    key = "scripted" if spec == "scripted" or spec.startswith("scripted:") else spec
    kind = key.partition(":")[0]
    entry = prices.get(key) or prices.get(f"{kind}:*")
    if entry is None:
        raise ConfigError(
            f"model {spec!r} has no price, so its cost cannot count against runs.max_cost_usd: add "
            f'prices: {{"{key}": {{input_per_mtok_usd: "…", output_per_mtok_usd: "…"}}}} to the configuration'
        )
    return Price.per_million(entry.input_per_mtok_usd, entry.output_per_mtok_usd)


_PROVIDERS = {
    "openai": ("langchain_openai", "ChatOpenAI", "OPENAI_API_KEY", "openai"),
    "anthropic": ("langchain_anthropic", "ChatAnthropic", "ANTHROPIC_API_KEY", "anthropic"),
    "google": ("langchain_google_genai", "ChatGoogleGenerativeAI", "GOOGLE_API_KEY", "google"),
    "ollama": ("langchain_ollama", "ChatOllama", None, "ollama"),
}


def build_provider(
    spec: str,
    *,
    scripts: Mapping[str, list[dict[str, Any]]] | None = None,
    environ: Mapping[str, str] | None = None,
    options: ModelsConfig | None = None,
) -> ModelProvider:
    """The provider for a ``model`` setting; ``scripts`` supplies an in-memory script; ``options``:
    the configuration's ``models`` section (time limit, retries, tool mode; defaults without it)."""
    from adpilot.config import ModelsConfig

    environ = os.environ if environ is None else environ
    options = options or ModelsConfig()
    if spec in ("none", ""):
        return ModelProvider("none")
    base, suffix = split_spec(spec)
    mode = suffix or options.tool_mode
    kind, _, name = base.partition(":")
    if mode == "json_schema" and kind not in ("openai", "openai-compatible", "ollama", "scripted"):
        raise ConfigError(
            f"model {spec!r}: the json_schema tool mode needs openai, openai-compatible or ollama; "
            "use native or text for this provider"
        )
    if mode == "json_object" and kind not in ("openai-compatible", "ollama", "scripted"):
        raise ConfigError(
            f"model {spec!r}: the json_object tool mode needs an openai-compatible server (llama-cpp-python) "
            "or ollama; use native, text or json_schema for this provider"
        )
    timing = {"timeout": options.timeout_s, "max_retries": options.max_retries}
    if base == "scripted" or kind == "scripted":
        if scripts is None:
            if not name:
                raise ConfigError("model 'scripted' needs a script: scripted:FILE (or a scenario's script)")
            scripts = load_script(Path(name))
        return ModelProvider("scripted", scripts=scripts, tool_mode=mode)
    if kind == "openai-compatible":
        model_name, _, url = name.partition("@")
        if not model_name or not url:
            raise ConfigError(f"model {spec!r}: expected openai-compatible:MODEL@URL")
        cls = _openai_compatible()
        key = environ.get("OPENAI_API_KEY", "not-needed")
        model = cls(model=model_name, base_url=url, api_key=key, temperature=0, **timing)
        return ModelProvider(spec, model=model, tool_mode=mode, timeout_s=options.timeout_s)
    if kind not in _PROVIDERS or not name:
        raise ConfigError(
            f"model {spec!r} is not a model spec; use none, scripted:FILE, openai:MODEL, anthropic:MODEL, "
            "google:MODEL, ollama:MODEL or openai-compatible:MODEL@URL (optionally with #text, #json_schema or "
            "#json_object)"
        )
    module, class_name, key_name, extra = _PROVIDERS[kind]
    if key_name is not None and not environ.get(key_name):
        raise ConfigError(f"model {spec!r} needs the environment variable {key_name}")
    cls = _import(module, class_name, extra)
    if kind == "ollama":  # its client takes a time limit and retries nothing
        model = cls(model=name, temperature=0, client_kwargs={"timeout": options.timeout_s})
    else:
        model = cls(model=name, temperature=0, **timing)
    return ModelProvider(spec, model=model, tool_mode=mode, timeout_s=options.timeout_s)


def _import(module: str, class_name: str, extra: str) -> Any:
    try:
        return getattr(__import__(module, fromlist=[class_name]), class_name)
    except ImportError as exc:
        raise ConfigError(f"this model needs the optional extra: pip install 'adpilot[{extra}]'") from exc


@functools.cache
def _openai_compatible() -> Any:
    """langchain-openai's ChatOpenAI for OpenAI-compatible servers: an assistant message with tool
    calls and no words is sent with ``content: ""`` (ChatOpenAI sends ``null``, which llama.cpp's
    server answers with HTTP 500)."""
    base = _import("langchain_openai", "ChatOpenAI", "openai")

    class ChatOpenAICompatible(base):  # type: ignore[misc,valid-type]
        def _get_request_payload(self, input_: Any, *, stop: list[str] | None = None, **kwargs: Any) -> dict[str, Any]:
            payload: dict[str, Any] = super()._get_request_payload(input_, stop=stop, **kwargs)
            for message in payload.get("messages", []):
                if message.get("role") == "assistant" and message.get("content") is None:
                    message["content"] = ""
            return payload

    return ChatOpenAICompatible
