"""Undoing a run's reversible changes (budgets, bids, statuses) from the audit log.

A rollback is itself governed: each undo passes the Guard as the ``operator`` role, so hard
limits still deny (e.g. re-pausing the last enabled ad), and it is audited like any change.
An entity that changed again after the run is left alone and reported as a conflict.
The undo carries a proposal id derived from the audit row, so running a rollback twice never
applies an undo twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adpilot.errors import BusyError
from adpilot.tools.guard import Approval, Guard, call_hash
from adpilot.tools.result import ToolResult


@dataclass(frozen=True)
class RollbackStep:
    audit_seq: int
    tool: str
    entity: str | None
    restore: Any
    outcome: str  # undone | already_undone | conflict | denied | failed | not_reversible
    detail: str = ""
    result: ToolResult | None = None


async def rollback_run(guard: Guard, run_id: str, *, approver: str) -> list[RollbackStep]:
    """Undo the successful changes of ``run_id``, newest first."""
    steps: list[RollbackStep] = []
    rows = [r for r in guard.audit.records(run_id=run_id, kind="result") if r.status == "ok"]
    for row in reversed(rows):
        spec = guard.tools.get(row.tool)
        if spec is None or spec.reverse is None or row.before is None:
            steps.append(RollbackStep(row.seq, row.tool, row.entity, None, "not_reversible"))
            continue
        undo = spec.args.model_validate(spec.reverse(row.args, row.before))
        assert spec.assess is not None
        try:
            await guard.hold(row.args)  # compare on state no other actor can change meanwhile
        except BusyError as exc:
            steps.append(RollbackStep(row.seq, row.tool, row.entity, row.before, "denied", str(exc)))
            continue
        current = (await spec.assess(guard.context, undo)).before
        if current == row.before:
            steps.append(RollbackStep(row.seq, row.tool, row.entity, row.before, "already_undone"))
            continue
        if current != row.after:
            detail = f"changed since the run: now {current!r}, the run had set {row.after!r}"
            steps.append(RollbackStep(row.seq, row.tool, row.entity, row.before, "conflict", detail))
            continue
        clean = undo.model_dump(mode="json")
        approval = Approval(call_hash(row.tool, clean), approver, f"rollback of run {run_id}")
        result = await guard.call("operator", row.tool, clean, proposal_id=f"rollback-{row.seq}", approval=approval)
        if result.ok and result.replayed:
            outcome, detail = "already_undone", "an earlier rollback of this run undid it; not undone twice"
        elif result.ok:
            outcome, detail = "undone", ""
        else:
            assert result.error is not None
            outcome, detail = ("denied" if result.decision == "deny" else "failed"), result.error.message
        steps.append(RollbackStep(row.seq, row.tool, row.entity, row.before, outcome, detail, result))
    return steps
