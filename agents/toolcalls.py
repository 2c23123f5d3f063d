"""Tool calls as models really send them: native calls, and calls written into the reply's text.

Small local models often write their calls as content — ``<tool_call>`` tags, fenced ```json
blocks, bare JSON objects or arrays, doubled braces ``{{…}}}``, prose after the JSON — in any of
the shapes ``{"name", "arguments"}``, ``{"name", "args"}``, ``{"name", "parameters"}`` or
``{"function": {"name", "arguments": "<JSON text>"}}``, one call or several. :func:`read_reply`
turns such a reply into calls, and then judges every call, native or written, against the
tool's strict argument model (the governed tools' ``args`` models, the transfer tools' own):

- a valid call is planned as it was sent (the Guard validates it once more, and decides);
- an unknown tool, arguments that are no JSON (``55 * 1000000``, comments), a placeholder
  (``"your_budget_id"``), a missing or an extra field is an :class:`InvalidCall` whose ``error``
  names the tool, the field, what is expected and the valid tool names — it goes back to the
  model as the call's result and is audited, never shown to the operator as an answer;
- a reply that looks like a call (it starts with ``{``, ``[``, a fence or ``<tool_call>``, or
  holds ``"name":``) but yields no call is an invalid call too;
- plain prose is the answer.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adpilot.tools.audit import canonical
from adpilot.tools.guard import call_hash

if TYPE_CHECKING:
    from adpilot.agents.state import Outcome
    from adpilot.tools.guard import Guard


@dataclass(frozen=True)
class ToolDef:
    """A tool a model may call: its name, what it does, and its strict argument model;
    ``parameters``, when given, is the JSON schema the model is shown instead of the model's own
    (the same fields, narrowed to the run's values: :func:`adpilot.agents.loop.narrowed`)."""

    name: str
    description: str
    args: type[BaseModel]
    parameters: dict[str, Any] | None = None

    def schema(self) -> dict[str, Any]:
        """The tool in OpenAI function format (what every langchain provider binds)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters or self.args.model_json_schema(),
            },
        }


class TransferArgs(BaseModel):
    """The arguments of a transfer tool: the task for the specialist."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    task: str = Field(..., min_length=1, description="what the agent should do")


@dataclass(frozen=True)
class InvalidCall:
    """A call that cannot be carried out: ``error`` is the correction the model is sent."""

    id: str
    name: str | None
    args: Any  # as written: a JSON value, or the text that did not parse
    error: str

    def entry(self) -> dict[str, Any]:
        """The call as an AIMessage's ``invalid_tool_calls`` entry (its arguments as text)."""
        args = self.args if isinstance(self.args, str) else json.dumps(self.args, ensure_ascii=False, default=str)
        return {"type": "invalid_tool_call", "id": self.id, "name": self.name, "args": args, "error": self.error}


def with_calls(reply: AIMessage, calls: list[dict[str, Any]], invalid: Sequence[Mapping[str, Any]]) -> AIMessage:
    """``reply`` carrying ``calls`` ({id, name, args}) and ``invalid`` entries in place of its own
    calls; its words, usage, metadata and id are kept."""
    return AIMessage(
        content=reply.content,
        tool_calls=[{"type": "tool_call", **c} for c in calls],
        invalid_tool_calls=[dict(i) for i in invalid],
        usage_metadata=reply.usage_metadata,
        response_metadata=reply.response_metadata,
        id=reply.id,
    )


@dataclass(frozen=True)
class Turn:
    """A model's reply, read: valid ``calls`` ({id, name, args}), ``invalid`` ones, or its ``answer``.

    ``message`` is the reply as it goes into the conversation: every call, written or native,
    valid or not, as a tool call with an id, so that each gets its result message (a provider is
    sent a call with no tool name or unparsable arguments as text: ``llm.provider_messages``)."""

    message: AIMessage
    calls: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[InvalidCall] = field(default_factory=list)
    answer: str | None = None


@dataclass(frozen=True)
class _Written:
    name: str | None
    args: Any
    error: str | None = None


_TAG = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_FENCE = re.compile(r"```[A-Za-z0-9_+-]*[ \t]*\n?(.*?)(?:```|$)", re.S)
_OPENING = re.compile(r"[\[{]")
_LOOKS_LIKE_A_CALL = re.compile(r'\A\s*(?:\{|\[|```|<tool_call>)|"name"\s*:')
_NAMED = re.compile(r'"name"\s*:\s*"([^"]{1,80})"')
_ARGUMENT_KEYS = ("arguments", "args", "parameters", "input")
_WRAPPER_KEYS = frozenset({"id", "type", "name", "function", *_ARGUMENT_KEYS})
_DECODER = json.JSONDecoder()
_PLACEHOLDER = re.compile(
    r"\A(?:<[^<>]+>|\{[^{}]*\}|\[[^\[\]]*\]|(?:your|example|sample|placeholder|insert|replace)[_-]\w*"
    r"|(?:[a-z]+_)*id|x{3,}|\.{3}|…)\Z",
    re.IGNORECASE,
)


def looks_like_a_call(text: str) -> bool:
    """Whether a reply's text reads as an attempt at a tool call rather than prose."""
    return bool(_LOOKS_LIKE_A_CALL.search(text))


def _json_problem(exc: json.JSONDecodeError, start: int) -> str:
    """A JSON error as a correction (``start``: where the value began in ``exc.doc``)."""
    at = exc.doc[exc.pos : exc.pos + 2]
    if at.startswith(("//", "/*", "#")):
        return "JSON has no comments: leave them out"
    if at[:1] in "*+/-" and at:
        return "JSON has no arithmetic (such as 55 * 1000000): write the result as one number"
    if at.startswith("'"):
        return "JSON strings take double quotes"
    return f"it is not valid JSON ({exc.msg} at character {exc.pos - start})"


def _scan(text: str) -> tuple[list[Any], list[str]]:
    """The JSON values in ``text`` from left to right, and one problem per stretch that did not
    parse (text around and between the values is skipped; a stray brace before a value too)."""
    values: list[Any] = []
    problems: list[str] = []
    failed: str | None = None  # the first problem of the stretch since the last value
    failed_at = 0
    position = 0
    while (found := _OPENING.search(text, position)) is not None:
        start = found.start()
        try:
            value, end = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            if failed is None:
                failed, failed_at = _json_problem(exc, start), start
            position = start + 1
            continue
        if failed is not None and text[failed_at:start].strip("{[ \t\r\n"):
            problems.append(failed)  # more than stray braces before this value did not parse
        failed = None
        values.append(value)
        position = end
    if failed is not None:
        problems.append(failed)
    return values, problems


def _undoubled(text: str) -> str:
    return text.replace("{{", "{").replace("}}", "}")


def _values(snippet: str) -> tuple[list[Any], list[str]]:
    """The JSON values of one snippet; doubled braces (``{{…}}``) are read as single ones when the
    snippet does not parse as it is."""
    values, problems = _scan(snippet)
    if (problems or not any(_shaped(v) for v in values)) and ("{{" in snippet or "}}" in snippet):
        again, later = _scan(_undoubled(snippet))
        if any(_shaped(v) for v in again) and len(later) <= len(problems):
            return again, later
    return values, problems


def json_values(text: str) -> list[Any]:
    """The JSON values written in ``text``: inside fences or tags, else the text itself, read as
    tolerantly as calls are (doubled braces, prose around them)."""
    snippets = [m.group(1) for m in _TAG.finditer(text)] or [m.group(1) for m in _FENCE.finditer(text)] or [text]
    return [value for snippet in snippets for value in _values(snippet)[0]]


def _shaped(value: Any) -> bool:
    """Whether a JSON value has the shape of one or more calls."""
    if isinstance(value, list):
        return bool(value) and all(_shaped(v) for v in value)
    if not isinstance(value, dict):
        return False
    if isinstance(value.get("tool_calls"), list):
        return True
    return isinstance(value.get("function"), dict) or isinstance(value.get("name"), str)


def _arguments(raw: Any) -> tuple[Any, str | None]:
    if not isinstance(raw, str):
        return raw, None
    values, problems = _values(raw)
    if len(values) == 1 and not problems and raw.strip().startswith(("{", "[")):
        return values[0], None
    return raw, problems[0] if problems else "the arguments are not one JSON object"


def _calls(value: Any) -> list[_Written]:
    """The calls a JSON value writes (a list, ``{"tool_calls": […]}``, or one call's shape)."""
    if isinstance(value, list):
        return [call for item in value for call in _calls(item)]
    if not isinstance(value, dict):
        return [_Written(None, value, 'this is not a call: write {"name": TOOL, "arguments": {…}}')]
    if isinstance(value.get("tool_calls"), list):
        return _calls(value["tool_calls"])
    function = value.get("function")
    holder = function if isinstance(function, dict) else value
    name = holder.get("name")
    key = next((k for k in _ARGUMENT_KEYS if k in holder), None)
    # No arguments key: the arguments written beside the name.
    raw = holder[key] if key is not None else {k: v for k, v in holder.items() if k not in _WRAPPER_KEYS}
    args, problem = _arguments(raw)
    if not isinstance(name, str) or not name:
        return [_Written(None, args, 'the call has no tool name: write {"name": TOOL, "arguments": {…}}')]
    return [_Written(name, args, f"{name}: {problem}" if problem else None)]


def written_calls(text: str) -> tuple[list[_Written], bool]:
    """The calls written in a reply's text, and whether the text is a call attempt at all
    (False: it is prose, an answer)."""
    snippets = [m.group(1) for m in _TAG.finditer(text)] or [m.group(1) for m in _FENCE.finditer(text)] or [text]
    calls: list[_Written] = []
    failed: list[_Written] = []
    for snippet in snippets:
        values, problems = _values(snippet)
        named = _NAMED.search(snippet)
        name = named.group(1) if named else None
        for problem in problems:
            failed.append(_Written(name, snippet.strip(), f"{name or 'the call'} does not parse: {problem}"))
        for value in values:
            if _shaped(value) or looks_like_a_call(text):
                calls.extend(_calls(value))
    if not calls and not looks_like_a_call(text):
        return [], False
    calls += failed
    if not calls:
        calls.append(_Written(None, text.strip(), "the reply looks like a tool call but holds none"))
    return calls, True


def _placeholder(value: Any, path: str = "") -> tuple[str, str] | None:
    if isinstance(value, str):
        return (path, value) if _PLACEHOLDER.match(value.strip()) else None
    items: Iterable[tuple[Any, Any]] = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    )
    for key, item in items:
        found = _placeholder(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def _expected(model: type[BaseModel], name: str) -> str:
    schema = model.model_json_schema().get("properties", {}).get(name, {})
    if schema.get("description"):
        return str(schema["description"])
    if schema.get("enum"):
        return "one of " + ", ".join(map(str, schema["enum"]))
    kinds = [s.get("type") for s in schema.get("anyOf", [schema]) if s.get("type") not in (None, "null")]
    pattern = next((s.get("pattern") for s in schema.get("anyOf", [schema]) if s.get("pattern")), None)
    return " or ".join(map(str, kinds)) + (f" matching {pattern}" if pattern else "") or "a value"


def _fields(model: type[BaseModel]) -> str:
    required = {n for n, f in model.model_fields.items() if f.is_required()}
    return ", ".join(f"{n}{'' if n in required else ' (optional)'}" for n in model.model_fields)


def validate(name: str | None, args: Any, tools: Mapping[str, ToolDef]) -> str | None:
    """What is wrong with a call (None: nothing): the tool, the field, what is expected."""
    known = ", ".join(tools)
    if name is None or name not in tools:
        close = difflib.get_close_matches(str(name), list(tools), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"there is no tool {name!r}{hint}; your tools are: {known}"
    model = tools[name].args
    if not isinstance(args, dict):
        return f"{name}: the arguments must be one JSON object with its fields: {_fields(model)}"
    found = _placeholder(args)
    if found is not None:
        where, value = found
        return (
            f"{name}: {where} is {value!r}, a placeholder: give a real value from the run's data "
            "(read it with a tool first)"
        )
    try:
        model.model_validate(args)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            where = ".".join(str(p) for p in error["loc"]) or "arguments"
            top = str(error["loc"][0]) if error["loc"] else ""
            if error["type"] == "missing":
                problems.append(f"{where} is missing (expected: {_expected(model, top)})")
            elif error["type"] == "extra_forbidden":
                problems.append(f"{where} is not an argument of {name}")
            else:
                problems.append(f"{where}: {error['msg']} (expected: {_expected(model, top)})")
        return f"{name}: {'; '.join(problems)}; its arguments are: {_fields(model)}"
    return None


def _json_answer(text: str) -> str | None:
    """The answer of a reply written as ``{"tool_calls": [], "answer": "…"}`` (the json_schema
    mode's form of "done"); None for any other text."""
    values, problems = _scan(text.strip()) if text.strip().startswith("{") else ([], [])
    if problems or len(values) != 1 or not isinstance(values[0], dict):
        return None
    value = values[0]
    if isinstance(value.get("answer"), str) and not value.get("tool_calls") and set(value) <= {"answer", "tool_calls"}:
        return str(value["answer"])
    return None


def read_reply(reply: AIMessage, tools: Sequence[ToolDef], prefix: str) -> Turn:
    """``reply`` read and judged against ``tools``; ``prefix`` makes the ids of written calls
    unique in the conversation (the turn's number, say)."""
    by_name = {tool.name: tool for tool in tools}
    written: list[_Written] = []
    native = list(reply.tool_calls)
    broken = list(reply.invalid_tool_calls)
    text = reply.content if isinstance(reply.content, str) else ""
    if not native and not broken:
        answered = _json_answer(text)
        if answered is not None:
            return Turn(message=reply, answer=answered)
        written, attempted = written_calls(text)
        if not attempted:
            return Turn(message=reply, answer=text)
    calls: list[dict[str, Any]] = []
    invalid: list[InvalidCall] = []
    ids = iter(range(len(native) + len(broken) + len(written)))
    for call in native:
        call_id = call.get("id") or f"{prefix}-{next(ids)}"
        problem = validate(call["name"], call["args"], by_name)
        if problem is None:
            calls.append({"id": call_id, "name": call["name"], "args": call["args"]})
        else:
            invalid.append(InvalidCall(call_id, call["name"], call["args"], problem))
    for bad in broken:
        call_id = bad.get("id") or f"{prefix}-{next(ids)}"
        error = f"{bad.get('name')}: the arguments are not valid JSON ({bad.get('error') or 'malformed'})"
        invalid.append(InvalidCall(call_id, bad.get("name"), bad.get("args"), error))
    for item in written:
        call_id = f"{prefix}-{next(ids)}"
        problem = item.error or validate(item.name, item.args, by_name)
        if problem is None and item.name is not None:
            calls.append({"id": call_id, "name": item.name, "args": item.args})
        else:
            invalid.append(InvalidCall(call_id, item.name, item.args, str(problem)))
    conversed = with_calls(reply, calls, [i.entry() for i in invalid])
    return Turn(message=conversed, calls=calls, invalid=invalid)


def correction(invalid: InvalidCall) -> str:
    """What the model is told about an invalid call, as the call's result."""
    return json.dumps(
        {
            "ok": False,
            "error": {
                "type": "invalid_call",
                "message": f"invalid call, nothing was done: {invalid.error}. Call again with valid arguments, "
                "or answer the operator if you cannot.",
                "name": invalid.name,
            },
        },
        ensure_ascii=False,
    )


def signature(name: Any, args: Any) -> str:
    """A call's identity for spotting repeats: the tool and its arguments, canonically."""
    return f"{name}\n{canonical(args)}"


def earlier_calls(messages: Iterable[Any]) -> set[str]:
    """The signatures of the valid calls in earlier replies of a conversation."""
    return {
        signature(call["name"], call["args"])
        for message in messages
        if isinstance(message, AIMessage)
        for call in message.tool_calls
    }


def _written(args: Any) -> Any:
    """An invalid call's arguments as JSON when they are JSON text (how a conversation keeps them)."""
    if isinstance(args, str):
        try:
            return json.loads(args)
        except json.JSONDecodeError:
            return args
    return args


def earlier_invalid(messages: Iterable[Any]) -> set[str]:
    """The signatures of the invalid calls in earlier replies of a conversation."""
    return {
        signature(call.get("name"), _written(call.get("args")))
        for message in messages
        if isinstance(message, AIMessage)
        for call in message.invalid_tool_calls
    }


def repeated_invalid(read: Turn, earlier: set[str]) -> InvalidCall | None:
    """The first invalid call of ``read`` that an earlier reply already made, word for word: a
    model that repeats a refused call after its correction will not fix it by being asked again."""
    return next((i for i in read.invalid if signature(i.name, _written(i.args)) in earlier), None)


INVALID_RULE = "tool.invalid_call"


def record_invalid(guard: Guard, role: str, task_id: str, key: str, invalid: InvalidCall) -> Outcome:
    """Audit an invalid call (a ``deny`` decision under the rule ``tool.invalid_call``: the agent,
    the tool as named, what it wrote, the error) and return it as the task's outcome. ``key``
    identifies the call in the run: a node replayed after a crash audits it once."""
    tool = invalid.name or "(no tool name)"
    args = invalid.args if isinstance(invalid.args, dict) else {"_raw": invalid.args}
    digest = call_hash(tool, args)
    idempotency = f"{guard.run.thread_id}:invalid:{key}"
    earlier = guard.audit.records(thread_id=guard.run.thread_id, kind="decision", idempotency_key=idempotency)
    if earlier:
        seq = earlier[0].seq
    else:
        (row,) = guard.audit.append_many(
            [
                {
                    "kind": "decision",
                    "run_id": guard.run.run_id,
                    "thread_id": guard.run.thread_id,
                    "actor": guard.run.actor,
                    "role": role,
                    "tool": tool,
                    "args": args,
                    "call_hash": digest,
                    "policy_hash": guard.policy_hash,
                    "decision": "deny",
                    "rule": INVALID_RULE,
                    "reason": invalid.error,
                    "idempotency_key": idempotency,
                }
            ]
        )
        seq = row
    return {
        "proposal_id": key,
        "task_id": task_id,
        "role": role,
        "tool": tool,
        "args": args,
        "rationale": f"{role} agent",
        "decision": "deny",
        "ok": False,
        "error": {"type": "invalid_call", "message": invalid.error, "rule": INVALID_RULE},
        "data": None,
        "audit_seq": seq,
        "call_hash": digest,
        "account": None,
    }


def stopped_by_model(failed: Exception) -> dict[str, Any]:
    """The state update of a node whose model provider failed: the run stops with ``model``."""
    return {"planned": [], "stop_reason": "model", "answer": str(failed), "notes": [str(failed)]}
