"""The console's Chat page, per-run Stop/Resume and JSON API attacked: open redirects through a
decision's ``next``, forged and missing CSRF tokens, roles too small on every path, the requester
approving their own chat request by each route, markup in messages and audit rows, the events
stream of unknown threads, malformed and hostile API bodies, races of two decisions or two stops.

Every browser and API client here is httpx over ASGI in the test's own event loop (runs the
console starts are tasks alongside); a test waits for a run by reading its stream or joining it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from adpilot.agents.run import Runner
from adpilot.app.web.pages.inbox import same_site
from adpilot.config import Config
from adpilot.statedir import KillSwitch, StateDir
from tests.app.conftest import budget_9001
from tests.app.web.conftest import PASSWORD
from tests.app.web.test_chat_page import RAISE, browsers, chat, csrf, follow, registry, status_of
from tests.app.web.test_runs_control import interrupted, stop, stop_rows, waiting_chat

__all__ = ["browsers"]  # the fixture, shared with the chat page's tests

EVIL = "evil.example"


@pytest.fixture
async def api(app) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the JSON API; a crash of a route comes back as its 500 answer, not raised."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver/api") as client:
        yield client


@pytest.fixture
def tokens(app) -> dict[str, str]:
    return {name: app.state.users.issue_token(name) for name in ("vera", "otto", "marta", "lena")}


def key(token: str) -> dict[str, str]:
    return {"x-api-key": token}


def open_approval(config_file: Path, pid: str) -> bool:
    runs = registry(config_file)
    try:
        asked = runs.asked(pid)
        return asked is not None and asked.state == "open" and runs.decision(pid) is None
    finally:
        runs.close()


def clean_error(answer: httpx.Response) -> str:
    """The API's error detail, checked to be JSON that reveals no traceback and no file path."""
    assert answer.headers["content-type"].startswith("application/json"), answer.text
    detail = answer.json()["detail"]
    assert isinstance(detail, str)
    for leak in ("Traceback", 'File "', ".py", "/work/", "/tmp/", "site-packages"):
        assert leak not in answer.text, answer.text
    return detail


# --- open redirect through a decision's `next` -----------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\\/evil.example",
        "https://evil.example/",
        "https:evil.example",
        "HTTPS://evil.example",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        " //evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/chat\r\nLocation: https://evil.example",
        "/chat\rSet-Cookie: adpilot_session=x",
        "/inbox\x00//evil.example",
        "evil.example",
        "?next=//evil.example",
    ],
)
def test_same_site_refuses_every_way_off_this_console(target):
    assert same_site(target) is None


@pytest.mark.parametrize("target", ["/chat?thread=chat-1", "/inbox", "/%2F%2Fevil.example", "/runs/x?done=1"])
def test_same_site_keeps_paths_of_this_console(target):
    """A percent-encoded slash stays a path segment of this site (a browser never reads it as a host)."""
    assert same_site(target) == target


async def test_a_decision_with_a_hostile_next_does_not_redirect_off_site(browsers, config_file):
    lena = browsers["lena"]
    thread, pid = await waiting_chat(browsers)
    # %2F%2F is decoded by the form parser: the server sees "//evil.example" and must refuse it.
    body = f"csrf={await csrf(lena)}&decision=reject&reason=no&next=%2F%2F{EVIL}%2Fx"
    answer = await lena.post(
        f"/inbox/{pid}/decide", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert answer.status_code == 200, answer.headers
    assert "location" not in answer.headers and EVIL not in answer.text
    assert status_of(config_file, thread) == "done"


async def test_a_hostile_next_on_sign_in_and_language_switch_stays_on_site(app):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        for target in (f"//{EVIL}", f"/\\{EVIL}", f"https://{EVIL}", f"/%0d%0aSet-Cookie:x=1//{EVIL}"):
            switched = await browser.get("/lang/en", params={"next": target})
            assert switched.status_code == 303 and EVIL not in switched.headers["location"], target
            assert "\r" not in switched.headers["location"] and "\n" not in switched.headers["location"]
            form = await browser.get("/login", params={"next": target})
            assert EVIL not in form.text, target


# --- CSRF ------------------------------------------------------------------------------------------


async def test_an_inline_decision_without_or_with_another_sessions_token_is_refused(browsers, config_file):
    lena, otto = browsers["lena"], browsers["otto"]
    thread, pid = await waiting_chat(browsers)
    back = f"/chat?thread={thread}"
    missing = await lena.post(f"/inbox/{pid}/decide", data={"decision": "approve", "next": back})
    foreign = await lena.post(
        f"/inbox/{pid}/decide", data={"csrf": await csrf(otto), "decision": "approve", "next": back}
    )
    empty = await lena.post(f"/inbox/{pid}/decide", data={"csrf": "", "decision": "approve", "next": back})
    assert [r.status_code for r in (missing, foreign, empty)] == [403, 403, 403]
    assert all("location" not in r.headers for r in (missing, foreign, empty))
    assert open_approval(config_file, pid) and budget_9001(config_file) == "50000000"


async def test_a_stop_or_resume_without_or_with_another_sessions_token_is_refused(browsers, config, config_file):
    otto, lena = browsers["otto"], browsers["lena"]
    await interrupted(config, "maint-csrf")
    form = {"reason": "forged", "confirm": "yes"}
    for token in (None, await csrf(lena), "x" * 43):
        data = form if token is None else {**form, "csrf": token}
        assert (await otto.post("/runs/maint-csrf/stop", data=data)).status_code == 403
        resume = {} if token is None else {"csrf": token}
        assert (await otto.post("/runs/maint-csrf/resume", data=resume)).status_code == 403
    assert stop_rows(config_file) == [] and status_of(config_file, "maint-csrf") == "running"


async def test_a_chat_message_with_another_sessions_token_starts_nothing(app, browsers, config_file):
    refused = await browsers["otto"].post("/chat", data={"csrf": await csrf(browsers["marta"]), "text": RAISE})
    assert refused.status_code == 403 and getattr(getattr(app.state, "chat", None), "live", {}) == {}


# --- roles -----------------------------------------------------------------------------------------


async def test_an_operator_cannot_decide_inline_and_a_viewer_cannot_stop_or_resume(browsers, config, config_file):
    otto, vera = browsers["otto"], browsers["vera"]
    thread, pid = await waiting_chat(browsers)
    page = (await otto.get(f"/chat?thread={thread}")).text
    assert 'class="approval"' not in page and f'action="/inbox/{pid}/decide"' not in page
    decided = await otto.post(
        f"/inbox/{pid}/decide",
        data={"csrf": await csrf(otto), "decision": "approve", "next": f"/chat?thread={thread}"},
    )
    assert decided.status_code == 403 and open_approval(config_file, pid)
    await interrupted(config, "maint-roles")
    assert (await vera.post("/runs/maint-roles/resume", data={"csrf": await csrf(vera)})).status_code == 403
    assert (await stop(vera, "maint-roles")).status_code == 403
    assert status_of(config_file, "maint-roles") == "running" and stop_rows(config_file) == []


async def with_cookies(app, cookies: dict[str, str]) -> httpx.Response:
    """A thread search sent with ``cookies`` and nothing else to name the caller."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver/api", cookies=cookies) as client:
        return await client.post("/threads/search", json={})


async def test_api_tokens_in_the_wrong_place_or_of_a_removed_user_are_refused(app, api, tokens, browsers):
    otto = tokens["otto"]
    assert (await api.post("/threads/search", json={}, headers=key(otto))).status_code == 200
    assert (await api.post("/threads/search", json={}, headers={"authorization": f"Bearer {otto}"})).status_code == 200
    wrong = [
        await api.post("/threads/search", json={}),
        await with_cookies(app, {"x-api-key": otto}),
        await api.post("/threads/search", json={}, params={"x-api-key": otto}),
        await api.post("/threads/search", json={}, params={"api_key": otto}),
        await api.post("/threads/search", json={}, headers={"authorization": f"Basic {otto}"}),
        await api.post("/threads/search", json={}, headers=key(otto[:-1] + ("A" if otto[-1] != "A" else "B"))),
    ]
    assert [r.status_code for r in wrong] == [401] * 6
    # A browser session's cookie is no API token.
    session = browsers["otto"].cookies.get("adpilot_session")
    assert session
    cookie = await with_cookies(app, {"adpilot_session": session})
    assert cookie.status_code == 401
    app.state.users.remove("otto")
    assert (await api.post("/threads/search", json={}, headers=key(otto))).status_code == 401
    newer = app.state.users.issue_token("lena")
    assert (await api.post("/threads/search", json={}, headers=key(tokens["lena"]))).status_code == 401
    assert (await api.post("/threads/search", json={}, headers=key(newer))).status_code == 200


def test_only_the_sha256_of_an_api_token_is_stored(app, config_file):
    token = app.state.users.issue_token("marta")
    with sqlite3.connect(config_file.parent / "state" / "console.sqlite") as db:
        dumped = "\n".join(db.iterdump())
    assert token not in dumped and token[4:] not in dumped
    assert hashlib.sha256(token.encode()).hexdigest() in dumped


async def test_a_viewer_or_operator_cannot_decide_or_cancel_through_the_api(api, tokens, browsers, config_file):
    thread, pid = await waiting_chat(browsers)
    resume = {"assistant_id": "chat", "command": {"resume": {pid: {"decision": "approve"}}}}
    for name in ("vera", "otto"):
        answer = await api.post(f"/threads/{thread}/runs/wait", json=resume, headers=key(tokens[name]))
        assert answer.status_code == 403, answer.text
        assert name in clean_error(answer)
    start = await api.post(
        "/threads/chat-api-roles/runs",
        json={"assistant_id": "chat", "input": {"text": "hilfe"}, "if_not_exists": "create"},
        headers=key(tokens["otto"]),
    )
    assert start.status_code == 200, start.text
    run_id = start.json()["run_id"]
    cancel = await api.post(f"/threads/chat-api-roles/runs/{run_id}/cancel", headers=key(tokens["vera"]))
    assert cancel.status_code == 403
    await api.get(f"/threads/chat-api-roles/runs/{run_id}/join", headers=key(tokens["otto"]))
    assert open_approval(config_file, pid) and budget_9001(config_file) == "50000000"


# --- the requester never approves their own chat request -------------------------------------------


async def test_the_requester_cannot_approve_their_own_chat_request_by_any_route(browsers, api, tokens, config_file):
    marta = browsers["marta"]
    thread, pid = await waiting_chat(browsers)  # marta asked by chat
    chat_page = await marta.post(
        f"/inbox/{pid}/decide",
        data={"csrf": await csrf(marta), "decision": "approve", "next": f"/chat?thread={thread}"},
    )
    inbox = await marta.post(f"/inbox/{pid}/decide", data={"csrf": await csrf(marta), "decision": "approve"})
    edited = await marta.post(
        f"/inbox/{pid}/decide",
        data={"csrf": await csrf(marta), "decision": "edit", "edits": "amount_micros=90000000", "reason": "more"},
    )
    for answer in (chat_page, inbox, edited):
        assert answer.status_code == 409 and "marta requested" in answer.text, answer.text
    for decision in ({"decision": "approve"}, {"decision": "edit", "args": {"amount_micros": "90000000"}}):
        command = {"resume": {pid: decision}}
        answer = await api.post(
            f"/threads/{thread}/runs/wait",
            json={"assistant_id": "chat", "command": command},
            headers=key(tokens["marta"]),
        )
        assert answer.status_code == 409 and "marta requested" in clean_error(answer)
    # Naming another approver in the decision does not make it theirs.
    forged = {"resume": {pid: {"decision": "approve", "approver": "lena"}}}
    answer = await api.post(
        f"/threads/{thread}/runs/wait", json={"assistant_id": "chat", "command": forged}, headers=key(tokens["marta"])
    )
    assert answer.status_code in (409, 422)
    assert open_approval(config_file, pid) and budget_9001(config_file) == "50000000"
    assert status_of(config_file, thread) == "waiting"


# --- the events stream and markup ------------------------------------------------------------------


async def test_the_events_stream_of_an_unknown_or_non_chat_thread_is_404_at_once(browsers, config):
    otto = browsers["otto"]
    await interrupted(config, "maint-not-chat")
    for thread in ("chat-nothing", "maint-not-chat", "%3Cscript%3E"):
        answer = await asyncio.wait_for(otto.get(f"/chat/{thread}/events"), timeout=30)
        assert answer.status_code == 404 and "<script>" not in answer.text, thread
    anonymous = httpx.AsyncClient(transport=otto._transport, base_url="http://testserver")
    async with anonymous:
        answer = await anonymous.get("/chat/chat-nothing/events")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


async def test_another_persons_stream_carries_no_secret(app, browsers, tokens, config_file):
    marta, vera = browsers["marta"], browsers["vera"]
    thread, _ = await waiting_chat(browsers)
    answer = await vera.get(f"/chat/{thread}/events")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    secrets = [PASSWORD, *tokens.values(), await csrf(marta), await csrf(vera)]
    secrets += [c for c in (marta.cookies.get("adpilot_session"), vera.cookies.get("adpilot_session")) if c]
    for secret in secrets:
        assert secret not in answer.text
    assert "adp_" not in answer.text and "password" not in answer.text.lower()


MARKUP = "<script>alert(1)</script>"
HEADLINE = '<img src=x onerror="alert(2)">Boots'


async def test_markup_in_a_message_and_in_audit_rows_comes_out_escaped(browsers, config, app):
    otto = browsers["otto"]
    thread = await chat(otto, f"{MARKUP} {HEADLINE}")
    await follow(otto, thread)
    async with Runner(config, actor="test") as runner:
        record = runner.registry.get(thread)
        assert record is not None
        args = {"ad_id": "1", "headline": HEADLINE, "text": MARKUP}
        runner.audit.append(
            "decision",
            run_id=record.run_id,
            thread_id=thread,
            actor=MARKUP,
            role="operator",
            tool=HEADLINE,
            args=args,
            call_hash=hashlib.sha256(json.dumps(args, sort_keys=True).encode()).hexdigest(),
            policy_hash="",
            decision="allow",
            rule=MARKUP,
            reason=HEADLINE,
        )
    page = await otto.get(f"/chat?thread={thread}")
    streamed = (await otto.get(f"/chat/{thread}/events")).text
    run_page = await otto.get(f"/runs/{thread}")
    for shown in (page.text, streamed, run_page.text):
        assert "<script>alert" not in shown and "<img" not in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "&lt;img src=x" in streamed
    for answer in (page, run_page):
        assert "script-src 'self'" in answer.headers["content-security-policy"]
    unknown = await otto.get("/chat", params={"thread": MARKUP})
    assert unknown.status_code == 404 and MARKUP not in unknown.text and "&lt;script&gt;" in unknown.text


async def test_a_stop_reason_with_markup_comes_out_escaped(browsers):
    otto = browsers["otto"]
    thread, _ = await waiting_chat(browsers)
    assert (await stop(otto, thread, reason=MARKUP)).status_code == 303
    shown = [
        (await otto.get(f"/runs/{thread}")).text,
        (await otto.get(f"/chat?thread={thread}")).text,
        (await otto.get(f"/chat/{thread}/events")).text,
    ]
    for text in shown:
        assert MARKUP not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text


async def test_the_api_stream_is_json_events_without_secrets(api, tokens):
    body = {"assistant_id": "chat", "input": {"text": MARKUP}, "if_not_exists": "create", "stream_mode": ["updates"]}
    async with api.stream("POST", "/threads/chat-api-stream/runs/stream", json=body, headers=key(tokens["otto"])) as s:
        assert s.headers["content-type"].startswith("text/event-stream")
        assert s.headers["x-content-type-options"] == "nosniff"
        text = (await s.aread()).decode()
    assert text.startswith("event: metadata") and text.rstrip().endswith("event: end\ndata: null")
    for secret in (PASSWORD, *tokens.values()):
        assert secret not in text


async def test_element_ids_of_two_turns_never_collide(browsers):
    """The script replaces the element whose id an event names: two turns on one page must not
    share an id, or the second run's steps overwrite the first turn's."""
    otto = browsers["otto"]
    for text in ("Wie läuft die Kampagne Boots - Search?", "hilfe"):
        await follow(otto, await chat(otto, text))
    page = (await otto.get("/chat")).text
    ids = re.findall(r'\bid="([^"]+)"', page)
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    assert duplicated == [], duplicated


# --- the API under hostile bodies ------------------------------------------------------------------


async def test_hostile_api_bodies_are_refused_as_json(api, tokens):
    otto = key(tokens["otto"])
    huge = await api.post("/threads", content=b"{" + b" " * (1024 * 1024 + 10) + b"}", headers=otto)
    assert huge.status_code == 413 and "exceeds" in clean_error(huge)
    form = await api.post("/threads", content=b"thread_id=x", headers={**otto, "content-type": "text/plain"})
    assert form.status_code == 422 and "not JSON" in clean_error(form)
    array = await api.post("/threads", json=[1, 2], headers=otto)
    assert array.status_code == 422 and "object" in clean_error(array)
    latin = await api.post("/threads", content=b'{"thread_id": "\xff"}', headers=otto)
    assert latin.status_code == 422
    typed = await api.post("/threads", json={"thread_id": 5}, headers=otto)
    assert typed.status_code == 422 and "thread_id" in clean_error(typed)
    hostile_id = await api.post("/threads", json={"thread_id": "../../etc/passwd"}, headers=otto)
    assert hostile_id.status_code == 422
    digits = await api.post("/threads/search", content=b'{"limit": ' + b"9" * 5000 + b"}", headers=otto)
    assert digits.status_code == 422 and clean_error(digits)
    infinite = await api.post("/threads/search", content=b'{"limit": 1e999}', headers=otto)
    assert infinite.status_code == 422 and "limit" in clean_error(infinite)
    unknown = await api.get("/nowhere", headers=otto)
    assert unknown.status_code == 404 and clean_error(unknown)
    method = await api.delete("/threads", headers=otto)
    assert method.status_code in (404, 405) and clean_error(method)


async def test_deeply_nested_json_is_a_malformed_body(api, tokens):
    nested = b'{"metadata": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    answer = await api.post("/threads", content=nested, headers=key(tokens["otto"]))
    assert answer.status_code == 422
    clean_error(answer)


async def test_malformed_decisions_are_422_and_change_nothing(api, tokens, browsers, config_file):
    thread, pid = await waiting_chat(browsers)
    lena = key(tokens["lena"])
    bad = [
        {"resume": {pid: {"decision": "approve-all"}}},
        {"resume": {pid: {"decision": "edit"}}},
        {"resume": {pid: {"decision": "edit", "args": "amount_micros=1"}}},
        {"resume": {pid: "approve"}},
        {"resume": {pid: None}},
        {"resume": {pid: {"decision": ["approve"]}}},
        {"resume": {}},
        {"resume": []},
        {"resume": "approve"},
        {"resume": {pid: {"decision": "approve"}}, "goto": "apply"},
    ]
    for command in bad:
        answer = await api.post(
            f"/threads/{thread}/runs/wait", json={"assistant_id": "chat", "command": command}, headers=lena
        )
        assert answer.status_code == 422, (command, answer.text)
        clean_error(answer)
    both = {"assistant_id": "chat", "command": {"resume": {pid: {"decision": "approve"}}}, "input": {"text": "x"}}
    assert (await api.post(f"/threads/{thread}/runs/wait", json=both, headers=lena)).status_code == 422
    other = {"resume": {"not-an-approval": {"decision": "approve"}}}
    answer = await api.post(
        f"/threads/{thread}/runs/wait", json={"assistant_id": "chat", "command": other}, headers=lena
    )
    assert answer.status_code == 409 and "waits for no approval" in clean_error(answer)
    assert open_approval(config_file, pid) and budget_9001(config_file) == "50000000"


async def test_two_resumes_at_once_carry_out_the_decision_once(api, tokens, browsers, config_file):
    thread, pid = await waiting_chat(browsers)
    command = {"assistant_id": "chat", "command": {"resume": {pid: {"decision": "approve", "reason": "ok"}}}}
    answers = await asyncio.gather(
        api.post(f"/threads/{thread}/runs/wait", json=command, headers=key(tokens["lena"])),
        api.post(f"/threads/{thread}/runs/wait", json=command, headers=key(tokens["lena"])),
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    assert budget_9001(config_file) == "70000000" and status_of(config_file, thread) == "done"
    again = await api.post(f"/threads/{thread}/runs/wait", json=command, headers=key(tokens["lena"]))
    assert again.status_code == 409 and "waits for no decision" in clean_error(again)
    with sqlite3.connect(config_file.parent / "state" / "audit.sqlite3") as db:
        applied = db.execute(
            "SELECT COUNT(*) FROM audit WHERE thread_id = ? AND tool = 'set_campaign_budget' AND kind = 'result'",
            (thread,),
        ).fetchone()[0]
    assert applied == 1


async def test_a_stopped_run_is_not_resumed_through_the_api(api, tokens, browsers, config_file):
    thread, pid = await waiting_chat(browsers)
    assert (await stop(browsers["otto"], thread)).status_code == 303
    command = {"assistant_id": "chat", "command": {"resume": {pid: {"decision": "approve"}}}}
    answer = await api.post(f"/threads/{thread}/runs/wait", json=command, headers=key(tokens["lena"]))
    assert answer.status_code == 409 and "stopped" in clean_error(answer)
    assert open_approval(config_file, pid) and budget_9001(config_file) == "50000000"


async def test_a_cancelled_api_run_cannot_be_resumed_or_cancelled_twice(api, tokens, config_file):
    otto = key(tokens["otto"])
    body = {"assistant_id": "chat", "input": {"text": RAISE}, "if_not_exists": "create"}
    run = (await api.post("/threads/chat-api-cancel/runs/wait", json=body, headers=otto)).json()
    assert run["status"] == "waiting", run
    pid = run["pending"][0]["id"]
    listed = (await api.get("/threads/chat-api-cancel/runs", headers=otto)).json()
    late = await api.post(f"/threads/chat-api-cancel/runs/{listed[0]['run_id']}/cancel", headers=otto)
    assert late.status_code == 409 and "nothing to cancel" in clean_error(late)
    unknown = await api.post("/threads/chat-api-cancel/runs/no-such-run/cancel", headers=otto)
    assert unknown.status_code == 404 and clean_error(unknown)
    assert open_approval(config_file, pid) and status_of(config_file, "chat-api-cancel") == "waiting"


async def test_a_run_cancelled_right_after_it_was_created_does_not_go_on(api, tokens, config_file, monkeypatch):
    """The run's start is held (as a slow start of the Runner would hold it) until the cancel is answered."""
    from adpilot.app.web.api import runs as api_runs

    gate = asyncio.Event()
    real = api_runs.drive

    async def slow_start(config: Config, job: api_runs.Job, on_step: Callable[[str, str], None] | None) -> str:
        await gate.wait()
        return await real(config, job, on_step)

    monkeypatch.setattr(api_runs, "drive", slow_start)
    otto = key(tokens["otto"])
    body = {"assistant_id": "chat", "input": {"text": RAISE}, "if_not_exists": "create"}
    created = await api.post("/threads/chat-api-early/runs", json=body, headers=otto)
    assert created.status_code == 200 and created.json()["status"] in ("pending", "running")
    run_id = created.json()["run_id"]
    cancel = await api.post(f"/threads/chat-api-early/runs/{run_id}/cancel", headers=otto)
    gate.set()
    await api.get(f"/threads/chat-api-early/runs/{run_id}/join", headers=otto)
    assert status_of(config_file, "chat-api-early") == "stopped", cancel.text
    assert cancel.status_code == 200, cancel.text


# --- Stop and Resume on the Runs page ---------------------------------------------------------------


async def test_stop_of_a_finished_or_unknown_run_is_refused_and_leaves_no_row(browsers, config_file):
    otto = browsers["otto"]
    done = await chat(otto, "hilfe")
    await follow(otto, done)
    assert status_of(config_file, done) == "done"
    finished = await stop(otto, done)
    assert finished.status_code == 409 and "only a running, waiting or interrupted run stops" in finished.text
    unknown = await stop(otto, "chat-nothing")
    assert unknown.status_code in (404, 409) and "chat-nothing" in unknown.text
    assert stop_rows(config_file) == [] and status_of(config_file, done) == "done"


async def test_two_stops_at_once_stop_once(browsers, config_file):
    thread, _ = await waiting_chat(browsers)
    answers = await asyncio.gather(stop(browsers["otto"], thread, "first"), stop(browsers["lena"], thread, "second"))
    assert sorted(a.status_code for a in answers) == [303, 409]
    assert len(stop_rows(config_file)) == 1 and status_of(config_file, thread) == "stopped"


async def test_a_run_stops_while_the_kill_switch_is_engaged(browsers, config_file):
    """Stopping only takes away: the kill switch never blocks it."""
    thread, pid = await waiting_chat(browsers)
    KillSwitch(config_file.parent / "state").engage("incident", by="ada")
    stopped = await stop(browsers["otto"], thread, "incident cleanup")
    assert stopped.status_code == 303 and status_of(config_file, thread) == "stopped"
    assert len(stop_rows(config_file)) == 1 and open_approval(config_file, pid)


async def test_resume_of_a_stopped_waiting_or_unknown_run_is_refused(browsers, config, config_file):
    otto = browsers["otto"]
    thread, _ = await waiting_chat(browsers)
    waiting = await otto.post(f"/runs/{thread}/resume", data={"csrf": await csrf(otto)})
    assert waiting.status_code == 409 and status_of(config_file, thread) == "waiting"
    assert (await stop(otto, thread)).status_code == 303
    stopped = await otto.post(f"/runs/{thread}/resume", data={"csrf": await csrf(otto)})
    assert stopped.status_code == 409 and status_of(config_file, thread) == "stopped"
    unknown = await otto.post("/runs/chat-nothing/resume", data={"csrf": await csrf(otto)})
    assert unknown.status_code == 404


async def test_two_resumes_of_an_interrupted_run_at_once_drive_it_once(browsers, config, config_file):
    await interrupted(config, "maint-twice")
    otto, marta = browsers["otto"], browsers["marta"]
    answers = await asyncio.gather(
        otto.post("/runs/maint-twice/resume", data={"csrf": await csrf(otto)}),
        marta.post("/runs/maint-twice/resume", data={"csrf": await csrf(marta)}),
    )
    assert all(a.status_code in (200, 409) for a in answers) and 200 in [a.status_code for a in answers]
    assert status_of(config_file, "maint-twice") in ("done", "waiting")
    state = StateDir(config_file.parent / "state")
    with sqlite3.connect(state.audit) as db:
        results = db.execute(
            "SELECT tool, args, COUNT(*) FROM audit WHERE thread_id = 'maint-twice' AND kind = 'result' "
            "GROUP BY tool, args HAVING COUNT(*) > 1"
        ).fetchall()
    assert results == []


async def test_a_stop_and_a_resume_of_an_interrupted_run_at_once_leave_it_stopped(browsers, config, config_file):
    await interrupted(config, "maint-tug")
    otto, marta = browsers["otto"], browsers["marta"]
    resumed, stopped = await asyncio.gather(
        otto.post("/runs/maint-tug/resume", data={"csrf": await csrf(otto)}),
        stop(marta, "maint-tug", "hold on"),
    )
    assert stopped.status_code == 303 and resumed.status_code in (200, 409)
    assert status_of(config_file, "maint-tug") == "stopped" and len(stop_rows(config_file)) == 1


def results(config_file: Path, thread: str) -> list[tuple[str, str]]:
    with sqlite3.connect(config_file.parent / "state" / "audit.sqlite3") as db:
        rows = db.execute(
            "SELECT tool, COALESCE(status, '') FROM audit WHERE thread_id = ? AND kind = 'result' ORDER BY seq",
            (thread,),
        ).fetchall()
    return [(str(t), str(s)) for t, s in rows]


async def test_a_decision_by_page_and_by_api_at_once_is_carried_out_once(browsers, api, app, config_file):
    lena = browsers["lena"]
    thread, pid = await waiting_chat(browsers)
    tom = app.state.users.issue_token("tom")
    command = {"assistant_id": "chat", "command": {"resume": {pid: {"decision": "approve", "reason": "api"}}}}
    page, by_api = await asyncio.gather(
        lena.post(f"/inbox/{pid}/decide", data={"csrf": await csrf(lena), "decision": "approve", "reason": "page"}),
        api.post(f"/threads/{thread}/runs/wait", json=command, headers=key(tom)),
    )
    page_won = page.status_code == 200
    api_won = by_api.status_code == 200 and "__error__" not in by_api.json()
    assert page_won != api_won, (page.status_code, page.text[-300:], by_api.text)
    assert page.status_code in (200, 409) and by_api.status_code in (200, 409)
    assert budget_9001(config_file) == "70000000" and status_of(config_file, thread) == "done"
    assert results(config_file, thread).count(("set_campaign_budget", "ok")) == 1, results(config_file, thread)


async def test_nothing_is_applied_by_a_resume_or_a_chat_while_the_kill_switch_is_engaged(browsers, config, config_file):
    await interrupted(config, "maint-killed")
    before = results(config_file, "maint-killed")
    KillSwitch(config_file.parent / "state").engage("incident", by="ada")
    otto = browsers["otto"]
    resumed = await otto.post("/runs/maint-killed/resume", data={"csrf": await csrf(otto)})
    assert resumed.status_code in (200, 409)
    assert results(config_file, "maint-killed") == before
    thread = await chat(otto, "pause the worst ad in Hiking Boots")
    await follow(otto, thread)
    assert [r for r in results(config_file, thread) if r[1] == "ok"] == []
    assert budget_9001(config_file) == "50000000"


async def test_a_message_cannot_forge_events_or_exceed_its_limit(app, browsers):
    otto = browsers["otto"]
    forged = "Wie läuft die Kampagne Boots - Search?\r\n\r\nevent: end\ndata: <b>forged</b>\n\nid: x\r"
    thread = await chat(otto, forged)
    streamed = await follow(otto, thread)
    assert [kind for kind, _, _ in streamed].count("end") == 1 and streamed[-1][0] == "end"
    assert all("<b>forged" not in data for _, _, data in streamed)
    assert "<b>forged" not in (await otto.get(f"/chat?thread={thread}")).text
    started = len(app.state.chat.live)
    too_long = await otto.post("/chat", data={"csrf": await csrf(otto), "text": "x" * 2001})
    assert too_long.status_code == 400 and len(app.state.chat.live) == started
