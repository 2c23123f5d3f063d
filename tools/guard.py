"""The Guard: every tool call of every agent passes here, and only here becomes a side effect.

Order of checks — each can only make the decision stricter:
  1. the tool exists and its arguments validate (ids in their one canonical spelling);
  2. the role's scopes cover the tool's scope (and any scope the current state adds, e.g.
     changing a live post needs ``cms:publish``);
  3. the customer is one this run may touch and the policy allows;
  4. the policy's limit rules, computed from the platform's current state and the audit
     history of the rolling window — never from anything a model said. Money is judged in the
     account's own currency against that currency's limits (``limits.currencies``): a budget or
     bid in a currency the policy does not list is refused (``money.currency``), and so is an
     amount that is not a whole number of the currency's billable unit
     (``money.billable_unit``); budgets and bids are read from the platform when deciding,
     never from the snapshot;
  5. the policy's freeze windows: a change a window covers now escalates or is denied
     (``freeze``);
  5a. the policy's patience, for a change nobody asked for (:meth:`Guard._patience`): a maintenance
     run's change of an entity on an explicit hold (``patience.hold``), changed by a person within
     ``patience.person_hold_days`` (``patience.person``) or changed by anyone within its kind's
     ``patience.cooldown_days`` (``patience.cooldown``) is denied, the reason saying until when;
  6. for content that would be published, the compliance gate's verdict on exactly that content.
Then ``deny`` returns a readable error, ``escalate`` returns an error naming what needs
approval (an :class:`Approval` bound to the call's hash, and for content to the hash of the
content the person saw, turns it into ``allow`` later — unless the entity's value changed since
the person saw it, ``approval.stale``, or fewer different people approved than a four-eyes rule
needs, ``approval.four_eyes``), and
``allow`` executes once: an idempotency key (thread + proposal) makes a repeated call return
the recorded result instead of touching the platform again, and an unanswered earlier attempt is
read back from the platform before anything is sent. After a change that publishes content, what
went live is read back: content other than the content the gate checked (changed between the
check and the write) is taken offline at once (rule ``content.changed_during_publish``). In
dry-run mode the platform validates without applying.

Around that, for every change: the kill switch refuses it (asked first, and again right before
the side effect, since deciding may wait); the actor must hold the account's lease (taken on the
first change, asked again right before the side effect); a run that has made the policy's
``limits.changes_per_run`` changes to the account (or the CMS) is refused the next one
(``budget.changes_per_run``); and any failure is an audited result or
refusal, never an exception that ends the run (docs/ARCHITECTURE.md has the full order).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from adpilot import telemetry
from adpilot.errors import AdpilotError, BusyError, PlatformError
from adpilot.logs import get_logger
from adpilot.normalise import fold
from adpilot.policies.content import ContentGate, NoRulesGate
from adpilot.policies.model import Policy, covers, tools_of
from adpilot.policies.rules import Ruling, strictest
from adpilot.statedir import KillSwitch
from adpilot.tools.audit import AuditLog, KeyHistory, canonical
from adpilot.tools.catalogue import CATALOGUE, entity_of
from adpilot.tools.leasing import LeaseKeeper, resource_of
from adpilot.tools.patience import AUTOMATED_RUNS, HOLDS_FILE, KIND_OF_TOOL, History, Hold, Patience, hold_store
from adpilot.tools.platforms import Platforms
from adpilot.tools.result import Decision, ErrorType, ToolError, ToolResult
from adpilot.tools.spec import Assessment, ToolContext, ToolSpec, ToolUnavailable, account_of
from adpilot.tools.state import StateCache

if TYPE_CHECKING:
    from adpilot.memory.store import MemoryStore

_log = get_logger("adpilot.guard")

# While a traced call runs (telemetry on): the audit rows it appends, (seq, row), for its span.
_TRACED_ROWS: ContextVar[list[tuple[int, dict[str, Any]]] | None] = ContextVar("adpilot_traced_rows", default=None)


@dataclass(frozen=True)
class RunScope:
    """Who is acting, for which run, on which accounts."""

    run_id: str
    thread_id: str
    accounts: frozenset[str]
    dry_run: bool = False
    actor: str = "adpilot"


def person_key(name: str) -> str:
    """One person's name as the Guard and the registry compare it: what a reader sees (NFKC,
    invisible characters and accents gone, look-alike letters of other scripts as Latin ones),
    blanks collapsed, case folded — so "lena", "LENA", "l\u0435na" (a Cyrillic "е"), full-width
    "ｌｅｎａ" and "le\u200bna" are one person, never two approvers or an approver beside the
    requester."""
    return " ".join(fold(name).text.split()).casefold()


@dataclass(frozen=True)
class Approval:
    """A person's approval of one escalated call, valid only for exactly that call — and, for a
    call that publishes content, only for the content the person saw (its hash, as the
    escalation's details gave it): content changed since is escalated again.

    An edit is approved with ``edited_from``, the arguments of the call the person saw: the
    content that call would publish now must still hash to ``content_hash``, on the same entity.

    ``before`` is the entity's value the person was shown (recorded at escalation): a different
    value now makes the approval stale (``approval.stale``). ``approvers`` are the different
    people who approved; a change under a four-eyes rule of the policy needs as many of them as
    the rule says, the ``requester`` never counted (``approval.four_eyes``).
    """

    call_hash: str
    approver: str
    note: str = ""
    content_hash: str | None = None
    edited_from: dict[str, Any] | None = None
    before: Any = None
    before_shown: bool = False  # whether ``before`` was recorded (None is a value, too)
    approvers: tuple[str, ...] = ()
    requester: str | None = None

    def people(self) -> list[str]:
        """The different people who approved, the requester left out."""
        seen: list[str] = []
        keys: set[str] = set()
        requester = person_key(self.requester or "")
        for name in self.approvers or (self.approver,):
            key = person_key(name)
            if key and key not in keys and key != requester:
                keys.add(key)
                seen.append(name)
        return seen


def approvers_needed(policy: Policy, tool: str, before: Any, after: Any, currency: str) -> int:
    """How many different people must approve this change: the largest ``approvers`` of the
    policy's four-eyes rules that match it, else 1. A rule with ``increase_above`` matches a raise
    (``after`` − ``before``, in micros) by more than its amount in ``currency``; a currency the
    rule does not list makes every raise match. The Guard passes as ``before`` the lowest amount
    of the rolling window (:meth:`Guard.raise_base`): two raises a day are judged as one."""
    needed = 1
    for rule in policy.approvals.four_eyes:
        if tool not in tools_of(rule.actions):
            continue
        if rule.increase_above is not None:
            try:
                increase = int(after) - int(before)
            except (TypeError, ValueError):
                continue
            if increase <= 0:
                continue
            limit = rule.increase_above.get(currency.upper())
            if limit is not None and increase <= limit:
                continue
        needed = max(needed, rule.approvers)
    return needed


@dataclass(frozen=True)
class _Call:
    """One call as every audit row of it names it: the role, the tool, the arguments, their hash."""

    role: str
    tool: str
    args: dict[str, Any]
    digest: str


def call_hash(tool: str, args: Any) -> str:
    return hashlib.sha256(f"{tool}\n{canonical(args)}".encode()).hexdigest()[:32]


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "arguments"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


@dataclass
class Guard:
    platforms: Platforms
    policy: Policy
    audit: AuditLog
    run: RunScope
    content_gate: ContentGate = field(default_factory=NoRulesGate)
    tools: dict[str, ToolSpec] = field(default_factory=lambda: {spec.name: spec for spec in CATALOGUE})
    state_ttl_s: float = 60.0
    locale: str = "de"
    memory: MemoryStore | None = None
    tenant: str = "default"
    kill_switch: KillSwitch | None = None  # engaged, every mutation is denied, whoever asks
    leases: LeaseKeeper | None = None  # one actor per account: mutations take the account's lease

    def __post_init__(self) -> None:
        self.context = ToolContext(
            self.platforms,
            self.policy,
            self.audit,
            StateCache(self.state_ttl_s),
            self.content_gate,
            self.locale,
            self.memory,
            self.tenant,
        )
        self.policy_hash = self.policy.hash  # the policy is immutable; hash it once

    async def prefetch(self, customer_id: str) -> None:
        """Snapshot one account of this run, so its decisions need no read round trip each."""
        if customer_id in self.run.accounts and self.policy.allows_account(customer_id):
            await self.context.prefetch(customer_id)

    async def hold(self, args: dict[str, Any]) -> None:
        """Take the lease of what ``args`` address, dropping the snapshot read before it, so that a
        check the caller makes before its change sees state nobody else can change meanwhile."""
        if self.leases is not None and not self.run.dry_run and await self.leases.ensure(resource_of(args)):
            self.context.state.invalidate_prefix(_cache_prefix(args))

    def digest(self, tool: str, args: Any) -> str | None:
        """The call hash the Guard will compute for these arguments (None when they are invalid)."""
        spec = self.tools.get(tool)
        if spec is None:
            return None
        try:
            return call_hash(tool, spec.args.model_validate(args).model_dump(mode="json"))
        except ValidationError:
            return None

    def record_rejection(self, role: str, tool: str, args: dict[str, Any], reason: str, approver: str) -> int:
        """A person rejected an escalated call: that, too, is a decision in the audit log."""
        return self._row(
            _Call(role, tool, args, call_hash(tool, args)),
            "decision",
            decision="reject",
            entity=entity_of(tool, args),  # what it would have changed: patience holds it (person_hold_days)
            rule="approval.rejected",
            reason=f"rejected by {approver}: {reason}" if reason else f"rejected by {approver}",
        )

    def raise_base(self, tool: str, entity: str | None, before: Any) -> Any:
        """What a four-eyes rule measures a raise of a budget or a bid from: the lowest amount of
        the entity in the rolling window (``before`` included) — so that a staircase of raises, each
        under the rule's amount and each approved by one person, needs the people one raise would."""
        limits = self.policy.limits
        hours = {
            "set_campaign_budget": limits.budget.window_hours,
            "set_keyword_bid": limits.keyword_bid.window_hours,
        }.get(tool)
        if hours is None or not entity or isinstance(before, bool) or not isinstance(before, int):
            return before
        return self.context.range_in_window(entity, hours, before)[0]

    def tools_for(self, role: str) -> list[ToolSpec]:
        """The tools a role may call at all (what its model is shown)."""
        scopes = self.policy.scopes(role)
        return [spec for spec in self.tools.values() if spec.scope is None or covers(scopes, spec.scope)]

    # --- audit helpers ----------------------------------------------------------------
    def _fields(self, call: _Call, kind: str, **fields: Any) -> dict[str, Any]:
        return {
            "kind": kind,
            "run_id": self.run.run_id,
            "thread_id": self.run.thread_id,
            "actor": self.run.actor,
            "role": call.role,
            "tool": call.tool,
            "args": call.args,
            "call_hash": call.digest,
            "policy_hash": self.policy_hash,
            **fields,
        }

    def _row(self, call: _Call, kind: str, **fields: Any) -> int:
        (seq,) = self._append([self._fields(call, kind, **fields)])
        return seq

    def _append(self, rows: list[dict[str, Any]]) -> list[int]:
        seqs = self.audit.append_many(rows)
        if (traced := _TRACED_ROWS.get()) is not None:
            traced.extend(zip(seqs, rows, strict=True))
        return seqs

    def _refuse(self, call: _Call, decision: Decision, error: ToolError, entity: str | None = None) -> ToolResult:
        seq = self._row(call, "decision", decision=decision, rule=error.rule, reason=error.message, entity=entity)
        _log.info(
            "guard.refused", role=call.role, tool=call.tool, decision=decision, rule=error.rule, reason=error.message
        )
        return ToolResult(call.tool, decision, error=error, call_hash=call.digest, audit_seq=seq)

    # --- the one entry point ----------------------------------------------------------------
    async def call(
        self,
        role: str,
        tool: str,
        args: Any,
        *,
        proposal_id: str | None = None,
        approval: Approval | None = None,
    ) -> ToolResult:
        """Decide, audit and (at most once) carry out one call; with tracing on, in its span."""
        if not telemetry.enabled():
            return await self._call(role, tool, args, proposal_id, approval)
        return await self._traced(role, tool, args, proposal_id, approval)

    async def _traced(
        self, role: str, tool: str, args: Any, proposal_id: str | None, approval: Approval | None
    ) -> ToolResult:
        """:meth:`call` in an ``execute_tool`` span: the Guard's decision and rule, and the sequence
        numbers of the audit rows the call wrote (arguments and results only with capture_content)."""
        rows: list[tuple[int, dict[str, Any]]] = []
        token = _TRACED_ROWS.set(rows)
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool,
            "gen_ai.tool.type": "function",
            "gen_ai.tool.call.id": proposal_id,
            "gen_ai.agent.name": role,
            "gen_ai.conversation.id": self.run.thread_id,
            "gen_ai.tool.call.arguments": telemetry.content(args),
            "adpilot.run_id": self.run.run_id,
            "adpilot.actor": self.run.actor,
            "adpilot.dry_run": self.run.dry_run,
            "adpilot.approved": approval is not None,
        }
        try:
            with telemetry.span(f"execute_tool {tool}", **attributes) as span:
                result = await self._call(role, tool, args, proposal_id, approval)
                decided = [row for _, row in rows if row["kind"] == "decision"]
                error = result.error
                span.update(
                    {
                        "adpilot.guard.decision": result.decision,
                        "adpilot.guard.rule": decided[-1].get("rule") if decided else error.rule if error else None,
                        "adpilot.guard.entity": next((r["entity"] for _, r in rows if r.get("entity")), None),
                        "adpilot.call_hash": result.call_hash or None,
                        "adpilot.audit.seq": result.audit_seq,
                        "adpilot.audit.seqs": [seq for seq, _ in rows],
                        "adpilot.tool.outcome": "ok" if error is None else error.type,
                        "adpilot.tool.replayed": result.replayed or None,
                        "gen_ai.tool.call.result": telemetry.content(result.for_model()),
                    }
                )
                if error is not None and error.type in ("platform_error", "outcome_unknown", "internal_error"):
                    span.fail(error.type)
                return result
        finally:
            _TRACED_ROWS.reset(token)

    async def _call(
        self, role: str, tool: str, args: Any, proposal_id: str | None, approval: Approval | None
    ) -> ToolResult:
        raw = args if isinstance(args, dict) else {"_raw": args}
        spec = self.tools.get(tool)
        if spec is None:
            known = ", ".join(s.name for s in self.tools_for(role))
            error = ToolError("unknown_tool", f"there is no tool {tool!r}; your tools are: {known}", "tool.unknown")
            return self._refuse(_Call(role, tool, raw, call_hash(tool, raw)), "deny", error)
        try:
            parsed = spec.args.model_validate(raw)
        except ValidationError as exc:
            error = ToolError("invalid_arguments", _validation_message(exc), "tool.arguments")
            return self._refuse(_Call(role, tool, raw, call_hash(tool, raw)), "deny", error)
        clean = parsed.model_dump(mode="json")
        call = _Call(role, tool, clean, call_hash(tool, clean))

        scopes = self.policy.scopes(role)
        if spec.scope is not None and not covers(scopes, spec.scope):
            error = ToolError("denied", f"role {role!r} lacks the scope {spec.scope!r} that {tool} needs", "scope.role")
            return self._refuse(call, "deny", error)
        customer_id = clean.get("customer_id")
        if customer_id is not None and (
            customer_id not in self.run.accounts or not self.policy.allows_account(customer_id)
        ):
            error = ToolError("denied", f"customer {customer_id} is not an account of this run", "scope.account")
            return self._refuse(call, "deny", error)

        if spec.kind == "read":
            return await self._read(call, spec, parsed)
        if spec.kind == "meta":
            if isinstance(clean.get("proposal"), dict):
                return await self._propose(call, clean)
            seq = self._row(call, "decision", decision="escalate", rule="agent.escalate", reason=clean.get("reason"))
            try:
                data = await spec.run(self.context, parsed)
            except AdpilotError:
                raise
            except Exception as exc:  # the one failure policy: an unexpected error is an audited result
                return self._internal_error(call, None, exc)
            return ToolResult(tool, "escalate", data, call_hash=call.digest, audit_seq=seq)
        return await self._mutate(call, spec, parsed, proposal_id, approval)

    async def _propose(self, call: _Call, clean: dict[str, Any]) -> ToolResult:
        """``escalate`` with a proposal ``{tool, args}``: exactly that call waits for a person.

        The proposed call must be a change the role may ask for, on an account of this run, with
        valid arguments, and one the policy would not refuse outright; then it is recorded as an
        escalation *of that call* (its tool, arguments, hash, and the entity's value now), so that
        its approval binds it and the Guard judges it again when it is carried out."""
        proposal = clean["proposal"]
        tool, args = proposal.get("tool"), proposal.get("args")
        spec = self.tools.get(str(tool))
        if spec is None or not spec.mutates:
            message = f"proposal.tool: {tool!r} is not a tool that changes something"
            return self._refuse(call, "deny", ToolError("invalid_arguments", message, "tool.arguments"))
        try:
            parsed = spec.args.model_validate(args if isinstance(args, dict) else {"_raw": args})
        except ValidationError as exc:
            error = ToolError("invalid_arguments", f"proposal.args: {_validation_message(exc)}", "tool.arguments")
            return self._refuse(call, "deny", error)
        inner = parsed.model_dump(mode="json")
        proposed = _Call(call.role, spec.name, inner, call_hash(spec.name, inner))
        if spec.scope is not None and not covers(self.policy.scopes(call.role), spec.scope):
            message = f"role {call.role!r} lacks the scope {spec.scope!r} that the proposed {spec.name} needs"
            return self._refuse(proposed, "deny", ToolError("denied", message, "scope.role"))
        customer_id = inner.get("customer_id")
        if customer_id is not None and (
            customer_id not in self.run.accounts or not self.policy.allows_account(customer_id)
        ):
            message = f"customer {customer_id} is not an account of this run"
            return self._refuse(proposed, "deny", ToolError("denied", message, "scope.account"))
        assert spec.assess is not None
        try:
            assessment = await spec.assess(self.context, parsed)
        except PlatformError as exc:
            return self._refuse(proposed, "deny", _platform_error(exc))
        if assessment.not_found:
            return self._refuse(proposed, "deny", ToolError("not_found", assessment.not_found, "entity.not_found"))
        ruling, extra = self._rulings(call.role, spec, assessment)
        if ruling.decision == "deny":
            error = ToolError("denied", ruling.reason, ruling.rule, extra or None)
            return self._refuse(proposed, "deny", error, assessment.entity)
        reason = str(clean.get("reason") or "")
        message = f"needs a person's approval: the agent asks for it: {reason}"
        seq = self._row(
            proposed,
            "decision",
            decision="escalate",
            rule="agent.escalate",
            reason=message,
            entity=assessment.entity,
            before=assessment.before,
            after=assessment.after,
        )
        details = {"call_hash": proposed.digest, "proposal": {"tool": spec.name, "args": inner}, **extra}
        error = ToolError("escalated", message, "agent.escalate", details)
        return ToolResult(call.tool, "escalate", error=error, call_hash=proposed.digest, audit_seq=seq)

    async def _read(self, call: _Call, spec: ToolSpec, parsed: Any) -> ToolResult:
        digest = call.digest
        seq = self._row(call, "decision", decision="allow", rule="read")
        try:
            data = await spec.run(self.context, parsed)
        except PlatformError as exc:
            return ToolResult(spec.name, "allow", error=_platform_error(exc), call_hash=digest, audit_seq=seq)
        except ToolUnavailable as exc:
            return ToolResult(
                spec.name, "allow", error=ToolError("unavailable", str(exc)), call_hash=digest, audit_seq=seq
            )
        except AdpilotError:
            raise
        except Exception as exc:  # the one failure policy: an unexpected error is an audited result
            return self._internal_error(call, None, exc)
        if data is None:
            error = ToolError("not_found", f"{spec.name}: nothing found for {call.args}", "entity.not_found")
            return ToolResult(spec.name, "allow", error=error, call_hash=digest, audit_seq=seq)
        return ToolResult(spec.name, "allow", data, call_hash=digest, audit_seq=seq)

    def _rulings(self, role: str, spec: ToolSpec, assessment: Assessment) -> tuple[Ruling, dict[str, Any]]:
        rulings = list(assessment.rulings)
        scopes = self.policy.scopes(role)
        for scope in assessment.extra_scopes:
            if not covers(scopes, scope):
                rulings.append(Ruling("deny", "scope.state", f"role {role!r} lacks {scope!r}, which this change needs"))
        if self.policy.freeze:  # by the audit clock; the account is the call's customer id, or "cms"
            now, account = self.context.now(), account_of(assessment.entity)
            for window in self.policy.freeze:
                if window.covers(now, spec.name, account):
                    reason = f"{window.reason}: changes are frozen until {window.to.isoformat()}"
                    rulings.append(Ruling(window.decision, "freeze", reason))
        extra: dict[str, Any] = {}
        if assessment.content is not None:
            verdict = self.context.content_gate.check(assessment.content)
            decision = {
                "pass": self.policy.limits.content.pass_,
                "needs_review": self.policy.limits.content.needs_review,
                "fail": self.policy.limits.content.fail,
            }[verdict.verdict]
            rulings.append(Ruling(decision, f"content.{verdict.verdict}", verdict.summary()))
            extra = {"content_hash": verdict.content_hash, "findings": list(verdict.findings)}
        return strictest(*rulings), extra

    async def _mutate(
        self, call: _Call, spec: ToolSpec, parsed: Any, proposal_id: str | None, approval: Approval | None
    ) -> ToolResult:
        tool, digest = call.tool, call.digest
        if self.kill_switch is not None and (stopped := self.kill_switch.message()) is not None:
            return self._refuse(call, "deny", ToolError("denied", stopped, "kill_switch"))
        if (broken := self.audit.problem) is not None:  # missing, behind its anchor or broken: fail closed
            return self._refuse(call, "deny", ToolError("denied", broken, "audit.broken"))
        try:
            await self.hold(call.args)  # first the account: its history and state are settled only while held
        except BusyError as exc:
            return self._refuse(call, "deny", ToolError("denied", str(exc), "lease.busy"))
        key = f"{self.run.thread_id}:{proposal_id}" if proposal_id else None
        history = self.audit.key_history(key) if key is not None else KeyHistory()
        if history.call_hash is not None and history.call_hash != digest:
            message = (
                f"idempotency key {key} was used for a different call (audit row {history.first_seq}); "
                "a key names exactly one change"
            )
            return self._refuse(call, "deny", ToolError("denied", message, "idempotency.conflict"))
        if (done := history.completed) is not None:
            seq = self._row(
                call,
                "decision",
                decision="allow",
                rule="idempotency.replay",
                reason=f"already executed as audit row {done.seq}",
                idempotency_key=key,
                entity=done.entity,
            )
            return ToolResult(tool, "allow", done.result, call_hash=digest, audit_seq=seq, replayed=True)
        if (capped := self._change_cap(call, key)) is not None:
            return self._refuse(call, "deny", capped)
        if history.unfinished is not None:
            # An earlier attempt was sent and never answered: the platform is the truth, not our plan.
            self.context.state.invalidate_prefix(_cache_prefix(call.args))
        try:
            return await self._decide_and_execute(call, spec, parsed, key, history, approval)
        except PlatformError as exc:  # e.g. the read-back of a reconcile failed: nothing was sent
            return self._refuse(call, "deny", _platform_error(exc))
        except AdpilotError:
            raise
        except Exception as exc:  # while deciding, before any side effect: an audited refusal
            message = f"internal error in {call.tool} while deciding: {type(exc).__name__}: {exc}"
            _log.error("guard.internal_error", tool=call.tool, error=message)
            return self._refuse(call, "deny", ToolError("internal_error", message, "internal_error"))

    def _change_cap(self, call: _Call, key: str | None) -> ToolError | None:
        """Policy ``limits.changes_per_run``: the changes this run has executed on the
        call's account (or the CMS), counted from the audit log — so a resumed run, or another
        process continuing it, counts what was done before. A result that may have landed
        (``unknown``) counts; the call's own key does not (its retry is not a new change)."""
        resource = resource_of(call.args)
        customer = call.args.get("customer_id")
        executed = self.audit.changes_in_run(self.run.run_id, str(customer) if customer else None, besides=key)
        cap = self.policy.limits.changes_per_run
        if executed < cap:
            return None
        message = (
            f"this run has made {executed} changes to {resource}, the most one run may make "
            f"(policy limits.changes_per_run: {cap}); the run stops here"
        )
        return ToolError("denied", message, "budget.changes_per_run")

    def _internal_error(self, call: _Call, key: str | None, exc: Exception) -> ToolResult:
        message = f"internal error in {call.tool}: {type(exc).__name__}: {exc}"
        _log.error("guard.internal_error", tool=call.tool, error=message)
        seq = self._row(call, "result", status="error", idempotency_key=key, result={"error": message})
        return ToolResult(
            call.tool, "allow", error=ToolError("internal_error", message), call_hash=call.digest, audit_seq=seq
        )

    async def _decide_and_execute(
        self,
        call: _Call,
        spec: ToolSpec,
        parsed: Any,
        key: str | None,
        history: KeyHistory,
        approval: Approval | None,
    ) -> ToolResult:
        tool, digest = call.tool, call.digest
        assert spec.assess is not None
        try:
            assessment = await spec.assess(self.context, parsed)
        except PlatformError as exc:
            seq = self._row(
                call,
                "decision",
                decision="deny",
                rule="state.unavailable",
                reason=f"could not read the current state: {exc}",
            )
            return ToolResult(tool, "deny", error=_platform_error(exc), call_hash=digest, audit_seq=seq)
        if assessment.not_found:
            error = ToolError("not_found", assessment.not_found, "entity.not_found")
            return self._refuse(call, "deny", error, assessment.entity)

        if (intent := history.unfinished) is not None and spec.kind == "set" and assessment.before == intent.after:
            # The unanswered write did land: record its result once, with the values it really changed.
            seq = self._row(
                call,
                "result",
                status="ok",
                result={"changed": True, "reconciled": True},
                idempotency_key=key,
                reason="reconciled: an earlier attempt had applied it",
                entity=intent.entity,
                before=intent.before,
                after=intent.after,
            )
            return ToolResult(
                tool, "allow", {"changed": True, "reconciled": True}, call_hash=digest, audit_seq=seq, replayed=True
            )
        if (intent := history.unfinished) is not None and spec.kind == "set" and assessment.before != intent.before:
            # Neither what the unanswered attempt found nor what it set: someone changed the entity
            # since. Sending our old plan again would undo their change; a person must look.
            message = (
                f"{assessment.entity} is now {assessment.before!r}: neither {intent.before!r} (before the "
                f"unanswered attempt) nor {intent.after!r} (what it set); changed by someone else since, "
                "so it is not sent again"
            )
            seq = self._row(
                call,
                "result",
                status="error",
                idempotency_key=key,
                result={"error": message},
                entity=intent.entity,
                before=intent.before,
                after=intent.after,
            )
            error = ToolError("denied", message, "reconcile.conflict")
            return ToolResult(tool, "deny", error=error, call_hash=digest, audit_seq=seq)

        ruling, extra = self._rulings(call.role, spec, assessment)
        if (held := await self._patience(call, assessment, approval)) is not None:
            ruling = strictest(ruling, held)
        if ruling.decision in ("escalate", "allow") and approval is not None:
            ruling = await self._approved(call, spec, assessment, ruling, extra, approval)
        if ruling.decision == "deny":
            error = ToolError("denied", ruling.reason, ruling.rule, extra or None)
            return self._refuse(call, "deny", error, assessment.entity)
        if ruling.decision == "escalate":
            error = ToolError(
                "escalated",
                f"needs a person's approval: {ruling.reason}",
                ruling.rule,
                {"call_hash": digest, **extra} if extra else {"call_hash": digest},
            )
            # The row keeps what the person will be shown (before → after): an approval is stale
            # once the entity holds another value than this ``before``.
            seq = self._row(
                call,
                "decision",
                decision="escalate",
                rule=error.rule,
                reason=error.message,
                entity=assessment.entity,
                before=assessment.before,
                after=assessment.after,
            )
            _log.info("guard.refused", role=call.role, tool=tool, decision="escalate", rule=error.rule)
            return ToolResult(tool, "escalate", error=error, call_hash=digest, audit_seq=seq)

        common = {"entity": assessment.entity, "before": assessment.before, "after": assessment.after}
        if assessment.noop:
            seq = self._row(
                call,
                "decision",
                decision="allow",
                rule="noop",
                reason="already in the requested state; nothing to change",
                **common,
            )
            data = {"changed": False, "current": assessment.before}
            return ToolResult(tool, "allow", data, call_hash=digest, audit_seq=seq)
        if self.run.dry_run:
            return await self._dry_run(call, spec, parsed, ruling, common)

        # Deciding may have waited (for the lease, for the platform): right before the side effect,
        # the kill switch and the lease are asked again.
        if self.kill_switch is not None and (stopped := self.kill_switch.message()) is not None:
            return self._refuse(call, "deny", ToolError("denied", stopped, "kill_switch"), assessment.entity)
        if self.leases is not None and not self.leases.still_holds(resource_of(call.args)):
            message = f"the lease on {resource_of(call.args)} lapsed while deciding; nothing was sent"
            return self._refuse(call, "deny", ToolError("denied", message, "lease.lost"), assessment.entity)
        key = key or f"{self.run.thread_id}:{uuid.uuid4().hex}"
        decision_row = self._fields(
            call,
            "decision",
            decision="allow",
            rule=ruling.rule,
            reason=ruling.reason,
            idempotency_key=key,
            **common,
        )
        if spec.reconcile is not None and history.unfinished is not None:
            self._append([decision_row])
            found = await spec.reconcile(self.context, parsed)
            if found is not None:
                seq = self._row(
                    call,
                    "result",
                    status="ok",
                    result=found,
                    idempotency_key=key,
                    reason="reconciled: an earlier attempt had applied it",
                    **common,
                )
                return ToolResult(tool, "allow", found, call_hash=digest, audit_seq=seq, replayed=True)
            self._row(call, "intent", idempotency_key=key, **common)
        else:
            # The decision and the intent commit together, before the side effect.
            intent_row = self._fields(call, "intent", idempotency_key=key, **common)
            self._append([decision_row, intent_row])
        try:
            data = await spec.run(self.context, parsed)
        except PlatformError as exc:
            self.context.state.invalidate_prefix(_cache_prefix(call.args))
            status = "unknown" if exc.outcome_unknown else "error"
            seq = self._row(
                call,
                "result",
                status=status,
                idempotency_key=key,
                result={"error": str(exc), "code": exc.code},
                **common,
            )
            return ToolResult(tool, "allow", error=_platform_error(exc), call_hash=digest, audit_seq=seq)
        except Exception as exc:  # anything else after the intent is a recorded error result, never an escape
            self.context.state.invalidate_prefix(_cache_prefix(call.args))
            return self._internal_error(call, key, exc)
        if assessment.content is not None and spec.published is not None:
            reverted = await self._unless_published_as_checked(call, spec, parsed, key, assessment)
            if reverted is not None:
                return reverted
        seq = self._row(call, "result", status="ok", result=data, idempotency_key=key, **common)
        _log.info(
            "guard.executed",
            role=call.role,
            tool=tool,
            entity=assessment.entity,
            audit_seq=seq,
            run_id=self.run.run_id,
            thread_id=self.run.thread_id,
        )
        return ToolResult(tool, "allow", data, call_hash=digest, audit_seq=seq)

    async def _patience(self, call: _Call, assessment: Assessment, approval: Approval | None) -> Ruling | None:
        """The policy's patience (:mod:`adpilot.tools.patience`) as a Guard rule, for a change nobody
        asked for — one a maintenance run makes (:data:`AUTOMATED_RUNS`): a deny (``patience.hold``,
        ``patience.person``, ``patience.cooldown``) saying until when, or None. Decided from the audit
        log's rows of the entity within the longest waiting period, the explicit holds in the state
        directory (the kill switch's) and the policy — never from what a model said. Not held back:
        a change a person asks for (any other run: a tool call, a chat, a rollback; the operator
        role; a call a person approved — its approval names exactly this call), the compliance role
        taking a live ad or page offline, and a change to the value the entity already has."""
        if call.tool not in KIND_OF_TOOL or assessment.noop:
            return None
        if not self.run.run_id.startswith(AUTOMATED_RUNS) or call.role == "operator":
            return None
        if approval is not None and approval.call_hash == call.digest:
            return None
        if call.role == "compliance" and _takes_offline(call):
            return None
        entity = entity_of(call.tool, call.args)
        if entity is None:
            return None
        rules, now = self.policy.patience, self.context.now()
        history = History()
        reach = max(rules.person_hold_days, getattr(rules.cooldown_days, KIND_OF_TOOL[call.tool], 0))
        if reach:
            history.add_records(self.audit.changes_of(entity, now - dt.timedelta(days=reach)))
        holds = self._holds(now)
        parents = await self._parents(call.args) if any(":campaign:" in h.entity for h in holds) else {}
        found = Patience(rules, now, history, holds, parents).held(call.tool, call.args)
        return None if found is None else Ruling("deny", found[0], found[1])

    def _holds(self, now: dt.datetime) -> list[Hold]:
        """The explicit holds active at ``now``, kept beside the kill switch in the state directory."""
        if self.kill_switch is None:
            return []
        path: Path = self.kill_switch.path.parent / HOLDS_FILE
        if not path.exists():  # reading creates nothing
            return []
        with hold_store(path.parent) as store:
            return store.holds(now)

    async def _parents(self, args: dict[str, Any]) -> dict[str, str]:
        """The campaign of the budget or ad group a call changes (``campaign_budget:ID`` / ``ad_group:ID``
        → campaign id), for a campaign's hold; read only when a campaign is on hold."""
        customer = str(args.get("customer_id") or "")
        if not customer:
            return {}
        if "budget_id" in args:
            campaigns = await self.context.fresh_campaigns(customer)
            return {f"campaign_budget:{c.budget_id}": c.id for c in campaigns}
        group = args.get("ad_group_id")
        if group is None:
            return {}
        rows = await self.platforms.google_ads.search(
            customer, f"SELECT ad_group.id, campaign.id FROM ad_group WHERE ad_group.id = {int(group)}"
        )
        return {f"ad_group:{group}": str((row.get("campaign") or {}).get("id")) for row in rows}

    async def _approved(
        self,
        call: _Call,
        spec: ToolSpec,
        assessment: Assessment,
        ruling: Ruling,
        extra: dict[str, Any],
        approval: Approval,
    ) -> Ruling:
        """What an approval makes of an escalation: allow, when it names this call and, for content,
        the content the person saw; otherwise still an escalation. A change the policy allows
        anyway is still not carried out on an approval of another value than the entity holds now
        (``approval.stale``): the person — and the agent — planned it from that value."""
        if approval.call_hash != call.digest:
            _log.warning("guard.approval_mismatch", tool=call.tool, expected=call.digest, got=approval.call_hash)
            return ruling
        if approval.edited_from is not None and assessment.content is None:
            # An edit changes the value of the change a person was asked about, never what it changes:
            # another budget, keyword or account would be a change nobody asked for, decided by the
            # one person who made it up. (Content: the content check below names the entity.)
            assert spec.assess is not None
            shown = await spec.assess(self.context, spec.args.model_validate(approval.edited_from))
            if shown.entity != assessment.entity:
                _log.warning("guard.approval_edit_entity", tool=call.tool, entity=assessment.entity)
                reason = (
                    f"the edit changes {assessment.entity}, not {shown.entity}, which {approval.approver} was asked "
                    "to approve; an edit changes the value, never what is changed: ask for that change on its own"
                )
                return Ruling("deny", "approval.edit_entity", reason)
        stale = approval.before_shown and assessment.before != approval.before
        if ruling.decision == "allow" and not stale:
            # Within policy without an approval, carried out on one all the same: the audit row names
            # the person (an edit is their value, not the agent's).
            made = "edited and approved" if approval.edited_from is not None else "approved"
            said = f"{made} by {', '.join(approval.people()) or approval.approver}; within policy"
            detail = "" if ruling.reason == "within policy" else f": {ruling.reason}"
            return Ruling("allow", ruling.rule, f"{said}{detail}")
        if stale:
            # The entity changed since the person was shown it: they approved another change.
            _log.warning("guard.approval_stale", tool=call.tool, entity=assessment.entity)
            reason = (
                f"{assessment.entity} is now {assessment.before!r}, not {approval.before!r} as {approval.approver} "
                "was shown; the approval does not cover the change from the new value"
            )
            return Ruling("escalate", "approval.stale", f"{reason}: {ruling.reason}")
        if assessment.content is not None:
            now = str(extra["content_hash"])
            seen, entity = now, assessment.entity
            if approval.edited_from is not None:
                # An edit: the person wrote these arguments on top of a call whose content they saw.
                assert spec.assess is not None
                shown = await spec.assess(self.context, spec.args.model_validate(approval.edited_from))
                seen = shown.content.hash if shown.content is not None else ""
                entity = shown.entity
            if approval.content_hash is None:
                reason = (
                    f"{approval.approver}'s approval names no content, and this call publishes content nobody "
                    f"approved (content {now[:12]})"
                )
            elif entity != assessment.entity:
                reason = f"the edit publishes {assessment.entity}, not {entity}, whose content {approval.approver} saw"
            elif seen != approval.content_hash:
                reason = (
                    f"the content changed since {approval.approver} saw it (approved {approval.content_hash[:12]}, "
                    f"now {seen[:12]}); the approval does not cover the new content"
                )
            else:
                reason = ""
            if reason:
                _log.warning("guard.approval_content_changed", tool=call.tool, entity=assessment.entity)
                return Ruling("escalate", "approval.content_changed", f"{reason}: {ruling.reason}")
        people = approval.people()
        customer = call.args.get("customer_id")
        currency = await self.context.currency(str(customer)) if customer else ""
        base = self.raise_base(call.tool, assessment.entity, assessment.before)
        needed = approvers_needed(self.policy, call.tool, base, assessment.after, currency)
        if len(people) < needed:
            if needed == 1:
                reason = f"{approval.requester} requested this change and cannot approve it"
            else:
                reason = f"needs {needed} different approvers (four-eyes), has {len(people)}" + (
                    f" ({', '.join(people)})" if people else ""
                )
            _log.warning("guard.approval_four_eyes", tool=call.tool, needed=needed, approvers=len(people))
            return Ruling("escalate", "approval.four_eyes", f"{reason}: {ruling.reason}")
        return Ruling("allow", "approval", f"approved by {', '.join(people)}: {ruling.reason}")

    async def _unless_published_as_checked(
        self, call: _Call, spec: ToolSpec, parsed: Any, key: str, assessment: Assessment
    ) -> ToolResult | None:
        """After a publishing change: read back what is live. Content other than the content the gate
        checked (someone changed it between the check and the write) is taken offline at once."""
        assert assessment.content is not None and spec.published is not None
        checked = assessment.content.hash
        try:
            live = await spec.published(self.context, parsed)
            live_hash: str | None = None if live is None else live.hash
        except AdpilotError as exc:
            if not isinstance(exc, PlatformError):
                raise
            live_hash = f"unreadable ({exc.message})"
        except Exception as exc:  # cannot confirm what went live: as good as changed
            live_hash = f"unreadable ({type(exc).__name__}: {exc})"
        if live_hash is None or live_hash == checked:
            return None
        self.context.state.invalidate_prefix(_cache_prefix(call.args))
        message = (
            f"{assessment.entity}: the content live after the change is not the content the compliance gate "
            f"checked (checked {checked[:12]}, live {live_hash[:12]}); it changed between the check and the write"
        )
        try:
            if spec.unpublish is None:
                raise RuntimeError(f"{call.tool} cannot take it offline")
            await spec.unpublish(self.context, parsed)
            outcome = "reverted: content changed between check and publish"
            message += ", so it was set back to draft"
        except Exception as exc:  # the revert failed: say so loudly, the unchecked content may be live
            outcome = f"revert failed: content changed between check and publish, and {type(exc).__name__}: {exc}"
            message += f"; setting it back to draft FAILED ({exc}): unchecked content may be live"
            _log.error("guard.unpublish_failed", tool=call.tool, entity=assessment.entity, error=str(exc))
        seq = self._row(
            call,
            "result",
            status="error",
            rule="content.changed_during_publish",
            reason=outcome,
            idempotency_key=key,
            result={"error": message, "reverted": outcome.startswith("reverted"), "checked_hash": checked},
            entity=assessment.entity,
            before=assessment.before,
            after=assessment.after,
        )
        _log.warning("guard.content_changed_during_publish", tool=call.tool, entity=assessment.entity, outcome=outcome)
        details = {"checked_hash": checked, "live_hash": live_hash, "reverted": outcome.startswith("reverted")}
        error = ToolError("denied", message, "content.changed_during_publish", details)
        return ToolResult(call.tool, "deny", error=error, call_hash=call.digest, audit_seq=seq)

    async def _dry_run(
        self, call: _Call, spec: ToolSpec, parsed: Any, ruling: Ruling, common: dict[str, Any]
    ) -> ToolResult:
        data: Any = {"would_change": common["entity"], "from": common["before"], "to": common["after"]}
        if spec.dry_run is not None:
            try:
                data = {**data, **(await spec.dry_run(self.context, parsed))}
            except PlatformError as exc:
                seq = self._row(
                    call, "decision", decision="deny", rule="platform.validation", reason=str(exc), **common
                )
                return ToolResult(spec.name, "deny", error=_platform_error(exc), call_hash=call.digest, audit_seq=seq)
        seq = self._row(
            call,
            "decision",
            decision="dry_run",
            rule=ruling.rule,
            reason=f"dry run: {ruling.reason}",
            **common,
        )
        return ToolResult(spec.name, "dry_run", data, call_hash=call.digest, audit_seq=seq)


def _takes_offline(call: _Call) -> bool:
    """Whether a call takes a live ad (paused) or page (back to draft) offline, as the compliance sweep does."""
    if call.tool == "set_ad_status":
        return call.args.get("status") == "PAUSED"
    return call.tool == "update_post" and call.args.get("status") == "draft"


def _cache_prefix(args: dict[str, Any]) -> str:
    """The state-snapshot keys a call's target lives under (its account, or the CMS)."""
    customer = args.get("customer_id")
    return f"google_ads:{customer}:" if customer else "wordpress:"


def _platform_error(exc: PlatformError) -> ToolError:
    kind: ErrorType = "outcome_unknown" if exc.outcome_unknown else "platform_error"
    message = exc.message
    if exc.outcome_unknown:
        message += " (the change may or may not have been applied; it will be reconciled, not blindly repeated)"
    return ToolError(kind, message, exc.code, {"status": exc.status} if exc.status else None)
