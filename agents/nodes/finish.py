"""The end of a run: the report and decision memory, or the stop with its recorded reason.

Either report notes the invalid tool calls of each agent ("2 invalid tool calls by the bidding
agent: …"); a run stopped because its model provider failed (``model``) answers with that failure.
"""

from __future__ import annotations

from typing import Any

from adpilot.agents import chat
from adpilot.agents.context import RunContext
from adpilot.agents.outcomes import invalid_call_notes
from adpilot.agents.report import Judging, build_report
from adpilot.agents.state import RunState
from adpilot.logs import get_logger

_log = get_logger("adpilot.graph")


async def finalize(state: RunState, ctx: RunContext) -> dict[str, Any]:
    notes = invalid_call_notes(list(state.get("outcomes") or []))
    noted: RunState = {**state, "notes": [*(state.get("notes") or []), *notes]}
    report = build_report(noted, stop=None, judging=_judging(ctx))
    _remember(state, ctx)
    answer = state.get("answer")
    if state["trigger"]["kind"] == "chat" and answer is None:
        answer = await chat.answer_after(noted, ctx)
    return {"report": report, "answer": answer, "steps": 1, "notes": notes}


async def stop(state: RunState, ctx: RunContext) -> dict[str, Any]:
    reason = ctx.stopped(state) or "max_steps"
    if reason == "model":  # the provider's failure: the run's answer, and the CLI's one line
        _log.info("run.stopped", reason=reason, failure=state.get("answer"))
    else:
        _log.warning("run.stopped", reason=reason)
    notes = invalid_call_notes(list(state.get("outcomes") or []))  # in the report (a stop may come twice)
    final: RunState = {**state, "stop_reason": reason, "notes": [*(state.get("notes") or []), *notes]}
    answer = state.get("answer")
    if answer is None:
        done = f"\n{await chat.answer_after(final, ctx)}" if state.get("outcomes") else ""
        answer = chat.T[chat.language_of(state, ctx)]["stopped"].format(reason=reason) + done
    return {
        "stop_reason": reason,
        "report": build_report(final, stop=reason, judging=_judging(ctx)),
        "answer": answer,
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
