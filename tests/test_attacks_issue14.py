"""Attacks on issue 14 (money limits, freeze windows, canonical ids, the approval protocol): a
hijacked model playing scripted tool calls, or a careless or malicious operator. Each test
asserts the safe behaviour."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from adpilot.agents.llm import build_provider
from adpilot.agents.registry import RunRegistry
from adpilot.agents.run import Runner
from adpilot.agents.stop import Limits
from adpilot.config import Config
from adpilot.errors import UsageError
from adpilot.statedir import StateDir
from adpilot.tools.guard import Approval
from tests.agents.conftest import results
from tests.app.conftest import run, world
from tests.conftest import AT, DE, policy_with

M = 1_000_000


# --- fixtures and helpers ---------------------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(state_dir=tmp_path / "state")


@pytest.fixture
def make_runner(config, platforms, audit):
    def make(*, scripts=None):
        models = build_provider("scripted", scripts=scripts) if scripts is not None else build_provider("none")
        return Runner(config, platforms=platforms, audit=audit, models=models, limits=Limits())

    return make


def budget_args(amount: Any, budget_id: str = "9001", customer: str = DE) -> dict[str, Any]:
    return {"customer_id": customer, "budget_id": budget_id, "amount_micros": str(amount)}


def amount_of(sandbox, budget_id: str = "9001", customer: str = DE) -> int:
    return int(sandbox.world.customer(customer).campaign_budgets[budget_id].amount_micros)


def raise_to(amount_micros: str, budget_id: str = "9001") -> dict:
    """A chat run whose bidding agent sets a budget (a scripted, possibly hijacked, model)."""
    return {
        "supervisor": [{"tool_calls": [{"name": "transfer_to_bidding", "args": {"task": "raise budget"}}]}],
        "bidding": [
            {
                "tool_calls": [
                    {
                        "name": "set_campaign_budget",
                        "args": {"customer_id": DE, "budget_id": budget_id, "amount_micros": amount_micros},
                    }
                ]
            },
            {"content": "Asked for approval."},
        ],
    }


def waiting_ids(runner) -> list[str]:
    return [p["id"] for r in runner.registry.with_status("waiting") for p in r.pending]


# --- 1. four-eyes: one person under another spelling --------------------------------------------

LOOKALIKES = [
    "l\u0435na",  # Cyrillic "е"
    "\uff4c\uff45\uff4e\uff41",  # full-width "ｌｅｎａ"
    "le\u200bna",  # a zero-width space inside
    "le\u00adna",  # a soft hyphen inside
    "LENA\u00a0",  # a no-break space after
]


@pytest.mark.parametrize("spelling", LOOKALIKES)
def test_four_eyes_counts_one_person_under_a_lookalike_spelling_once(tmp_path: Path, spelling: str) -> None:
    registry = RunRegistry(tmp_path / "registry.sqlite3")
    try:
        registry.ask(
            "p-12345678", "t1", "h" * 32, requester="adpilot", needed=2, expire_after=dt.timedelta(hours=1), detail={}
        )
        registry.add_approver("p-12345678", "lena")
        with pytest.raises(UsageError, match="already approved"):
            registry.add_approver("p-12345678", spelling)
    finally:
        registry.close()
    # And the Guard, which counts the people of an approval itself, counts them once as well.
    assert len(Approval("h", "lena", approvers=("lena", spelling)).people()) == 1
    assert Approval("h", spelling, approvers=(spelling,), requester="lena").people() == []


async def test_the_requester_under_a_lookalike_spelling_cannot_approve(make_runner, sandbox):
    async with make_runner(scripts=raise_to("70000000")) as runner:
        first = await runner.start({"kind": "chat", "text": "raise"})
        (item,) = first.pending
        assert runner.registry.asked(item["id"]).requester == "adpilot"
        with pytest.raises(UsageError, match="cannot approve"):
            await runner.resume(first.thread_id, {item["id"]: {"decision": "approve", "approver": "\u0430dpilot"}})
        assert waiting_ids(runner) == [item["id"]]
    assert amount_of(sandbox) == 50 * M


# --- 2. the requester of `adpilot tool call` approving it ----------------------------------------


def test_the_person_behind_a_tool_call_cannot_approve_it_under_the_configured_name(
    capsys,
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The OS user runs `tool call`; `approvals approve` without --approver decides as the
    configuration's ``approver``: the same person at the same terminal, who must not approve it."""
    monkeypatch.setattr("getpass.getuser", lambda: "marta")
    config_file.write_text(config_file.read_text() + "approver: lena\n")
    call = json.dumps(budget_args(70 * M))
    code, out = run(capsys, config_file, "tool", "call", "bidding", "set_campaign_budget", call, "--json")
    pending = json.loads(out.out)["approval"]
    code, out = run(capsys, config_file, "approvals", "approve", pending)
    assert code == 2 and "cannot approve" in out.err
    state = world(config_file)["google_ads"]["customers"][DE]["campaign_budgets"]["9001"]["amount_micros"]
    assert state == "50000000"


# --- 3. ids: a decided approval's id must not name its renewal -------------------------------------


async def test_the_id_of_a_decided_approval_does_not_approve_the_call_asked_again(make_runner, sandbox):
    async with make_runner(scripts=raise_to("70000000")) as runner:
        first = await runner.start({"kind": "chat", "text": "raise"})
        (item,) = first.pending
        sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros = "65000000"  # changed meanwhile
        stale = await runner.resume(first.thread_id, {item["id"]: {"decision": "approve", "approver": "lena"}})
        (renewed,) = stale.pending
        assert renewed["id"] == f"{item['id']}.r2"
        # Tom was asked to approve the first id too; it is decided, and must not land on the renewal
        # (another change: from 65 EUR, which nobody approved yet).
        with pytest.raises(UsageError, match="already decided"):
            runner.registry.find_pending(item["id"])
    assert amount_of(sandbox) == 65 * M


def test_a_prefix_shared_by_two_waiting_approvals_names_neither(tmp_path: Path) -> None:
    registry = RunRegistry(tmp_path / "registry.sqlite3")
    try:
        pending = [{"id": "call.abcdef0011", "tool": "x"}, {"id": "call.abcdef0022", "tool": "x"}]
        registry.upsert("t1", "t1", "tool", [DE], "waiting", pending)
        with pytest.raises(UsageError, match="matches 2 approvals"):
            registry.find_pending("call.abcdef00")
        with pytest.raises(UsageError, match="at least 8"):
            registry.find_pending("call.ab")
    finally:
        registry.close()


# --- 4. edits: another entity, another customer, another tool --------------------------------------


@pytest.mark.parametrize(
    "moved",
    [{"budget_id": "9002"}, {"customer_id": AT, "budget_id": "9101"}],
    ids=["another-budget", "another-customer"],
)
async def test_an_edit_cannot_move_the_approved_change_to_another_entity(make_runner, sandbox, audit, moved):
    # The other budget holds the same amount, so no staleness check tells the two apart.
    sandbox.world.customer(DE).campaign_budgets["9002"].amount_micros = "50000000"
    sandbox.world.customer(AT).campaign_budgets["9101"].amount_micros = "50000000"
    async with make_runner(scripts=raise_to("70000000")) as runner:
        first = await runner.start({"kind": "chat", "text": "raise"})
        (item,) = first.pending
        decision = {"decision": "edit", "args": {**moved, "amount_micros": "55000000"}, "approver": "lena"}
        await runner.resume(first.thread_id, {item["id"]: decision})
    assert amount_of(sandbox, "9002") == 50 * M and amount_of(sandbox, "9101", AT) == 50 * M
    assert results(audit, "set_campaign_budget") == []


@pytest.mark.parametrize(
    "slipped",
    [{"tool": "set_keyword_bid"}, {"proposal": {"tool": "set_campaign_status"}}, {"amount_micros": 7.5e7}],
)
async def test_an_edit_cannot_slip_in_another_tool_or_a_float(make_runner, sandbox, audit, slipped):
    async with make_runner(scripts=raise_to("70000000")) as runner:
        first = await runner.start({"kind": "chat", "text": "raise"})
        (item,) = first.pending
        await runner.resume(first.thread_id, {item["id"]: {"decision": "edit", "args": slipped, "approver": "lena"}})
    assert amount_of(sandbox) == 50 * M and results(audit) == []


# --- 5. malformed decisions: the Runner's own verbs from outside ----------------------------------


@pytest.mark.parametrize("verb", ["void", "reuse"])
async def test_a_person_cannot_answer_with_the_runners_internal_verbs(make_runner, sandbox, verb):
    """``void`` and ``reuse`` are what the Runner answers itself; from a caller they would dismiss an
    approval without a rejection in the audit log."""
    async with make_runner(scripts=raise_to("70000000")) as runner:
        first = await runner.start({"kind": "chat", "text": "raise"})
        (item,) = first.pending
        with pytest.raises(UsageError):
            await runner.resume(first.thread_id, {item["id"]: {"decision": verb, "approver": "lena"}})
        assert waiting_ids(runner) == [item["id"]]
        assert runner.registry.decision(item["id"]) is None


# --- 6. the approval protocol holds elsewhere ---------------------------------------------------------


async def test_the_second_four_eyes_approval_after_expiry_is_void(make_runner, config, sandbox):
    async with make_runner(scripts=raise_to("200000000")) as runner:
        first = await runner.start({"kind": "chat", "text": "raise"})
        (item,) = first.pending
        await runner.resume(first.thread_id, {item["id"]: {"decision": "approve", "approver": "lena"}})
        past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat(timespec="seconds")
        with sqlite3.connect(StateDir(config.state_dir).registry) as db:
            db.execute("UPDATE approvals SET expires_at = ? WHERE pending_id = ?", (past, item["id"]))
        with pytest.raises(UsageError, match="expired"):
            await runner.resume(first.thread_id, {item["id"]: {"decision": "approve", "approver": "tom"}})
    assert amount_of(sandbox) == 50 * M


async def test_four_eyes_cannot_be_escaped_by_a_staircase_of_raises_one_person_approves(make_runner, sandbox, audit):
    """+90 EUR twice in a day is +180 EUR: as one raise it needs two people, so it does in two."""
    async with make_runner(scripts=raise_to("140000000")) as runner:  # +90 EUR: one approver
        first = await runner.start({"kind": "chat", "text": "raise"})
        (item,) = first.pending
        await runner.resume(first.thread_id, {item["id"]: {"decision": "approve", "approver": "lena"}})
    assert amount_of(sandbox) == 140 * M
    async with make_runner(scripts=raise_to("230000000")) as runner:  # +90 EUR again: +180 EUR today
        second = await runner.start({"kind": "chat", "text": "raise"})
        (item,) = second.pending
        assert runner.registry.asked(item["id"]).needed == 2
        await runner.resume(second.thread_id, {item["id"]: {"decision": "approve", "approver": "lena"}})
    assert amount_of(sandbox) == 140 * M


async def test_an_escalate_proposal_outside_the_roles_scope_or_the_runs_accounts_is_refused(make_guard, sandbox):
    guard = make_guard(accounts=(DE,))
    creative = await guard.call(
        "creative",
        "escalate",
        {"reason": "more", "proposal": {"tool": "set_campaign_budget", "args": budget_args(55 * M)}},
    )
    assert (creative.decision, creative.error.rule) == ("deny", "scope.role")
    other = await guard.call(
        "bidding",
        "escalate",
        {"reason": "more", "proposal": {"tool": "set_campaign_budget", "args": budget_args(26 * M, "9101", AT)}},
    )
    assert (other.decision, other.error.rule) == ("deny", "scope.account")


async def test_an_approval_cannot_turn_an_account_cap_denial_into_a_change(make_guard, sandbox):
    """Enabling a paused campaign whose budget takes the account over its daily cap: denied, and an
    approval of exactly that call changes nothing."""
    customer = sandbox.world.customer(DE)
    customer.campaign_budgets["9001"].amount_micros = str(500 * M)
    customer.campaign_budgets["9002"].amount_micros = str(500 * M)
    customer.campaign_budgets["9003"].amount_micros = str(500 * M + 10_000)
    customer.campaigns["113"].status = "PAUSED"
    guard = make_guard()
    args = {"customer_id": DE, "campaign_id": "113", "status": "ENABLED"}
    result = await guard.call("bidding", "set_campaign_status", args)
    assert (result.decision, result.error.rule) == ("deny", "budget.account_daily_max")
    again = await guard.call("bidding", "set_campaign_status", args, approval=Approval(result.call_hash, "lena"))
    assert again.decision == "deny" and customer.campaigns["113"].status == "PAUSED"


# --- 7. money: lost answers, int64, billable units -------------------------------------------------


async def test_a_raise_whose_answer_was_lost_still_counts_in_the_cumulative_window(make_guard, sandbox):
    """50 → 60 lands but its answer is lost; the agent does not retry it and raises on: the day's
    lowest amount is still 50, so 50 → 86.40 (+73 %) must go to a person."""
    guard = make_guard()
    guard.platforms.google_ads.timeout_s = 0.05
    sandbox.set_faults(
        {"google_ads": {"timeout_rate": 1.0, "timeout_ms": 60_000, "timeout_kind": "after", "on": "writes"}}
    )
    lost = await guard.call("bidding", "set_campaign_budget", budget_args(60 * M), proposal_id="a")
    assert lost.error is not None and lost.error.type == "outcome_unknown"
    sandbox.set_faults({})
    assert amount_of(sandbox) == 60 * M  # it landed
    assert (await guard.call("bidding", "set_campaign_budget", budget_args(72 * M), proposal_id="b")).ok
    third = await guard.call("bidding", "set_campaign_budget", budget_args(86_400_000), proposal_id="c")
    assert (third.decision, third.error.rule) == ("escalate", "budget.cumulative_increase")
    assert amount_of(sandbox) == 72 * M


@pytest.mark.parametrize(
    ("amount", "decision", "rule"),
    [
        (2**63 - 1, "deny", "budget.max_amount"),
        (2**63, "deny", "tool.arguments"),
        (-(2**63), "deny", "budget.positive"),
        ("50000000.0", "deny", "tool.arguments"),
        ("5e7", "deny", "tool.arguments"),
        ("\uff15\uff10000000", "deny", "tool.arguments"),  # full-width digits
        (50_005_000, "deny", "money.billable_unit"),  # half a cent
    ],
)
async def test_extreme_and_odd_amounts_are_refused(guard, sandbox, amount, decision, rule):
    result = await guard.call("bidding", "set_campaign_budget", {**budget_args(0), "amount_micros": amount})
    assert (result.decision, result.error.rule) == (decision, rule)
    assert amount_of(sandbox) == 50 * M


async def test_a_kwd_account_with_three_decimals_is_refused_until_the_policy_lists_it(guard, sandbox):
    sandbox.world.customer(DE).currency_code = "KWD"
    result = await guard.call("bidding", "set_campaign_budget", budget_args(51 * M))
    assert (result.decision, result.error.rule) == ("deny", "money.currency")


# --- 8. ids aliasing another entity's history ---------------------------------------------------


@pytest.mark.parametrize(
    "alias", ["+9001", "09001", " 9001", "9001 ", "\u0669\u0660\u0660\u0661", "\uff19\uff10\uff10\uff11", 9001.0, True]
)
async def test_no_other_spelling_of_an_id_addresses_the_entity(guard, sandbox, audit, alias):
    result = await guard.call("bidding", "set_campaign_budget", {**budget_args(55 * M), "budget_id": alias})
    assert (result.decision, result.error.rule) == ("deny", "tool.arguments")
    assert amount_of(sandbox) == 50 * M


async def test_an_integer_id_shares_the_history_of_its_digits(guard, sandbox, clock):
    """The int 9001 and the string "9001" are one entity, so the staircase limit sees both."""
    assert (await guard.call("bidding", "set_campaign_budget", {**budget_args(60 * M), "budget_id": 9001})).ok
    assert (await guard.call("bidding", "set_campaign_budget", budget_args(72 * M))).ok
    third = await guard.call("bidding", "set_campaign_budget", {**budget_args(86_400_000), "budget_id": 9001})
    assert third.error.rule == "budget.cumulative_increase"


# --- 9. freeze windows: time zones and boundaries ------------------------------------------------


@pytest.mark.parametrize(
    ("now", "frozen"),
    [
        (dt.datetime(2026, 11, 1, 6, 59, 59, tzinfo=dt.UTC), False),  # 07:59:59 +01:00
        (dt.datetime(2026, 11, 1, 7, 0, tzinfo=dt.UTC), True),  # 08:00 +01:00: from is inclusive
        (dt.datetime(2026, 11, 1, 9, 59, 59, tzinfo=dt.UTC), True),
        (dt.datetime(2026, 11, 1, 10, 0, tzinfo=dt.UTC), False),  # 11:00 +01:00: to is exclusive
    ],
)
async def test_a_freeze_window_in_another_time_zone_has_exact_edges(make_guard, sandbox, clock, now, frozen):
    window = {"from": "2026-11-01T08:00:00+01:00", "to": "2026-11-01T11:00:00+01:00", "reason": "launch"}
    guard = make_guard(policy=policy_with({"freeze": [{**window, "decision": "deny", "actions": ["budget"]}]}))
    clock.now = now
    result = await guard.call("bidding", "set_campaign_budget", budget_args(55 * M))
    assert (result.error is not None and result.error.rule == "freeze") is frozen


async def test_a_deny_window_refuses_a_proposal_and_its_approval(make_guard, sandbox):
    window = {"from": "2026-10-01T00:00:00Z", "to": "2026-12-01T00:00:00Z", "reason": "audit", "decision": "deny"}
    guard = make_guard(policy=policy_with({"freeze": [window]}))
    proposal = {"reason": "x", "proposal": {"tool": "set_campaign_budget", "args": budget_args(55 * M)}}
    proposed = await guard.call("bidding", "escalate", proposal)
    assert (proposed.decision, proposed.error.rule) == ("deny", "freeze")
    approved = await guard.call(
        "bidding", "set_campaign_budget", budget_args(55 * M), approval=Approval(proposed.call_hash, "lena")
    )
    assert approved.decision == "deny" and amount_of(sandbox) == 50 * M


async def test_a_cms_window_freezes_a_draft_and_an_ads_window_does_not(make_guard, sandbox):
    window = {"from": "2026-10-01T00:00:00Z", "to": "2026-12-01T00:00:00Z", "reason": "x", "decision": "deny"}
    cms = make_guard(policy=policy_with({"freeze": [{**window, "accounts": ["cms"]}]}))
    draft = {"title": "Neu", "content": "Text"}
    assert (await cms.call("seo", "create_draft", draft)).error.rule == "freeze"
    ads = make_guard(policy=policy_with({"freeze": [{**window, "accounts": [DE]}]}), run="r2", thread="t2")
    assert (await ads.call("seo", "create_draft", draft)).ok


# --- 10. a renewed approval keeps who asked for it ----------------------------------------------


async def test_a_renewed_approval_is_still_requested_by_whoever_asked_first(
    make_runner, config, platforms, audit, sandbox
):
    """The approval was stale and is asked again — by the run, not by the approver's process: the
    person who asked for the change still cannot approve it."""
    async with make_runner(scripts=raise_to("70000000")) as runner:
        first = await runner.start({"kind": "chat", "text": "raise"})
        (item,) = first.pending
    sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros = "65000000"
    approving = Runner(
        config, platforms=platforms, audit=audit, models=build_provider("none"), actor="approval by lena"
    )
    async with approving:
        stale = await approving.resume(first.thread_id, {item["id"]: {"decision": "approve", "approver": "lena"}})
        (renewed,) = stale.pending
        assert approving.registry.asked(renewed["id"]).requester == "adpilot"
        with pytest.raises(UsageError, match="cannot approve"):
            await approving.resume(first.thread_id, {renewed["id"]: {"decision": "approve", "approver": "adpilot"}})
    assert amount_of(sandbox) == 65 * M
