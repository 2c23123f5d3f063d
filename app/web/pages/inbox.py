"""The inbox: the approvals that wait for a person, each with everything one judges it by, and the
decision — approve, reject, or edit and approve — taken as the signed-in person.

A decision goes the same way as `adpilot approvals approve|reject|edit`
(:func:`adpilot.app.runs.decide`), with the signed-in user as the approver: the run resumes as
``approval by NAME`` (the audit rows' actor), the requester of a change cannot approve it, and a
change the policy's four-eyes rules cover needs that many different people. A decision form may
name a page of this console to return to in its ``next`` field (the chat does;
:func:`same_site` refuses anything else).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import Any

from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from adpilot.app.approvals import (
    approvals_text,
    asked_text,
    change_text,
    impact_text,
    list_rows,
    minute_text,
    post_changes,
    why_text,
)
from adpilot.app.web.core import Ctx, Refused, field, page, refused, respond
from adpilot.app.web.html import Markup, esc, table, tag
from adpilot.errors import AdpilotError

DECISIONS = ("approve", "reject", "edit")


def _age(iso: str | None, now: dt.datetime, t: dict[str, str]) -> str:
    if not iso:
        return ""
    seconds = abs((now - dt.datetime.fromisoformat(iso)).total_seconds())
    if seconds < 3600:
        return t["minutes"].format(minutes=int(seconds // 60))
    return t["hours"].format(hours=int(seconds // 3600))


@page("viewer")
async def inbox(ctx: Ctx) -> Response:
    t = ctx.t
    rows = list_rows(ctx.config)
    if not rows:
        return respond(ctx, t["inbox.title"], tag("p", t["none"]))
    now = dt.datetime.now(dt.UTC)
    body = []
    for r in rows:
        tool, args = r["call"]["tool"], r["call"]["args"]
        expires = t["expired"] if r["expired"] else minute_text(r.get("expires_at"))
        body.append(
            [
                tag("a", r["id"][:12], href=f"/inbox/{r['id']}", aria_label=f"{t['inbox.open']} {r['id']}"),
                change_text(tool, args, r.get("before"), r.get("after"), r.get("currency") or "", t),
                why_text(r.get("rule"), str(r.get("reason") or ""), ctx.locale),
                r.get("requester") or t["unknown"],
                _age(r.get("asked_at"), now, t),
                expires,
                f"{len(r['approvers'])}/{r['needed']}",
            ]
        )
    headers = [t["col.id"], t["col.change"], t["col.reason"], t["asked"], t["col.age"], t["col.expires"]]
    return respond(ctx, t["inbox.title"], table([*headers, t["col.approvals"]], body))


def _facts(data: dict[str, Any], ctx: Ctx) -> Markup:
    """What `approvals show` prints, as a definition list."""
    t = ctx.t
    currency = data["currency"]
    items: list[tuple[str, Any]] = [
        (
            t["change"],
            f"{data['tool']} — " + change_text(data["tool"], data["args"], data["before"], data["after"], currency, t),
        ),
    ]
    changes = post_changes(data["before"], data["after"], t)
    if changes:
        items.append(("", tag("pre", "\n".join(changes))))
    items.append((t["why"], why_text(data.get("rule"), str(data.get("reason") or ""), ctx.locale)))
    items.append((t["spend"], impact_text(data["impact"], currency, t)))
    content = data.get("content")
    if content is not None:
        findings = [
            tag(
                "li",
                f"[{f.get('severity', '')}] {f.get('rule', '')} {f.get('field', '')}: “{f.get('text', '')}” — "
                f"{f.get('message', '')}",
            )
            for f in content["findings"]
        ]
        items.append(
            (t["content"], [t["verdict"].format(verdict=content["verdict"]), tag("ul", findings) if findings else ""])
        )
        for backed in content["backing"]:
            items.append(
                (t["citations"], f"“{backed.get('claim')}” — {backed.get('evidence')}: {backed.get('source')}")
            )
        if content.get("changed_since_asked"):
            items.append(("", tag("strong", t["content_changed"])))
    items.append((t["asked"], asked_text(data, t)))
    if data.get("expires_at"):
        items.append((t["expires"], t["expired"] if data["expired"] else f"{minute_text(data['expires_at'])} UTC"))
    items.append((t["approvals"], approvals_text(data, t)))
    return tag("dl", [[tag("dt", label), tag("dd", value)] for label, value in items])


def _decide_form(ctx: Ctx, data: dict[str, Any]) -> Markup:
    t = ctx.t
    assert ctx.session is not None
    if not ctx.session.user.may("approver"):
        return tag("p", t["decide.viewer"].format(role=ctx.session.user.role))
    args = "\n".join(
        f"{k}={json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v}" for k, v in data["args"].items()
    )
    return tag(
        "form",
        ctx.csrf,
        field(t["decide.reason"], tag("textarea", "", id="reason", name="reason", rows="2"), id_="reason"),
        tag(
            "p",
            tag("button", t["decide.approve"], type="submit", name="decision", value="approve"),
            " ",
            tag("button", t["decide.reject"], type="submit", name="decision", value="reject", class_="secondary"),
            class_="actions",
        ),
        tag(
            "details",
            tag("summary", t["decide.edit"]),
            field(t["decide.edits"], tag("textarea", args, id="edits", name="edits", rows="4"), id_="edits"),
            tag("button", t["decide.edit"], type="submit", name="decision", value="edit"),
        ),
        method="post",
        action=f"/inbox/{data['id']}/decide",
    )


# An approval's description (describe() builds the Guard, reads the platform and judges the copy:
# most of this page's time) is reused for DESCRIBED_FOR seconds while the run registry, where every
# decision and every run's start and end land, is unchanged — a page a few seconds old, never one
# that misses a decision. Requests for the same approval meanwhile share one description.
DESCRIBED_FOR = 5.0


def monotonic() -> float:
    return time.monotonic()


def _registry_state(ctx: Ctx) -> tuple[int, ...]:
    """The registry file's (and its write-ahead log's, if any) modification time and size."""
    from adpilot.statedir import StateDir

    path = StateDir(ctx.config.state_dir).registry
    state: list[int] = []
    for file in (path, path.with_name(path.name + "-wal")):
        try:
            stat = file.stat()
        except FileNotFoundError:
            state += [0, 0]
        else:
            state += [stat.st_mtime_ns, stat.st_size]
    return tuple(state)


@page("viewer")
async def approval(ctx: Ctx) -> Response:
    from adpilot.app.approvals import describe

    pending = ctx.request.path_params["pending_id"]
    cache: dict[str, tuple[float, tuple[int, ...], asyncio.Future[dict[str, Any]]]] | None = getattr(
        ctx.request.app.state, "described", None
    )
    if cache is None:
        cache = ctx.request.app.state.described = {}
    now, state = monotonic(), _registry_state(ctx)
    kept = cache.get(pending)
    if kept is None or kept[1] != state or now - kept[0] >= DESCRIBED_FOR:
        for stale in [key for key, (at, _, _) in cache.items() if now - at >= DESCRIBED_FOR]:
            del cache[stale]
        # One description for everyone who asks meanwhile (a page many people open at once).
        kept = cache[pending] = (now, state, asyncio.ensure_future(describe(ctx.config, pending)))
    try:
        data = await asyncio.shield(kept[2])
    except AdpilotError as exc:
        if cache.get(pending) is kept:
            del cache[pending]
        raise refused(exc, 404) from None
    body = [_facts(data, ctx), None if data["expired"] else _decide_form(ctx, data)]
    return respond(ctx, ctx.t["title"].format(id=data["id"]), body)


def edits_from(text: str, t: dict[str, str]) -> dict[str, Any]:
    """The edit form's ``KEY=VALUE`` lines as arguments (a value that reads as a JSON list or object
    is taken as one, anything else as text — as `approvals edit --set` does)."""
    edits: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise Refused(400, t["decide.edits_bad"].format(line=line))
        parsed: Any = value.strip()
        if parsed[:1] in ("[", "{"):
            try:
                parsed = json.loads(parsed)
            except json.JSONDecodeError:
                raise Refused(400, t["decide.edits_bad"].format(line=line)) from None
        edits[key.strip()] = parsed
    if not edits:
        raise Refused(400, t["decide.edits_missing"])
    return edits


def same_site(target: str) -> str | None:
    """``target`` when it is a path on this console ("/chat?thread=…"), else None: never another
    site ("//evil.example", "https://…", "/\\evil.example"), never a header split."""
    if not target.startswith("/") or target.startswith("//") or any(c == "\\" or ord(c) < 32 for c in target):
        return None
    return target


@page("approver")
async def decide(ctx: Ctx) -> Response:
    from adpilot.app.runs import decide as decide_as
    from adpilot.app.runs import render_reports

    t = ctx.t
    decision = ctx.form.get("decision", "")
    if decision not in DECISIONS:
        raise Refused(400, f"decision: one of {', '.join(DECISIONS)}")
    edits = edits_from(ctx.form.get("edits", ""), t) if decision == "edit" else None
    pending = ctx.request.path_params["pending_id"]
    try:
        result = await decide_as(
            ctx.config, pending, decision, ctx.form.get("reason", "").strip(), ctx.name, args=edits
        )
    except AdpilotError as exc:
        raise refused(exc, 409) from None
    if (back := same_site(ctx.form.get("next", ""))) is not None:
        return RedirectResponse(back, status_code=303)
    body = [tag("pre", render_reports([result], width=100)), tag("p", tag("a", t["back"], href="/inbox"))]
    return respond(ctx, t["decide.done"], body)


routes = [
    Route("/inbox", inbox, methods=["GET"]),
    Route("/inbox/{pending_id}", approval, methods=["GET"]),
    Route("/inbox/{pending_id}/decide", decide, methods=["POST"]),
]

__all__ = ["esc", "routes", "same_site"]
