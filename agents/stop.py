"""When a run must stop: kill switch, step limit, token/cost budget, tool errors, spend anomaly.

:func:`stop_reason` is checked on every edge of the graph, and the Guard consults the kill
switch before every side effect, so engaging it stops changes even in the middle of a node.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adpilot.agents.state import RunState, StopReason

KILL_SWITCH_FILE = "KILL_SWITCH"


@dataclass(frozen=True)
class Limits:
    max_steps: int = 60
    max_tokens: int = 200_000
    max_cost_usd: float = 5.0
    max_tool_errors: int = 8
    anomaly_factor: float = 3.0  # yesterday's spend above this multiple of the daily mean stops the run


class KillSwitch:
    """A flag file in the state directory: any process can engage it, every run obeys it."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / KILL_SWITCH_FILE

    def engage(self, reason: str = "", by: str = "operator") -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {"reason": reason, "by": by, "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        self.path.write_text(json.dumps(record), encoding="utf-8")

    def release(self) -> bool:
        existed = self.path.exists()
        self.path.unlink(missing_ok=True)
        return existed

    @property
    def engaged(self) -> bool:
        return self.path.exists()

    def details(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        try:
            data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
            return data
        except (OSError, ValueError):
            return {"reason": "unreadable flag file"}


def stop_reason(state: RunState, limits: Limits, kill_switch: KillSwitch) -> StopReason | None:
    if state.get("stop_reason"):
        return state["stop_reason"]
    if kill_switch.engaged:
        return "kill_switch"
    if state.get("steps", 0) >= limits.max_steps:
        return "max_steps"
    if state.get("tokens", 0) > limits.max_tokens or state.get("cost_usd", 0.0) > limits.max_cost_usd:
        return "budget"
    if state.get("tool_errors", 0) >= limits.max_tool_errors:
        return "error_budget"
    if state.get("anomalies"):
        return "anomaly"
    return None
