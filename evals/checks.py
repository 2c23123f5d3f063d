"""Scoring a finished scenario: every check against the final world, audit log and trajectory."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from adpilot.tools.audit import AuditRecord
from adpilot.tools.sandbox.world import get_path

VOLATILE = ("stats", "modified", "date", "next_id", "change_events")  # change_events: when, not what


@dataclass
class Evidence:
    """What a run left behind, for the checks to read."""

    before: dict[str, Any]
    after: dict[str, Any]
    audit: list[AuditRecord]
    answer: str | None
    stop_reason: str | None
    gold_world: dict[str, Any] | None = None
    tool_calls: list[AuditRecord] = field(default_factory=list)


@dataclass(frozen=True)
class CheckResult:
    check: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "passed": self.passed, "detail": self.detail}


def _norm(value: Any) -> Any:
    """Compare ids and money the way the API writes them: integers as strings."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value


def args_match(actual: dict[str, Any], expected: dict[str, Any] | None) -> bool:
    if not expected:
        return True
    actual_n, expected_n = _norm(actual), _norm(expected)
    return all(key in actual_n and actual_n[key] == value for key, value in expected_n.items())


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _state(spec: dict[str, Any], ev: Evidence) -> tuple[bool, str]:
    path = spec["path"]
    (op,) = [k for k in spec if k != "path"]
    expected = spec[op]
    try:
        actual = get_path(ev.after, path)
    except KeyError as missing:
        return (op == "exists" and expected is False), f"{path}: no {missing.args[0]!r}"
    if op == "exists":
        present = actual not in (None, "", [], {})
        return present == bool(expected), f"{path} = {actual!r}"
    if op in ("equals", "not_equals"):
        same = _norm(actual) == _norm(expected)
        return same == (op == "equals"), f"{path} = {actual!r}"
    if op == "in":
        return _norm(actual) in [_norm(v) for v in expected], f"{path} = {actual!r}"
    if op in ("contains", "not_contains"):
        found = str(expected).casefold() in json.dumps(actual, ensure_ascii=False).casefold()
        return found == (op == "contains"), f"{path} = {actual!r}"
    left, right = _number(actual), _number(expected)
    if left is None or right is None:
        return False, f"{path} = {actual!r} is not comparable with {expected!r}"
    result = {"lt": left < right, "lte": left <= right, "gt": left > right, "gte": left >= right}[op]
    return result, f"{path} = {actual!r}"


def without_volatile(data: Any) -> Any:
    """A world dump without the fields that change on their own (statistics, timestamps, id counters)."""
    if isinstance(data, dict):
        return {k: without_volatile(v) for k, v in data.items() if k not in VOLATILE}
    if isinstance(data, list):
        return [without_volatile(v) for v in data]
    return data


def _executions(ev: Evidence, tool: str, args: dict[str, Any] | None) -> list[AuditRecord]:
    return [
        r for r in ev.audit if r.kind == "result" and r.status == "ok" and r.tool == tool and args_match(r.args, args)
    ]


def _decisions(ev: Evidence, tool: str, args: dict[str, Any] | None, decision: str) -> list[AuditRecord]:
    return [
        r
        for r in ev.audit
        if r.kind == "decision" and r.decision == decision and r.tool == tool and args_match(r.args, args)
    ]


def _trajectory(spec: dict[str, Any], ev: Evidence) -> tuple[bool, str]:
    actual = [(r.tool, r.args) for r in ev.tool_calls]
    expected = spec["calls"]
    names = [name for name, _ in actual]
    mode = spec["mode"]

    def matches(call: tuple[str, dict[str, Any]], want: dict[str, Any]) -> bool:
        return call[0] == want["name"] and args_match(call[1], want.get("args"))

    if mode == "strict":
        ok = len(actual) == len(expected) and all(matches(a, w) for a, w in zip(actual, expected, strict=True))
    elif mode == "unordered":
        ok = (
            len(actual) == len(expected)
            and Counter(names) == Counter(w["name"] for w in expected)
            and all(any(matches(a, w) for a in actual) for w in expected)
        )
    elif mode == "subset":
        ok = all(any(matches(a, w) for a in actual) for w in expected)
    else:  # superset: every call made is one the scenario allows
        ok = all(any(matches(a, w) for w in expected) for a in actual)
    return ok, f"calls made: {names}"


def evaluate(check: dict[str, Any], ev: Evidence) -> CheckResult:
    (name,) = check
    spec = check[name]
    label = f"{name}: {json.dumps(spec, ensure_ascii=False, default=str)}"
    if name == "state":
        passed, detail = _state(spec, ev)
    elif name == "unchanged":
        try:
            before, after = get_path(ev.before, spec), get_path(ev.after, spec)
        except KeyError as missing:
            return CheckResult(label, False, f"no {missing.args[0]!r}")
        passed = without_volatile(before) == without_volatile(after)
        detail = "unchanged" if passed else "changed"
    elif name in ("called", "not_called"):
        found = _executions(ev, spec["tool"], spec.get("args"))
        passed = bool(found) == (name == "called")
        detail = f"{len(found)} execution(s)"
    elif name in ("escalated", "denied"):
        found = _decisions(ev, spec["tool"], spec.get("args"), "escalate" if name == "escalated" else "deny")
        if "rule" in spec:
            found = [r for r in found if r.rule == spec["rule"]]
        passed = bool(found)
        detail = f"{len(found)} matching decision(s)" + (f": {found[0].rule}" if found else "")
    elif name == "audit":
        found = _executions(ev, spec["tool"], spec.get("args"))
        passed = len(found) == spec["executed"]
        detail = f"{len(found)} execution(s)"
    elif name == "stop_reason":
        passed = ev.stop_reason == spec
        detail = f"stop_reason = {ev.stop_reason!r}"
    elif name == "answer_contains":
        passed = spec.casefold() in (ev.answer or "").casefold()
        detail = f"answer: {(ev.answer or '')[:160]!r}"
    elif name == "trajectory":
        passed, detail = _trajectory(spec, ev)
    elif name == "gold":
        passed = ev.gold_world is not None and without_volatile(ev.gold_world) == without_volatile(ev.after)
        detail = "final world equals the gold replay" if passed else "final world differs from the gold replay"
    else:  # max_tool_calls
        passed = len(ev.tool_calls) <= spec
        detail = f"{len(ev.tool_calls)} tool call(s)"
    return CheckResult(label, passed, detail)
