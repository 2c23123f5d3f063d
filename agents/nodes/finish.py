"""The end of a run: the report and decision memory, or the stop with its recorded reason."""

from __future__ import annotations

from typing import Any

from adpilot.agents.context import RunContext
from adpilot.agents.outcomes import summarise
from adpilot.agents.report import Judging, build_report
from adpilot.agents.state import RunState
from adpilot.logs import get_logger

_log = get_logger("adpilot.graph")


async def finalize(state: RunState, ctx: RunContext) -> dict[str, Any]:
    report = build_report(state, stop=None, judging=_judging(ctx))
    _remember(state, ctx)
    answer = state.get("answer")
    if state["trigger"]["kind"] == "chat" and answer is None:
        answer = summarise(state)
    return {"report": report, "answer": answer, "steps": 1}


async def stop(state: RunState, ctx: RunContext) -> dict[str, Any]:
    reason = ctx.stopped(state) or "max_steps"
    _log.warning("run.stopped", reason=reason)
    final: RunState = {**state, "stop_reason": reason}
    return {
        "stop_reason": reason,
        "report": build_report(final, stop=reason, judging=_judging(ctx)),
        "answer": state.get("answer") or f"The run stopped: {reason}.",
    }


def _judging(ctx: RunContext) -> Judging:
    """When the run's changes can be judged: the policy's patience, by the audit log's clock."""
    guard = ctx.guard
    return Judging(guard.policy.patience, guard.context.now(), guard.audit)


def _remember(state: RunState, ctx: RunContext) -> None:
    """What the run changed, and why, goes to decision memory for later runs and questions."""
    if ctx.memory is None:
        return
    guard = ctx.guard
    for outcome in state.get("outcomes") or []:
        spec = guard.tools.get(outcome["tool"])
        if outcome["decision"] == "allow" and outcome["ok"] and spec is not None and spec.mutates:
            ctx.memory.record_decision(
                tenant=guard.tenant,
                account=outcome.get("account") or "cms",
                run_id=state["run_id"],
                tool=outcome["tool"],
                args=outcome["args"],
                rationale=outcome["rationale"],
                outcome="applied",
                audit_seq=outcome.get("audit_seq"),
            )
