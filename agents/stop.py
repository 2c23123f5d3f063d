"""When a run must stop: kill switch, step limit, token/cost budget, tool errors, spend anomaly.

:func:`stop_reason` is checked on every edge of the graph, and the Guard consults the kill
switch before every side effect, so engaging it stops changes even in the middle of a node.
"""

from __future__ import annotations

from dataclasses import dataclass

from adpilot.agents.state import RunState, StopReason
from adpilot.statedir import KillSwitch

__all__ = ["KillSwitch", "Limits", "stop_reason"]


@dataclass(frozen=True)
class Limits:
    max_steps: int = 60
    max_tokens: int = 200_000
    max_cost_usd: float = 5.0
    max_tool_errors: int = 8
    anomaly_factor: float = 3.0  # yesterday's spend above this multiple of the daily mean stops the run


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
