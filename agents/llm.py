"""Chat models from a spec string: ``none``, ``scripted:FILE``, and real providers.

    none                         skills only, no model (the default)
    scripted:FILE                turns per agent from a YAML/JSON file (tests and evals)
    openai:MODEL                 langchain-openai      (OPENAI_API_KEY)
    anthropic:MODEL              langchain-anthropic   (ANTHROPIC_API_KEY)
    google:MODEL                 langchain-google-genai (GOOGLE_API_KEY)
    ollama:MODEL                 langchain-ollama      (a local Ollama; OLLAMA_HOST optional)
    openai-compatible:MODEL@URL  langchain-openai against vLLM, llama.cpp server, LM Studio

Provider packages are optional extras (``pip install 'adpilot[openai]'`` …); a missing
package or key is a configuration error that names the fix. Temperature is 0 everywhere.

The scripted model is a real langchain-core chat model: each agent consumes its own list of
turns in order. Its position is passed in from the graph state, so a node that re-runs after
a crash replays exactly the same turns.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from adpilot.errors import ConfigError, SourceError
from adpilot.sources import load_yaml

FINAL_WHEN_EMPTY = "Nothing further to do."


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


class ModelProvider:
    """Hands each agent its chat model; ``None`` means skills only."""

    def __init__(
        self,
        spec: str,
        *,
        model: BaseChatModel | None = None,
        scripts: Mapping[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        self.spec = spec
        self._model = model
        self._scripts = dict(scripts or {})

    @property
    def enabled(self) -> bool:
        return self._model is not None or self.spec.startswith("scripted")

    @property
    def scripted(self) -> bool:
        return self.spec.startswith("scripted")

    def for_agent(self, agent: str, offset: int = 0) -> BaseChatModel | None:
        if self.scripted:
            return ScriptedChatModel(turns=list(self._scripts.get(agent, [])), offset=offset)
        return self._model


def load_script(path: Path) -> dict[str, list[dict[str, Any]]]:
    try:
        data, locator = load_yaml(path)
    except SourceError as exc:
        raise ConfigError(str(exc)) from exc
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ConfigError(f"{path}: a script maps agent names to lists of turns")
    for agent, turns in data.items():
        for index, turn in enumerate(turns):
            if not isinstance(turn, dict) or not set(turn) <= {"tool_calls", "content"}:
                line = locator.line([agent, index])
                raise ConfigError(f"{path}:{line}: turn {index} of {agent} must have tool_calls and/or content")
    return data


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
) -> ModelProvider:
    """The provider for a ``model`` setting; ``scripts`` supplies an in-memory script."""
    environ = os.environ if environ is None else environ
    if spec in ("none", ""):
        return ModelProvider("none")
    if spec == "scripted" or spec.startswith("scripted:"):
        if scripts is None:
            _, _, file = spec.partition(":")
            if not file:
                raise ConfigError("model 'scripted' needs a script: scripted:FILE (or a scenario's script)")
            scripts = load_script(Path(file))
        return ModelProvider("scripted", scripts=scripts)
    kind, _, name = spec.partition(":")
    if kind == "openai-compatible":
        model_name, _, url = name.partition("@")
        if not model_name or not url:
            raise ConfigError(f"model {spec!r}: expected openai-compatible:MODEL@URL")
        cls = _import("langchain_openai", "ChatOpenAI", "openai")
        model = cls(model=model_name, base_url=url, api_key=environ.get("OPENAI_API_KEY", "not-needed"), temperature=0)
        return ModelProvider(spec, model=model)
    if kind not in _PROVIDERS or not name:
        raise ConfigError(
            f"model {spec!r} is not a model spec; use none, scripted:FILE, openai:MODEL, anthropic:MODEL, "
            "google:MODEL, ollama:MODEL or openai-compatible:MODEL@URL"
        )
    module, class_name, key, extra = _PROVIDERS[kind]
    if key is not None and not environ.get(key):
        raise ConfigError(f"model {spec!r} needs the environment variable {key}")
    cls = _import(module, class_name, extra)
    return ModelProvider(spec, model=cls(model=name, temperature=0))


def _import(module: str, class_name: str, extra: str) -> Any:
    try:
        return getattr(__import__(module, fromlist=[class_name]), class_name)
    except ImportError as exc:
        raise ConfigError(f"this model needs the optional extra: pip install 'adpilot[{extra}]'") from exc
