"""Runs: every run the registry knows, with its status; one run's timeline from the audit log —
each decision of the Guard, each intent and result of a change, in order (reads left out) — and
what it waits for.

An operator stops one run (:meth:`adpilot.agents.run.Runner.stop`: a reason and a ticked
confirmation; audited in their name) and resumes one that is ``interrupted`` — registered as
running, but nobody holds its lease: a crash or a shutdown ended it between two steps
(:meth:`~adpilot.agents.run.Runner.continue_run`)."""

from __future__ import annotations

from typing import Any

from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from adpilot.agents.registry import RunRecord, RunRegistry, StopRequest
from adpilot.app.audit_view import (
    account_of,
    change_phrase,
    money_accounts,
    open_audit,
    outcome_phrase,
    read_currencies,
    read_tools,
)
from adpilot.app.runs_view import list_runs, shown_statuses
from adpilot.app.web.core import Ctx, Refused, page, reason_and_confirmation, refused, respond
from adpilot.app.web.html import Markup, table, tag
from adpilot.config import Config
from adpilot.errors import AdpilotError
from adpilot.statedir import StateDir


def _when(iso: str) -> str:
    return iso.replace("T", " ")[:19]


def _lookup(config: Config, thread: str) -> tuple[RunRecord | None, StopRequest | None]:
    """Run ``thread``'s registry record and who stopped it (None, None: no such run, or no registry yet)."""
    path = StateDir(config.state_dir).registry
    if not path.exists():
        return None, None
    registry = RunRegistry(path)
    try:
        return registry.get(thread), registry.stop_request(thread)
    finally:
        registry.close()


@page("viewer")
async def runs(ctx: Ctx) -> Response:
    t = ctx.t
    listed = list_runs(ctx.config)
    if not listed:
        return respond(ctx, t["runs.title"], tag("p", t["runs.none"]))
    rows = [
        [
            tag("a", r["thread_id"], href=f"/runs/{r['thread_id']}"),
            r["kind"],
            ", ".join(r["accounts"]),
            tag("span", r["status"], class_=f"status {r['status']}"),
            _when(r["started"]),
            _when(r["updated"]),
            r["waiting"] or "",
        ]
        for r in listed
    ]
    headers = ["col.thread", "col.kind", "col.accounts", "col.status", "col.started", "col.updated", "col.waiting"]
    return respond(ctx, t["runs.title"], table([t[h] for h in headers], rows))


@page("viewer")
async def run(ctx: Ctx) -> Response:
    t = ctx.t
    thread = ctx.request.path_params["thread_id"]
    record, stop = _lookup(ctx.config, thread)
    if record is None:
        raise Refused(404, ctx.t["not_found"])
    status = shown_statuses(ctx.config, [record])[thread]
    audit = open_audit(ctx.config)
    try:
        records = audit.records(thread_id=thread, exclude_tools=read_tools())
    finally:
        audit.close()
    currencies = await read_currencies(ctx.config, money_accounts(records))
    facts = tag(
        "dl",
        [tag("dt", t["col.status"]), tag("dd", tag("span", status, class_=f"status {status}"))],
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
    stopped = (
        tag("p", t["runs.stopped_by"].format(by=stop.by, at=_when(stop.at), reason=stop.reason), id="stopped-by")
        if stop is not None
        else None
    )
    said = ctx.request.query_params.get("done")
    notice = tag("p", t[f"runs.{said}"], role="status", class_="ok") if said in DONE else None
    body = [
        notice,
        facts,
        stopped,
        _controls(ctx, thread, status, stopped=stop is not None),
        [tag("h2", t["run.pending"]), tag("ul", pending)] if pending else None,
        tag("h2", t["run.timeline"]),
        timeline,
    ]
    return respond(ctx, t["run.title"].format(thread=thread), body)


DONE = ("stop.done", "stop.requested")


def _controls(ctx: Ctx, thread: str, status: str, *, stopped: bool) -> Markup | None:
    """Stop (a reason and a confirmation) for a run that is running, waiting or interrupted;
    Resume for an interrupted one — for an operator or more, and never for a stopped run."""
    t = ctx.t
    assert ctx.session is not None
    if stopped or status not in ("running", "waiting", "interrupted") or not ctx.session.user.may("operator"):
        return None
    stop = tag(
        "form",
        ctx.csrf,
        *reason_and_confirmation("stop", t["runs.stop.reason"], t["runs.stop.confirm"]),
        tag("button", t["runs.stop"], type="submit", class_="danger", data_confirm=t["runs.stop.confirm"]),
        method="post",
        action=f"/runs/{thread}/stop",
        id="stop-form",
    )
    resume = (
        tag(
            "form",
            ctx.csrf,
            tag("p", t["runs.resume.hint"]),
            tag("button", t["runs.resume"], type="submit"),
            method="post",
            action=f"/runs/{thread}/resume",
            id="resume-form",
        )
        if status == "interrupted"
        else None
    )
    return tag("section", resume, stop, class_="run-controls")


def _web_runner(ctx: Ctx) -> Any:
    from adpilot.agents.run import Runner

    return Runner(ctx.config, approver=ctx.name, requester=ctx.name, actor=f"adpilot web console ({ctx.name})")


@page("operator")
async def stop_run(ctx: Ctx) -> Response:
    t = ctx.t
    thread = ctx.request.path_params["thread_id"]
    reason = ctx.form.get("reason", "").strip()
    if ctx.form.get("confirm") != "yes" or not reason:
        raise Refused(400, t["runs.stop.unconfirmed"])
    try:
        async with _web_runner(ctx) as runner:
            status = runner.stop(thread, by=ctx.name, reason=reason)
    except AdpilotError as exc:
        raise refused(exc, 409) from None
    done = "stop.done" if status == "stopped" else "stop.requested"
    return RedirectResponse(f"/runs/{thread}?done={done}", status_code=303)


@page("operator")
async def resume_run(ctx: Ctx) -> Response:
    t = ctx.t
    thread = ctx.request.path_params["thread_id"]
    record, _ = _lookup(ctx.config, thread)
    if record is None:
        raise Refused(404, t["not_found"])
    if shown_statuses(ctx.config, [record])[thread] != "interrupted":
        raise Refused(409, t["runs.resume.refused"].format(thread=thread, status=record.status))
    try:
        async with _web_runner(ctx) as runner:
            result = await runner.continue_run(thread)
    except AdpilotError as exc:
        raise refused(exc, 409) from None
    body = [
        tag("p", t["runs.resume.done"].format(status=result.status), role="status", class_="ok"),
        tag("p", tag("a", t["back"], href=f"/runs/{thread}")),
    ]
    return respond(ctx, t["run.title"].format(thread=thread), body)


routes = [
    Route("/runs", runs, methods=["GET"]),
    Route("/runs/{thread_id}", run, methods=["GET"]),
    Route("/runs/{thread_id}/stop", stop_run, methods=["POST"]),
    Route("/runs/{thread_id}/resume", resume_run, methods=["POST"]),
]
