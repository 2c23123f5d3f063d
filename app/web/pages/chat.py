"""Chat: the operator conversation in the browser — the terminal console's chat run, with the steps,
the Guard's decisions and the approvals of each run shown as they happen.

POST /chat starts a chat run as `adpilot chat` does (``Runner.start({"kind": "chat", "text": …})``)
with the signed-in person as its requester — so they never approve their own request — as an
asyncio task of the server process, and answers at once (303 to ``/chat?thread=…``). The page is
rendered on the server from what the run left behind (its audit rows, its checkpoint, the run
registry) and from the steps this process saw, so it works without JavaScript (reload for news);
``GET /chat/THREAD/events`` streams the same items as server-sent events while the run is driven
here, each an HTML fragment with an ``id`` (the shipped script replaces an item it has, else
appends it), and ends with an ``end`` event carrying the run's status. A finished run's stream
replays its items and ends at once.

Approvals are answered inline through the inbox's own decision route (``/inbox/ID/decide``), which
returns here by its ``next`` field.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from adpilot.agents.checkpoints import last_checkpoint
from adpilot.agents.registry import RunRegistry
from adpilot.app.web.core import HEADERS, SESSION_COOKIE, Ctx, Refused, page, respond
from adpilot.app.web.html import Markup, hidden, tag
from adpilot.config import Config
from adpilot.errors import AdpilotError
from adpilot.statedir import StateDir

MAX_TEXT = 2000  # characters of one chat message
STEPS = ("intake", "supervisor", "bidding", "creative", "seo", "compliance", "escalate", "apply", "finalize", "stop")


@dataclass
class Live:
    """A chat run driven by this process: the steps seen so far (each with the audit log's head at
    the time, to place it among the run's rows) and a signal for whoever follows it."""

    thread: str
    text: str
    steps: list[tuple[int, str]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    done: bool = False
    error: str | None = None

    def notify(self) -> None:
        """Wake everyone waiting on :attr:`changed`, and give the next waiters a fresh signal."""
        old, self.changed = self.changed, asyncio.Event()
        old.set()


@dataclass
class Hub:
    """The chat runs of this server process and the threads of each browser session."""

    live: dict[str, Live] = field(default_factory=dict)
    threads: dict[str, list[str]] = field(default_factory=dict)
    currencies: dict[str, str] | None = None


def hub_of(request: Request) -> Hub:
    state = request.app.state
    if getattr(state, "chat", None) is None:
        state.chat = Hub()
    hub: Hub = state.chat
    return hub


def _session_key(ctx: Ctx) -> str:
    token = ctx.request.cookies.get(SESSION_COOKIE, "")
    return hashlib.sha256(token.encode()).hexdigest()[:32]


async def _drive(config: Config, live: Live, text: str, name: str) -> None:
    """Run the chat request to its pause or end as ``name``; every step wakes the followers."""
    from adpilot.agents.run import Runner

    runner: Runner | None = None
    seen = 0  # the run's newest audit row before the step: the step's rows come after it

    def step(thread: str, node: str) -> None:
        nonlocal seen
        if node in STEPS and runner is not None:
            live.steps.append((seen, node))
            rows = runner.audit.records(thread_id=thread)
            seen = rows[-1].seq if rows else seen
            live.notify()

    try:
        async with Runner(
            config,
            on_step=step,
            approver=name,
            requester=name,  # what a person asks for in the chat, they cannot approve themselves
            actor=f"adpilot web console ({name})",
        ) as runner:
            await runner.start({"kind": "chat", "text": text}, thread_id=live.thread)
    except AdpilotError as exc:
        live.error = str(exc)
    finally:
        live.done = True
        live.notify()


# --- what a thread shows -----------------------------------------------------------------------


@dataclass
class Thread:
    """One chat run as the page shows it."""

    thread: str
    text: str
    status: str
    stopped: str | None
    answer: str | None
    items: list[tuple[str, Markup]]  # (element id, fragment), in order
    following: bool  # driven by this process right now: the events stream follows it


async def _currencies(ctx: Ctx) -> dict[str, str]:
    hub = hub_of(ctx.request)
    if hub.currencies is None:
        from adpilot.app.audit_view import read_currencies

        hub.currencies = await read_currencies(ctx.config, list(ctx.config.accounts))
    return hub.currencies


def _approval(ctx: Ctx, thread: str, item: dict[str, Any], registry: RunRegistry, open_: bool) -> Markup:
    from adpilot.app.approvals import change_text, why_text

    t = ctx.t
    pid = str(item["id"])
    asked = registry.asked(pid)
    detail = asked.detail if asked is not None else {}
    given = item.get("args")
    args: dict[str, Any] = given if isinstance(given, dict) else {}
    change = change_text(
        str(item.get("tool")), args, detail.get("before"), detail.get("after"), str(detail.get("currency") or ""), t
    )
    why = why_text(detail.get("rule"), str(item.get("reason") or ""), ctx.locale)
    what = [tag("strong", t["chat.approval"]), " ", change, " — ", why]
    decided = registry.decision(pid)
    assert ctx.session is not None
    if decided is not None:
        state: Any = tag("p", str(decided))
    elif not open_:
        state = tag("p", t["chat.approval.kept"])
    elif not ctx.session.user.may("approver"):
        state = tag("p", t["decide.viewer"].format(role=ctx.session.user.role))
    else:
        reason_id = f"reason-{pid}"
        state = tag(
            "form",
            ctx.csrf,
            hidden("next", f"/chat?thread={quote(thread)}"),
            tag(
                "p",
                tag("label", t["decide.reason"], for_=reason_id),
                tag("input", type="text", id=reason_id, name="reason", autocomplete="off"),
                class_="field",
            ),
            tag(
                "p",
                tag("button", t["decide.approve"], type="submit", name="decision", value="approve"),
                " ",
                tag("button", t["decide.reject"], type="submit", name="decision", value="reject", class_="secondary"),
                " ",
                tag("a", t["chat.approval.open"], href=f"/inbox/{quote(pid)}"),
                class_="actions",
            ),
            method="post",
            action=f"/inbox/{quote(pid)}/decide",
            class_="approval",
            data_approval=pid,
        )
    return tag("li", tag("p", what), state, id=f"approval-{pid}", class_="event approval-item")


async def load(ctx: Ctx, thread: str) -> Thread | None:
    """What run ``thread`` shows now: its steps (seen by this process), its audit rows (reads left
    out), the approvals it asked for, its answer; None for no chat run of that id."""
    from adpilot.app.audit_view import account_of, change_phrase, open_audit, outcome_phrase, read_tools

    t = ctx.t
    live = hub_of(ctx.request).live.get(thread)
    path = StateDir(ctx.config.state_dir).registry
    registry = RunRegistry(path)
    try:
        record = registry.get(thread)
        if record is None and live is None:
            return None
        if record is not None and record.kind != "chat":
            return None
        saved, _ = await last_checkpoint(StateDir(ctx.config.state_dir).checkpoints, thread)
        audit = open_audit(ctx.config)
        try:
            rows = audit.records(thread_id=thread, exclude_tools=read_tools())
        finally:
            audit.close()
        currencies = await _currencies(ctx) if rows else {}
        ordered: list[tuple[tuple[int, int, int], str, Markup]] = []
        for n, (seq, node) in enumerate(live.steps if live is not None else []):
            label = t.get(f"chat.step.{node}", node)
            ordered.append(
                ((seq, 1, n), f"step-{n}", tag("li", "· ", label, class_="event step", id=f"step-{thread}-{n}"))
            )
        for row in rows:
            said = f"{change_phrase(row, currencies.get(account_of(row) or ''))} — {outcome_phrase(row)}"
            item = tag(
                "li",
                tag("span", row.tool, class_="tool"),
                " ",
                said,
                " ",
                tag("span", f"({row.actor}, #{row.seq})", class_="who"),
                class_=f"event call {row.kind} {row.decision or row.status or ''}".strip(),
                id=f"audit-{row.seq}",
            )
            ordered.append(((row.seq, 0, 0), f"audit-{row.seq}", item))
        ordered.sort(key=lambda entry: entry[0])
        items = [(key, html) for _, key, html in ordered]
        status = record.status if record is not None else "running"
        following = live is not None and not live.done
        if record is not None:
            is_open = status == "waiting"
            for pending in record.pending:
                items.append((f"approval-{pending['id']}", _approval(ctx, thread, pending, registry, is_open)))
        stop = registry.stop_request(thread)
    finally:
        registry.close()
    answer = saved.get("answer")
    if live is not None and live.error:
        items.append(
            ("chat-error", tag("li", live.error, class_="event error", role="alert", id=f"chat-error-{thread}"))
        )
    if answer and not following:
        items.append(
            ("answer", tag("li", tag("p", answer, class_="answer"), class_="event answer", id=f"answer-{thread}"))
        )
    text = str((saved.get("trigger") or {}).get("text") or (live.text if live is not None else ""))
    return Thread(thread, text, status, str(stop) if stop else None, answer, items, following)


def _status(ctx: Ctx, shown: Thread) -> Markup:
    t = ctx.t
    words = t.get(f"chat.status.{shown.status}", shown.status)
    if shown.following:
        words = t["chat.status.running"]
    if shown.stopped:
        words += f" — {shown.stopped}"
    return tag(
        "p",
        tag("span", words, class_=f"status {shown.status}"),
        " · ",
        tag("a", t["chat.run"], href=f"/runs/{quote(shown.thread)}"),
        id=f"status-{shown.thread}",
        class_="chat-status",
        role="status",
    )


def _turn(ctx: Ctx, shown: Thread) -> Markup:
    t = ctx.t
    events = tag(
        "ol",
        [html for _, html in shown.items],
        class_="events",
        data_events=f"/chat/{quote(shown.thread)}/events" if shown.following else None,
        aria_live="polite",
    )
    return tag(
        "li",
        tag("p", tag("span", t["chat.you"], class_="who"), " ", shown.text, class_="you"),
        events,
        _status(ctx, shown),
        id=f"turn-{shown.thread}",
        class_="turn",
    )


def _form(ctx: Ctx) -> Markup:
    t = ctx.t
    assert ctx.session is not None
    if not ctx.session.user.may("operator"):
        return tag("p", t["chat.viewer"].format(role=ctx.session.user.role), class_="note")
    return tag(
        "form",
        ctx.csrf,
        tag(
            "p",
            tag("label", t["chat.label"], for_="chat-text"),
            tag(
                "input",
                type="text",
                id="chat-text",
                name="text",
                required=True,
                maxlength=str(MAX_TEXT),
                autocomplete="off",
                placeholder=t["chat.placeholder"],
            ),
            class_="field",
        ),
        tag("p", tag("button", t["chat.send"], type="submit", id="chat-send"), class_="actions"),
        method="post",
        action="/chat",
        id="chat-form",
    )


@page("viewer")
async def chat(ctx: Ctx) -> Response:
    t = ctx.t
    hub = hub_of(ctx.request)
    wanted = ctx.request.query_params.get("thread")
    threads = list(hub.threads.get(_session_key(ctx), []))
    if wanted and wanted not in threads:
        threads.append(wanted)
    turns = []
    for thread in threads:
        shown = await load(ctx, thread)
        if shown is None:
            if thread == wanted:
                raise Refused(404, t["chat.unknown"].format(thread=thread))
            continue
        turns.append(_turn(ctx, shown))
    log = tag("ol", turns, id="chat-log", class_="chat-log") if turns else tag("p", t["chat.empty"], id="chat-empty")
    return respond(ctx, t["chat.title"], [tag("p", t["chat.hint"], class_="hint"), log, _form(ctx)])


@page("operator")
async def send(ctx: Ctx) -> Response:
    t = ctx.t
    text = ctx.form.get("text", "").strip()
    if not text:
        raise Refused(400, t["chat.text_missing"])
    if len(text) > MAX_TEXT:
        raise Refused(400, t["chat.text_long"].format(limit=MAX_TEXT))
    hub = hub_of(ctx.request)
    thread = f"chat-{uuid.uuid4().hex[:10]}"
    live = Live(thread, text)
    hub.live[thread] = live
    hub.threads.setdefault(_session_key(ctx), []).append(thread)
    live.task = asyncio.create_task(_drive(ctx.config, live, text, ctx.name), name=f"chat {thread}")
    return RedirectResponse(f"/chat?thread={quote(thread)}#turn-{thread}", status_code=303)


def _event(kind: str, html: str, key: str) -> str:
    lines = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    return f"event: {kind}\nid: {key}\n{lines}\n"


@page("viewer")
async def events(ctx: Ctx) -> Response:
    thread = ctx.request.path_params["thread_id"]
    if await load(ctx, thread) is None:
        raise Refused(404, ctx.t["chat.unknown"].format(thread=thread))
    hub = hub_of(ctx.request)

    async def stream() -> AsyncIterator[str]:
        sent: dict[str, str] = {}
        while True:
            # The signal first, then the state: a change while the state is read wakes us again.
            live = hub.live.get(thread)
            signal = live.changed if live is not None and not live.done else None
            shown = await load(ctx, thread)
            if shown is None:
                return
            for key, html in shown.items:
                if sent.get(key) != html:
                    sent[key] = html
                    yield _event("item", html, key)
            if signal is None:
                yield _event("end", _status(ctx, shown), "end")
                return
            await signal.wait()

    headers = {**HEADERS, "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


routes = [
    Route("/chat", chat, methods=["GET"]),
    Route("/chat", send, methods=["POST"]),
    Route("/chat/{thread_id}/events", events, methods=["GET"]),
]
