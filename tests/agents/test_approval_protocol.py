"""Approvals a person can trust: one per call hash, expiry, staleness, four-eyes, edits, the
escalate tool's proposal, malformed decisions — through the real graph, Guard and registry."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from adpilot.errors import StoppedError, UsageError
from adpilot.statedir import StateDir
from tests.agents.conftest import results
from tests.conftest import DE

BUDGET_PATH = ("1112223333", "9001")


def budget(sandbox) -> str:
    return sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros


def raise_to(amount_micros: str) -> dict:
    """A chat run whose bidding agent sets budget 9001 to ``amount_micros``."""
    return {
        "supervisor": [{"tool_calls": [{"name": "transfer_to_bidding", "args": {"task": "raise budget 9001"}}]}],
        "bidding": [
            {
                "tool_calls": [
                    {
                        "name": "set_campaign_budget",
                        "args": {"customer_id": DE, "budget_id": "9001", "amount_micros": amount_micros},
                    }
                ]
            },
            {"content": "Asked for approval."},
        ],
    }


def expire(config, pending_id: str) -> None:
    """Move an approval's expiry into the past, as if its 72 hours had gone by."""
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat(timespec="seconds")
    with sqlite3.connect(StateDir(config.state_dir).registry) as db:
        db.execute("UPDATE approvals SET expires_at = ? WHERE pending_id = ?", (past, pending_id))


# --- 1. one pending approval per call hash --------------------------------------------------


async def test_a_second_maintenance_run_reuses_the_waiting_approvals_and_one_decision_decides_them(
    make_runner, sandbox, audit
):
    async with make_runner() as runner:
        first = await runner.start({"kind": "maintenance"})
        assert first.status == "waiting" and len(first.pending) == 3
        second = await runner.start({"kind": "maintenance"})
        # Nothing queued twice: the second run goes on, naming the approvals that already wait.
        assert second.status == "done" and second.pending == []
        for item in first.pending:
            assert any(f"already waiting as {item['id']}" in note for note in second.report["notes"]), second.report
        waiting = [p for r in runner.registry.with_status("waiting") for p in r.pending]
        assert sorted(p["id"] for p in waiting) == sorted(p["id"] for p in first.pending)
        by_post = {p["args"]["post_id"]: p for p in first.pending}
        done = await runner.resume(first.thread_id, {by_post[502]["id"]: {"decision": "approve", "approver": "lena"}})
        assert by_post[502]["id"] not in {p["id"] for p in done.pending}
        # A second approve of the same approval is refused and names who decided.
        with pytest.raises(UsageError, match="already decided: approved by lena"):
            runner.registry.find_pending(by_post[502]["id"])
        with pytest.raises(UsageError, match="already decided: approved by lena"):
            await runner.resume(first.thread_id, {by_post[502]["id"]: {"decision": "approve", "approver": "tom"}})
    assert sandbox.world.cms.posts["502"].title == "Regenjacken für Damen und Herren"
    assert len(results(audit, "update_post")) == 1


# --- 5. expiry and staleness ----------------------------------------------------------------


async def test_an_expired_approval_is_void_and_the_next_run_asks_again(make_runner, config, sandbox, audit):
    async with make_runner(scripts=raise_to("70000000")) as runner:
        first = await runner.start({"kind": "chat", "text": "raise"})
        (item,) = first.pending
        expire(config, item["id"])
        with pytest.raises(UsageError, match=r"expired .* void"):
            await runner.resume(first.thread_id, {item["id"]: {"decision": "approve", "approver": "lena"}})
        assert runner.registry.get(first.thread_id).status != "waiting"
        assert budget(sandbox) == "50000000"
    async with make_runner(scripts=raise_to("70000000")) as runner:
        again = await runner.start({"kind": "chat", "text": "raise"})
        (renewed,) = again.pending  # asked again, not reused: the expired one is void
        assert renewed["call_hash"] == item["call_hash"]
        assert runner.registry.asked(renewed["id"]).thread_id == again.thread_id
        done = await runner.resume(again.thread_id, {renewed["id"]: {"decision": "approve", "approver": "lena"}})
    assert done.status == "done" and budget(sandbox) == "70000000"
    assert len(results(audit, "set_campaign_budget")) == 1


async def test_an_approval_of_a_value_that_changed_since_is_stale_and_asked_again(make_runner, sandbox, audit):
    async with make_runner(scripts=raise_to("70000000")) as runner:
        first = await runner.start({"kind": "chat", "text": "raise"})
        (item,) = first.pending
        # Someone changes the budget in the Google Ads interface while the approval waits.
        sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros = "65000000"
        stale = await runner.resume(first.thread_id, {item["id"]: {"decision": "approve", "approver": "lena"}})
        assert budget(sandbox) == "65000000"  # not carried out on the new value
        (renewed,) = stale.pending
        assert renewed["id"] == f"{item['id']}.r2"
        assert any(r.rule == "approval.stale" for r in audit.records(kind="decision"))
        assert runner.registry.asked(renewed["id"]).detail["before"] == 65000000
        done = await runner.resume(first.thread_id, {renewed["id"]: {"decision": "approve", "approver": "lena"}})
    assert done.status == "done" and budget(sandbox) == "70000000"
    assert len(results(audit, "set_campaign_budget")) == 1


# --- 6. four-eyes -------------------------------------------------------------------------------


async def test_four_eyes_needs_two_different_people_and_never_the_requester(make_runner, sandbox, audit):
    async with make_runner(scripts=raise_to("200000000")) as runner:  # +150 EUR a day: over 100
        first = await runner.start({"kind": "chat", "text": "raise"})
        (item,) = first.pending
        assert runner.registry.asked(item["id"]).needed == 2
        with pytest.raises(UsageError, match=r"requested .* cannot approve"):
            await runner.resume(first.thread_id, {item["id"]: {"decision": "approve", "approver": "Adpilot "}})
        one = await runner.resume(first.thread_id, {item["id"]: {"decision": "approve", "approver": "lena"}})
        assert one.status == "waiting" and [p["id"] for p in one.pending] == [item["id"]]
        assert any("1 of 2" in note for note in one.report["notes"])
        assert budget(sandbox) == "50000000"
        with pytest.raises(UsageError, match="already approved"):
            await runner.resume(first.thread_id, {item["id"]: {"decision": "approve", "approver": " LENA"}})
        two = await runner.resume(first.thread_id, {item["id"]: {"decision": "approve", "approver": "tom"}})
    assert two.status == "done" and budget(sandbox) == "200000000"
    assert len(results(audit, "set_campaign_budget")) == 1
    decision = [r for r in audit.records(kind="decision") if r.rule == "approval"]
    assert len(decision) == 1 and "lena, tom" in decision[0].reason


async def test_a_raise_under_the_four_eyes_amount_needs_one_person(make_runner, sandbox):
    async with make_runner(scripts=raise_to("140000000")) as runner:  # +90 EUR a day
        first = await runner.start({"kind": "chat", "text": "raise"})
        assert runner.registry.asked(first.pending[0]["id"]).needed == 1
        done = await runner.resume(first.thread_id, {first.pending[0]["id"]: {"decision": "approve", "approver": "x"}})
    assert done.status == "done" and budget(sandbox) == "140000000"


# --- 4. edits -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edited", "final", "expected"),
    [
        ("55000000", "55000000", ("allow", None)),  # within the limits: applied
        ("600000000", "50000000", ("deny", "budget.max_amount")),  # over the cap: denied, approval or not
    ],
)
async def test_an_edit_goes_through_the_guard_again(make_runner, sandbox, audit, edited, final, expected):
    async with make_runner(scripts=raise_to("70000000")) as runner:
        first = await runner.start({"kind": "chat", "text": "raise"})
        (item,) = first.pending
        decision = {"decision": "edit", "args": {"amount_micros": edited}, "approver": "lena"}
        done = await runner.resume(first.thread_id, {item["id"]: decision})
    assert done.status == "done" and budget(sandbox) == final
    last = [r for r in audit.records(kind="decision") if r.tool == "set_campaign_budget"][-1]
    assert str(last.args["amount_micros"]) == edited
    assert (last.decision, last.rule if last.decision == "deny" else None) == expected, last
    if last.decision == "allow":
        # within policy even without an approval: the row still names whose value it is
        assert (last.reason or "").startswith("edited and approved by lena; within policy"), last.reason
        assert "within policy: within policy" not in (last.reason or "")
        # and the answer says the change once, as edited and carried out
        assert [line for line in (done.answer or "").splitlines() if "9001" in line] == [
            "Erledigt: Budget 9001 → 55,00 € pro Tag (set_campaign_budget)"  # "raise": the configured locale
        ], done.answer


async def test_an_edit_that_still_needs_four_eyes_waits_again(make_runner, sandbox, audit):
    async with make_runner(scripts=raise_to("70000000")) as runner:
        first = await runner.start({"kind": "chat", "text": "raise"})
        (item,) = first.pending
        decision = {"decision": "edit", "args": {"amount_micros": "200000000"}, "approver": "lena"}
        edited = await runner.resume(first.thread_id, {item["id"]: decision})
        (renewed,) = edited.pending
        assert renewed["args"]["amount_micros"] == "200000000"
        assert runner.registry.asked(renewed["id"]).needed == 2
    # the answer says the change once, as it stands: the edited value, waiting for four eyes
    (line,) = [line for line in (edited.answer or "").splitlines() if "9001" in line]
    assert "200,00 €" in line and "four-eyes" in line, edited.answer
    assert budget(sandbox) == "50000000" and results(audit, "set_campaign_budget") == []
    assert any(r.rule == "approval.four_eyes" for r in audit.records(kind="decision"))


# --- malformed decisions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decision", "message"),
    [
        ({"decision": "maybe"}, "unknown decision 'maybe'"),
        ({"decision": "edit"}, "an edit needs 'args'"),
        ({"decision": "edit", "args": {}}, "an edit needs 'args'"),
        ({}, "unknown decision None"),
        ("approve", "is an object"),
    ],
)
async def test_a_malformed_decision_is_an_error_to_its_sender_and_the_item_keeps_waiting(
    make_runner, sandbox, decision, message
):
    async with make_runner(scripts=raise_to("70000000")) as runner:
        first = await runner.start({"kind": "chat", "text": "raise"})
        (item,) = first.pending
        with pytest.raises(UsageError, match=message):
            await runner.resume(first.thread_id, {item["id"]: decision})
        assert [p["id"] for r in runner.registry.with_status("waiting") for p in r.pending] == [item["id"]]
        assert runner.registry.decision(item["id"]) is None
    assert budget(sandbox) == "50000000"


# --- 8. the escalate tool's proposal ------------------------------------------------------------


def escalating(proposal: dict) -> dict:
    return {
        "supervisor": [{"tool_calls": [{"name": "transfer_to_bidding", "args": {"task": "ask for more budget"}}]}],
        "bidding": [
            {"tool_calls": [{"name": "escalate", "args": {"reason": "sells out by noon", "proposal": proposal}}]},
            {"content": "Asked."},
        ],
    }


async def test_the_escalate_tools_proposal_waits_as_exactly_that_call_and_runs_once(make_runner, sandbox, audit):
    proposal = {
        "tool": "set_campaign_budget",
        "args": {"customer_id": DE, "budget_id": "9001", "amount_micros": 55000000},  # an int: normalised
    }
    async with make_runner(scripts=escalating(proposal)) as runner:
        first = await runner.start({"kind": "chat", "text": "more budget"})
        (item,) = first.pending
        asked = runner.registry.asked(item["id"])
        assert asked.detail["tool"] == "set_campaign_budget" and asked.detail["before"] == 50000000
        assert budget(sandbox) == "50000000"  # a 10 % raise the Guard would allow: still, it waits
        done = await runner.resume(first.thread_id, {item["id"]: {"decision": "approve", "approver": "lena"}})
        assert budget(sandbox) == "55000000"
        with pytest.raises(UsageError, match="already decided"):
            await runner.resume(first.thread_id, {item["id"]: {"decision": "approve", "approver": "tom"}})
    assert done.status == "done" and done.report["applied"][0]["tool"] == "set_campaign_budget"
    assert len(results(audit, "set_campaign_budget")) == 1


@pytest.mark.parametrize(
    ("proposal", "rule"),
    [
        ({"tool": "publish_post", "args": {"post_id": 503}}, "scope.role"),  # bidding lacks cms:publish
        # no amount: an invalid call before the Guard (audited as such, agents/toolcalls.py)
        ({"tool": "set_campaign_budget", "args": {"customer_id": DE, "budget_id": "9001"}}, "tool.invalid_call"),
        ({"tool": "get_performance", "args": {"customer_id": DE}}, "tool.arguments"),  # not a change
        ({"tool": "set_campaign_budget", "args": {"customer_id": DE, "budget_id": "9001", "amount_micros": "0"}}, None),
    ],
)
async def test_a_proposal_that_could_never_be_carried_out_is_refused_and_queues_nothing(
    make_runner, sandbox, audit, proposal, rule
):
    async with make_runner(scripts=escalating(proposal)) as runner:
        done = await runner.start({"kind": "chat", "text": "more budget"})
    assert done.status == "done" and done.pending == []
    denied = [r for r in audit.records(kind="decision") if r.decision == "deny"]
    assert denied and (rule is None or denied[-1].rule == rule), denied


# --- 9. kill switch -----------------------------------------------------------------------------


async def test_with_the_kill_switch_engaged_approving_does_nothing_and_the_approval_waits(make_runner, sandbox):
    async with make_runner(scripts=raise_to("70000000")) as runner:
        first = await runner.start({"kind": "chat", "text": "raise"})
        (item,) = first.pending
        runner.kill_switch.engage("test", by="test")
        with pytest.raises(StoppedError):
            await runner.resume(first.thread_id, {item["id"]: {"decision": "approve", "approver": "lena"}})
        assert [p["id"] for r in runner.registry.with_status("waiting") for p in r.pending] == [item["id"]]
        assert runner.registry.asked(item["id"]).approvers == ()
        runner.kill_switch.release()
        done = await runner.resume(first.thread_id, {item["id"]: {"decision": "approve", "approver": "lena"}})
    assert done.status == "done" and budget(sandbox) == "70000000"
