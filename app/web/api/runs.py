"""API runs: a start or a resume of an adpilot run, driven by a task of the console's process.

A start is one ``Runner.start`` in the name of the caller (they are its requester: they never
approve what it escalates). A resume carries out each decision exactly as ``adpilot approvals
approve|reject|edit`` does (:func:`adpilot.app.runs.decide_with`), as the caller: four-eyes, the
requester who cannot approve, expiry and the kill switch are the Runner's, and the audit log names
the caller (``approval by NAME``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from adpilot.agents.run import Runner
from adpilot.app.web.api.store import ApiStore
from adpilot.compose import open_memory
from adpilot.config import Config
from adpilot.errors import AdpilotError

log = logging.getLogger(__name__)
Event = tuple[str, Any]


@dataclass
class Job:
    """What one API run does: ``trigger`` to start (with ``dry_run`` and ``memory``) or
    ``decisions`` ({pending id: decision}) to resume, as ``caller``."""

    thread_id: str
    caller: str
    trigger: dict[str, Any] | None = None
    dry_run: bool = False
    memory: bool = True
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)


async def drive(config: Config, job: Job, on_step: Callable[[str, str], None] | None) -> str:
    """Carry out ``job``; the status of the adpilot run afterwards (done, waiting, stopped, …;
    ``cancelled``: a person stopped it meanwhile)."""
    from adpilot.app.runs import decide_with

    who = job.caller
    if job.trigger is not None:
        runner = Runner(
            config, memory=open_memory(config, job.memory), requester=who, actor=f"api ({who})", on_step=on_step
        )
        async with runner:
            result = await runner.start(job.trigger, thread_id=job.thread_id, dry_run=job.dry_run)
            return cancelled(runner, job.thread_id, result.status)
    runner = Runner(
        config, memory=open_memory(config, False), approver=who, actor=f"approval by {who}", on_step=on_step
    )
    status = "waiting"
    async with runner:
        for pending_id, decision in job.decisions.items():
            result = await decide_with(
                runner,
                pending_id,
                str(decision["decision"]),
                str(decision.get("reason") or ""),
                who,
                args=decision.get("args"),
            )
            status = cancelled(runner, job.thread_id, result.status)
    return status


def cancelled(runner: Runner, thread_id: str, status: str) -> str:
    """``cancelled`` for a run a person stopped, else ``status``."""
    return "cancelled" if status == "stopped" and runner.registry.stop_request(thread_id) is not None else status


class Runs:
    """The API runs this process drives: their tasks, and queues of their events for streams."""

    def __init__(self, config: Config, store: ApiStore) -> None:
        self.config = config
        self.store = store
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.threads: dict[str, str] = {}  # thread id -> the run driving it now

    def busy(self, thread_id: str) -> bool:
        return thread_id in self.threads

    def launch(self, run_id: str, job: Job, events: asyncio.Queue[Event] | None = None) -> asyncio.Task[None]:
        """Drive ``job`` as API run ``run_id`` in a task; with ``events``, each step finished is put
        there as ("updates", {node: {}}), and ("done", None) when the run ends."""

        def step(thread: str, node: str) -> None:
            if events is not None:
                events.put_nowait(("updates", {node: {}}))

        async def go() -> None:
            self.store.set_status(run_id, "running")
            try:
                status = await drive(self.config, job, step)
            except AdpilotError as exc:
                self.store.set_status(run_id, "error", str(exc))
            except Exception as exc:  # a bug must end the API run, not leave it "running" forever
                log.exception("API run %s failed", run_id)
                self.store.set_status(run_id, "error", f"internal error ({type(exc).__name__}); see the console's log")
            else:
                self.store.set_status(run_id, "interrupted" if status in ("interrupted", "cancelled") else "success")
            finally:
                self.threads.pop(job.thread_id, None)
                self.tasks.pop(run_id, None)
                if events is not None:
                    events.put_nowait(("done", None))

        self.threads[job.thread_id] = run_id
        task = asyncio.get_running_loop().create_task(go(), name=f"api-run-{run_id}")
        self.tasks[run_id] = task
        return task

    async def join(self, run_id: str) -> None:
        """Until API run ``run_id`` ended (at once when it is not driven here)."""
        task = self.tasks.get(run_id)
        if task is not None:
            await asyncio.shield(task)
