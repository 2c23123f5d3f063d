"""What a governed tool call returns to the agent that made it.

A denial, an escalation or a platform failure is a :class:`ToolResult` with an error the
model can read, never an exception that ends the run.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

from adpilot.money import format_micros

Decision = Literal["allow", "deny", "escalate", "dry_run"]
ErrorType = Literal[
    "unknown_tool",
    "invalid_arguments",
    "denied",
    "escalated",
    "not_found",
    "platform_error",
    "outcome_unknown",
    "unavailable",
    "internal_error",
]


@dataclass(frozen=True)
class ToolError:
    type: ErrorType
    message: str
    rule: str | None = None
    details: Any = None


@dataclass(frozen=True)
class ToolResult:
    tool: str
    decision: Decision
    data: Any = None
    error: ToolError | None = None
    call_hash: str = ""
    audit_seq: int | None = None
    replayed: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    def for_model(self, currency: str | None = None) -> str:
        """The JSON text a model receives as the tool's answer. With the account's ``currency``,
        every ``…_micros`` amount in the data is shown as money text instead ("cost_micros":
        138696300 → "cost": "138.70 EUR"): a model reads and repeats amounts as it is asked to
        write them, and never quotes micros as euros or dollars to the operator."""
        body: dict[str, Any] = {"ok": self.ok, "decision": self.decision}
        if self.error is not None:
            body["error"] = {k: v for k, v in asdict(self.error).items() if v is not None}
        else:
            body["data"] = as_money(self.data, currency) if currency else self.data
        if self.replayed:
            body["replayed"] = True
        return json.dumps(body, ensure_ascii=False, default=str)


def as_money(value: Any, currency: str) -> Any:
    """``value`` with each ``NAME_micros`` key whose value is a whole number (or its digits)
    replaced by ``NAME`` with the amount as money text in ``currency``; everything else as is."""
    if isinstance(value, list):
        return [as_money(item, currency) for item in value]
    if not isinstance(value, dict):
        return value
    shown: dict[str, Any] = {}
    for key, item in value.items():
        micros = item if isinstance(item, int) and not isinstance(item, bool) else None
        if isinstance(item, str) and item.isdigit():
            micros = int(item)
        if isinstance(key, str) and key.endswith("_micros") and micros is not None:
            shown[key.removesuffix("_micros")] = format_micros(micros, currency)
        else:
            shown[key] = as_money(item, currency)
    return shown
