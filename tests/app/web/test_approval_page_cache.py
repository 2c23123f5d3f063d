"""The approval page reuses an approval's description for a few seconds (bench/console_load.py: it is
most of the page's time), but never across a change of the run registry — a decision shows at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adpilot.app.web.pages import inbox
from tests.app.conftest import run
from tests.app.web.conftest import signed_in, token
from tests.conftest import DE

RAISE_200 = json.dumps({"customer_id": DE, "budget_id": "9001", "amount_micros": "200000000"})


@pytest.fixture
def pending(capsys, config_file: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A budget raise marta asked for; the policy wants two approvers."""
    monkeypatch.setattr("getpass.getuser", lambda: "marta")
    code, out = run(capsys, config_file, "tool", "call", "bidding", "set_campaign_budget", RAISE_200, "--json")
    outcome = json.loads(out.out)
    assert code == 8 and outcome.get("approval"), outcome
    return str(outcome["approval"])


def test_a_description_is_reused_for_seconds_but_never_across_a_decision(app, pending, monkeypatch):
    from adpilot.app import approvals

    described: list[str] = []
    real = approvals.describe

    async def counting(config, pending_id):
        described.append(pending_id)
        return await real(config, pending_id)

    now = [1000.0]
    monkeypatch.setattr(approvals, "describe", counting)
    monkeypatch.setattr(inbox, "monotonic", lambda: now[0])
    lena = signed_in(app, "lena")

    first = lena.get(f"/inbox/{pending}")
    again = lena.get(f"/inbox/{pending}")
    assert first.status_code == again.status_code == 200 and first.text == again.text
    assert len(described) == 1

    tom = signed_in(app, "tom")
    decided = tom.post(f"/inbox/{pending}/decide", data={"csrf": token(tom), "decision": "approve", "reason": "ok"})
    assert decided.status_code == 200, decided.text
    after = lena.get(f"/inbox/{pending}")
    assert len(described) == 2 and "(tom)" in after.text and "(tom)" not in first.text

    lena.get(f"/inbox/{pending}")
    assert len(described) == 2
    now[0] += inbox.DESCRIBED_FOR
    lena.get(f"/inbox/{pending}")
    assert len(described) == 3


def test_an_unknown_approval_is_not_kept(app, monkeypatch):
    lena = signed_in(app, "lena")
    assert lena.get("/inbox/nothing-of-that-name").status_code == 404
    assert getattr(app.state, "described", {}) == {}


async def test_people_who_open_the_same_approval_at_once_share_one_description(app, pending, monkeypatch):
    import asyncio

    import httpx

    from adpilot.app import approvals

    described: list[str] = []
    real = approvals.describe
    release, asked = asyncio.Event(), asyncio.Event()

    async def slow(config, pending_id):
        described.append(pending_id)
        asked.set()
        await release.wait()
        return await real(config, pending_id)

    monkeypatch.setattr(approvals, "describe", slow)
    cookies = dict(signed_in(app, "lena").cookies.items())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", cookies=cookies) as lena:
        loads = [asyncio.create_task(lena.get(f"/inbox/{pending}")) for _ in range(3)]
        await asyncio.wait_for(asked.wait(), timeout=30)
        for _ in range(20):
            await asyncio.sleep(0)  # let the other two requests reach the page
        release.set()
        pages = await asyncio.gather(*loads)
    assert [p.status_code for p in pages] == [200, 200, 200] and len({p.text for p in pages}) == 1
    assert described == [pending]
