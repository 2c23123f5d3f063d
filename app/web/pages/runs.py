"""Runs: every run the registry knows, with its status; one run's timeline from the audit log —
each decision of the Guard, each intent and result of a change, in order (reads left out) — and
what it waits for."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from adpilot.agents.registry import RunRegistry
from adpilot.app.audit_view import (
    account_of,
    change_phrase,
    money_accounts,
    open_audit,
    outcome_phrase,
    read_currencies,
    read_tools,
)
from adpilot.app.web.core import Ctx, Refused, page, respond
from adpilot.app.web.html import table, tag
from adpilot.statedir import StateDir

STATUSES = ("running", "waiting", "interrupted", "stopped", "failed", "done")


def _when(iso: str) -> str:
    return iso.replace("T", " ")[:19]


@page("viewer")
async def runs(ctx: Ctx) -> Response:
    t = ctx.t
    path = StateDir(ctx.config.state_dir).registry
    if not path.exists():
        return respond(ctx, t["runs.title"], tag("p", t["runs.none"]))
    registry = RunRegistry(path)
    try:
        records = sorted(registry.with_status(*STATUSES), key=lambda r: r.created, reverse=True)
    finally:
        registry.close()
    if not records:
        return respond(ctx, t["runs.title"], tag("p", t["runs.none"]))
    rows = [
        [
            tag("a", r.thread_id, href=f"/runs/{r.thread_id}"),
            r.kind,
            ", ".join(r.accounts),
            tag("span", r.status, class_=f"status {r.status}"),
            _when(r.created),
            _when(r.updated),
            len(r.pending) or "",
        ]
        for r in records
    ]
    headers = ["col.thread", "col.kind", "col.accounts", "col.status", "col.started", "col.updated", "col.waiting"]
    return respond(ctx, t["runs.title"], table([t[h] for h in headers], rows))


@page("viewer")
async def run(ctx: Ctx) -> Response:
    t = ctx.t
    thread = ctx.request.path_params["thread_id"]
    path = StateDir(ctx.config.state_dir).registry
    registry = RunRegistry(path) if path.exists() else None
    try:
        record = registry.get(thread) if registry is not None else None
    finally:
        if registry is not None:
            registry.close()
    if record is None:
        raise Refused(404, ctx.t["not_found"])
    audit = open_audit(ctx.config)
    try:
        records = audit.records(thread_id=thread, exclude_tools=read_tools())
    finally:
        audit.close()
    currencies = await read_currencies(ctx.config, money_accounts(records))
    facts = tag(
        "dl",
        [tag("dt", t["col.status"]), tag("dd", tag("span", record.status, class_=f"status {record.status}"))],
        [tag("dt", t["col.kind"]), tag("dd", record.kind)],
        [tag("dt", t["col.accounts"]), tag("dd", ", ".join(record.accounts))],
        [tag("dt", t["col.started"]), tag("dd", _when(record.created))],
        [tag("dt", t["col.updated"]), tag("dd", _when(record.updated))],
    )
    pending = [
        tag("li", tag("a", p["id"], href=f"/inbox/{p['id']}"), " — ", str(p.get("reason") or ""))
        for p in record.pending
    ]
    timeline = (
        table(
            [t["col.seq"], t["col.time"], t["col.account"], t["col.who"], t["col.what"]],
            [
                [
                    r.seq,
                    _when(r.ts),
                    account_of(r) or "-",
                    f"{r.role} ({r.actor})",
                    f"{change_phrase(r, currencies.get(account_of(r) or ''))} — {outcome_phrase(r)}",
                ]
                for r in records
            ],
        )
        if records
        else tag("p", t["run.none"])
    )
    body = [
        facts,
        [tag("h2", t["run.pending"]), tag("ul", pending)] if pending else None,
        tag("h2", t["run.timeline"]),
        timeline,
    ]
    return respond(ctx, t["run.title"].format(thread=thread), body)


routes = [
    Route("/runs", runs, methods=["GET"]),
    Route("/runs/{thread_id}", run, methods=["GET"]),
]
