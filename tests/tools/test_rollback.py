"""Rolling back a run from the audit log: governed, audited, never twice, never over newer changes."""

from adpilot.tools.rollback import rollback_run
from tests.conftest import DE
from tests.tools.conftest import FixedGate

PASS = FixedGate("pass")  # re-enabling an ad checks its copy again: here it passes


async def _run_changes(guard):
    await guard.call(
        "bidding", "set_campaign_budget", {"customer_id": DE, "budget_id": "9001", "amount_micros": "57500000"}
    )
    await guard.call(
        "bidding",
        "set_keyword_bid",
        {"customer_id": DE, "ad_group_id": "2101", "criterion_id": "41001", "cpc_bid_micros": 1_400_000},
    )
    await guard.call(
        "creative", "set_ad_status", {"customer_id": DE, "ad_group_id": "2101", "ad_id": "31001", "status": "PAUSED"}
    )


async def test_rollback_restores_every_reversible_change(make_guard, sandbox, audit):
    await _run_changes(make_guard(run="run-a"))
    steps = await rollback_run(make_guard(run="undo-1", gate=PASS), "run-a", approver="ops")
    assert [s.outcome for s in steps] == ["undone", "undone", "undone"]
    assert [s.tool for s in steps] == ["set_ad_status", "set_keyword_bid", "set_campaign_budget"]  # newest first
    customer = sandbox.world.customer(DE)
    assert customer.campaign_budgets["9001"].amount_micros == "50000000"
    assert customer.ad_group_criteria["2101~41001"].cpc_bid_micros == "1200000"
    assert customer.ad_group_ads["2101~31001"].status == "ENABLED"
    undo_rows = audit.records(run_id="undo-1", kind="result")
    assert len(undo_rows) == 3 and {r.role for r in undo_rows} == {"operator"}
    assert audit.verify() > 0


async def test_rolling_back_twice_changes_nothing_more(make_guard, sandbox, audit):
    await _run_changes(make_guard(run="run-a"))
    await rollback_run(make_guard(run="undo-1", gate=PASS), "run-a", approver="ops")
    version = sandbox.version
    steps = await rollback_run(make_guard(run="undo-2", gate=PASS), "run-a", approver="ops")
    assert {s.outcome for s in steps} == {"already_undone"}
    assert sandbox.version == version


async def test_a_change_made_later_is_not_overwritten(make_guard, sandbox):
    await _run_changes(make_guard(run="run-a"))
    sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros = "61000000"  # someone else, later
    steps = await rollback_run(make_guard(run="undo-1"), "run-a", approver="ops")
    budget_step = next(s for s in steps if s.tool == "set_campaign_budget")
    assert budget_step.outcome == "conflict" and "61000000" in budget_step.detail
    assert sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros == "61000000"


async def test_rollback_is_still_bound_by_hard_limits(make_guard, sandbox):
    customer = sandbox.world.customer(DE)
    customer.ad_group_ads["2101~31002"].status = "PAUSED"
    customer.ad_group_ads["2101~31003"].status = "PAUSED"
    customer.ad_group_ads["2101~31001"].status = "PAUSED"
    guard = make_guard(run="run-b", gate=PASS)
    await guard.call(
        "creative", "set_ad_status", {"customer_id": DE, "ad_group_id": "2101", "ad_id": "31001", "status": "ENABLED"}
    )
    steps = await rollback_run(make_guard(run="undo-b"), "run-b", approver="ops")
    assert steps[0].outcome == "denied" and "fewer than 1 enabled" in steps[0].detail
    assert customer.ad_group_ads["2101~31001"].status == "ENABLED"


async def test_escalated_rows_are_not_reversed(make_guard, audit):
    guard = make_guard(run="run-c")
    await guard.call(
        "bidding", "set_campaign_budget", {"customer_id": DE, "budget_id": "9001", "amount_micros": "90000000"}
    )
    assert await rollback_run(make_guard(run="undo-c"), "run-c", approver="ops") == []
