"""Running the graph: start a run, resume it with a person's decisions, continue after a crash.

One run is one thread: its state lives in the checkpointer (SQLite in the state directory),
its side effects in the audit log, and an index row in the run registry — never in process
globals — so a run can be resumed by another process, hours later.

Durability is ``sync``: each step's checkpoint is on disk before the next step starts, so a
crash loses at most the step in progress, whose changes the Guard replays by proposal id
instead of repeating them (docs/BENCHMARKS.md has the cost of that choice).
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.types import Command

from adpilot.agents.graph import RunContext, build_graph
from adpilot.agents.llm import ModelProvider, build_provider
from adpilot.agents.registry import RunRegistry
from adpilot.agents.report import build_report
from adpilot.agents.stop import KillSwitch, Limits
from adpilot.config import Config
from adpilot.errors import UsageError
from adpilot.memory.store import MemoryStore
from adpilot.policies.compliance import ComplianceEngine
from adpilot.tools.audit import AuditLog
from adpilot.tools.guard import RunScope, build_guard
from adpilot.tools.platforms import Platforms, connect

CHECKPOINTS = "checkpoints.sqlite"
CRASH_ENV = "ADPILOT_FAULT_CRASH_AFTER_STEPS"  # fault injection: SIGKILL the process after N steps
REGISTRY = "runs.sqlite"
AUDIT = "audit.sqlite3"


@dataclass
class RunResult:
    thread_id: str
    run_id: str
    status: str  # done | waiting | stopped | interrupted (crash simulated by max_steps_this_call)
    report: dict[str, Any]
    answer: str | None
    pending: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)


class Runner:
    """Owns the process objects of runs: platforms, audit log, checkpointer, registry, memory."""

    def __init__(
        self,
        config: Config,
        *,
        platforms: Platforms | None = None,
        audit: AuditLog | None = None,
        memory: MemoryStore | None = None,
        models: ModelProvider | None = None,
        limits: Limits | None = None,
        skills: bool = True,
        approver: str = "operator",
        persist_world: bool = True,
        on_step: Callable[[str, str], None] | None = None,
    ) -> None:
        self.config = config
        self._platforms = platforms
        self._audit = audit
        self.memory = memory
        self.models = models or build_provider(config.model)
        self.limits = limits or Limits()
        self.skills = skills
        self.approver = approver
        self.persist_world = persist_world
        self.on_step = on_step  # (thread id, node name) after each step, for progress displays
        crash = os.environ.get(CRASH_ENV)
        self._crash_after = int(crash) if crash and crash.isdigit() else None
        self.kill_switch = KillSwitch(config.state_dir)
        self.brand = ComplianceEngine.from_pack(config.policy).brand
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Runner:
        state_dir = self.config.state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        if self._platforms is None:
            self._platforms = await self._stack.enter_async_context(connect(self.config, persist=self.persist_world))
        if self._audit is None:
            self._audit = AuditLog(state_dir / AUDIT)
        self.checkpointer = await self._stack.enter_async_context(
            AsyncSqliteSaver.from_conn_string(str(state_dir / CHECKPOINTS))
        )
        self.registry = RunRegistry(state_dir / REGISTRY)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.registry.close()
        await self._stack.aclose()

    @property
    def platforms(self) -> Platforms:
        assert self._platforms is not None
        return self._platforms

    @property
    def audit(self) -> AuditLog:
        assert self._audit is not None
        return self._audit

    def _app(self, run_id: str, thread_id: str, accounts: list[str], dry_run: bool) -> Any:
        scope = RunScope(run_id, thread_id, frozenset(accounts), dry_run=dry_run)
        guard = build_guard(self.config, self.platforms, self.audit, scope, memory=self.memory)
        guard.halted = lambda: "kill switch engaged" if self.kill_switch.engaged else None
        ctx = RunContext(
            config=self.config,
            guard=guard,
            models=self.models,
            brand=self.brand,
            kill_switch=self.kill_switch,
            limits=self.limits,
            memory=self.memory,
            skills=self.skills,
            approver=self.approver,
        )
        return build_graph(ctx).compile(checkpointer=self.checkpointer)

    def _config(self, thread_id: str) -> dict[str, Any]:
        # Our own max_steps check fires first; LangGraph's recursion limit is the backstop.
        return {"configurable": {"thread_id": thread_id}, "recursion_limit": self.limits.max_steps * 2 + 20}

    async def _drive(self, app: Any, payload: Any, thread_id: str, max_steps: int | None) -> bool:
        """Run until the graph pauses or ends; with ``max_steps``, stop early as a crash would."""
        config = self._config(thread_id)
        if max_steps is None and self.on_step is None and self._crash_after is None:
            await app.ainvoke(payload, config, durability="sync")
            return True
        steps = 0
        async for update in app.astream(payload, config, stream_mode="updates", durability="sync"):
            steps += 1
            if self._crash_after is not None and steps >= self._crash_after:
                # Fault injection for crash tests: die as `kill -9` would, mid-run.
                os.kill(os.getpid(), signal.SIGKILL)
            if self.on_step is not None:
                for node in update:
                    self.on_step(thread_id, node)
            if max_steps is not None and steps >= max_steps:
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
        self.registry.upsert(
            thread_id,
            values.get("run_id", thread_id),
            values.get("trigger", {}).get("kind", "?"),
            record.accounts if record else list(values.get("trigger", {}).get("accounts") or []),
            "running" if status == "interrupted" else status,
            pending,
        )
        return RunResult(
            thread_id, values.get("run_id", thread_id), status, report, values.get("answer"), pending, values
        )

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
        self.registry.upsert(thread, run_id, kind, accounts, "running", [])
        app = self._app(run_id, thread, accounts, dry_run)
        payload = {"run_id": run_id, "trigger": {**trigger, "accounts": accounts, "dry_run": dry_run}}
        completed = await self._drive(app, payload, thread, max_steps_this_call)
        return await self._result(app, thread, completed)

    async def _app_for(self, thread_id: str) -> Any:
        record = self.registry.get(thread_id)
        if record is None:
            raise UsageError(f"no run {thread_id!r} (see `adpilot approvals list`)")
        dry_run = False
        snapshot = await self.checkpointer.aget_tuple(self._config(thread_id))
        if snapshot is not None:
            trigger = snapshot.checkpoint.get("channel_values", {}).get("trigger") or {}
            dry_run = bool(trigger.get("dry_run"))
        return self._app(record.run_id, thread_id, record.accounts, dry_run)

    async def resume(self, thread_id: str, decisions: Mapping[str, Mapping[str, Any]]) -> RunResult:
        """Answer a run's pending approvals: {pending id: {"decision": approve|reject|edit, …}}."""
        app = await self._app_for(thread_id)
        await self._drive(app, Command(resume=dict(decisions)), thread_id, None)
        return await self._result(app, thread_id, True)

    async def continue_run(self, thread_id: str, *, max_steps_this_call: int | None = None) -> RunResult:
        """Carry on a run that stopped without finishing (a crash): from its last checkpoint."""
        app = await self._app_for(thread_id)
        completed = await self._drive(app, None, thread_id, max_steps_this_call)
        return await self._result(app, thread_id, completed)
