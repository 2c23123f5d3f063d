"""What a governed tool call returns to the agent that made it.

A denial, an escalation or a platform failure is a :class:`ToolResult` with an error the
model can read, never an exception that ends the run.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

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

    def for_model(self) -> str:
        """The JSON text a model receives as the tool's answer."""
        body: dict[str, Any] = {"ok": self.ok, "decision": self.decision}
        if self.error is not None:
            body["error"] = {k: v for k, v in asdict(self.error).items() if v is not None}
        else:
            body["data"] = self.data
        if self.replayed:
            body["replayed"] = True
        return json.dumps(body, ensure_ascii=False, default=str)
