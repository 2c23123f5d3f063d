"""CLI commands that act through the Guard: single tool calls, audit inspection, rollback."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from adpilot.compose import Deployment, connect
from adpilot.config import Config
from adpilot.errors import StoppedError, UsageError
from adpilot.leases import Heartbeat
from adpilot.policies import load_policy
from adpilot.statedir import KillSwitch, StateDir
from adpilot.tables import table
from adpilot.tools.audit import AuditLog
from adpilot.tools.guard import Guard, RunScope
from adpilot.tools.rollback import rollback_run


def open_audit(config: Config) -> AuditLog:
    return AuditLog(StateDir(config.state_dir).audit)


@asynccontextmanager
async def acting(config: Config, run_id: str, *, label: str, dry_run: bool = False) -> AsyncIterator[Guard]:
    """A Guard for one command outside a run: it takes the lease of each account it changes
    (waiting ``guard.lease_wait_s``, then refusing with the holder's name) and releases them
    all when the command ends."""
    scope = RunScope(run_id, run_id, frozenset(config.accounts), dry_run=dry_run, actor="cli")
    async with Deployment(config) as deployment:
        keeper = deployment.keeper(label)
        async with Heartbeat(deployment.leases, keeper.owner):
            yield deployment.guard(scope, keeper)


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment
        return "unknown user"


async def call_tool(config: Config, role: str, tool: str, raw_args: str, *, dry_run: bool) -> dict[str, Any]:
    """One call through the Guard. A call the Guard escalates (or an ``escalate`` with a proposal)
    waits for a person as a pending approval of exactly that call, requested by the OS user — or,
    when the same call already waits, the outcome names that approval (``already_waiting``)."""
    try:
        args = json.loads(raw_args)
    except json.JSONDecodeError as exc:
        raise UsageError(f"tool arguments must be a JSON object: {exc}") from exc
    run_id = f"cli-{uuid.uuid4().hex[:8]}"
    queued: dict[str, Any] = {}
    async with acting(config, run_id, label="adpilot tool call", dry_run=dry_run) as guard:
        result = await guard.call(role, tool, args)
        if not dry_run:
            queued = _queue(config, guard, run_id, role, tool, args, result)
            if queued.get("pending") is not None:
                from adpilot.agents.registry import RunRegistry
                from adpilot.agents.run import ask_people

                registry = RunRegistry(StateDir(config.state_dir).registry)
                try:
                    item = queued.pop("pending")
                    asked = await ask_people(registry, guard.audit, guard, run_id, [item], requester=_os_user())
                    if asked[item["id"]].reused:
                        queued = {"already_waiting": asked[item["id"]].pending_id}
                    else:
                        registry.upsert(run_id, run_id, "tool", sorted(config.accounts), "waiting", [item])
                        queued = {"approval": item["id"], "approve": f"adpilot approvals approve {item['id']}"}
                finally:
                    registry.close()
    return {"run_id": run_id, **json.loads(result.for_model()), "audit_seq": result.audit_seq, **queued}


def _queue(config: Config, guard: Guard, run_id: str, role: str, tool: str, args: Any, result: Any) -> dict[str, Any]:
    """The pending item an escalated call becomes (empty when the Guard did not escalate it)."""
    from adpilot.agents.loop import record

    if not isinstance(args, dict):
        return {}
    _, pending = record(
        result,
        proposal_id=f"call.{uuid.uuid4().hex[:16]}",
        task_id=run_id,
        role=role,
        tool=tool,
        args=args,
        rationale=f"adpilot tool call by {_os_user()}",
        account=str(args["customer_id"]) if args.get("customer_id") else None,
    )
    return {"pending": dict(pending)} if pending is not None else {}


def list_tools(config: Config, role: str | None) -> list[dict[str, Any]]:
    policy = load_policy(config.policy)
    from adpilot.policies import covers
    from adpilot.tools.catalogue import CATALOGUE

    roles = [role] if role else sorted(policy.roles)
    return [
        {
            "tool": spec.name,
            "scope": spec.scope or "-",
            "roles": [r for r in roles if spec.scope is None or covers(policy.scopes(r), spec.scope)],
            "description": spec.description,
        }
        for spec in CATALOGUE
    ]


def audit_rows(config: Config, run_id: str | None) -> list[dict[str, Any]]:
    return [record.to_dict() for record in open_audit(config).records(run_id=run_id)]


def render_audit(rows: list[dict[str, Any]]) -> str:
    def change(row: dict[str, Any]) -> str:
        if row["before"] is None and row["after"] is None:
            return ""
        return f"{row['before']} → {row['after']}"

    body = [
        [
            r["seq"],
            r["ts"][:19].replace("T", " "),
            r["run_id"],
            r["role"],
            r["tool"],
            r["decision"] or f"{r['kind']}:{r['status'] or ''}".rstrip(":"),
            (r["entity"] or "").replace("google_ads:", ""),
            change(r),
            (r["reason"] or "")[:60],
        ]
        for r in rows
    ]
    return table(["seq", "time (UTC)", "run", "role", "tool", "decision", "entity", "change", "reason"], body)


async def rollback(config: Config, run_id: str) -> dict[str, Any]:
    if (stopped := KillSwitch(config.state_dir).message()) is not None:
        raise StoppedError(f"cannot roll back run {run_id}: {stopped}")
    audit = open_audit(config)
    if not audit.records(run_id=run_id):
        raise UsageError(f"no audit rows for run {run_id!r} (see `adpilot audit show`)")
    # The same id every time: undoing a run twice replays the first undo instead of repeating it.
    rollback_id = f"rollback-{run_id}"
    async with acting(config, rollback_id, label=f"adpilot audit rollback {run_id}") as guard:
        steps = await rollback_run(guard, run_id, approver="cli operator")
    return {
        "run_id": rollback_id,
        "rolled_back": run_id,
        "steps": [
            {
                "audit_seq": s.audit_seq,
                "tool": s.tool,
                "entity": s.entity,
                "restore": s.restore,
                "outcome": s.outcome,
                "detail": s.detail,
            }
            for s in steps
        ],
    }


async def seo_audit(config: Config) -> dict[str, Any]:
    """Audit the configured CMS; findings and the proposals an SEO run would make."""
    from adpilot.agents.skills.seo import audit
    from adpilot.policies.compliance import ComplianceEngine

    async with connect(config, persist=True) as platforms:
        posts = await platforms.wordpress.list_posts()
        site = platforms.site_url
    brand = ComplianceEngine.from_pack(config.policy).brand.name
    return audit(posts, site=site.rstrip("/"), brand=brand).as_dict()
