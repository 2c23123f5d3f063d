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
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.types import Command

from adpilot.agents.context import RunContext
from adpilot.agents.graph import build_graph
from adpilot.agents.llm import ModelProvider, build_provider
from adpilot.agents.registry import RunRegistry
from adpilot.agents.report import build_report
from adpilot.agents.state import Settings
from adpilot.agents.stop import Limits
from adpilot.compose.deployment import Deployment
from adpilot.config import Config
from adpilot.errors import StoppedError, UsageError
from adpilot.leases import CMS, Heartbeat, Lease, resource_for_account
from adpilot.memory.store import MemoryStore
from adpilot.policies.compliance import ComplianceEngine
from adpilot.statedir import StateDir
from adpilot.tools.audit import AuditLog
from adpilot.tools.guard import RunScope
from adpilot.tools.leasing import LeaseKeeper
from adpilot.tools.platforms import Platforms


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
        self.limits = limits or Limits()
        self.skills = skills
        self.approver = approver
        self.on_step = on_step  # (thread id, node name) after each step, for progress displays
        self.actor = actor  # who acts, in lease messages: "adpilot maintain", "approval by lena", …
        self.kill_switch = self.deployment.kill_switch
        self.brand = ComplianceEngine.from_pack(config.policy).brand
        # Set (by a signal): every run of this runner finishes its step in flight, then stops driving.
        self.shutdown = shutdown or asyncio.Event()
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Runner:
        if self._owns_deployment:
            await self._stack.enter_async_context(self.deployment)
        self.checkpointer = await self._stack.enter_async_context(
            AsyncSqliteSaver.from_conn_string(str(self.paths.checkpoints))
        )
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
        return build_provider(settings.get("model") or self.config.model)

    def _app(self, run_id: str, thread_id: str, settings: Settings, keeper: LeaseKeeper) -> Any:
        scope = RunScope(
            run_id, thread_id, frozenset(settings.get("accounts") or []), dry_run=bool(settings.get("dry_run"))
        )
        guard = self.deployment.guard(scope, keeper)
        ctx = RunContext(
            config=self.config,
            guard=guard,
            models=self._models_for(settings),
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
        step in flight finishes and is checkpointed first.
        """
        config = self._config(thread_id)
        steps = 0
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
        return True

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
        report = values.get("report") or build_report(values, stop=values.get("stop_reason"))  # type: ignore[arg-type]
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
        return await self._result(app, thread, completed)

    async def _reopen(self, thread_id: str) -> tuple[Any, LeaseKeeper, list[str]]:
        """A saved run, ready to drive again: its graph built from its own settings, a lease holder,
        and the leases it needs (its run, and for maintenance its accounts and/or the CMS)."""
        record = self.registry.get(thread_id)
        if record is None:
            raise UsageError(f"no run {thread_id!r} (see `adpilot approvals list`)")
        snapshot = await self.checkpointer.aget_tuple({"configurable": {"thread_id": thread_id}})
        values: dict[str, Any] = dict(snapshot.checkpoint.get("channel_values", {})) if snapshot else {}
        settings: Settings = values.get("settings") or Settings(accounts=record.accounts)
        trigger = values.get("trigger")
        upfront = self._upfront(trigger if isinstance(trigger, Mapping) else {}, list(settings.get("accounts") or []))
        keeper = self._keeper(thread_id)
        app = self._app(record.run_id, thread_id, settings, keeper)
        return app, keeper, [run_resource(thread_id), *upfront]

    async def resume(self, thread_id: str, decisions: Mapping[str, Mapping[str, Any]]) -> RunResult:
        """Answer a run's pending approvals: {pending id: {"decision": approve|reject|edit, …}}.

        Refused while the kill switch is engaged (the approvals stay pending), and refused for a
        pending id that another person has decided meanwhile (checked under the run's lease).
        """
        if (stopped := self.kill_switch.message()) is not None:
            raise StoppedError(f"cannot carry out approvals: {stopped}; they stay pending")
        app, keeper, resources = await self._reopen(thread_id)
        async with self._holding(keeper, resources):
            snapshot = await app.aget_state(self._config(thread_id))
            current = dict(snapshot.values)
            decided = current.get("decisions") or {}
            open_ids = {p["id"] for p in current.get("pending") or [] if decided.get(p["id"]) is None}
            for pending_id, decision in decisions.items():
                verb = str(decision.get("decision"))
                if pending_id not in open_ids or not snapshot.tasks:
                    if (earlier := self.registry.decision(pending_id)) is not None:
                        raise UsageError(f"approval {pending_id} was already decided: {earlier}")
                    raise UsageError(f"run {thread_id} has no pending approval {pending_id}")
                # Still open in the run's own state, under its lease: this decision is the one.
                self.registry.record_decision(
                    pending_id, thread_id, verb, str(decision.get("approver") or self.approver)
                )
            # Until the decisions are carried out the run is running again: should this process die
            # meanwhile, the next start continues it instead of finding it "waiting" for a decision
            # that was already taken.
            self.registry.mark_running(thread_id)
            completed = await self._drive(app, Command(resume=dict(decisions)), thread_id, None, keeper)
            result = await self._result(app, thread_id, completed)
            for item in result.pending:  # answered, but the kill switch kept it from happening
                if item["id"] in decisions:
                    self.registry.forget_decision(item["id"])
        return result

    async def continue_run(self, thread_id: str, *, max_steps_this_call: int | None = None) -> RunResult:
        """Carry on a run that stopped without finishing (a crash, a shutdown): from its last checkpoint."""
        app, keeper, resources = await self._reopen(thread_id)
        async with self._holding(keeper, resources):
            completed = await self._drive(app, None, thread_id, max_steps_this_call, keeper)
        return await self._result(app, thread_id, completed)
