"""Undoing changes from the audit log: a run's, one change's, or everything since a time.

Every change the Guard executes is reversible or says why not (``ToolSpec.reverse``, in
:mod:`adpilot.tools.catalogue`): budgets, statuses and bids are set back to their ``before``
value (a keyword that used its ad group's default bid gets its own bid removed, not pinned to the
same amount); a created ad is paused, never removed; an updated post gets the stored values of
exactly the fields the update changed; a published post goes back to its previous status; a
created draft is left in the CMS, with the reason.

A rollback is itself governed: each undo passes the Guard as the ``operator`` role with no
approval, so the same rules apply as to any change — hard limits deny (e.g. pausing the last
enabled ad), a change to a live post escalates and waits for a person, the compliance gate checks
content that goes live again — and it is audited like any change. The current value is compared
with the change's ``after`` while the account's lease is held: an entity changed since the
change is a conflict, reported and left alone (never overwritten). An undo carries the idempotency
key ``rollback-<seq>`` of the audit row it undoes (on the Guard's thread): rolling back the same
change twice — by run, by row or by time — makes it once. The changes rollbacks made are not
themselves undone.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from adpilot.errors import BusyError, PlatformError, UsageError
from adpilot.tools.audit import AuditLog, AuditRecord
from adpilot.tools.guard import Guard
from adpilot.tools.result import ToolResult
from adpilot.tools.spec import Undo

ROLLBACK_RUN_PREFIX = "rollback-"  # the run ids rollbacks act under: their changes are not undone again
# The proposal id of an undo: ``rollback-<seq>`` (its first call), ``rollback-<seq>.<n>`` (a further
# one); an escalated undo waits for a person as ``<that>-<8 hex>`` and is carried out under that key.
_UNDO_KEY = re.compile(r"(rollback-[0-9]+(?:\.[0-9]+)?)(?:-[0-9a-f]{8})?")


def undo_proposal(seq: int, index: int) -> str:
    return f"rollback-{seq}" if index == 0 else f"rollback-{seq}.{index}"


@dataclass(frozen=True)
class RollbackStep:
    audit_seq: int
    tool: str
    entity: str | None
    restore: Any
    # undone | already_undone | conflict | escalated | denied | failed | not_reversible | would_undo
    outcome: str
    detail: str = ""
    result: ToolResult | None = None
    call: tuple[str, dict[str, Any]] | None = None  # the undo call the result answers (an escalation waits for it)
    proposal: str | None = None  # that call's proposal id


def is_rollback(row: AuditRecord) -> bool:
    return row.run_id.startswith(ROLLBACK_RUN_PREFIX)


def changes_of_run(audit: AuditLog, run_id: str) -> list[AuditRecord]:
    """The changes a run carried out (``result`` rows with status ``ok``)."""
    return [r for r in audit.records(run_id=run_id, kind="result") if r.status == "ok"]


def change_at(audit: AuditLog, seq: int) -> AuditRecord:
    """The change audit row ``seq`` records: that ``result`` row, or — for the decision or intent
    row of a change — the result row of the same idempotency key."""
    row = audit.get(seq)
    if row is None and (archived := audit.archive_of(seq)) is not None:
        raise UsageError(
            f"audit row {seq} was archived on {archived.archived_at} (retention: audit.retention_days) to "
            f"{archived.file}: a change that old is no longer rolled back"
        )
    if row is None:
        raise UsageError(f"there is no audit row {seq} (see `adpilot audit show`)")
    if row.kind != "result" and row.idempotency_key:
        done = audit.key_history(row.idempotency_key).completed
        if done is not None:
            return done
    if row.kind != "result" or row.status != "ok":
        what = f"{row.kind} row" + (f" ({row.decision or row.status})" if row.decision or row.status else "")
        raise UsageError(f"audit row {seq} is a {what} of {row.tool}, not a change that was carried out")
    return row


def parse_time(flag: str, text: str) -> dt.datetime:
    """An ISO time with a zone (``2026-12-03T06:00:00Z``) given for ``flag``, or a usage error naming it."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{flag} {text!r}: give a time such as 2026-12-03T06:00:00Z") from None
    if moment.tzinfo is None:
        raise UsageError(f"{flag} {text!r}: give the time zone, e.g. 2026-12-03T06:00:00Z (UTC)")
    return moment


def changes_since(audit: AuditLog, since: dt.datetime) -> list[AuditRecord]:
    """The changes carried out at or after ``since`` (by any run but a rollback)."""
    return [
        r
        for r in audit.records(kind="result")
        if r.status == "ok" and not is_rollback(r) and dt.datetime.fromisoformat(r.ts) >= since
    ]


async def rollback_run(guard: Guard, run_id: str, *, approver: str | None = None) -> list[RollbackStep]:
    """Undo the changes of ``run_id``, newest first. (``approver`` is not used: an undo is never
    approved in advance; one the Guard escalates waits for a person like any change.)"""
    return await rollback(guard, changes_of_run(guard.audit, run_id))


async def rollback(guard: Guard, rows: list[AuditRecord]) -> list[RollbackStep]:
    """Undo the changes ``rows`` record, newest first."""
    earlier = _earlier_undos(guard.audit)
    return [await _undo(guard, row, earlier) for row in sorted(rows, key=lambda r: r.seq, reverse=True)]


def _earlier_undos(audit: AuditLog) -> dict[str, AuditRecord]:
    """The undo calls earlier rollbacks made (by any run), by proposal id: an undo is made once."""
    made: dict[str, AuditRecord] = {}
    for row in audit.records(kind="result"):
        if row.status == "ok" and is_rollback(row) and row.idempotency_key:
            found = _UNDO_KEY.fullmatch(row.idempotency_key.partition(":")[2])
            if found is not None:
                made.setdefault(found.group(1), row)
    return made


async def _undo(guard: Guard, row: AuditRecord, earlier: dict[str, AuditRecord]) -> RollbackStep:
    def step(outcome: str, detail: str = "", **more: Any) -> RollbackStep:
        return RollbackStep(row.seq, row.tool, row.entity, row.before, outcome, detail, **more)

    if is_rollback(row):
        return step("not_reversible", "a rollback's own change is not undone; make the change again if it is wanted")
    # The row keeps tokens where it held personal data; the undo restores (and compares) the real text.
    row, erased = guard.audit.reveal_record(row)
    if any(token in json.dumps([row.args, row.before, row.after], ensure_ascii=False) for token in erased):
        return step(
            "not_reversible",
            "the change holds personal data that was erased since (`adpilot audit forget`): its values can no "
            "longer be restored exactly",
        )
    spec = guard.tools.get(row.tool)
    if spec is None or spec.reverse is None:
        return step("not_reversible", f"{row.tool} has no undo")
    reversal = spec.reverse(row)
    if not reversal.calls:
        return step("not_reversible", reversal.reason)
    note = f" ({reversal.note})" if reversal.note else ""

    # Compare on state no other actor can change meanwhile: hold the lease, then assess each undo.
    needed: list[tuple[int, Undo, dict[str, Any]]] = []
    for index, undo in enumerate(reversal.calls):
        target = guard.tools[undo.tool]
        assert target.assess is not None
        try:
            parsed = target.args.model_validate(undo.args)
        except ValidationError as exc:
            return step("not_reversible", f"the undo {undo.tool} {undo.args} is not a valid call: {exc}")
        try:
            await guard.hold(undo.args)
            assessment = await target.assess(guard.context, parsed)
        except BusyError as exc:
            return step("denied", str(exc))
        except PlatformError as exc:
            return step("failed", f"could not read the current state: {exc}")
        if assessment.not_found:
            return step("conflict", f"changed since: {assessment.not_found}")
        if assessment.noop:
            continue  # this part is as before the change already
        if assessment.before != undo.expect:
            detail = f"changed since: now {assessment.before!r}, the change had set {undo.expect!r}; left as it is"
            return step("conflict", detail)
        needed.append((index, undo, parsed.model_dump(mode="json")))
    if not needed:
        return step("already_undone", "already as before the change")
    for index, _, _ in needed:
        if (done := earlier.get(undo_proposal(row.seq, index))) is not None:
            detail = (
                f"undone by rollback run {done.run_id} (audit row {done.seq}) and changed again since: "
                "not undone twice; left as it is"
            )
            return step("already_undone", detail)

    replayed = 0
    result: ToolResult | None = None
    for made, (index, undo, clean) in enumerate(needed):
        proposal = undo_proposal(row.seq, index)
        # A dry run leaves no key behind: the real undo later is not taken for a replay of it.
        result = await guard.call("operator", undo.tool, clean, proposal_id=None if guard.run.dry_run else proposal)
        if not result.ok:
            assert result.error is not None
            outcome = {"escalate": "escalated", "deny": "denied"}.get(result.decision, "failed")
            so_far = f"{made} of {len(needed)} undo calls made, then: " if made else ""
            call = (undo.tool, clean)
            return step(outcome, so_far + result.error.message, result=result, call=call, proposal=proposal)
        replayed += result.replayed
    if guard.run.dry_run:
        calls = "; ".join(f"{undo.tool} {clean}" for _, undo, clean in needed)
        return step("would_undo", f"would call {calls}{note}", result=result)
    if replayed == len(needed):
        return step("already_undone", "an earlier rollback undid it; not undone twice", result=result)
    return step("undone", reversal.note, result=result)
