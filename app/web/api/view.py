"""What the API shows of a thread: a JSON view of its adpilot run, its interrupts, its status.

The view (a thread's ``values``) is made of named fields only — the run's status, accounts and dry
run, the approvals it waits for (each with who asked, how many must approve, who did, the expiry),
its outcomes, its answer and report. The model conversation and transcripts are left out, and no
configuration (no credentials) is ever part of a run's state.

A run waiting for people shows one interrupt (task ``escalate``) whose value is what the graph's
``interrupt()`` carries: ``{"run_id": …, "pending": […]}``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from adpilot.agents.checkpoints import last_checkpoint
from adpilot.agents.registry import RunRecord, RunRegistry
from adpilot.app.web.api.store import ApiStore, ApiThread
from adpilot.config import Config
from adpilot.statedir import StateDir

ASSISTANTS = {
    "maintenance": 'One maintenance run over accounts and/or the CMS: input {"accounts": […], "dry_run": false}',
    "chat": 'One operator request in words: input {"text": "…"}',
}
THREAD_STATUS = {"running": "busy", "waiting": "interrupted", "done": "idle", "stopped": "idle", "failed": "error"}
SHOWN = ("outcomes", "answer", "report", "notes", "stop_reason")


def interrupt_id(thread_id: str, pending: list[dict[str, Any]]) -> str:
    """One id per set of waiting approvals of a thread (a new pause: a new id)."""
    key = thread_id + "\n" + "\n".join(sorted(str(p.get("id")) for p in pending))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


@dataclass
class ThreadData:
    thread_id: str
    created: str
    updated: str
    metadata: dict[str, Any]
    status: str
    values: dict[str, Any]
    interrupts: list[dict[str, Any]]
    checkpoint_id: str | None

    def as_thread(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "created_at": self.created,
            "updated_at": self.updated,
            "metadata": self.metadata,
            "status": self.status,
            "values": self.values,
            "interrupts": {"escalate": self.interrupts} if self.interrupts else {},
        }

    def as_state(self) -> dict[str, Any]:
        waiting = bool(self.interrupts)
        tasks = [
            {
                "id": self.interrupts[0]["id"],
                "name": "escalate",
                "error": None,
                "interrupts": self.interrupts,
                "checkpoint": None,
                "state": None,
                "result": None,
            }
        ]
        return {
            "values": self.values,
            "next": ["escalate"] if waiting else [],
            "checkpoint": {"thread_id": self.thread_id, "checkpoint_ns": "", "checkpoint_id": self.checkpoint_id},
            "metadata": self.metadata,
            "created_at": self.updated,
            "parent_checkpoint": None,
            "tasks": tasks if waiting else [],
            "interrupts": self.interrupts,
        }

    def with_interrupt(self) -> dict[str, Any]:
        """What ``runs.wait`` / ``join`` answer: the values, and the interrupts while waiting."""
        return {**self.values, "__interrupt__": self.interrupts} if self.interrupts else self.values


def _pending_view(registry: RunRegistry, pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
    shown = []
    for item in pending:
        asked = registry.asked(str(item["id"]))
        extra: dict[str, Any] = {}
        if asked is not None:
            detail = asked.detail
            extra = {
                "requester": asked.requester,
                "needed": asked.needed,
                "approvers": list(asked.approvers),
                "asked_at": asked.asked_at,
                "expires_at": asked.expires_at,
                "expired": asked.expired(),
                "rule": detail.get("rule"),
                "entity": detail.get("entity"),
                "before": detail.get("before"),
                "after": detail.get("after"),
                "currency": detail.get("currency") or "",
            }
        shown.append({**item, **extra})
    return shown


def _values(record: RunRecord | None, saved: dict[str, Any], pending: list[dict[str, Any]]) -> dict[str, Any]:
    settings = saved.get("settings") or {}
    trigger = saved.get("trigger") or {}
    values: dict[str, Any] = {
        "status": record.status if record is not None else "new",
        "kind": record.kind if record is not None else None,
        "run_id": record.run_id if record is not None else None,
        "accounts": record.accounts if record is not None else [],
        "dry_run": bool(settings.get("dry_run")),
        "scope": trigger.get("scope"),
        "text": trigger.get("text"),
        "pending": pending,
    }
    for key in SHOWN:
        values[key] = saved.get(key)
    return values


async def load(config: Config, store: ApiStore, thread_id: str, *, busy: bool) -> ThreadData | None:
    """The thread ``thread_id`` as the API shows it (None: neither the API nor adpilot knows it).
    ``busy``: an API run drives it in this process right now."""
    registry = RunRegistry(StateDir(config.state_dir).registry)
    try:
        record = registry.get(thread_id)
        made: ApiThread | None = store.thread(thread_id)
        if record is None and made is None:
            return None
        waiting = record is not None and record.status == "waiting" and not busy
        pending = _pending_view(registry, record.pending) if record is not None and waiting else []
    finally:
        registry.close()
    saved, checkpoint_id = (
        await last_checkpoint(StateDir(config.state_dir).checkpoints, thread_id) if record is not None else ({}, None)
    )
    values = _values(record, saved, pending)
    interrupts = []
    if waiting and record is not None:
        value = {"run_id": record.run_id, "pending": pending}
        interrupts = [{"value": value, "id": interrupt_id(thread_id, record.pending)}]
    status = "busy" if busy else THREAD_STATUS.get(record.status, "idle") if record is not None else "idle"
    created = made.created if made is not None else record.created if record is not None else ""
    updated = record.updated if record is not None else created
    return ThreadData(
        thread_id,
        created,
        updated,
        made.metadata if made is not None else {},
        status,
        values,
        interrupts,
        checkpoint_id,
    )


def known_threads(config: Config, store: ApiStore) -> list[str]:
    """Every thread: those created through the API and every adpilot run."""
    registry = RunRegistry(StateDir(config.state_dir).registry)
    try:
        runs = registry.with_status(*THREAD_STATUS)
    finally:
        registry.close()
    ids = {t.thread_id for t in store.threads()} | {r.thread_id for r in runs}
    return sorted(ids)
