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
from adpilot.tools.audit import AuditLog
from adpilot.tools.catalogue import SKILL_TOOLS
from adpilot.tools.guard import Guard, RunScope
from adpilot.tools.rollback import RollbackStep
from adpilot.tools.rollback import rollback as rollback_changes


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


def _requester(config: Config) -> str:
    """Who asks for a `tool call` or a rollback: the identity `adpilot approvals approve` decides as
    by default (the configuration's ``approver``, else the OS user) — so that the person who ran it
    is refused as its approver whichever of the two names they go by."""
    from adpilot.app.runs import person

    return person(config) or "unknown user"


async def call_tool(config: Config, role: str, tool: str, raw_args: str, *, dry_run: bool) -> dict[str, Any]:
    """One call through the Guard. A call the Guard escalates (or an ``escalate`` with a proposal)
    waits for a person as a pending approval of exactly that call, requested by whoever runs it
    (:func:`_requester`) — or, when the same call already waits, the outcome names that approval
    (``already_waiting``)."""
    known_role(config, role)
    try:
        args = json.loads(raw_args)
    except json.JSONDecodeError as exc:
        raise UsageError(f"tool arguments must be a JSON object: {exc}") from exc
    run_id = f"cli-{uuid.uuid4().hex[:8]}"
    queued: dict[str, Any] = {}
    async with acting(config, run_id, label="adpilot tool call", dry_run=dry_run) as guard:
        if tool in SKILL_TOOLS:  # the agents' skills behind the catalogue's skill tools
            from adpilot.agents.skill_tools import install
            from adpilot.policies.compliance import ComplianceEngine

            install(guard, ComplianceEngine.from_pack(config.policy).brand, seo_fields=config.wordpress.seo_fields)
        result = await guard.call(role, tool, args)
        if not dry_run:
            queued = _queue(config, guard, run_id, role, tool, args, result)
            if queued.get("pending") is not None:
                from adpilot.agents.registry import RunRegistry
                from adpilot.agents.run import ask_people

                registry = RunRegistry(StateDir(config.state_dir).registry)
                try:
                    item = queued.pop("pending")
                    requester = _requester(config)
                    asked = await ask_people(registry, guard.audit, guard, run_id, [item], requester=requester)
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
        rationale=f"adpilot tool call by {_requester(config)}",
        account=str(args["customer_id"]) if args.get("customer_id") else None,
    )
    return {"pending": dict(pending)} if pending is not None else {}


def known_role(config: Config, role: str) -> None:
    """A role the policy does not define is a usage error naming the roles it does (not "lacks the
    scope", which would suggest the role exists)."""
    roles = sorted(load_policy(config.policy).roles)
    if role not in roles:
        raise UsageError(f"unknown role {role!r}: the policy's roles are {', '.join(roles)}")


def tool_arguments(spec: Any) -> list[dict[str, Any]]:
    """Each argument of a tool: name, JSON type, whether it is required, and its description."""
    schema = spec.args.model_json_schema()
    required = set(schema.get("required", []))
    arguments = []
    for name, field in schema.get("properties", {}).items():
        if name.startswith("_"):
            continue
        kinds = [field.get("type")] + [option.get("type") for option in field.get("anyOf", [])]
        kind = "|".join(k for k in kinds if k and k != "null") or "any"
        arguments.append(
            {"name": name, "type": kind, "required": name in required, "description": field.get("description", "")}
        )
    return arguments


def list_tools(config: Config, role: str | None) -> list[dict[str, Any]]:
    """The catalogue: each tool's scope, the roles that may call it, its arguments and description."""
    from adpilot.policies import covers
    from adpilot.tools.catalogue import CATALOGUE

    if role is not None:
        known_role(config, role)
    policy = load_policy(config.policy)
    roles = [role] if role else sorted(policy.roles)
    return [
        {
            "tool": spec.name,
            "scope": spec.scope or "-",
            "roles": [r for r in roles if spec.scope is None or covers(policy.scopes(r), spec.scope)],
            "arguments": tool_arguments(spec),
            "description": spec.description,
        }
        for spec in CATALOGUE
    ]


def verify_audit(config: Config) -> dict[str, Any]:
    """`adpilot audit verify`: the whole chain, each keyed row with the key, and every checkpoint
    of the anchor; raises :class:`AuditTamperedError` naming the first bad row or missing range."""
    from adpilot.compose.deployment import open_audit_log
    from adpilot.errors import AuditTamperedError

    audit = open_audit_log(config)
    try:
        rows = audit.verify()
        if audit.problem is not None:
            raise AuditTamperedError(audit.problem, None)
        return {"intact": True, "rows": rows, **audit.anchor_status()}
    finally:
        audit.close()


async def rollback(
    config: Config,
    run_id: str | None = None,
    *,
    seq: int | None = None,
    since: str | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Undo changes through the Guard (:mod:`adpilot.tools.rollback`): those of run ``run_id``, the
    one audit row ``seq`` records, or every change since ``since`` — newest first. An undo the Guard
    escalates waits for a person as a pending approval (``adpilot approvals approve``), requested by
    whoever runs the rollback; ``dry_run`` shows what would happen and changes nothing."""
    from adpilot.tools.rollback import change_at, changes_of_run, changes_since, parse_time

    if sum(x is not None for x in (run_id, seq, since)) != 1:
        raise UsageError("name what to roll back: one of --run RUN, --seq N, --since TIME")
    if (stopped := KillSwitch(config.state_dir).message()) is not None:
        raise StoppedError(f"cannot roll back: {stopped}")
    audit = open_audit(config)
    if run_id is not None:
        if not audit.records(run_id=run_id):
            raise UsageError(f"no audit rows for run {run_id!r} (see `adpilot audit show`)")
        rows, what = changes_of_run(audit, run_id), f"run {run_id}"
    elif seq is not None:
        rows, what = [change_at(audit, seq)], f"audit row {seq}"
    else:
        assert since is not None
        moment = parse_time("--since", since)
        rows, what = changes_since(audit, moment), f"changes since {moment.isoformat()}"
    rollback_id = f"rollback-{uuid.uuid4().hex[:8]}"
    async with acting(config, rollback_id, label=f"adpilot audit rollback ({what})", dry_run=dry_run) as guard:
        steps = await rollback_changes(guard, rows)
        waiting = {} if dry_run else await _ask_about_undos(config, guard, rollback_id, steps)
    return {
        "run_id": rollback_id,
        "rolled_back": what,
        "dry_run": dry_run,
        "steps": [
            {
                "audit_seq": s.audit_seq,
                "tool": s.tool,
                "entity": s.entity,
                "restore": s.restore,
                "outcome": s.outcome,
                "detail": s.detail,
                **waiting.get(s.audit_seq, {}),
            }
            for s in steps
        ],
    }


async def _ask_about_undos(config: Config, guard: Guard, rollback_id: str, steps: list[RollbackStep]) -> dict[int, Any]:
    """Each escalated undo waits for a person as a pending approval of the rollback's run (or,
    when the same call already waits, names that approval): {audit seq: what to tell}."""
    from adpilot.agents.loop import record
    from adpilot.agents.registry import RunRegistry
    from adpilot.agents.run import ask_people

    items: dict[int, dict[str, Any]] = {}
    for step in steps:
        if step.outcome != "escalated" or step.call is None or step.result is None:
            continue
        tool, args = step.call
        _, pending = record(
            step.result,
            proposal_id=f"{step.proposal}-{uuid.uuid4().hex[:8]}",
            task_id=rollback_id,
            role="operator",
            tool=tool,
            args=args,
            rationale=f"rollback of audit row {step.audit_seq} by {_requester(config)}",
            account=str(args["customer_id"]) if args.get("customer_id") else None,
        )
        if pending is not None:
            items[step.audit_seq] = dict(pending)
    if not items:
        return {}
    registry = RunRegistry(StateDir(config.state_dir).registry)
    try:
        asked = await ask_people(
            registry, guard.audit, guard, rollback_id, list(items.values()), requester=_requester(config)
        )
        told: dict[int, Any] = {}
        new = []
        for seq, item in items.items():
            if asked[item["id"]].reused:
                told[seq] = {"already_waiting": asked[item["id"]].pending_id}
            else:
                new.append(item)
                told[seq] = {"approval": item["id"], "approve": f"adpilot approvals approve {item['id']}"}
        if new:
            registry.upsert(rollback_id, rollback_id, "tool", sorted(config.accounts), "waiting", new)
    finally:
        registry.close()
    return told


async def seo_audit(config: Config) -> dict[str, Any]:
    """Audit the configured CMS; findings and the proposals an SEO run would make."""
    from adpilot.agents.skills.seo import StructuredData, audit
    from adpilot.policies.compliance import ComplianceEngine

    async with connect(config, persist=True) as platforms:
        posts = await platforms.wordpress.list_posts()
        site = platforms.site_url
    brand = ComplianceEngine.from_pack(config.policy).brand.name
    structured: StructuredData = "field" if config.wordpress.seo_fields == "adpilot" else "plugin"  # who writes JSON-LD
    report = audit(posts, site=site.rstrip("/"), brand=brand, structured_data=structured).as_dict()
    if StateDir(config.state_dir).registry.exists():
        from adpilot.app.approvals import list_rows

        # A page's fix waits for a person as the approval of an update of that page (its exact text
        # may differ from this audit's: a maintenance run also knows the knowledge base).
        waiting = {(row["tool"], row["args"].get("post_id")): row["id"] for row in list_rows(config)}
        for proposal in report["proposals"]:
            proposal["waiting_as"] = waiting.get((proposal["tool"], proposal["args"].get("post_id")))
    return report
