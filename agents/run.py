"""Running the graph: start a run, resume it with a person's decisions, continue after a crash.

One run is one thread: its state lives in the checkpointer (SQLite in the state directory),
its side effects in the audit log, and an index row in the run registry — never in process
globals — so a run can be resumed by another process, hours later. The settings that define a
run (model, skills, dry run, accounts) are part of its state, so whichever process resumes it
runs the same run.

Durability is ``sync``: each step's checkpoint is on disk before the next step starts, so a
crash loses at most the step in progress — and because role nodes only plan and ``execute``
only carries out a checkpointed plan, the step in progress is replayed by the Guard from the
audit log, never re-planned (docs/ARCHITECTURE.md).

One actor per account: a run holds a lease on the thread and, for maintenance, on its accounts
(or the CMS) while it is driven; a chat run takes account leases on its first change. A lease
is released when the run pauses for approval, ends, or its process stops; a killed process's
leases lapse (see :mod:`adpilot.leases`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, Concatenate, ParamSpec, cast

from langgraph.types import Command

from adpilot import telemetry
from adpilot.agents.checkpoints import open_checkpoints
from adpilot.agents.context import RunContext
from adpilot.agents.graph import build_graph
from adpilot.agents.llm import ModelProvider, build_provider, price_for
from adpilot.agents.nodes.approvals import DECISIONS, carry_out, malformed
from adpilot.agents.outcomes import proposed_call
from adpilot.agents.registry import Reuse, RunRegistry, same_person
from adpilot.agents.report import Judging, build_report
from adpilot.agents.skill_tools import install as install_skill_tools
from adpilot.agents.state import Pending, Settings
from adpilot.agents.stop import Limits
from adpilot.compose.deployment import Deployment
from adpilot.config import Config
from adpilot.errors import PlatformError, StoppedError, UsageError
from adpilot.leases import CMS, Heartbeat, Lease, resource_for_account
from adpilot.memory.store import MemoryStore
from adpilot.policies.compliance import ComplianceEngine
from adpilot.policies.loader import load_policy
from adpilot.statedir import StateDir
from adpilot.tools.audit import AuditLog
from adpilot.tools.guard import Guard, RunScope, approvers_needed
from adpilot.tools.leasing import LeaseKeeper
from adpilot.tools.platforms import Platforms

MAX_REUSE_ROUNDS = 5  # a run pausing again right after its reused items were answered: bounded
P = ParamSpec("P")


async def ask_people(
    registry: RunRegistry,
    audit: AuditLog,
    guard: Guard | None,
    thread_id: str,
    items: list[dict[str, Any]],
    *,
    requester: str,
    model: str = "",
) -> dict[str, Reuse]:
    """Record what people are asked about ``items`` (escalations of run ``thread_id``): what they
    will be shown (the escalation's audit row: rule, reason, entity, before → after), who asked,
    how many different approvers the policy's four-eyes rules need, and when it expires (counted
    from now, by this machine's clock).
    An item whose call hash already waits for a person as another open approval is not asked
    again: its outcome names that approval (``reused``)."""
    escalations = {
        r.call_hash: r for r in audit.records(thread_id=thread_id, kind="decision") if r.decision == "escalate"
    }
    outcomes: dict[str, Reuse] = {}
    for item in items:
        tool, args = proposed_call(item)
        row = escalations.get(item["call_hash"])
        currency = ""
        if guard is not None and args.get("customer_id"):
            try:
                currency = await guard.context.currency(str(args["customer_id"]))
            except PlatformError:
                currency = ""
        before, after = (row.before, row.after) if row is not None else (None, None)
        needed = 1
        if guard is not None:  # a raise counted from the window's lowest amount, as the Guard counts it
            base = guard.raise_base(tool, row.entity if row is not None else None, before)
            needed = approvers_needed(guard.policy, tool, base, after, currency)
        hours = guard.policy.approvals.expire_after_hours if guard is not None else 72
        detail = {
            "tool": tool,
            "args": args,
            "role": item.get("role"),
            "run_id": row.run_id if row is not None else thread_id,
            "model": model,
            "rule": row.rule if row is not None else None,
            "reason": item.get("reason"),
            "entity": row.entity if row is not None else None,
            "before": before,
            "after": after,
            "before_shown": row is not None,
            "currency": currency,
            "audit_seq": row.seq if row is not None else None,
            "escalated_at": row.ts if row is not None else None,
        }
        outcomes[item["id"]] = registry.ask(
            item["id"],
            thread_id,
            item["call_hash"],
            requester=requester,
            needed=needed,
            expire_after=dt.timedelta(hours=hours),
            detail=detail,
        )
    return outcomes


def run_resource(thread_id: str) -> str:
    """The lease that makes one process at a time drive (or resume, or approve) a run."""
    return f"run:{thread_id}"


@dataclass
class RunResult:
    thread_id: str
    run_id: str
    status: str  # done | waiting | stopped | interrupted (ended early: a crash test or a shutdown)
    report: dict[str, Any]
    answer: str | None
    pending: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)


def _run_attributes(result: RunResult) -> dict[str, Any]:
    """What a run's span says of it once driven: ids, kind, accounts, roles, status — no content."""
    state = result.state
    settings = state.get("settings") or {}
    trigger = state.get("trigger") or {}
    accounts = [str(a) for a in settings.get("accounts") or trigger.get("accounts") or []]
    tasks = [*(state.get("outcomes") or []), *(state.get("pending") or [])]
    roles = {str(t["role"]) for t in tasks if isinstance(t, Mapping) and t.get("role")}
    roles |= {str(agent) for agent in state.get("turns") or {} if agent != "supervisor"}  # model turns
    return {
        "adpilot.run_id": result.run_id,
        "adpilot.thread_id": result.thread_id,
        "gen_ai.conversation.id": result.thread_id,
        "adpilot.run.kind": trigger.get("kind"),
        "adpilot.run.scope": trigger.get("scope"),
        "adpilot.accounts": accounts,
        "adpilot.account": accounts[0] if len(accounts) == 1 else None,
        "adpilot.roles": sorted(roles),  # the roles that acted: calls, escalations, model turns
        "adpilot.run.status": result.status,
        "adpilot.run.stop_reason": state.get("stop_reason"),
        "adpilot.run.pending": len(result.pending),
        "adpilot.run.dry_run": settings.get("dry_run"),
        "adpilot.run.tokens": state.get("tokens"),
        "adpilot.model": settings.get("model"),
    }


def traced_run(
    operation: str,
) -> Callable[
    [Callable[Concatenate[Runner, P], Awaitable[RunResult]]], Callable[Concatenate[Runner, P], Awaitable[RunResult]]
]:
    """Drive a run in an ``invoke_agent`` span (telemetry on): the root of its nodes' spans."""

    def decorate(
        method: Callable[Concatenate[Runner, P], Awaitable[RunResult]],
    ) -> Callable[Concatenate[Runner, P], Awaitable[RunResult]]:
        @wraps(method)
        async def run(self: Runner, *args: P.args, **kwargs: P.kwargs) -> RunResult:
            if not telemetry.enabled():
                return await method(self, *args, **kwargs)
            first = args[0] if args else None
            thread = first if isinstance(first, str) else kwargs.get("thread_id")
            attributes = {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "adpilot",
                "adpilot.run.operation": operation,
                "adpilot.thread_id": thread,
                "adpilot.run.kind": first.get("kind") if isinstance(first, Mapping) else None,
            }
            with telemetry.span("invoke_agent adpilot", **attributes) as span:
                result = await method(self, *args, **kwargs)
                span.update(_run_attributes(result))
                return result

        return run

    return decorate


class Runner:
    """Owns the process objects of runs: platforms, audit log, checkpointer, registry, leases, memory."""

    def __init__(
        self,
        config: Config,
        *,
        deployment: Deployment | None = None,
        platforms: Platforms | None = None,
        audit: AuditLog | None = None,
        memory: MemoryStore | None = None,
        models: ModelProvider | None = None,
        limits: Limits | None = None,
        skills: bool = True,
        approver: str = "operator",
        persist_world: bool = True,
        on_step: Callable[[str, str], None] | None = None,
        actor: str = "adpilot",
        shutdown: asyncio.Event | None = None,
        requester: str | None = None,
    ) -> None:
        self.config = config
        self.paths = StateDir(config.state_dir)
        # The process objects come from the composition root; one given is the caller's to enter.
        self._owns_deployment = deployment is None
        self.deployment = deployment or Deployment(
            config, platforms=platforms, audit=audit, memory=memory, persist_world=persist_world
        )
        self.memory = self.deployment.memory
        self._models = models
        self.limits = limits or Limits.from_config(config.runs)  # the `runs:` section, unless given
        self.skills = skills
        self.approver = approver
        self.on_step = on_step  # (thread id, node name) after each step, for progress displays
        self.actor = actor  # who acts, in lease messages: "adpilot maintain", "approval by lena", …
        # Who asks for what this runner's runs escalate: never one of its approvers.
        self.requester = requester or actor
        self._guards: dict[str, Guard] = {}  # each driven run's Guard, by thread
        self.kill_switch = self.deployment.kill_switch
        self.brand = ComplianceEngine.from_pack(config.policy).brand
        # Set (by a signal): every run of this runner finishes its step in flight, then stops driving.
        self.shutdown = shutdown or asyncio.Event()
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Runner:
        if self._owns_deployment:
            await self._stack.enter_async_context(self.deployment)
        self.checkpointer = await self._stack.enter_async_context(open_checkpoints(self.paths.checkpoints))
        self.registry = RunRegistry(self.paths.registry)
        self.leases = self.deployment.leases
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.registry.close()
        await self._stack.aclose()

    @property
    def platforms(self) -> Platforms:
        return self.deployment.platforms

    @property
    def audit(self) -> AuditLog:
        return self.deployment.audit

    def _models_for(self, settings: Settings) -> ModelProvider:
        if self._models is not None:
            return self._models
        return build_provider(settings.get("model") or self.config.model, options=self.config.models)

    def _app(self, run_id: str, thread_id: str, settings: Settings, keeper: LeaseKeeper) -> Any:
        scope = RunScope(
            run_id, thread_id, frozenset(settings.get("accounts") or []), dry_run=bool(settings.get("dry_run"))
        )
        guard = self.deployment.guard(scope, keeper)
        # the catalogue's skill tools (performance_summary, seo_audit, creative_proposals) run the skills
        install_skill_tools(guard, self.brand, seo_fields=self.config.wordpress.seo_fields)
        self._guards[thread_id] = guard
        models = self._models_for(settings)
        ctx = RunContext(
            config=self.config,
            guard=guard,
            models=models,
            price=price_for(models.spec, self.config.prices),
            brand=self.brand,
            kill_switch=self.kill_switch,
            limits=self.limits,
            memory=self.memory,
            skills=bool(settings.get("skills", True)),
            approver=self.approver,
        )
        return build_graph(ctx).compile(checkpointer=self.checkpointer)

    def _config(self, thread_id: str) -> dict[str, Any]:
        # Our own max_steps check fires first; LangGraph's recursion limit is the backstop.
        return {"configurable": {"thread_id": thread_id}, "recursion_limit": self.limits.max_steps * 2 + 20}

    def holder(self, thread_id: str) -> Lease | None:
        """Who is driving a run right now (None: nobody — it may be continued)."""
        return self.leases.holder(run_resource(thread_id))

    def _keeper(self, thread_id: str, *, patient: bool = True) -> LeaseKeeper:
        """The run's lease holder. A maintenance run is not patient: an account that another actor
        is working on is skipped at once rather than maintained twice in a row."""
        return self.deployment.keeper(f"{self.actor} (run {thread_id})", patient=patient)

    @asynccontextmanager
    async def _holding(self, keeper: LeaseKeeper, resources: list[str]) -> AsyncIterator[None]:
        """Hold the leases (taken all or none; BusyError names the holder) while the block runs."""
        async with Heartbeat(self.leases, keeper.owner):
            await keeper.take(resources)
            yield

    async def _drive(self, app: Any, payload: Any, thread_id: str, max_steps: int | None, keeper: LeaseKeeper) -> bool:
        """Run until the graph pauses or ends; False when it ended early.

        It ends early with ``max_steps`` (as a crash would) or when :attr:`shutdown` is set: the
        step in flight finishes and is checkpointed first. A stop a person asked for
        (:meth:`stop`) is seen after every step: the run goes to its ``stop`` node with the stop
        reason ``operator``.
        """
        config = self._config(thread_id)
        steps = 0
        stopping = False
        while True:
            halted: str | None = None
            async for update in app.astream(payload, config, stream_mode="updates", durability="sync"):
                steps += 1
                if self.on_step is not None:
                    for node in update:
                        self.on_step(thread_id, node)
                if (max_steps is not None and steps >= max_steps) or self.shutdown.is_set():
                    return False
                if not keeper.still_holds(run_resource(thread_id)):
                    # This process stalled past the lease and another may be driving the run now.
                    return False
                node = next((n for n in update if not n.startswith("__")), None)
                if not stopping and node is not None and self.registry.stop_request(thread_id) is not None:
                    halted = node
                    break
            if halted is None:
                return True
            # A person stopped this run: the edge after the step just taken leads to ``stop``, which
            # still asks people about what waits (their approvals stay pending) and ends the run.
            stopping = True
            await app.aupdate_state(config, {"stop_reason": "operator"}, as_node=halted)
            payload = None

    async def _result(self, app: Any, thread_id: str, completed: bool) -> RunResult:
        snapshot = await app.aget_state(self._config(thread_id))
        values: dict[str, Any] = dict(snapshot.values)
        waiting = [i.value for t in snapshot.tasks for i in t.interrupts]
        if not completed:
            status = "interrupted"
        elif waiting:
            status = "waiting"
        elif values.get("stop_reason"):
            status = "stopped"
        else:
            status = "done"
        report = values.get("report") or build_report(
            values,  # type: ignore[arg-type]
            stop=values.get("stop_reason"),
            judging=Judging(load_policy(self.config.policy).patience, self.audit.clock(), self.audit),
        )
        pending = report["pending_approvals"] if status == "waiting" else []
        record = self.registry.get(thread_id)
        settings = values.get("settings") or {}
        self.registry.upsert(
            thread_id,
            values.get("run_id", thread_id),
            values.get("trigger", {}).get("kind", "?"),
            record.accounts if record else list(settings.get("accounts") or []),
            "running" if status == "interrupted" else status,
            pending,
        )
        return RunResult(
            thread_id, values.get("run_id", thread_id), status, report, values.get("answer"), pending, values
        )

    @staticmethod
    def _upfront(trigger: Mapping[str, Any], accounts: list[str]) -> list[str]:
        """The leases a maintenance run takes before it starts: its accounts and/or the CMS."""
        if trigger.get("kind") != "maintenance":
            return []
        scope = trigger.get("scope", "all")
        resources = [] if scope == "cms" else [resource_for_account(a) for a in accounts]
        return resources + ([CMS] if scope in ("all", "cms") else [])

    @traced_run("start")
    async def start(
        self,
        trigger: Mapping[str, Any],
        *,
        thread_id: str | None = None,
        dry_run: bool = False,
        max_steps_this_call: int | None = None,
    ) -> RunResult:
        """Start a run. ``trigger``: {"kind": "maintenance" | "chat", "text": …, "accounts": […]}."""
        kind = trigger.get("kind")
        if kind not in ("maintenance", "chat"):
            raise UsageError(f"a run is triggered by maintenance or chat, not {kind!r}")
        accounts = [str(a) for a in (trigger.get("accounts") or self.config.accounts)]
        unknown = sorted(set(accounts) - set(self.config.accounts))
        if unknown:
            raise UsageError(f"account(s) {', '.join(unknown)} are not in the configuration's accounts")
        run_id = thread_id or f"{kind[:5]}-{uuid.uuid4().hex[:10]}"
        thread = thread_id or run_id
        if thread_id is not None and self.registry.get(thread_id) is not None:
            raise UsageError(f"run {thread_id!r} exists already; resume it or choose another id")
        settings: Settings = {
            "model": self._models.spec if self._models is not None else self.config.model,
            "skills": self.skills,
            "dry_run": dry_run,
            "accounts": accounts,
        }
        keeper = self._keeper(thread, patient=kind != "maintenance")
        app = self._app(run_id, thread, settings, keeper)
        payload = {
            "run_id": run_id,
            "trigger": {**trigger, "accounts": accounts, "dry_run": dry_run},
            "settings": settings,
        }
        upfront = self._upfront(trigger, accounts)
        # Refused before the run exists when another actor holds what it needs.
        async with self._holding(keeper, [run_resource(thread), *upfront]):
            self.registry.upsert(thread, run_id, str(kind), accounts, "running", [])
            completed = await self._drive(app, payload, thread, max_steps_this_call, keeper)
            return await self._asking(app, thread, keeper, await self._result(app, thread, completed))

    async def _reopen(self, thread_id: str) -> tuple[Any, LeaseKeeper, list[str]]:
        """A saved run, ready to drive again: its graph built from its own settings, a lease holder,
        and the leases it needs (its run, and for maintenance its accounts and/or the CMS)."""
        record = self.registry.get(thread_id)
        if record is None:
            raise UsageError(f"no run {thread_id!r} (see `adpilot runs list`)")
        snapshot = await self.checkpointer.aget_tuple({"configurable": {"thread_id": thread_id}})
        values: dict[str, Any] = dict(snapshot.checkpoint.get("channel_values", {})) if snapshot else {}
        settings: Settings = values.get("settings") or Settings(accounts=record.accounts)
        trigger = values.get("trigger")
        upfront = self._upfront(trigger if isinstance(trigger, Mapping) else {}, list(settings.get("accounts") or []))
        keeper = self._keeper(thread_id)
        app = self._app(record.run_id, thread_id, settings, keeper)
        return app, keeper, [run_resource(thread_id), *upfront]

    @traced_run("resume")
    async def resume(self, thread_id: str, decisions: Mapping[str, Mapping[str, Any]]) -> RunResult:
        """Answer a run's pending approvals: {pending id: {"decision": approve|reject|edit, …}}.

        Refused (UsageError, nothing changes) for a malformed decision (``reuse`` and ``void`` too:
        the Runner answers those itself, never a caller); for a pending id another
        person has decided meanwhile (checked under the run's lease); for an approval that expired
        (it is void then, and its run goes on without it); for an approve or edit by the person who
        requested the change; and for a second approval by the same person. Refused while the kill
        switch is engaged, and for a run a person stopped (the approvals stay pending). An approval
        that needs more different people (four-eyes) is recorded and the item keeps waiting until
        enough have approved.
        """
        if (stopped := self.kill_switch.message()) is not None:
            raise StoppedError(f"cannot carry out approvals: {stopped}; they stay pending")
        self._refuse_stopped(thread_id)
        for pending_id, decision in decisions.items():
            if (problem := malformed(dict(decision) if isinstance(decision, Mapping) else decision)) is not None:
                raise UsageError(f"decision on {pending_id} refused: {problem}")
            if decision["decision"] not in DECISIONS:  # reuse / void: the Runner's own answers, never a person's
                raise UsageError(
                    f"decision on {pending_id} refused: {decision['decision']!r} is not a person's decision; "
                    f"one of {', '.join(DECISIONS)}"
                )
        record = self.registry.get(thread_id)
        if record is not None and record.kind == "tool":
            return await self._decide_call(thread_id, decisions)
        app, keeper, resources = await self._reopen(thread_id)
        async with self._holding(keeper, resources):
            snapshot = await app.aget_state(self._config(thread_id))
            current = dict(snapshot.values)
            decided = current.get("decisions") or {}
            items = {p["id"]: p for p in current.get("pending") or [] if decided.get(p["id"]) is None}
            if not snapshot.tasks:
                items = {}
            admitted, notes, voided = self._admit(thread_id, items, decisions)
            if voided:
                # Expired: void, and the run goes on without them; the person is told (below).
                self.registry.mark_running(thread_id)
                completed = await self._drive(app, Command(resume=voided), thread_id, None, keeper)
                await self._asking(app, thread_id, keeper, await self._result(app, thread_id, completed))
                raise UsageError("; ".join(notes))
            if not admitted:
                result = await self._result(app, thread_id, True)
                result.report["notes"] = [*result.report.get("notes", []), *notes]
                return result
            # Until the decisions are carried out the run is running again: should this process die
            # meanwhile, the next start continues it instead of finding it "waiting" for a decision
            # that was already taken.
            self.registry.mark_running(thread_id)
            completed = await self._drive(app, Command(resume=admitted), thread_id, None, keeper)
            result = await self._result(app, thread_id, completed)
            for item in result.pending:  # answered, but the kill switch kept it from happening
                if item["id"] in admitted:
                    self.registry.forget_decision(item["id"])
            result = await self._asking(app, thread_id, keeper, result)
            result.report["notes"] = [*result.report.get("notes", []), *notes]
        return result

    def _admit(
        self, thread_id: str, items: Mapping[str, Any], decisions: Mapping[str, Mapping[str, Any]]
    ) -> tuple[dict[str, dict[str, Any]], list[str], dict[str, dict[str, Any]]]:
        """Under the run's lease: which decisions are taken now (with who approved and what they
        were shown), notes for approvals still short of people, and expired approvals to void."""
        admitted: dict[str, dict[str, Any]] = {}
        notes: list[str] = []
        voided: dict[str, dict[str, Any]] = {}
        for pending_id, given in decisions.items():
            decision = dict(given)
            verb = str(decision["decision"])
            approver = str(decision.get("approver") or self.approver)
            if pending_id not in items:
                if (earlier := self.registry.decision(pending_id)) is not None:
                    raise UsageError(f"approval {pending_id} was already decided: {earlier}")
                raise UsageError(f"run {thread_id} has no pending approval {pending_id}")
            asked = self.registry.asked(pending_id)
            if asked is not None and asked.thread_id != thread_id:
                raise UsageError(f"approval {pending_id} waits in run {asked.thread_id} now, not in run {thread_id}")
            if asked is not None and asked.expired():
                self.registry.void(pending_id)
                why = f"expired at {asked.expires_at.replace('T', ' ')[:16]} UTC"
                voided[pending_id] = {"decision": "void", "why": why}
                notes.append(
                    f"approval {pending_id} {why} (asked {asked.asked_at.replace('T', ' ')[:16]} UTC): it is void "
                    "and can no longer be decided; the next run that meets this change asks again"
                )
                continue
            requester = asked.requester if asked is not None else None
            if verb in ("approve", "edit") and requester and same_person(approver, requester):
                raise UsageError(
                    f"{approver} requested {pending_id} and cannot approve it: another person must "
                    "(give --approver, or set `approver` in the configuration)"
                )
            detail = asked.detail if asked is not None else {}
            taken = {
                **decision,
                "approver": approver,
                "requester": requester,
                "before": detail.get("before"),
                "before_shown": bool(detail.get("before_shown")),
            }
            if verb == "approve":
                approvers = self.registry.add_approver(pending_id, approver)
                needed = asked.needed if asked is not None else 1
                if len(approvers) < needed:
                    notes.append(
                        f"approval {pending_id}: approved by {', '.join(approvers)} — {len(approvers)} of {needed} "
                        f"approvals; it needs {needed - len(approvers)} more different person(s)"
                    )
                    continue
                taken["approvers"] = list(approvers)
                taken["approver"] = ", ".join(approvers)
            else:
                taken["approvers"] = [approver]
            self.registry.record_decision(pending_id, thread_id, verb, str(taken["approver"]))
            admitted[pending_id] = taken
        return admitted, notes, voided

    async def _decide_call(self, thread_id: str, decisions: Mapping[str, Mapping[str, Any]]) -> RunResult:
        """Decide an approval that `adpilot tool call` queued: no graph, one call through the Guard
        with the approval (idempotency key: the pending id)."""
        keeper = self._keeper(thread_id)
        async with self._holding(keeper, [run_resource(thread_id)]):
            record = self.registry.get(thread_id)
            assert record is not None
            items = {p["id"]: p for p in record.pending} if record.status == "waiting" else {}
            admitted, notes, voided = self._admit(thread_id, items, decisions)
            scope = RunScope(thread_id, thread_id, frozenset(record.accounts), actor=self.actor)
            guard = self.deployment.guard(scope, keeper)
            remaining = [p for p in record.pending if p["id"] not in admitted and p["id"] not in voided]
            outcomes: list[dict[str, Any]] = []
            if admitted or voided:
                self.registry.upsert(thread_id, record.run_id, record.kind, record.accounts, "running", remaining)
            for pending_id, decision in admitted.items():
                carried = await carry_out(guard, cast(Pending, items[pending_id]), decision, self.approver)
                if carried.still_waiting:
                    self.registry.forget_decision(pending_id)
                    remaining.append(items[pending_id])
                if carried.outcome is not None:
                    outcomes.append(dict(carried.outcome))
                if carried.note is not None:
                    notes.append(carried.note)
                if carried.renewed is not None:
                    renewed = carried.renewed
                    requester = self.registry.asked(pending_id)
                    asked = await ask_people(
                        self.registry,
                        self.audit,
                        guard,
                        thread_id,
                        [dict(renewed)],
                        requester=requester.requester if requester is not None else self.requester,
                    )
                    if not asked[renewed["id"]].reused:
                        remaining.append(dict(renewed))
            status = "waiting" if remaining else "done"
            self.registry.upsert(thread_id, record.run_id, record.kind, record.accounts, status, remaining)
            state = {"run_id": record.run_id, "outcomes": outcomes, "pending": remaining}
            report = build_report(state, stop=None)  # type: ignore[arg-type]
            report["notes"] = notes
            if voided:
                raise UsageError("; ".join(notes))
            return RunResult(thread_id, record.run_id, status, report, None, report["pending_approvals"], state)

    def _refuse_stopped(self, thread_id: str) -> None:
        if (stop := self.registry.stop_request(thread_id)) is not None:
            raise StoppedError(f"run {thread_id} was {stop}; it does not go on, and its approvals stay pending")

    def stop(self, thread_id: str, *, by: str, reason: str, starting: bool = False) -> str:
        """``by`` stops run ``thread_id`` (running, waiting, or interrupted), for ``reason``; its
        status afterwards. A run nobody drives is ``stopped`` at once, its waiting approvals still
        listed and open (deciding them is refused); a run another task or process drives stops
        after its step in flight (:meth:`_drive`). Recorded as an audit decision row naming the
        person (tool ``stop_run``, rule ``run.stop``). Refused (UsageError) for an unknown run, a
        finished one, and a second stop. ``starting``: the caller has just asked for this run to
        start (the API's pending run), so a run not registered yet is stopped before it begins — it
        ends after its first step."""
        reason = reason.strip()
        if not reason:
            raise UsageError(f"stopping run {thread_id} needs a reason")
        record = self.registry.get(thread_id)
        if record is None and not starting:
            raise UsageError(f"no run {thread_id!r} (see `adpilot runs list` or the console's Runs page)")
        if (
            record is not None
            and self.registry.stop_request(thread_id) is None
            and record.status not in ("running", "waiting")
        ):
            raise UsageError(f"run {thread_id} is {record.status}: only a running, waiting or interrupted run stops")
        stop = self.registry.request_stop(thread_id, by, reason)  # a second stop is refused here
        args = {"thread_id": thread_id, "reason": reason}
        self.audit.append(
            "decision",
            run_id=record.run_id if record is not None else thread_id,
            thread_id=thread_id,
            actor=by,
            role="operator",
            tool="stop_run",
            args=args,
            call_hash=hashlib.sha256(json.dumps(["stop_run", args], sort_keys=True).encode()).hexdigest(),
            policy_hash="",
            decision="allow",
            rule="run.stop",
            reason=str(stop),
        )
        if record is None or self.holder(thread_id) is not None:
            return "running"
        self.registry.mark_stopped(thread_id)
        return "stopped"

    @traced_run("continue")
    async def continue_run(self, thread_id: str, *, max_steps_this_call: int | None = None) -> RunResult:
        """Carry on a run that stopped without finishing (a crash, a shutdown): from its last checkpoint.
        Refused (StoppedError) for a run a person stopped."""
        self._refuse_stopped(thread_id)
        app, keeper, resources = await self._reopen(thread_id)
        async with self._holding(keeper, resources):
            completed = await self._drive(app, None, thread_id, max_steps_this_call, keeper)
            return await self._asking(app, thread_id, keeper, await self._result(app, thread_id, completed))

    async def _asking(self, app: Any, thread_id: str, keeper: LeaseKeeper, result: RunResult) -> RunResult:
        """People are asked (:meth:`_ask_all`); a run a person stopped is ``stopped`` then, its
        waiting approvals still listed and open."""
        result = await self._ask_all(app, thread_id, keeper, result)
        if result.status == "waiting" and self.registry.stop_request(thread_id) is not None:
            self.registry.mark_stopped(thread_id)
            result.status = "stopped"
        return result

    async def _ask_all(self, app: Any, thread_id: str, keeper: LeaseKeeper, result: RunResult) -> RunResult:
        """A run that pauses asks people — once per call hash: an item whose call already waits for
        a person as another approval is answered ``reuse`` at once (the run goes on without it)."""
        for _ in range(MAX_REUSE_ROUNDS):
            if result.status != "waiting":
                return result
            settings = result.state.get("settings") or {}
            asked = await ask_people(
                self.registry,
                self.audit,
                self._guards.get(thread_id),
                thread_id,
                result.pending,
                # The run's requester, not this process's: resumed by an approver, it still asks in
                # the name of whoever started it, who never approves it.
                requester=self.registry.requester_of(thread_id) or self.requester,
                model=str(settings.get("model") or ""),
            )
            reused = {
                pending_id: {"decision": "reuse", "of": outcome.pending_id}
                for pending_id, outcome in asked.items()
                if outcome.reused
            }
            if not reused:
                return result
            self.registry.mark_running(thread_id)
            completed = await self._drive(app, Command(resume=reused), thread_id, None, keeper)
            result = await self._result(app, thread_id, completed)
        return result
