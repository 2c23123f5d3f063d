"""The console's JSON API driven by LangGraph's official client (``langgraph_sdk``) over a real
socket: the app runs in uvicorn on a free loopback port, the client knows nothing of adpilot."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langgraph_sdk import get_client
from langgraph_sdk.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    UnprocessableEntityError,
)

from adpilot.agents.registry import RunRegistry
from adpilot.errors import UsageError
from adpilot.statedir import KillSwitch, StateDir
from tests.app.conftest import budget_9001, run, world
from tests.conftest import DE


@pytest.fixture
def server(app) -> Iterator[str]:
    """The console on a free loopback port (uvicorn in a thread): its API's URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # listening before the thread starts: a client's connection waits in the backlog
    port = sock.getsockname()[1]
    served = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=served.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/api"
    served.should_exit = True
    thread.join(timeout=30)
    sock.close()


@pytest.fixture
def tokens(app) -> dict[str, str]:
    return {name: app.state.users.issue_token(name) for name in ("vera", "otto", "marta", "lena", "tom")}


def client(server: str, token: str | None) -> Any:
    return get_client(url=server, api_key=token)


def audit_rows(config_file: Path, tool: str) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(config_file.parent / "state" / "audit.sqlite3") as db:
        rows = db.execute(
            "SELECT kind, actor, COALESCE(decision, status), COALESCE(reason, '') FROM audit WHERE tool = ? "
            "ORDER BY seq",
            (tool,),
        ).fetchall()
    return [(str(k), str(a), str(d), str(r)) for k, a, d, r in rows]


def posts(config_file: Path) -> dict[str, dict[str, Any]]:
    return dict(world(config_file)["cms"]["posts"])


MAINTAIN = {"accounts": [DE], "dry_run": False, "memory": False}


def test_a_maintenance_run_waits_for_people_and_an_approver_decides_through_the_api(
    server: str, tokens: dict[str, str], config_file: Path
) -> None:
    async def scenario() -> None:
        otto = client(server, tokens["otto"])
        found = await otto.assistants.search()
        assert {a["assistant_id"] for a in found} == {"maintenance", "chat"}
        assert (await otto.assistants.get("maintenance"))["graph_id"] == "maintenance"

        thread = await otto.threads.create(metadata={"by": "test"})
        tid = thread["thread_id"]
        assert thread["status"] == "idle" and thread["values"]["status"] == "new"
        result = await otto.runs.wait(tid, "maintenance", input=MAINTAIN)
        # The run paused at the approvals: the platform's shape, the interrupt carries them.
        interrupts = result["__interrupt__"]
        pending = interrupts[0]["value"]["pending"]
        assert result["status"] == "waiting" and {p["tool"] for p in pending} == {"update_post"}
        assert all(p["requester"] == "otto" and p["needed"] == 1 for p in pending)
        before = posts(config_file)

        state = await otto.threads.get_state(tid)
        assert state["interrupts"] == interrupts and state["next"] == ["escalate"]
        assert state["tasks"][0]["interrupts"] == interrupts
        assert (await otto.threads.get(tid))["status"] == "interrupted"
        listed = await otto.threads.search(status="interrupted")
        assert tid in {t["thread_id"] for t in listed}
        # Named fields only: never the model conversation, transcripts or the run's settings.
        assert set(state["values"]) == {
            *("status", "kind", "run_id", "accounts", "dry_run", "scope", "text", "pending"),
            *("outcomes", "answer", "report", "notes", "stop_reason"),
        }

        first, *others = [p["id"] for p in pending]
        decisions: dict[str, Any] = {first: {"decision": "approve", "reason": "fine"}}
        decisions |= {other: {"decision": "reject", "reason": "not this week"} for other in others}
        lena = client(server, tokens["lena"])
        done = await lena.runs.wait(tid, "maintenance", command={"resume": decisions})
        assert done["status"] == "done" and "__interrupt__" not in done, done
        assert len(done["report"]["applied"]) >= 1 and len(done["report"]["rejected"]) == len(others)
        runs = await lena.runs.list(tid)
        assert [r["status"] for r in runs] == ["success", "success"]
        assert (await lena.runs.join(tid, runs[0]["run_id"]))["status"] == "done"
        assert (await lena.threads.get(tid))["status"] == "idle"

        approved = next(p for p in pending if p["id"] == first)
        # The audit log names the token's owner: as `adpilot approvals approve` would have.
        rows = audit_rows(config_file, "update_post")
        assert [r[2] for r in rows].count("ok") == 1
        assert sum(1 for r in rows if r[2] == "allow" and r[3].startswith("approved by lena: ")) == 1
        assert sum(1 for r in rows if r[2] == "reject" and r[3] == "rejected by lena: not this week") == len(others)
        after = posts(config_file)
        post = str(approved["args"]["post_id"])
        assert after[post] != before[post]
        for other in (p for p in pending if p["id"] != first):
            key = str(other["args"]["post_id"])
            assert after[key] == before[key]  # rejected: nothing applied

    asyncio.run(scenario())


def test_a_chat_request_is_edited_by_another_approver_and_its_requester_cannot_approve_it(
    server: str, tokens: dict[str, str], config_file: Path
) -> None:
    async def scenario() -> None:
        marta = client(server, tokens["marta"])
        thread = await marta.threads.create()
        tid = thread["thread_id"]
        result = await marta.runs.wait(tid, "chat", input={"text": "set budget 9001 to 70 EUR", "memory": False})
        (item,) = result["__interrupt__"][0]["value"]["pending"]
        assert item["args"]["amount_micros"] == "70000000" and item["requester"] == "marta"

        approve = {"resume": {item["id"]: {"decision": "approve"}}}
        with pytest.raises(ConflictError) as own:
            await marta.runs.create(tid, "chat", command=approve)
        assert "marta requested" in str(own.value.body) + str(own.value)
        assert budget_9001(config_file) == "50000000"

        lena = client(server, tokens["lena"])
        # The resume value keyed by the interrupt's id, as LangGraph's clients send it, works too.
        edit = {item["id"]: {"decision": "edit", "args": {"amount_micros": "60000000"}, "reason": "step by step"}}
        by_interrupt = {"resume": {result["__interrupt__"][0]["id"]: edit}}
        run = await lena.runs.create(tid, "chat", command=by_interrupt)
        joined = await lena.runs.join(tid, run["run_id"])
        assert joined["status"] == "done", joined
        assert budget_9001(config_file) == "60000000"
        assert (await lena.runs.get(tid, run["run_id"]))["status"] == "success"
        rows = audit_rows(config_file, "set_campaign_budget")
        assert [r[2] for r in rows].count("ok") == 1
        registry = RunRegistry(StateDir(config_file.parent / "state").registry)
        try:
            decided = registry.decision(item["id"])
        finally:
            registry.close()
        assert decided is not None and (decided.decision, decided.approver) == ("edit", "lena")

        with pytest.raises(ConflictError):  # decided: nothing waits any more
            await lena.runs.create(tid, "chat", command=approve)

    asyncio.run(scenario())


def test_without_the_right_token_nothing_starts_and_nothing_is_decided(
    server: str, tokens: dict[str, str], config_file: Path
) -> None:
    async def scenario() -> None:
        nobody = client(server, None)
        with pytest.raises(AuthenticationError):
            await nobody.threads.create()
        with pytest.raises(AuthenticationError):
            await client(server, "adp_not-a-token").assistants.search()

        vera = client(server, tokens["vera"])
        otto = client(server, tokens["otto"])
        tid = (await otto.threads.create())["thread_id"]
        with pytest.raises(PermissionDeniedError):
            await vera.runs.create(tid, "maintenance", input=MAINTAIN)
        with pytest.raises(PermissionDeniedError):
            await vera.threads.create()
        with pytest.raises(PermissionDeniedError):
            await vera.runs.create("fresh-thread", "chat", input={"text": "hi"}, if_not_exists="create")
        with pytest.raises(NotFoundError):
            await vera.threads.get("fresh-thread")
        result = await otto.runs.wait(tid, "maintenance", input=MAINTAIN)
        pending = result["__interrupt__"][0]["value"]["pending"]
        resume = {"resume": {pending[0]["id"]: {"decision": "approve"}}}
        with pytest.raises(PermissionDeniedError):
            await vera.runs.create(tid, "maintenance", command=resume)
        with pytest.raises(PermissionDeniedError):  # an operator starts runs but does not decide
            await otto.runs.create(tid, "maintenance", command=resume)
        assert (await vera.threads.get_state(tid))["interrupts"] == result["__interrupt__"]  # viewers read

    asyncio.run(scenario())
    rows = audit_rows(config_file, "update_post")
    assert not any(r[1].startswith("approval by") for r in rows)


def test_a_removed_user_s_token_and_a_replaced_token_stop_working(app, server: str, tokens: dict[str, str]) -> None:
    async def refused(token: str) -> None:
        with pytest.raises(AuthenticationError):
            await client(server, token).assistants.search()

    newer = app.state.users.issue_token("lena")
    app.state.users.remove("tom")
    asyncio.run(refused(tokens["lena"]))
    asyncio.run(refused(tokens["tom"]))
    answer = httpx.get(f"{server}/assistants/chat", headers={"Authorization": f"Bearer {newer}"})
    assert answer.status_code == 200 and answer.json()["assistant_id"] == "chat"


def test_unknown_routes_ids_and_bodies_are_json_errors(server: str, tokens: dict[str, str]) -> None:
    headers = {"x-api-key": tokens["otto"]}

    def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, server + path, headers=headers, **kwargs)

    for method, path, status in (
        ("GET", "/nowhere", 404),
        ("GET", "/threads/no-such-thread", 404),
        ("GET", "/threads/no-such-thread/state", 404),
        ("GET", "/assistants/nothing", 404),
        ("DELETE", "/threads", 405),
    ):
        answer = call(method, path)
        assert answer.status_code == status and "detail" in answer.json(), (path, answer.text)
    tid = call("POST", "/threads", json={}).json()["thread_id"]
    assert call("POST", "/threads", json={"thread_id": tid}).status_code == 409
    assert call("GET", f"/threads/{tid}/runs/nope").status_code == 404
    for body, status in (
        ({"assistant_id": "nothing", "input": {}}, 404),
        ({"assistant_id": "maintenance", "input": {"accounts": ["999"]}}, 422),
        ({"assistant_id": "maintenance", "input": {"bogus": 1}}, 422),
        ({"assistant_id": "chat", "input": {"text": "  "}}, 422),
        ({"assistant_id": "chat", "input": {"text": "hi"}, "command": {"resume": {}}}, 422),
        ({"assistant_id": "chat", "command": {"goto": "apply"}}, 403),  # otto is no approver
    ):
        answer = call("POST", f"/threads/{tid}/runs", json=body)
        assert answer.status_code == status and "detail" in answer.json(), (body, answer.text)
    garbled = call("POST", f"/threads/{tid}/runs", content=b"{not json")
    assert garbled.status_code == 422 and "not JSON" in garbled.json()["detail"]
    lena = {"x-api-key": tokens["lena"]}
    resume = {"assistant_id": "chat", "command": {"resume": {"x": {"decision": "approve"}}}}
    waits = httpx.post(f"{server}/threads/{tid}/runs", headers=lena, json=resume)
    assert waits.status_code == 409 and "waits for no decision" in waits.json()["detail"]


def test_a_streamed_run_sends_metadata_its_steps_its_values_and_ends(server: str, tokens: dict[str, str]) -> None:
    async def scenario() -> list[Any]:
        otto = client(server, tokens["otto"])
        tid = (await otto.threads.create())["thread_id"]
        return [
            part
            async for part in otto.runs.stream(
                tid, "maintenance", input={**MAINTAIN, "scope": "ads"}, stream_mode=["values", "updates"]
            )
        ]

    parts = asyncio.run(scenario())
    events = [p.event for p in parts]
    assert events[0] == "metadata" and events[-1] == "end" and parts[0].data["run_id"]
    assert "updates" in events and {"intake", "finalize"} <= {n for p in parts if p.event == "updates" for n in p.data}
    values = next(p.data for p in parts if p.event == "values")
    assert values["status"] == "done" and values["accounts"] == [DE]


def test_a_streamed_run_that_waits_ends_with_its_interrupt_in_updates_mode(server: str, tokens: dict[str, str]) -> None:
    async def scenario() -> list[Any]:
        marta = client(server, tokens["marta"])
        tid = (await marta.threads.create())["thread_id"]
        text = {"text": "set budget 9001 to 70 EUR", "memory": False}
        return [part async for part in marta.runs.stream(tid, "chat", input=text, stream_mode="updates")]

    parts = asyncio.run(scenario())
    assert {p.event for p in parts} == {"metadata", "updates", "end"}  # no values: not asked for
    assert [p.event for p in parts][-2:] == ["updates", "end"]
    (interrupt,) = parts[-2].data["__interrupt__"]
    assert interrupt["value"]["pending"][0]["args"]["amount_micros"] == "70000000"


def test_an_unknown_stream_mode_is_refused_before_anything_runs(server: str, tokens: dict[str, str]) -> None:
    async def scenario() -> None:
        otto = client(server, tokens["otto"])
        tid = (await otto.threads.create())["thread_id"]
        with pytest.raises(UnprocessableEntityError, match="stream_mode"):
            async for _ in otto.runs.stream(tid, "maintenance", input=MAINTAIN, stream_mode="debug"):
                pass
        assert await otto.runs.list(tid) == []
        with pytest.raises(NotFoundError):
            await otto.runs.get(tid, "00000000-0000-0000-0000-000000000000")

    asyncio.run(scenario())


def test_two_approvers_deciding_at_once_carry_out_one_decision(
    server: str, tokens: dict[str, str], config_file: Path
) -> None:
    async def scenario() -> list[Any]:
        marta = client(server, tokens["marta"])
        tid = (await marta.threads.create())["thread_id"]
        result = await marta.runs.wait(tid, "chat", input={"text": "set budget 9001 to 70 EUR", "memory": False})
        (item,) = result["__interrupt__"][0]["value"]["pending"]
        approve = {"resume": {item["id"]: {"decision": "approve"}}}
        both = await asyncio.gather(
            *(client(server, tokens[name]).runs.wait(tid, "chat", command=approve) for name in ("lena", "tom")),
            return_exceptions=True,
        )
        return list(both)

    both = asyncio.run(scenario())
    refused = [b for b in both if isinstance(b, httpx.HTTPStatusError) and b.response.status_code == 409]
    taken = [b for b in both if isinstance(b, dict)]
    assert len(refused) == 1 and len(taken) == 1 and taken[0]["status"] == "done", both
    assert budget_9001(config_file) == "70000000"
    assert [r[2] for r in audit_rows(config_file, "set_campaign_budget")].count("ok") == 1


def test_while_the_kill_switch_is_engaged_no_decision_is_taken(
    server: str, tokens: dict[str, str], config_file: Path
) -> None:
    async def scenario() -> None:
        marta = client(server, tokens["marta"])
        tid = (await marta.threads.create())["thread_id"]
        result = await marta.runs.wait(tid, "chat", input={"text": "set budget 9001 to 70 EUR", "memory": False})
        (item,) = result["__interrupt__"][0]["value"]["pending"]
        KillSwitch(config_file.parent / "state").engage("incident", by="ada")
        lena = client(server, tokens["lena"])
        with pytest.raises(ConflictError, match="the kill switch is engaged"):
            await lena.runs.create(tid, "chat", command={"resume": {item["id"]: {"decision": "approve"}}})
        state = await lena.threads.get_state(tid)
        assert [p["id"] for p in state["interrupts"][0]["value"]["pending"]] == [item["id"]]

    asyncio.run(scenario())
    assert budget_9001(config_file) == "50000000"


def test_an_api_token_is_kept_only_as_its_hash_and_the_cli_prints_a_new_one(
    app, capsys: pytest.CaptureFixture[str], config_file: Path, server: str
) -> None:
    code, out = run(capsys, config_file, "users", "token", "lena")
    printed = out.out.strip()
    assert code == 0 and printed.startswith("adp_") and "shown only now" in out.err
    stored = (config_file.parent / "state" / "console.sqlite").read_bytes()
    assert printed.encode() not in stored
    assert httpx.get(f"{server}/assistants/chat", headers={"x-api-key": printed}).status_code == 200
    code, out = run(capsys, config_file, "users", "token", "nobody")
    assert code == 2 and "no user 'nobody'" in out.err


@pytest.mark.parametrize(
    ("failure", "message"),
    [(UsageError("account 1112223333 is busy"), "account 1112223333 is busy"), (RuntimeError("bug"), "internal error")],
)
def test_a_run_that_fails_ends_as_an_error_with_its_message(
    server: str, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch, failure: Exception, message: str
) -> None:
    async def failing(*args: Any) -> str:
        raise failure

    monkeypatch.setattr("adpilot.app.web.api.runs.drive", failing)

    async def scenario() -> None:
        otto = client(server, tokens["otto"])
        tid = (await otto.threads.create())["thread_id"]
        with pytest.raises(Exception, match=message):
            await otto.runs.wait(tid, "maintenance", input=MAINTAIN)
        (run,) = await otto.runs.list(tid)
        assert run["status"] == "error" and message in run["error"] and "Traceback" not in run["error"]
        parts = [p async for p in otto.runs.stream(tid, "maintenance", input=MAINTAIN)]
        assert [p.event for p in parts] == ["metadata", "values", "error", "end"]

    asyncio.run(scenario())


def test_an_internal_error_is_a_json_500_without_a_traceback(
    server: str, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("adpilot.app.web.api.load", broken)
    answer = httpx.get(f"{server}/threads/anything", headers={"x-api-key": tokens["vera"]})
    assert answer.status_code == 500 and answer.json() == {
        "detail": "internal error (RuntimeError); see the console's log"
    }


def test_an_operator_cancels_a_run_in_flight_and_it_stops_after_its_step(
    server: str, tokens: dict[str, str], config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adpilot.agents.nodes import intake

    reached, go_on = threading.Event(), threading.Event()
    real = intake._spend_anomalies

    async def held(*args: Any) -> Any:
        """The run's first step waits, mid-step, until the test lets it go on."""
        reached.set()
        await asyncio.to_thread(go_on.wait, 60)
        return await real(*args)

    monkeypatch.setattr(intake, "_spend_anomalies", held)

    async def scenario() -> None:
        otto = client(server, tokens["otto"])
        vera = client(server, tokens["vera"])
        tid = (await otto.threads.create())["thread_id"]
        run = await otto.runs.create(tid, "maintenance", input=MAINTAIN)
        assert await asyncio.to_thread(reached.wait, 60)
        with pytest.raises(PermissionDeniedError):
            await vera.runs.cancel(tid, run["run_id"])
        await otto.runs.cancel(tid, run["run_id"])
        go_on.set()
        joined = await otto.runs.join(tid, run["run_id"])
        assert joined["status"] == "stopped" and joined["pending"] == [], joined
        assert (await otto.runs.get(tid, run["run_id"]))["status"] == "interrupted"
        with pytest.raises(ConflictError, match="has ended"):
            await otto.runs.cancel(tid, run["run_id"])

    asyncio.run(scenario())
    rows = audit_rows(config_file, "stop_run")
    assert [(r[1], r[3]) for r in rows] == [("otto", "stopped by otto: cancelled through the API by otto")]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
RUN_FIELDS = st.sampled_from(["assistant_id", "input", "command", "stream_mode", "metadata", "if_not_exists"])
RUN_BODIES = st.dictionaries(RUN_FIELDS, JSON | st.sampled_from(["chat", "maintenance"]), max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=RUN_BODIES | JSON, raw=st.binary(max_size=40))
def test_any_body_a_viewer_sends_is_refused_as_json_and_starts_nothing(
    server: str, tokens: dict[str, str], body: Any, raw: bytes
) -> None:
    headers = {"x-api-key": tokens["vera"]}
    with httpx.Client(base_url=server, headers=headers) as http:
        tid = http.post("/threads", headers={"x-api-key": tokens["otto"]}, json={}).json()["thread_id"]
        for path in (f"/threads/{tid}/runs", f"/threads/{tid}/runs/wait", f"/threads/{tid}/runs/stream"):
            for answer in (http.post(path, json=body), http.post(path, content=raw)):
                assert answer.status_code in (403, 404, 409, 422), (path, body, answer.text)
                assert set(answer.json()) == {"detail"}
        assert http.get(f"/threads/{tid}/runs").json() == []
