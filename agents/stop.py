"""When a run must stop: kill switch, step limit, token/cost budget, tool errors, spend anomaly.

A node may also record a stop reason itself, which :func:`stop_reason` returns first: ``model``
when the model provider failed (unreachable, timed out, an HTTP error, a refused key:
:class:`adpilot.agents.llm.ModelProviderError`).

:func:`stop_reason` is checked on every edge of the graph, and the Guard consults the kill
switch before every side effect, so engaging it stops changes even in the middle of a node.

The limits come from the configuration's ``runs:`` section (:meth:`Limits.from_config`). Model
cost is counted exactly, in integer pico-dollars (10^-12 USD: a price with up to six decimal
places per million tokens costs a whole number of them per token). The change cap is the
Guard's (policy ``limits.changes_per_run``, rule ``budget.changes_per_run``); a refusal by it
stops the run with ``budget`` too.

A spend anomaly (:func:`spend_anomalies`) compares yesterday's spend of a campaign with its mean
daily spend over the days *before* yesterday that had spend, and is judged only with at least
``anomaly_min_history_days`` such days; otherwise it is not judged and a note says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from adpilot.agents.state import RunState, StopReason
from adpilot.statedir import KillSwitch

if TYPE_CHECKING:
    from adpilot.config import RunsConfig

__all__ = ["CHANGE_CAP_RULE", "PICO", "KillSwitch", "Limits", "spend_anomalies", "stop_reason", "usd"]

PICO = 10**12  # pico-dollars per USD
CHANGE_CAP_RULE = "budget.changes_per_run"


@dataclass(frozen=True)
class Limits:
    max_steps: int = 60
    max_tokens: int = 200_000
    max_cost_usd: Decimal = Decimal("5")
    max_tool_errors: int = 8
    anomaly_factor: Decimal = Decimal("3")  # yesterday's spend above this multiple of the daily mean
    anomaly_min_history_days: int = 7  # days with spend before yesterday needed to judge at all

    @classmethod
    def from_config(cls, runs: RunsConfig) -> Limits:
        return cls(
            max_steps=runs.max_steps,
            max_tokens=runs.max_tokens,
            max_cost_usd=runs.max_cost_usd,
            max_tool_errors=runs.max_tool_errors,
            anomaly_factor=runs.anomaly_factor,
            anomaly_min_history_days=runs.anomaly_min_history_days,
        )

    @property
    def max_cost_pico_usd(self) -> int:
        return int(Decimal(self.max_cost_usd) * PICO)


def usd(pico: int) -> Decimal:
    """Integer pico-dollars as an exact Decimal amount of USD."""
    return Decimal(pico) / PICO


def _capped(state: RunState) -> bool:
    """Whether the Guard refused a change because this run reached its change cap."""
    return any((o.get("error") or {}).get("rule") == CHANGE_CAP_RULE for o in state.get("outcomes") or [])


def stop_reason(state: RunState, limits: Limits, kill_switch: KillSwitch) -> StopReason | None:
    if state.get("stop_reason"):
        return state["stop_reason"]
    if kill_switch.engaged:
        return "kill_switch"
    if state.get("steps", 0) >= limits.max_steps:
        return "max_steps"
    if state.get("tokens", 0) >= limits.max_tokens or state.get("cost_pico_usd", 0) >= limits.max_cost_pico_usd:
        return "budget"
    if _capped(state):
        return "budget"
    if state.get("tool_errors", 0) >= limits.max_tool_errors:
        return "error_budget"
    if state.get("anomalies"):
        return "anomaly"
    return None


def spend_anomalies(
    yesterday: Iterable[Mapping[str, Any]],
    daily: Iterable[Mapping[str, Any]],
    limits: Limits,
    account: str,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Campaigns whose spend yesterday is above ``anomaly_factor`` × their daily mean, and notes.

    ``yesterday``: rows ``{campaign_id, cost_micros}`` of yesterday. ``daily``: rows
    ``{campaign_id, date, cost_micros}``, one per campaign and day with data, over a window that
    ends with yesterday. For a campaign that spent yesterday, its latest day in ``daily`` is
    yesterday and is left out of the baseline; the baseline is the mean over the other days with
    spend. With fewer than ``anomaly_min_history_days`` of them the campaign is not judged, and a
    note says so. Compared in integers and Decimals: no rounding decides.
    """
    days: dict[str, dict[str, int]] = {}
    for row in daily:
        per_day = days.setdefault(str(row["campaign_id"]), {})
        per_day[str(row["date"])] = per_day.get(str(row["date"]), 0) + int(row["cost_micros"])
    found: list[dict[str, Any]] = []
    notes: list[str] = []
    for row in yesterday:
        campaign = str(row["campaign_id"])
        cost = int(row["cost_micros"])
        if cost <= 0:
            continue
        history = dict(days.get(campaign, {}))
        if history:
            history.pop(max(history))  # yesterday: the day under test is not its own baseline
        spent = [value for value in history.values() if value > 0]
        if len(spent) < limits.anomaly_min_history_days:
            notes.append(
                f"spend anomaly not judged for campaign {campaign} of account {account}: "
                f"{len(spent)} day(s) with spend before yesterday, {limits.anomaly_min_history_days} needed"
            )
            continue
        total = sum(spent)
        # cost > factor × total / n, without dividing
        if Decimal(cost) * len(spent) > Decimal(limits.anomaly_factor) * total:
            found.append(
                {
                    "account": account,
                    "campaign_id": campaign,
                    "cost_micros_yesterday": cost,
                    "daily_mean_micros": total // len(spent),
                    "history_days": len(spent),
                    "factor": round(cost * len(spent) / total, 2),
                    "limit_factor": str(limits.anomaly_factor),
                }
            )
    return found, notes
