"""The console's JSON API under ``/api/``: the Agent Protocol subset that LangGraph's client speaks.

``langgraph_sdk.get_client(url="http://HOST:PORT/api", api_key=TOKEN)`` drives adpilot with it:

- assistants (``search``, ``get``): adpilot's graphs, ``maintenance`` and ``chat``;
- threads (``create``, ``get``, ``search``, ``get_state``): one thread is one adpilot run; its
  values are a JSON view of the run (:mod:`.view`), its interrupts the approvals it waits for;
- runs (``create``, ``wait``, ``stream``, ``get``, ``list``, ``join``, ``cancel``): the first run of
  a thread starts it (``input``), later ones resume it with decisions
  (``command={"resume": {ID: {…}}}``); ``cancel`` stops it as the Runs page does.

A viewer reads, an operator starts runs, an approver resumes with decisions. Errors are JSON
``{"detail": …}``: 401 without a valid token, 403 for a role too small, 404 for an unknown route,
assistant, thread or run, 409 for a thread in the wrong state for the call, 422 for a malformed
body.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from adpilot.agents.nodes.approvals import DECISIONS, malformed
from adpilot.agents.registry import RunRegistry, same_person
from adpilot.agents.run import Runner
from adpilot.app.web.api.base import HEADERS, ApiError, Call, answer, api, error, field
from adpilot.app.web.api.runs import Event, Job, Runs
from adpilot.app.web.api.store import ApiStore, store_path
from adpilot.app.web.api.view import ASSISTANTS, ThreadData, interrupt_id, known_threads, load
from adpilot.app.web.users import UserStore
from adpilot.config import Config
from adpilot.errors import AdpilotError
from adpilot.statedir import KillSwitch, StateDir

_THREAD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
STREAM_MODES = ("values", "updates")
MAX_TEXT = 4000


def _assistant(assistant_id: str, since: str) -> dict[str, Any]:
    """Graph ``assistant_id`` as an assistant (``since``: when this console started serving it)."""
    return {
        "assistant_id": assistant_id,
        "graph_id": assistant_id,
        "name": assistant_id,
        "description": ASSISTANTS[assistant_id],
        "config": {},
        "context": {},
        "metadata": {},
        "version": 1,
        "created_at": since,
        "updated_at": since,
    }


def _store(call: Call) -> ApiStore:
    store: ApiStore = call.request.app.state.store
    return store


def _runs(call: Call) -> Runs:
    runs: Runs = call.request.app.state.runs
    return runs


async def _thread(call: Call, thread_id: str) -> ThreadData:
    data = await load(call.config, _store(call), thread_id, busy=_runs(call).busy(thread_id))
    if data is None:
        raise ApiError(404, f"no thread {thread_id!r}")
    return data


def _paging(body: dict[str, Any]) -> tuple[int, int]:
    limit = field(body, "limit", int, 10)
    offset = field(body, "offset", int, 0)
    if not 0 < limit <= 1000 or offset < 0:
        raise ApiError(422, "limit: 1-1000, offset: 0 or more")
    return limit, offset


# --- assistants ------------------------------------------------------------------------------------


@api("viewer")
async def search_assistants(call: Call) -> Response:
    limit, offset = _paging(call.body)
    wanted = field(call.body, "graph_id", str) or field(call.body, "name", str)
    since = call.request.app.state.started
    found = [_assistant(a, since) for a in ASSISTANTS if wanted in (None, a)]
    return answer(found[offset : offset + limit])


@api("viewer")
async def get_assistant(call: Call) -> Response:
    assistant_id = call.param("assistant_id")
    if assistant_id not in ASSISTANTS:
        raise ApiError(404, f"no assistant {assistant_id!r}: one of {', '.join(ASSISTANTS)}")
    return answer(_assistant(assistant_id, call.request.app.state.started))


# --- threads ---------------------------------------------------------------------------------------


@api("operator")
async def create_thread(call: Call) -> Response:
    thread_id = field(call.body, "thread_id", str) or str(uuid.uuid4())
    if not _THREAD_ID.fullmatch(thread_id):
        raise ApiError(
            422, f"thread_id {thread_id!r}: 1-100 letters, digits and . _ - (starting with one of the first two)"
        )
    metadata = field(call.body, "metadata", dict, {})
    if_exists = field(call.body, "if_exists", str, "raise")
    if if_exists not in ("raise", "do_nothing"):
        raise ApiError(422, "if_exists: raise or do_nothing")
    known = await load(call.config, _store(call), thread_id, busy=_runs(call).busy(thread_id))
    if known is None and _store(call).add_thread(thread_id, metadata, call.user.name) is not None:
        return answer((await _thread(call, thread_id)).as_thread())
    if if_exists == "raise":
        raise ApiError(409, f"thread {thread_id!r} exists already")
    return answer((await _thread(call, thread_id)).as_thread())


@api("viewer")
async def get_thread(call: Call) -> Response:
    return answer((await _thread(call, call.param("thread_id"))).as_thread())


@api("viewer")
async def search_threads(call: Call) -> Response:
    limit, offset = _paging(call.body)
    status = field(call.body, "status", str)
    metadata = field(call.body, "metadata", dict, {})
    ids = field(call.body, "ids", list)
    found = []
    for thread_id in ids if ids is not None else known_threads(call.config, _store(call)):
        data = await load(call.config, _store(call), str(thread_id), busy=_runs(call).busy(str(thread_id)))
        if data is None or (status is not None and data.status != status):
            continue
        if any(data.metadata.get(k) != v for k, v in metadata.items()):
            continue
        found.append(data)
    found.sort(key=lambda d: d.updated, reverse=True)
    return answer([d.as_thread() for d in found[offset : offset + limit]])


@api("viewer")
async def thread_state(call: Call) -> Response:
    return answer((await _thread(call, call.param("thread_id"))).as_state())


# --- runs ------------------------------------------------------------------------------------------


def _start_job(call: Call, thread_id: str, assistant_id: str, given: dict[str, Any]) -> Job:
    allowed = {"maintenance": {"accounts", "dry_run", "scope", "memory"}, "chat": {"text", "memory"}}[assistant_id]
    if unknown := sorted(set(given) - allowed):
        raise ApiError(
            422,
            f"input of {assistant_id}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}",
        )
    memory = field(given, "memory", bool, True)
    if assistant_id == "chat":
        text = field(given, "text", str, "").strip()
        if not text or len(text) > MAX_TEXT:
            raise ApiError(422, f"input.text: the request in words, 1-{MAX_TEXT} characters")
        return Job(thread_id, call.user.name, trigger={"kind": "chat", "text": text}, memory=memory)
    accounts = field(given, "accounts", list, [])
    if not all(isinstance(a, str) for a in accounts):
        raise ApiError(422, "input.accounts: a list of account ids (strings)")
    if unknown := sorted(set(accounts) - set(call.config.accounts)):
        raise ApiError(
            422, f"input.accounts: {', '.join(unknown)} not in the configuration's accounts {call.config.accounts}"
        )
    scope = field(given, "scope", str, "all")
    if scope not in ("all", "ads", "cms"):
        raise ApiError(422, "input.scope: all, ads or cms")
    trigger = {"kind": "maintenance", "accounts": accounts or list(call.config.accounts), "scope": scope}
    return Job(thread_id, call.user.name, trigger=trigger, dry_run=field(given, "dry_run", bool, False), memory=memory)


def _resume_job(call: Call, thread_id: str, command: dict[str, Any]) -> Job:
    if set(command) != {"resume"}:
        raise ApiError(422, 'command: only {"resume": {APPROVAL ID: {"decision": …}}} is supported')
    registry = RunRegistry(StateDir(call.config.state_dir).registry)
    try:
        record = registry.get(thread_id)
        if record is None or record.status != "waiting":
            status = record.status if record is not None else "not started"
            raise ApiError(409, f"thread {thread_id!r} waits for no decision (its run is {status})")
        resume = command["resume"]
        waiting = {str(p["id"]) for p in record.pending}
        if isinstance(resume, dict) and set(resume) == {interrupt_id(thread_id, record.pending)}:
            resume = next(iter(resume.values()))  # {interrupt id: {approval id: decision}}
        if not isinstance(resume, dict) or not resume:
            raise ApiError(
                422, 'command.resume: an object of decisions by approval id, e.g. {ID: {"decision": "approve"}}'
            )
        if (stopped := KillSwitch(call.config.state_dir).message()) is not None:
            raise ApiError(409, f"cannot carry out approvals: {stopped}; they stay pending")
        decisions: dict[str, dict[str, Any]] = {}
        for pending_id, decision in resume.items():
            if pending_id not in waiting:
                raise ApiError(
                    409,
                    f"thread {thread_id!r} waits for no approval {pending_id!r}; it waits for "
                    + ", ".join(sorted(waiting)),
                )
            if (problem := malformed(decision)) is not None or decision["decision"] not in DECISIONS:
                raise ApiError(422, f"decision on {pending_id}: {problem or 'one of ' + ', '.join(DECISIONS)}")
            if decision.get("approver") not in (None, call.user.name):
                raise ApiError(422, f"decision on {pending_id}: it is made as {call.user.name}, the token's owner")
            asked = registry.asked(pending_id)
            if decision["decision"] != "reject" and asked is not None and same_person(call.user.name, asked.requester):
                raise ApiError(
                    409, f"{call.user.name} requested {pending_id} and cannot approve it: another person must"
                )
            decisions[pending_id] = {k: decision[k] for k in ("decision", "reason", "args") if k in decision}
    finally:
        registry.close()
    return Job(thread_id, call.user.name, decisions=decisions)


async def _launch(call: Call, events: asyncio.Queue[Event] | None = None) -> tuple[str, str, asyncio.Task[None]]:
    """Check and start the run the body asks for: (thread id, run id, its task)."""
    thread_id = call.param("thread_id")
    body = call.body
    assistant_id = field(body, "assistant_id", str)
    if assistant_id not in ASSISTANTS:
        raise ApiError(404, f"no assistant {assistant_id!r}: one of {', '.join(ASSISTANTS)}")
    command = field(body, "command", dict)
    given = field(body, "input", dict)
    if command is not None and given is not None:
        raise ApiError(422, "a run takes input (to start) or command (to resume), not both")
    needed, what = ("approver", "deciding approvals") if command is not None else ("operator", "starting a run")
    if not call.user.may(needed):
        raise ApiError(403, f"{call.user.name} is {call.user.role}; {what} takes {needed} or more")
    store, runs = _store(call), _runs(call)
    if await load(call.config, store, thread_id, busy=runs.busy(thread_id)) is None:
        if field(body, "if_not_exists", str) != "create":
            raise ApiError(404, f"no thread {thread_id!r} (create it first, or give if_not_exists=create)")
        if not _THREAD_ID.fullmatch(thread_id):
            raise ApiError(422, f"thread_id {thread_id!r}: 1-100 letters, digits and . _ -")
        store.add_thread(thread_id, {}, call.user.name)
    if runs.busy(thread_id):
        raise ApiError(409, f"thread {thread_id!r} is busy with run {runs.threads[thread_id]}")
    if command is not None:
        job = _resume_job(call, thread_id, command)
    else:
        job = _start_job(call, thread_id, assistant_id, given or {})
        registry = RunRegistry(StateDir(call.config.state_dir).registry)
        try:
            started = registry.get(thread_id)
        finally:
            registry.close()
        if started is not None:
            raise ApiError(
                409,
                f"thread {thread_id!r} holds run {started.run_id} ({started.status}) already: "
                'resume it with command={"resume": …}, or start in a new thread',
            )
    run_id = str(uuid.uuid4())
    store.add_run(run_id, thread_id, assistant_id, field(body, "metadata", dict, {}), call.user.name)
    return thread_id, run_id, runs.launch(run_id, job, events)


def _location(thread_id: str, run_id: str) -> dict[str, str]:
    return {"Content-Location": f"/api/threads/{thread_id}/runs/{run_id}"}


@api("viewer")
async def create_run(call: Call) -> Response:
    thread_id, run_id, _ = await _launch(call)
    run = _store(call).run(thread_id, run_id)
    assert run is not None
    return answer(run.as_json(), headers=_location(thread_id, run_id))


async def _outcome(call: Call, thread_id: str, run_id: str) -> dict[str, Any]:
    await _runs(call).join(run_id)
    run = _store(call).run(thread_id, run_id)
    if run is not None and run.status == "error":
        return {"__error__": {"error": "RunError", "message": run.error}}
    return (await _thread(call, thread_id)).with_interrupt()


@api("viewer")
async def wait_run(call: Call) -> Response:
    thread_id, run_id, _ = await _launch(call)
    return answer(await _outcome(call, thread_id, run_id), headers=_location(thread_id, run_id))


def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n".encode()


@api("viewer")
async def stream_run(call: Call) -> Response:
    modes = field(call.body, "stream_mode", (str, list), ["values"])
    modes = [modes] if isinstance(modes, str) else modes
    if unsupported := [m for m in modes if m not in STREAM_MODES]:
        raise ApiError(422, f"stream_mode {unsupported}: this API streams {', '.join(STREAM_MODES)}")
    events: asyncio.Queue[Event] = asyncio.Queue()
    thread_id, run_id, _ = await _launch(call, events)

    async def sequence() -> AsyncIterator[bytes]:
        yield _sse("metadata", {"run_id": run_id, "thread_id": thread_id, "attempt": 1})
        while (event := await events.get())[0] != "done":
            if "updates" in modes:
                yield _sse(*event)
        run = _store(call).run(thread_id, run_id)
        data = await _thread(call, thread_id)
        if "values" in modes:
            yield _sse("values", data.values)
        if data.interrupts and "updates" in modes:
            yield _sse("updates", {"__interrupt__": data.interrupts})
        if run is not None and run.status == "error":
            yield _sse("error", {"error": "RunError", "message": run.error})
        yield _sse("end", None)

    headers = {**HEADERS, **_location(thread_id, run_id)}
    return StreamingResponse(sequence(), media_type="text/event-stream", headers=headers)


@api("viewer")
async def list_runs(call: Call) -> Response:
    thread_id = call.param("thread_id")
    await _thread(call, thread_id)
    query = call.request.query_params
    try:
        paging = {key: int(query[key]) for key in ("limit", "offset") if key in query}
    except ValueError:
        raise ApiError(422, "limit and offset: whole numbers") from None
    limit, offset = _paging(paging)
    status = call.request.query_params.get("status")
    return answer([r.as_json() for r in _store(call).runs(thread_id, limit=limit, offset=offset, status=status)])


def _run_of(call: Call) -> tuple[str, str]:
    thread_id, run_id = call.param("thread_id"), call.param("run_id")
    if _store(call).run(thread_id, run_id) is None:
        raise ApiError(404, f"no run {run_id!r} in thread {thread_id!r}")
    return thread_id, run_id


@api("viewer")
async def get_run(call: Call) -> Response:
    thread_id, run_id = _run_of(call)
    run = _store(call).run(thread_id, run_id)
    assert run is not None
    return answer(run.as_json())


@api("viewer")
async def join_run(call: Call) -> Response:
    thread_id, run_id = _run_of(call)
    return answer(await _outcome(call, thread_id, run_id))


@api("operator")
async def cancel_run(call: Call) -> Response:
    """Stop the adpilot run an API run drives, as the console's Runs page stops it (a reason, an
    audit row naming the caller): it stops after its step in flight."""
    thread_id, run_id = _run_of(call)
    query = call.request.query_params
    if query.get("action", "interrupt") != "interrupt":
        raise ApiError(422, "action: only interrupt (the run stops after its step in flight; nothing is rolled back)")
    run = _store(call).run(thread_id, run_id)
    if run is None or run.status not in ("pending", "running"):
        raise ApiError(409, f"run {run_id} has ended ({run.status if run else 'unknown'}); there is nothing to cancel")
    reason = query.get("reason", "").strip() or f"cancelled through the API by {call.user.name}"
    try:
        async with Runner(call.config, actor=f"api ({call.user.name})") as runner:
            runner.stop(thread_id, by=call.user.name, reason=reason, starting=run.status == "pending")
    except AdpilotError as exc:
        raise ApiError(409, str(exc)) from None
    if query.get("wait") in ("1", "true"):
        await _runs(call).join(run_id)
    stopped = _store(call).run(thread_id, run_id)
    assert stopped is not None
    return answer(stopped.as_json())


async def not_found(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return error(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}")
    return error(500, f"internal error ({type(exc).__name__}); see the console's log")


def build(config: Config, users: UserStore) -> Starlette:
    """The API as an application of its own (mounted under ``/api`` by the console)."""
    routes = [
        Route("/assistants/search", search_assistants, methods=["POST"]),
        Route("/assistants/{assistant_id}", get_assistant, methods=["GET"]),
        Route("/threads", create_thread, methods=["POST"]),
        Route("/threads/search", search_threads, methods=["POST"]),
        Route("/threads/{thread_id}", get_thread, methods=["GET"]),
        Route("/threads/{thread_id}/state", thread_state, methods=["GET"]),
        Route("/threads/{thread_id}/runs", create_run, methods=["POST"]),
        Route("/threads/{thread_id}/runs", list_runs, methods=["GET"]),
        Route("/threads/{thread_id}/runs/wait", wait_run, methods=["POST"]),
        Route("/threads/{thread_id}/runs/stream", stream_run, methods=["POST"]),
        Route("/threads/{thread_id}/runs/{run_id}", get_run, methods=["GET"]),
        Route("/threads/{thread_id}/runs/{run_id}/join", join_run, methods=["GET"]),
        Route("/threads/{thread_id}/runs/{run_id}/cancel", cancel_run, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found, Exception: not_found})
    store = ApiStore(store_path(config.state_dir))
    app.state.config = config
    app.state.users = users
    app.state.store = store
    app.state.runs = Runs(config, store)
    app.state.started = dt.datetime.now(dt.UTC).isoformat()
    return app


__all__ = ["build"]
