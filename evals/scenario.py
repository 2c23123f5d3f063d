"""Eval scenarios (SCENARIOS.md §4): the YAML format, validated, with errors that name file and line.

One file holds one scenario or a list of them. Unknown fields and unknown checks are errors —
a scenario that does not parse can never count as passed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from adpilot.config import ModelPrice
from adpilot.errors import SourceError
from adpilot.sources import Locator, load_yaml, validation_problems

CHECKS = (
    "state",
    "unchanged",
    "called",
    "not_called",
    "escalated",
    "denied",
    "audit",
    "stop_reason",
    "answer_contains",
    "trajectory",
    "gold",
    "max_tool_calls",
)
STATE_OPS = ("equals", "not_equals", "lt", "lte", "gt", "gte", "in", "contains", "not_contains", "exists")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorldSpec(_Strict):
    seed: int = 7
    patch: dict[str, Any] = Field(default_factory=dict)
    faults: dict[str, dict[str, Any]] = Field(default_factory=dict)


class Trigger(_Strict):
    kind: Literal["chat", "maintenance"]
    text: str = ""
    accounts: list[str] | None = None

    @model_validator(mode="after")
    def _chat_has_text(self) -> Trigger:
        if self.kind == "chat" and not self.text.strip():
            raise ValueError("a chat trigger needs text")
        return self


class ToolCall(_Strict):
    name: Any = None
    args: Any = None
    id: str | None = None


class Usage(_Strict):
    """The token usage a provider would report for a turn (priced by the scenario's ``prices``)."""

    input_tokens: int = Field(0, ge=0)
    output_tokens: int = Field(0, ge=0)


class Turn(_Strict):
    tool_calls: list[ToolCall] = Field(default_factory=list)
    content: str | None = None
    usage: Usage | None = None


class ApprovalRule(_Strict):
    match: dict[str, Any] | None = None  # {tool, args?} — args match as a subset
    decision: Literal["approve", "reject", "edit"]
    args: dict[str, Any] | None = None  # edit: the changed arguments, merged into the call's
    approver: str = Field("eval operator", min_length=1)  # who decides (four-eyes rules count people)
    reason: str = ""
    times: int | None = Field(None, ge=1)  # decides this many approvals, then the next matching rule does

    @model_validator(mode="after")
    def _edit_has_args(self) -> ApprovalRule:
        if self.decision == "edit" and not self.args:
            raise ValueError("decision: edit needs args (the arguments to change)")
        if self.decision != "edit" and self.args is not None:
            raise ValueError("args belong to decision: edit")
        return self


class Crash(_Strict):
    """Kill the run once and resume it from the checkpointer: after N graph steps, or right after
    the N-th side effect landed on a platform (before its answer is recorded: kill -9 semantics)."""

    after_steps: int | None = Field(None, ge=1)
    after_executions: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _exactly_one(self) -> Crash:
        if (self.after_steps is None) == (self.after_executions is None):
            raise ValueError("crash takes exactly one of after_steps or after_executions")
        return self


class PolicySpec(_Strict):
    """Adjustments of the default policy pack for one scenario: dotted paths into policy.yaml."""

    patch: dict[str, Any] = Field(default_factory=dict)

    @field_validator("patch")
    @classmethod
    def _valid_policy(cls, patch: dict[str, Any]) -> dict[str, Any]:
        from adpilot.policies.model import Policy

        try:
            Policy.model_validate(patched_policy(patch))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'policy'}: {e['msg']}" for e in exc.errors(include_url=False)
            )
            raise ValueError(f"the patched default policy is invalid: {problems}") from None
        return patch


def patched_policy(patch: dict[str, Any]) -> dict[str, Any]:
    """The default pack's policy.yaml as data, with each ``dotted.path: value`` set (mappings on
    the way are created; a path through something that is not a mapping is an error)."""
    from adpilot.policies.loader import pack_path

    data, _ = load_yaml(pack_path("default"))
    for dotted, value in patch.items():
        keys = [key for key in str(dotted).split(".") if key]
        if not keys:
            raise ValueError(f"{dotted!r} is not a dotted path into the policy")
        node = data
        for depth, key in enumerate(keys[:-1]):
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ValueError(f"{dotted!r}: {'.'.join(keys[: depth + 1])} is not a mapping")
        node[keys[-1]] = value
    return dict(data)


class Limits(_Strict):
    max_steps: int | None = Field(None, ge=1)
    max_tool_errors: int | None = Field(None, ge=1)
    max_tokens: int | None = Field(None, ge=1)


class Scenario(_Strict):
    id: str = Field(..., pattern=r"^[a-z0-9][a-z0-9._-]*$")
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    world: WorldSpec = WorldSpec()
    trigger: Trigger
    model: str | None = None
    # extension: a model-driven scenario (evals/model/): no script, run only with a real model
    # (`adpilot eval --model SPEC`); with none, scripted or no model it is skipped, never passed.
    needs_model: bool = False
    skills: bool = True
    script: dict[str, list[Turn]] = Field(default_factory=dict)
    approvals: list[ApprovalRule] = Field(default_factory=list)
    crash: Crash | None = None
    kill_switch: bool = False
    dry_run: bool = False  # extension: run with the Guard in dry-run mode
    limits: Limits = Limits()  # extension: tighter stop limits for this scenario
    policy: PolicySpec = PolicySpec()
    # extension: model prices over the configuration's (e.g. {scripted: {input_per_mtok_usd: "3", …}})
    prices: dict[str, ModelPrice] = Field(default_factory=dict)
    expect: list[dict[str, Any]] = Field(..., min_length=1)
    source: str = Field("", exclude=True)
    line: int | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _model_driven_has_no_model(self) -> Scenario:
        if self.needs_model and (self.model is not None or self.script):
            raise ValueError("needs_model: true takes its model from --model: no model and no script")
        return self

    @field_validator("expect")
    @classmethod
    def _known_checks(cls, checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, check in enumerate(checks):
            if not isinstance(check, dict) or len(check) != 1:
                raise ValueError(f"expect[{index}] must be one check like {{state: {{...}}}}")
            (name,) = check
            if name not in CHECKS:
                raise ValueError(f"expect[{index}]: unknown check {name!r}; known checks: {', '.join(CHECKS)}")
            _validate_check(name, check[name], index)
        return checks

    def scripts(self) -> dict[str, list[dict[str, Any]]]:
        return {agent: [t.model_dump(exclude_none=True) for t in turns] for agent, turns in self.script.items()}


def _validate_check(name: str, value: Any, index: int) -> None:
    where = f"expect[{index}].{name}"
    if name == "state":
        if not isinstance(value, dict) or "path" not in value:
            raise ValueError(f"{where} needs a path and one of {', '.join(STATE_OPS)}")
        ops = [k for k in value if k != "path"]
        if len(ops) != 1 or ops[0] not in STATE_OPS:
            raise ValueError(f"{where} needs exactly one of {', '.join(STATE_OPS)}, got {ops}")
    elif name == "unchanged":
        if not isinstance(value, str):
            raise ValueError(f"{where} takes a dotted path ('' for the whole world)")
    elif name in ("called", "not_called"):
        if not isinstance(value, dict) or "tool" not in value or set(value) - {"tool", "args"}:
            raise ValueError(f"{where} takes {{tool, args?}}")
    elif name in ("escalated", "denied"):
        if not isinstance(value, dict) or "tool" not in value or set(value) - {"tool", "args", "rule"}:
            raise ValueError(f"{where} takes {{tool, args?, rule?}}")
    elif name == "audit":
        if not isinstance(value, dict) or set(value) - {"tool", "args", "executed"} or "executed" not in value:
            raise ValueError(f"{where} takes {{tool, args?, executed: N}}")
    elif name == "stop_reason":
        if value not in (None, "kill_switch", "max_steps", "budget", "error_budget", "anomaly"):
            raise ValueError(f"{where} must be null, kill_switch, max_steps, budget, error_budget or anomaly")
    elif name == "answer_contains":
        if not isinstance(value, str):
            raise ValueError(f"{where} takes text")
    elif name == "trajectory":
        if not isinstance(value, dict) or value.get("mode") not in ("strict", "unordered", "subset", "superset"):
            raise ValueError(f"{where} takes {{mode: strict|unordered|subset|superset, calls: [...]}}")
        if not isinstance(value.get("calls"), list) or not all(
            isinstance(c, dict) and "name" in c for c in value["calls"]
        ):
            raise ValueError(f"{where}.calls must be a list of {{name, args?}}")
    elif name == "gold":
        if not isinstance(value, list) or not all(
            isinstance(c, dict) and set(c) <= {"name", "args"} and "name" in c for c in value
        ):
            raise ValueError(f"{where} takes a list of {{name, args}}")
    elif name == "max_tool_calls" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f"{where} takes a whole number")


def _parse_one(data: Any, locator: Locator) -> Scenario:
    """One scenario; ``locator`` is scoped to it, so reported lines are the file's own."""
    line = locator.line([])
    if not isinstance(data, dict):
        raise SourceError("a scenario must be a mapping", source=locator.source, line=line)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        message = "\n".join(["scenario:", *validation_problems(exc, locator)])
        raise SourceError(message, source=locator.source, line=line) from exc
    scenario.source = locator.source
    scenario.line = line
    return scenario


def load_file(path: Path) -> list[Scenario]:
    data, locator = load_yaml(path)
    if isinstance(data, list):
        return [_parse_one(item, locator.within([index])) for index, item in enumerate(data)]
    return [_parse_one(data, locator)]


def load_scenarios(paths: list[Path]) -> list[Scenario]:
    """Every scenario in the files and folders named; ids must be unique."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml")))
        elif path.is_file():
            files.append(path)
        else:
            raise SourceError("no such file or folder", source=str(path))
    scenarios: list[Scenario] = []
    seen: dict[str, str] = {}
    for file in files:
        for scenario in load_file(file):
            if scenario.id in seen:
                raise SourceError(
                    f"scenario id {scenario.id!r} is used twice (also in {seen[scenario.id]})",
                    source=scenario.source,
                    line=scenario.line,
                )
            seen[scenario.id] = f"{scenario.source}:{scenario.line}"
            scenarios.append(scenario)
    if not scenarios:
        raise SourceError("no scenarios found", source=", ".join(str(p) for p in paths))
    return scenarios
