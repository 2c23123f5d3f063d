"""Money limits through the Guard against the sandbox: the account's currency and billable unit,
the account's daily total, fresh reads for money decisions, freeze windows, canonical ids."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from adpilot.leases import LeaseStore, Owner
from adpilot.policies.model import Policy
from adpilot.tools.catalogue import CATALOGUE
from adpilot.tools.guard import Approval
from adpilot.tools.leasing import LeaseKeeper
from adpilot.tools.spec import account_of
from tests.conftest import AT, DE, RSA, policy_with
from tests.tools.conftest import FixedGate

M = 1_000_000
BUDGET_9001 = f"google_ads:{DE}:campaign_budget:9001"


def budget(amount: Any, budget_id: str = "9001", customer: str = DE) -> dict[str, Any]:
    return {"customer_id": customer, "budget_id": budget_id, "amount_micros": str(amount)}


def bid(amount: Any, criterion: str = "41001") -> dict[str, Any]:
    return {"customer_id": DE, "ad_group_id": "2101", "criterion_id": criterion, "cpc_bid_micros": str(amount)}


def set_world(sandbox, *, currency: str | None = None, budgets: dict[str, int] | None = None, bid_41001=None):
    customer = sandbox.world.customer(DE)
    if currency is not None:
        customer.currency_code = currency
    for budget_id, micros in (budgets or {}).items():
        customer.campaign_budgets[budget_id].amount_micros = str(micros)
    if bid_41001 is not None:
        customer.ad_group_criteria["2101~41001"].cpc_bid_micros = str(bid_41001)


def amount_of(sandbox, budget_id: str = "9001") -> int:
    return int(sandbox.world.customer(DE).campaign_budgets[budget_id].amount_micros)


def bid_of(sandbox) -> int:
    return int(sandbox.world.customer(DE).ad_group_criteria["2101~41001"].cpc_bid_micros)


# --- the account's currency ----------------------------------------------------------------

# currency: (unit, budget cap, bid min, bid max) in micros, as SCENARIOS.md §2a states them.
CAPS = {
    "EUR": (10_000, 500 * M, 50_000, 10 * M),
    "USD": (10_000, 550 * M, 50_000, 11 * M),
    "JPY": (M, 80_000 * M, 10 * M, 1_600 * M),
}


@pytest.mark.parametrize("code", sorted(CAPS))
async def test_budget_cap_at_and_one_unit_above_in_the_accounts_currency(guard, sandbox, code):
    unit, cap, _, _ = CAPS[code]
    set_world(sandbox, currency=code, budgets={"9001": cap - 10 * unit})
    over = await guard.call("bidding", "set_campaign_budget", budget(cap + unit))
    assert (over.decision, over.error.rule) == ("deny", "budget.max_amount")
    assert f"limits.currencies.{code}.budget_max" in over.error.message
    assert amount_of(sandbox) == cap - 10 * unit
    at = await guard.call("bidding", "set_campaign_budget", budget(cap))
    assert at.decision == "allow" and amount_of(sandbox) == cap


@pytest.mark.parametrize("code", sorted(CAPS))
async def test_bid_bounds_at_and_one_unit_beyond_in_the_accounts_currency(guard, sandbox, clock, code):
    unit, _, bid_min, bid_max = CAPS[code]
    set_world(sandbox, currency=code, bid_41001=bid_min + unit)
    below = await guard.call("bidding", "set_keyword_bid", bid(bid_min - unit))
    assert (below.decision, below.error.rule) == ("deny", "bid.min")
    assert (await guard.call("bidding", "set_keyword_bid", bid(bid_min))).decision == "allow"
    clock.advance(25)  # the day's low leaves the window
    set_world(sandbox, bid_41001=bid_max - unit)
    above = await guard.call("bidding", "set_keyword_bid", bid(bid_max + unit))
    assert (above.decision, above.error.rule) == ("deny", "bid.max")
    assert (await guard.call("bidding", "set_keyword_bid", bid(bid_max))).decision == "allow"
    assert bid_of(sandbox) == bid_max


async def test_a_jpy_amount_that_is_not_a_whole_yen_is_denied_with_the_nearest_ones(guard, sandbox):
    set_world(sandbox, currency="JPY", budgets={"9001": 5_000 * M}, bid_41001=120 * M)
    result = await guard.call("bidding", "set_campaign_budget", budget(5_000 * M + 500_000))
    assert (result.decision, result.error.rule) == ("deny", "money.billable_unit")
    assert "5000 JPY (5000000000 micros) or 5001 JPY (5001000000 micros)" in result.error.message
    odd_bid = await guard.call("bidding", "set_keyword_bid", bid(121 * M + 1))
    assert odd_bid.error.rule == "money.billable_unit" and "121 JPY" in odd_bid.error.message
    assert amount_of(sandbox) == 5_000 * M and bid_of(sandbox) == 120 * M


async def test_a_jpy_raise_is_judged_and_shown_in_yen(guard, sandbox):
    set_world(sandbox, currency="JPY", budgets={"9001": 5_000 * M})
    result = await guard.call("bidding", "set_campaign_budget", budget(6_500 * M))
    assert (result.decision, result.error.rule) == ("escalate", "budget.max_increase")
    assert "+30.0 %" in result.error.message
    cut = await guard.call("bidding", "set_campaign_budget", budget(2_000 * M))
    assert cut.error.rule == "budget.max_decrease"


async def test_an_account_in_a_currency_the_policy_does_not_list_is_refused(guard, sandbox):
    set_world(sandbox, currency="KWD")
    before = sandbox.world.dump()
    for tool, args in (("set_campaign_budget", budget(51 * M)), ("set_keyword_bid", bid(1_210_000))):
        result = await guard.call("bidding", tool, args)
        assert (result.decision, result.error.rule) == ("deny", "money.currency")
        assert "limits.currencies.KWD" in result.error.message
    assert sandbox.world.dump() == before


async def test_each_account_is_judged_in_its_own_currency(guard, sandbox):
    sandbox.world.customer(AT).currency_code = "JPY"
    # 25,000,000 micros is 25 JPY in AT: a raise to 30 JPY is +20 %, allowed there.
    at = await guard.call("bidding", "set_campaign_budget", budget(30 * M, "9101", AT))
    assert at.decision == "allow"
    # 30.005 EUR does not exist in DE (EUR), whatever AT's currency.
    de = await guard.call("bidding", "set_campaign_budget", budget(50_005_000))
    assert de.error.rule == "money.billable_unit" and "50.00 EUR" in de.error.message


# --- the account's daily total ----------------------------------------------------------------

SMALL = {"limits.currencies.EUR.budget_max": "100", "limits.currencies.EUR.account_daily_max": "110"}


async def test_raises_up_to_the_account_cap_pass_and_beyond_it_are_denied(make_guard, sandbox):
    guard = make_guard(policy=policy_with(SMALL))  # DE: 50 + 30 + 20 EUR, all serving
    assert (await guard.call("bidding", "set_campaign_budget", budget(24 * M, "9003"))).decision == "allow"
    assert (await guard.call("bidding", "set_campaign_budget", budget(36 * M, "9002"))).decision == "allow"  # 110
    over = await guard.call("bidding", "set_campaign_budget", budget(50_010_000))
    assert (over.decision, over.error.rule) == ("deny", "budget.account_daily_max")
    assert "110.01 EUR" in over.error.message and "110.00 EUR" in over.error.message
    assert "limits.currencies.EUR.account_daily_max" in over.error.message
    assert amount_of(sandbox) == 50 * M
    cut = await guard.call("bidding", "set_campaign_budget", budget(40 * M))
    assert cut.decision == "allow"


async def test_a_cut_is_allowed_even_when_the_account_is_above_its_cap(make_guard, sandbox):
    set_world(sandbox, budgets={"9001": 90 * M, "9002": 90 * M})  # 200 EUR, the cap is 110
    guard = make_guard(policy=policy_with(SMALL))
    assert (await guard.call("bidding", "set_campaign_budget", budget(80 * M))).decision == "allow"
    assert (await guard.call("bidding", "set_campaign_budget", budget(99 * M, "9002"))).decision == "deny"


async def test_a_budget_shared_by_enabled_campaigns_counts_once(make_guard, sandbox):
    customer = sandbox.world.customer(DE)
    customer.campaigns["112"].campaign_budget = customer.campaign_budgets["9001"].resource_name
    set_world(sandbox, budgets={"9001": 70 * M})
    guard = make_guard(policy=policy_with(SMALL))  # serving: 9001 (70, for two campaigns) and 9003 (20)
    # 104 EUR counted once; counted for each campaign it would be 188 EUR.
    assert (await guard.call("bidding", "set_campaign_budget", budget(84 * M))).decision == "allow"
    # 9002 serves no campaign now: it adds nothing to what the account can spend.
    assert (await guard.call("bidding", "set_campaign_budget", budget(36 * M, "9002"))).decision == "allow"
    over = await guard.call("bidding", "set_campaign_budget", budget(90_010_000))  # 110.01 EUR
    assert (over.decision, over.error.rule) == ("deny", "budget.account_daily_max")
    assert "110.01 EUR" in over.error.message


@pytest.mark.parametrize(
    ("paused_amount", "decision", "rule"),
    [(14 * M, "escalate", None), (14_010_000, "deny", "budget.account_daily_max")],
)
async def test_enabling_a_paused_campaign_adds_its_budget(make_guard, sandbox, paused_amount, decision, rule):
    set_world(sandbox, budgets={"9001": 60 * M, "9002": 36 * M, "9003": paused_amount})
    sandbox.world.customer(DE).campaigns["113"].status = "PAUSED"  # serving: 96 EUR, the cap is 110
    guard = make_guard(policy=policy_with(SMALL), gate=FixedGate("pass"))
    args = {"customer_id": DE, "campaign_id": "113", "status": "ENABLED"}
    result = await guard.call("bidding", "set_campaign_status", args)
    assert result.decision == decision
    assert result.error.rule == (rule or "campaign.status")
    approved = await guard.call("bidding", "set_campaign_status", args, approval=Approval(result.call_hash, "lena"))
    assert approved.decision == ("allow" if decision == "escalate" else "deny")


async def test_the_account_total_is_read_fresh(make_guard, sandbox):
    guard = make_guard(policy=policy_with(SMALL))
    await guard.prefetch(DE)
    set_world(sandbox, budgets={"9002": 40 * M})  # behind the Guard's back: 110 EUR now
    result = await guard.call("bidding", "set_campaign_budget", budget(21 * M, "9003"))
    assert result.error.rule == "budget.account_daily_max" and "111.00 EUR" in result.error.message


# --- money decisions on fresh state -------------------------------------------------------------


def hold_leases(guard, tmp_path):
    """Give ``guard`` leases: after its first change it holds DE's lease, as a run does, and
    hold() then keeps the snapshot."""
    guard.leases = LeaseKeeper(LeaseStore(tmp_path / "leases.sqlite"), Owner.here("adpilot maintain"))
    return guard


@pytest.fixture
def holding_guard(guard, tmp_path):
    return hold_leases(guard, tmp_path)


@pytest.mark.parametrize("leased", [False, True])
async def test_a_budget_decision_reads_the_amount_now_not_the_snapshot(guard, sandbox, audit, tmp_path, leased):
    if leased:  # the lease is taken before the snapshot, so taking it drops nothing later
        hold_leases(guard, tmp_path)
        assert (await guard.call("bidding", "set_keyword_bid", bid(1_300_000))).ok
    await guard.prefetch(DE)
    now = 100 * M
    set_world(sandbox, budgets={"9001": now})  # a person, in the Google Ads UI
    # +10 % on 100 EUR; on the snapshot's 50 EUR it would be +120 % and escalate.
    result = await guard.call("bidding", "set_campaign_budget", budget(110 * M), proposal_id="fresh")
    assert result.decision == "allow" and amount_of(sandbox) == 110 * M
    rows = [r for r in audit.records() if r.idempotency_key == "t1:fresh"]
    assert {r.kind for r in rows} == {"decision", "intent", "result"}
    assert all(r.before == now and r.after == 110 * M for r in rows)


async def test_a_cut_is_judged_on_the_amount_now(holding_guard, sandbox, audit):
    guard = holding_guard
    assert (await guard.call("bidding", "set_campaign_budget", budget(55 * M))).ok
    await guard.prefetch(DE)
    set_world(sandbox, budgets={"9001": 200 * M})
    # 55 → 40 EUR would be a small cut; from the 200 EUR set meanwhile it is -80 %.
    result = await guard.call("bidding", "set_campaign_budget", budget(40 * M))
    assert (result.decision, result.error.rule) == ("escalate", "budget.max_decrease")
    (row,) = audit.records(kind="decision")[-1:]
    assert row.before == 200 * M


async def test_a_bid_decision_reads_the_bid_now_not_the_snapshot(holding_guard, sandbox, audit):
    guard = holding_guard
    assert (await guard.call("bidding", "set_keyword_bid", bid(1_300_000))).ok  # holds the lease now
    await guard.prefetch(DE)
    set_world(sandbox, bid_41001=3 * M)
    # -20 % on 3.00 EUR is allowed; on the snapshot's 1.30 EUR, 2.40 EUR would be +85 % and escalate.
    result = await guard.call("bidding", "set_keyword_bid", bid(2_400_000), proposal_id="bid")
    assert result.decision == "allow" and bid_of(sandbox) == 2_400_000
    assert {r.before for r in audit.records() if r.idempotency_key == "t1:bid"} == {3 * M}


# --- limits without staircases -----------------------------------------------------------------


async def test_a_staircase_of_budget_cuts_escalates_below_half_the_days_highest(guard, sandbox, clock):
    set_world(sandbox, budgets={"9001": 100 * M})
    for step in (80 * M, 64 * M, 51_200_000):  # -20 % each: 80, 64, 51.2 % of the day's 100 EUR
        assert (await guard.call("bidding", "set_campaign_budget", budget(step))).decision == "allow"
        clock.advance(1)
    fourth = await guard.call("bidding", "set_campaign_budget", budget(40_960_000))
    assert (fourth.decision, fourth.error.rule) == ("escalate", "budget.cumulative_decrease")
    assert "100.00 EUR" in fourth.error.message
    clock.advance(21.5)  # the 100 EUR (recorded 3 h ago... now over 24 h old) leaves the window
    assert (await guard.call("bidding", "set_campaign_budget", budget(40_960_000))).decision == "allow"


async def test_a_staircase_of_bid_raises_escalates_past_half_above_the_days_lowest(guard, sandbox, clock):
    set_world(sandbox, bid_41001=M)
    for step in (1_200_000, 1_440_000):  # +20 % each: +20 %, +44 % on the day's 1.00 EUR
        assert (await guard.call("bidding", "set_keyword_bid", bid(step))).decision == "allow"
        clock.advance(1)
    third = await guard.call("bidding", "set_keyword_bid", bid(1_730_000))  # +73 %
    assert (third.decision, third.error.rule) == ("escalate", "bid.cumulative_change")
    assert bid_of(sandbox) == 1_440_000


async def test_a_staircase_of_bid_cuts_escalates_past_half_below_the_days_highest(guard, sandbox, clock):
    set_world(sandbox, bid_41001=2 * M)
    for step in (1_600_000, 1_280_000, 1_030_000):  # -20 % each
        assert (await guard.call("bidding", "set_keyword_bid", bid(step))).decision == "allow"
        clock.advance(1)
    fourth = await guard.call("bidding", "set_keyword_bid", bid(830_000))  # -58.5 % on 2.00 EUR
    assert (fourth.decision, fourth.error.rule) == ("escalate", "bid.cumulative_change")


# --- freeze windows ------------------------------------------------------------------------------

NOW = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)  # the clock fixture's start


def frozen(**window: Any) -> Policy:
    base = {"from": "2026-10-31T00:00:00+01:00", "to": "2026-11-02T00:00:00+01:00", "reason": "Black Friday"}
    return policy_with({"freeze": [{**base, **window}]})


async def test_a_freeze_window_escalates_matching_changes_until_its_end(make_guard, sandbox, clock):
    guard = make_guard(policy=frozen(actions=["budget"]))
    result = await guard.call("bidding", "set_campaign_budget", budget(55 * M))
    assert (result.decision, result.error.rule) == ("escalate", "freeze")
    assert "Black Friday: changes are frozen until 2026-11-02T00:00:00+01:00" in result.error.message
    assert amount_of(sandbox) == 50 * M
    assert (await guard.call("bidding", "set_keyword_bid", bid(1_300_000))).decision == "allow"  # not a budget
    approved = await guard.call(
        "bidding", "set_campaign_budget", budget(55 * M), approval=Approval(result.call_hash, "lena")
    )
    assert approved.decision == "allow" and amount_of(sandbox) == 55 * M
    clock.now = dt.datetime(2026, 11, 1, 23, 0, tzinfo=dt.UTC)  # 00:00 +01:00: the window has ended
    assert (await guard.call("bidding", "set_campaign_budget", budget(60 * M))).decision == "allow"


async def test_a_deny_window_refuses_even_an_approved_change(make_guard, sandbox):
    guard = make_guard(policy=frozen(decision="deny"))
    result = await guard.call("bidding", "set_campaign_budget", budget(55 * M))
    assert (result.decision, result.error.rule) == ("deny", "freeze")
    again = await guard.call("bidding", "set_campaign_budget", budget(55 * M), approval=Approval(result.call_hash, "x"))
    assert again.decision == "deny" and amount_of(sandbox) == 50 * M


async def test_a_window_before_or_after_now_freezes_nothing(make_guard, sandbox, clock):
    guard = make_guard(policy=frozen(decision="deny"))
    clock.now = dt.datetime(2026, 10, 30, 22, 59, 59, tzinfo=dt.UTC)  # a second before it opens
    assert (await guard.call("bidding", "set_campaign_budget", budget(55 * M))).decision == "allow"
    clock.now = dt.datetime(2026, 10, 30, 23, 0, tzinfo=dt.UTC)  # it opens: inclusive
    assert (await guard.call("bidding", "set_campaign_budget", budget(60 * M))).error.rule == "freeze"


async def test_a_window_for_one_account_leaves_the_others_alone(make_guard, sandbox):
    guard = make_guard(policy=frozen(accounts=[AT], decision="deny"))
    assert (await guard.call("bidding", "set_campaign_budget", budget(55 * M))).decision == "allow"
    at = await guard.call("bidding", "set_campaign_budget", budget(26 * M, "9101", AT))
    assert at.error.rule == "freeze"


async def test_the_cms_is_an_account_of_its_own(make_guard, sandbox):
    guard = make_guard(policy=frozen(accounts=["cms"], decision="deny"), gate=FixedGate("pass"))
    draft = await guard.call("seo", "create_draft", {"title": "Neu", "content": "<p>x</p>"})
    assert (draft.decision, draft.error.rule) == ("deny", "freeze")
    assert (await guard.call("seo", "publish_post", {"post_id": 503})).error.rule == "freeze"
    assert (await guard.call("bidding", "set_campaign_budget", budget(55 * M))).decision == "allow"
    assert (await guard.call("seo", "list_posts", {})).decision == "allow"  # reads are never frozen


async def test_a_freeze_is_among_the_rulings_and_the_strictest_wins(make_guard, sandbox):
    guard = make_guard(policy=frozen(decision="escalate"))
    over_cap = await guard.call("bidding", "set_campaign_budget", budget(600 * M))
    assert (over_cap.decision, over_cap.error.rule) == ("deny", "budget.max_amount")


async def test_every_changing_tool_names_its_account_for_freeze_windows(guard, sandbox):
    """The freeze ruling finds the account from the assessment's entity: it must be the call's
    customer id (or "cms") for every tool that changes something."""
    calls = {
        "set_campaign_budget": budget(55 * M),
        "set_campaign_status": {"customer_id": AT, "campaign_id": "211", "status": "PAUSED"},
        "set_keyword_bid": bid(1_300_000),
        "set_ad_status": {"customer_id": DE, "ad_group_id": "2101", "ad_id": "31001", "status": "PAUSED"},
        "create_responsive_search_ad": RSA,
        "create_draft": {"title": "t", "content": "c"},
        "update_post": {"post_id": 503, "title": "t"},
        "publish_post": {"post_id": 503},
    }
    mutating = {spec.name: spec for spec in CATALOGUE if spec.mutates}
    assert set(calls) == set(mutating)
    for name, args in calls.items():
        spec = mutating[name]
        assessment = await spec.assess(guard.context, spec.args.model_validate(args))
        assert account_of(assessment.entity) == args.get("customer_id", "cms"), name


# --- canonical ids ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("budget_id", "09001"),
        ("budget_id", "٩٠٠١"),  # Arabic-Indic digits: int() reads them as 9001
        ("budget_id", "９００１"),  # full-width
        ("budget_id", " 9001"),
        ("budget_id", "9001 "),
        ("budget_id", "0"),
        ("budget_id", "-9001"),
        ("budget_id", "+9001"),
        ("budget_id", "9_001"),
        ("budget_id", "99999999999999999999"),
        ("budget_id", True),
        ("budget_id", 9001.0),
        ("customer_id", "01112223333"),
        ("customer_id", "١١١٢٢٢٣٣٣٣"),
        ("customer_id", "111-222-3333"),
        ("customer_id", 111222333),
    ],
)
async def test_ids_in_any_other_spelling_are_invalid_arguments(guard, sandbox, field, value):
    result = await guard.call("bidding", "set_campaign_budget", {**budget(55 * M), field: value})
    assert result.error.type == "invalid_arguments" and field in result.error.message
    assert "ASCII digits" in result.error.message or "string of digits" in result.error.message
    assert amount_of(sandbox) == 50 * M


async def test_integer_ids_are_accepted_as_their_digits(guard, sandbox, audit):
    result = await guard.call(
        "bidding", "set_keyword_bid", {**bid(1_300_000), "ad_group_id": 2101, "criterion_id": 41001}
    )
    assert result.decision == "allow"
    assert audit.records(kind="result")[-1].args["criterion_id"] == "41001"


@pytest.mark.parametrize("post_id", [True, 0, -3, 503.0, "0503", "٥٠٣", "503 ", None])
async def test_post_ids_are_positive_integers(guard, sandbox, post_id):
    result = await guard.call("creative", "update_post", {"post_id": post_id, "title": "Neu"})
    assert result.error.type == "invalid_arguments" and "post_id" in result.error.message
    assert sandbox.world.cms.posts["503"].title == "Wintersale 2026"


async def test_a_post_id_as_canonical_digits_is_the_integer(guard, sandbox):
    result = await guard.call("creative", "update_post", {"post_id": "503", "title": "Neu"})
    assert result.decision == "allow" and sandbox.world.cms.posts["503"].title == "Neu"
