"""The Chat page: a request by name in German ends in an approval shown inline, another person
answers it there and the run finishes; the requester cannot approve their own request; a viewer
reads but cannot chat; the events stream replays a run and ends with ``end``.

The browser here is httpx over ASGI in the test's own event loop, so the run the POST starts as a
task runs alongside; a test waits for it by reading its events stream to the end, never by sleeping.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from adpilot.agents.registry import RunRegistry
from adpilot.app.web.pages.inbox import same_site
from adpilot.statedir import StateDir
from tests.app.conftest import budget_9001
from tests.app.web.conftest import PASSWORD, csrf_of

RAISE = "Setze das Budget von Boots - Search auf 70 €"  # +40 %: one approver must agree


@pytest.fixture
async def browsers(app) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """A signed-in browser for each person, all in this event loop."""
    opened: dict[str, httpx.AsyncClient] = {}
    for name in ("vera", "otto", "marta", "lena"):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        form = await client.get("/login")
        answer = await client.post("/login", data={"csrf": csrf_of(form.text), "name": name, "password": PASSWORD})
        assert answer.status_code == 303, answer.text
        opened[name] = client
    yield opened
    for client in opened.values():
        await client.aclose()


async def csrf(browser: httpx.AsyncClient) -> str:
    return csrf_of((await browser.get("/inbox")).text)


async def chat(browser: httpx.AsyncClient, text: str) -> str:
    """Send ``text``; the thread the POST answers with."""
    answer = await browser.post("/chat", data={"csrf": await csrf(browser), "text": text})
    assert answer.status_code == 303, answer.text
    found = re.match(r"/chat\?thread=(chat-[0-9a-f]+)#turn-", answer.headers["location"])
    assert found, answer.headers["location"]
    return found.group(1)


def events(stream: str) -> list[tuple[str, str, str]]:
    """A text/event-stream as (event, id, data) triples."""
    parsed = []
    for block in stream.strip().split("\n\n"):
        fields: dict[str, list[str]] = {}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            fields.setdefault(name, []).append(value)
        parsed.append((fields["event"][0], fields["id"][0], "\n".join(fields.get("data", []))))
    return parsed


async def follow(browser: httpx.AsyncClient, thread: str) -> list[tuple[str, str, str]]:
    """The run's events stream, read to its end (it ends when the run pauses or ends)."""
    answer = await browser.get(f"/chat/{thread}/events")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
    return events(answer.text)


def registry(config_file: Path) -> RunRegistry:
    return RunRegistry(StateDir(config_file.parent / "state").registry)


def status_of(config_file: Path, thread: str) -> str | None:
    """Run ``thread``'s status in the registry (None: no such run)."""
    runs = registry(config_file)
    try:
        record = runs.get(thread)
        return record.status if record is not None else None
    finally:
        runs.close()


async def test_a_german_request_by_name_waits_inline_and_another_approver_applies_it(browsers, config_file):
    marta, lena = browsers["marta"], browsers["lena"]
    thread = await chat(marta, RAISE)
    streamed = await follow(marta, thread)
    kinds = [kind for kind, _, _ in streamed]
    assert kinds[-1] == "end" and kinds.count("end") == 1
    ids = [key for _, key, _ in streamed]
    assert "step-0" in ids and any(key.startswith("audit-") for key in ids)
    steps = " ".join(data for _, key, data in streamed if key.startswith("step-"))
    assert "Gebots-Agent" in steps and "__interrupt__" not in steps
    calls = " ".join(data for _, key, data in streamed if key.startswith("audit-"))
    assert "set_campaign_budget" in calls
    approval = [data for _, key, data in streamed if key.startswith("approval-")]
    assert len(approval) == 1 and 'class="approval"' in approval[0] and "→ 70.00 EUR" in approval[0]
    assert "wartet auf Freigabe" in streamed[-1][2]
    pending = re.search(r'data-approval="([^"]+)"', approval[0])
    assert pending
    pid = pending.group(1)
    assert budget_9001(config_file) == "50000000"

    page = (await marta.get(f"/chat?thread={thread}")).text
    assert 'id="chat-log"' in page and RAISE in page and f'action="/inbox/{pid}/decide"' in page
    next_field = f'name="next" value="/chat?thread={thread}"'
    assert next_field in page

    # The requester cannot approve their own chat request, inline or not.
    own = await marta.post(
        f"/inbox/{pid}/decide",
        data={"csrf": await csrf(marta), "decision": "approve", "next": f"/chat?thread={thread}"},
    )
    assert own.status_code == 409 and "marta requested" in own.text
    assert budget_9001(config_file) == "50000000"

    answered = await lena.post(
        f"/inbox/{pid}/decide",
        data={"csrf": await csrf(lena), "decision": "approve", "reason": "ok", "next": f"/chat?thread={thread}"},
    )
    assert answered.status_code == 303 and answered.headers["location"] == f"/chat?thread={thread}"
    assert budget_9001(config_file) == "70000000"
    after = (await lena.get(answered.headers["location"])).text
    assert "Erledigt" in after and "70,00 €" in after and "approved by lena" in after
    assert 'class="approval"' not in after
    assert status_of(config_file, thread) == "done"


async def test_the_stream_of_a_finished_run_replays_its_items_and_ends(browsers):
    otto = browsers["otto"]
    thread = await chat(otto, "Wie läuft die Kampagne Boots - Search?")
    live = await follow(otto, thread)
    replay = await follow(otto, thread)
    assert replay[-1][0] == "end" and live[-1][0] == "end"
    assert [key for _, key, _ in replay] == [key for _, key, _ in live]
    answer = [data for _, key, data in replay if key == "answer"]
    assert answer and "Kampagne „Boots - Search“" in answer[0] and "Impressionen" in answer[0]
    assert "erledigt" in replay[-1][2]
    # Another person's browser reads it too (a viewer may read every run).
    seen = await follow(browsers["vera"], thread)
    assert [key for _, key, _ in seen] == [key for _, key, _ in live]


def started(app) -> dict[str, object]:
    """The chat runs this server process started."""
    hub = getattr(app.state, "chat", None)
    return dict(hub.live) if hub is not None else {}


async def test_a_viewer_reads_the_page_but_cannot_chat(app, browsers, config_file):
    vera = browsers["vera"]
    page = await vera.get("/chat")
    assert page.status_code == 200 and 'id="chat-form"' not in page.text and "operator" in page.text
    refused = await vera.post("/chat", data={"csrf": await csrf(vera), "text": RAISE})
    assert refused.status_code == 403 and started(app) == {}
    runs = registry(config_file)
    try:
        assert runs.with_status("running", "waiting", "done", "stopped", "failed") == []
    finally:
        runs.close()


async def test_a_chat_without_the_csrf_token_is_refused(app, browsers, config_file):
    refused = await browsers["otto"].post("/chat", data={"text": RAISE})
    assert refused.status_code == 403
    forged = await browsers["otto"].post("/chat", data={"csrf": "x" * 43, "text": RAISE})
    assert forged.status_code == 403 and started(app) == {}
    runs = registry(config_file)
    try:
        assert runs.with_status("running", "waiting", "done", "stopped", "failed") == []
    finally:
        runs.close()


async def test_an_operator_has_the_form_and_an_empty_message_is_refused(browsers):
    otto = browsers["otto"]
    page = (await otto.get("/chat")).text
    for stable in ('id="chat-form"', 'id="chat-text"', 'for="chat-text"', 'href="/chat"'):
        assert stable in page, stable
    empty = await otto.post("/chat", data={"csrf": await csrf(otto), "text": "   "})
    assert empty.status_code == 400
    unknown = await otto.get("/chat?thread=chat-nothing")
    assert unknown.status_code == 404 and "chat-nothing" in unknown.text


@pytest.mark.parametrize(
    ("target", "kept"),
    [
        ("/chat?thread=chat-1", True),
        ("/inbox", True),
        ("//evil.example/x", False),
        ("https://evil.example/", False),
        ("/\\evil.example", False),
        ("/chat\r\nSet-Cookie: x=1", False),
        ("chat", False),
        ("", False),
    ],
)
def test_a_decision_returns_only_to_a_page_of_this_console(target, kept):
    assert (same_site(target) == target) is kept


async def test_a_run_that_ends_while_the_stream_reads_it_ends_the_stream_with_its_final_status(
    app, browsers, monkeypatch
):
    """The run ends (and signals) while the stream is reading its state: the ``end`` event still
    carries the final status, never the one read before."""
    from adpilot.app.web.pages import chat as page

    otto = browsers["otto"]
    thread = await chat(otto, "Wie läuft die Kampagne Boots - Search?")
    await follow(otto, thread)
    live = page.Live(thread, "Wie läuft die Kampagne Boots - Search?")
    app.state.chat.live[thread] = live  # as if the run were still being driven
    real = page.load

    async def ending_meanwhile(ctx, shown_thread):
        shown = await real(ctx, shown_thread)
        if not live.done:
            live.done = True
            live.notify()
        return shown

    monkeypatch.setattr(page, "load", ending_meanwhile)
    streamed = await follow(otto, thread)
    assert streamed[-1][0] == "end" and "erledigt" in streamed[-1][2] and "arbeitet" not in streamed[-1][2]
