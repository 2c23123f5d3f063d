"""Runs as a person sees them: every run the registry knows, with the status it really has, and
stopping one — the same for ``adpilot runs`` and the console's Runs page.

A run registered as ``running`` that nobody drives (no live lease on it: a crash or a shutdown
ended it between two steps) shows as ``interrupted``; ``adpilot maintain`` carries it on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adpilot.agents.registry import RunRecord, RunRegistry
from adpilot.config import Config
from adpilot.errors import UsageError
from adpilot.leases import LeaseStore
from adpilot.statedir import StateDir
from adpilot.tables import table

STATUSES = ("running", "waiting", "interrupted", "stopped", "failed", "done")


def shown_statuses(config: Config, records: list[RunRecord]) -> dict[str, str]:
    """Each run's status as a person reads it (``interrupted``: registered as running, no live lease)."""
    from adpilot.agents.run import run_resource

    running = [r for r in records if r.status == "running"]
    shown = {r.thread_id: r.status for r in records}
    if running:
        leases = LeaseStore(StateDir(config.state_dir).leases, ttl_s=config.guard.lease_ttl_s)
        try:
            for record in running:
                if leases.holder(run_resource(record.thread_id)) is None:
                    shown[record.thread_id] = "interrupted"
        finally:
            leases.close()
    return shown


def list_runs(config: Config, statuses: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The runs the registry knows, newest first; only those with one of ``statuses`` when given."""
    unknown = sorted(set(statuses) - set(STATUSES))
    if unknown:
        raise UsageError(f"--status {', '.join(unknown)}: not a run status (one of {', '.join(STATUSES)})")
    path = StateDir(config.state_dir).registry
    if not path.exists():
        return []
    registry = RunRegistry(path)
    try:
        records = sorted(registry.with_status(*STATUSES), key=lambda r: r.created, reverse=True)
    finally:
        registry.close()
    shown = shown_statuses(config, records)
    rows = [
        {
            "thread_id": r.thread_id,
            "kind": r.kind,
            "accounts": list(r.accounts),
            "status": shown[r.thread_id],
            "started": r.created,
            "updated": r.updated,
            "waiting": len(r.pending),
        }
        for r in records
    ]
    return [row for row in rows if not statuses or row["status"] in statuses]


def render_runs(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "No runs."
    body = [
        [
            r["thread_id"],
            r["kind"],
            ", ".join(r["accounts"]),
            r["status"],
            _when(r["started"]),
            r["waiting"] or "",
        ]
        for r in rows
    ]
    # Within 120 columns with maintenance run ids; --json adds when each run last changed.
    return table(["run", "kind", "accounts", "status", "started (UTC)", "waiting"], body)


async def stop_run(config: Config, thread_id: str, *, by: str, reason: str) -> str:
    """``by`` stops one run for ``reason`` (audited in their name); what the person reads next."""
    from adpilot.agents.run import Runner

    async with Runner(config, approver=by, requester=by, actor=f"adpilot runs stop ({by})") as runner:
        status = runner.stop(thread_id, by=by, reason=reason)
    if status == "stopped":
        return (
            f"run {thread_id} stopped: it makes no further change; its waiting approvals stay listed "
            "and deciding them is refused"
        )
    return f"run {thread_id} is being driven right now (another process or task): it stops after its step in flight"


def _when(iso: str) -> str:
    return iso.replace("T", " ")[:16]
