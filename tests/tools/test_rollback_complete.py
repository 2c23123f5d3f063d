"""Complete rollback (issue 17, item 3): every change kind undone or refused with its reason, inherited
bids restored as inherited, conflicts reported and skipped, exactly once, by run, by row and by time."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from adpilot.policies import load_policy
from adpilot.tools.rollback import change_at, changes_since, rollback, rollback_run
from tests.app.conftest import run as cli
from tests.app.conftest import world as saved_world
from tests.conftest import DE, RSA
from tests.tools.conftest import FixedGate

PASS = FixedGate("pass")
BID = {"customer_id": DE, "ad_group_id": "2101", "criterion_id": "41002"}
BUDGET = {"customer_id": DE, "budget_id": "9001"}


def permissive():
    """The default policy, but campaign statuses and live posts change without a person: to see
    every kind of change made and undone in one run."""
    policy = load_policy()
    limits = policy.limits.model_copy(update={"campaign_status": "allow", "published_post_update": "allow"})
    return policy.model_copy(update={"limits": limits})


def ads_state(sandbox) -> dict[str, Any]:
    customer = sandbox.world.customer(DE)
    return {
        "budgets": {k: v.amount_micros for k, v in customer.campaign_budgets.items()},
        "campaigns": {k: v.status for k, v in customer.campaigns.items()},
        "bids": {k: v.cpc_bid_micros for k, v in customer.ad_group_criteria.items()},
        "ads": {k: v.status for k, v in customer.ad_group_ads.items()},
    }


def posts_state(sandbox) -> dict[str, Any]:
    fields = ("status", "title", "content", "excerpt", "meta_description")
    return {k: {f: getattr(p, f) for f in fields} for k, p in sandbox.world.cms.posts.items()}


async def ok(guard, role: str, tool: str, args: dict[str, Any]):
    result = await guard.call(role, tool, args)
    assert result.ok, result.error
    return result


async def every_kind_of_change(guard) -> dict[str, Any]:
    await ok(guard, "bidding", "set_campaign_budget", {**BUDGET, "amount_micros": "57500000"})
    await ok(guard, "bidding", "set_campaign_status", {"customer_id": DE, "campaign_id": "112", "status": "PAUSED"})
    await ok(guard, "bidding", "set_keyword_bid", {**BID, "cpc_bid_micros": 1_000_000})
    await ok(
        guard,
        "creative",
        "set_ad_status",
        {"customer_id": DE, "ad_group_id": "2101", "ad_id": "31001", "status": "PAUSED"},
    )
    created = await ok(guard, "creative", "create_responsive_search_ad", RSA)
    draft = await ok(guard, "seo", "create_draft", {"title": "Neu: Gamaschen", "content": "Bald mehr."})
    await ok(
        guard, "seo", "update_post", {"post_id": 504, "title": "Wanderschuhe pflegen", "meta_description": "Pflege"}
    )
    await ok(guard, "seo", "publish_post", {"post_id": 503})
    await ok(guard, "seo", "update_post", {"post_id": 502, "content": "Neu.", "status": "draft"})
    return {"ad_id": created.data["ad_id"], "draft": str(draft.data["post_id"])}


async def test_every_change_kind_is_undone_or_says_why_not(make_guard, sandbox, audit):
    ads_before, posts_before = ads_state(sandbox), posts_state(sandbox)
    made = await every_kind_of_change(make_guard(run="r1", gate=PASS, policy=permissive()))

    steps = await rollback_run(make_guard(run="rollback-1", thread="rollback-1", gate=PASS, policy=permissive()), "r1")

    assert [(s.tool, s.outcome) for s in steps] == [  # newest first
        ("update_post", "undone"),
        ("publish_post", "undone"),
        ("update_post", "undone"),
        ("create_draft", "not_reversible"),
        ("create_responsive_search_ad", "undone"),
        ("set_ad_status", "undone"),
        ("set_keyword_bid", "undone"),
        ("set_campaign_status", "undone"),
        ("set_campaign_budget", "undone"),
    ]
    draft_step = next(s for s in steps if s.tool == "create_draft")
    assert f"post {made['draft']}" in draft_step.detail and "trash it in WordPress" in draft_step.detail
    # The ads side is exactly as before, but for the created ad: paused, not removed.
    after = ads_state(sandbox)
    assert after["ads"].pop(f"2101~{made['ad_id']}") == "PAUSED"
    assert after == ads_before
    # Every post is as before; the created draft stays a draft.
    posts = posts_state(sandbox)
    assert posts.pop(made["draft"])["status"] == "draft"
    assert posts == posts_before
    undo_rows = audit.records(run_id="rollback-1", kind="result")
    assert {r.role for r in undo_rows} == {"operator"} and all(r.status == "ok" for r in undo_rows)
    assert audit.verify() > 0


async def test_an_inherited_bid_is_restored_as_inherited(make_guard, sandbox, audit):
    criteria = sandbox.world.customer(DE).ad_group_criteria
    criteria["2101~41002"].cpc_bid_micros = None  # it uses ad group 2101's default bid (1.00 EUR)
    await ok(make_guard(run="r1"), "bidding", "set_keyword_bid", {**BID, "cpc_bid_micros": 1_100_000})
    await ok(
        make_guard(run="r1"),
        "bidding",
        "set_keyword_bid",
        {**BID, "criterion_id": "41001", "cpc_bid_micros": 1_100_000},
    )
    assert criteria["2101~41002"].cpc_bid_micros == "1100000"
    [row] = [r for r in audit.records(run_id="r1", kind="result") if r.args["criterion_id"] == "41002"]
    assert row.before == 1_000_000 and row.result["own_bid_before"] is False

    steps = await rollback_run(make_guard(run="rollback-1", thread="rollback-1"), "r1")

    assert [s.outcome for s in steps] == ["undone", "undone"]
    assert criteria["2101~41002"].cpc_bid_micros is None  # inherited again, not pinned at 1000000
    assert criteria["2101~41001"].cpc_bid_micros == "1200000"  # a bid of its own stays its own
    assert "ad group's default applies again" in steps[1].detail
    sandbox.world.customer(DE).ad_groups["2101"].cpc_bid_micros = "1050000"
    keyword = await make_guard().context.platforms.google_ads.keyword(DE, "2101", "41002")
    assert keyword.own_bid is False and keyword.cpc_bid_micros == 1_050_000  # it follows its ad group


async def test_a_change_made_since_is_reported_and_left_alone(make_guard, sandbox):
    guard = make_guard(run="r1", gate=PASS, policy=permissive())
    await ok(guard, "bidding", "set_keyword_bid", {**BID, "cpc_bid_micros": 1_000_000})
    await ok(guard, "seo", "update_post", {"post_id": 504, "title": "Wanderschuhe pflegen"})
    sandbox.world.customer(DE).ad_group_criteria["2101~41002"].cpc_bid_micros = "950000"  # someone, later
    sandbox.world.cms.posts["504"].title = "Pflege: so geht's"
    version = sandbox.version

    steps = await rollback_run(make_guard(run="rollback-1", thread="rollback-1", policy=permissive()), "r1")

    assert [s.outcome for s in steps] == ["conflict", "conflict"]
    assert "Pflege: so geht's" in steps[0].detail and "950000" in steps[1].detail
    assert sandbox.version == version  # nothing was overwritten
    assert sandbox.world.cms.posts["504"].title == "Pflege: so geht's"


async def test_rolling_back_twice_undoes_once(make_guard, sandbox, audit):
    await every_kind_of_change(make_guard(run="r1", gate=PASS, policy=permissive()))
    await rollback_run(make_guard(run="rollback-1", thread="rollback-1", gate=PASS, policy=permissive()), "r1")
    version, undone = sandbox.version, len(audit.records(kind="result"))

    steps = await rollback_run(make_guard(run="rollback-2", thread="rollback-2", gate=PASS, policy=permissive()), "r1")

    assert {s.outcome for s in steps} == {"already_undone", "not_reversible"}
    assert sandbox.version == version and len(audit.records(kind="result")) == undone
    # Set again by hand to what the run had set: an undo made once is not made twice.
    sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros = "57500000"
    third = await rollback_run(make_guard(run="rollback-3", thread="rollback-3", policy=permissive()), "r1")
    budget = next(s for s in third if s.tool == "set_campaign_budget")
    assert budget.outcome == "already_undone" and "not undone twice" in budget.detail
    assert sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros == "57500000"


async def test_one_change_by_its_audit_row(make_guard, sandbox, audit):
    guard = make_guard(run="r1")
    budget = await ok(guard, "bidding", "set_campaign_budget", {**BUDGET, "amount_micros": "57500000"})
    await ok(guard, "bidding", "set_keyword_bid", {**BID, "cpc_bid_micros": 1_000_000})
    decision = next(r for r in audit.records(kind="decision") if r.tool == "set_campaign_budget")

    row = change_at(audit, decision.seq)  # the decision row of a change names the change
    assert row.seq == budget.audit_seq
    steps = await rollback(make_guard(run="rollback-1", thread="rollback-1"), [row])

    assert [(s.tool, s.outcome) for s in steps] == [("set_campaign_budget", "undone")]
    customer = sandbox.world.customer(DE)
    assert customer.campaign_budgets["9001"].amount_micros == "50000000"
    assert customer.ad_group_criteria["2101~41002"].cpc_bid_micros == "1000000"  # the other change stands


async def test_everything_since_a_time_newest_first(make_guard, sandbox, audit, clock):
    await ok(make_guard(run="r1"), "bidding", "set_campaign_budget", {**BUDGET, "amount_micros": "57500000"})
    clock.advance(2)
    since = clock.now
    later = make_guard(run="r2")
    await ok(later, "bidding", "set_keyword_bid", {**BID, "cpc_bid_micros": 1_000_000})
    clock.advance(1)
    await ok(make_guard(run="r3"), "bidding", "set_campaign_budget", {**BUDGET, "amount_micros": "60000000"})

    rows = changes_since(audit, since)
    steps = await rollback(make_guard(run="rollback-1", thread="rollback-1"), rows)

    assert [(s.tool, s.outcome) for s in steps] == [("set_campaign_budget", "undone"), ("set_keyword_bid", "undone")]
    customer = sandbox.world.customer(DE)
    assert customer.campaign_budgets["9001"].amount_micros == "57500000"  # r1's, before the time, stands
    assert customer.ad_group_criteria["2101~41002"].cpc_bid_micros == "900000"
    assert changes_since(audit, clock.now + dt.timedelta(seconds=1)) == []  # the undos themselves never count


async def test_undoing_a_live_post_update_escalates_like_any_update(make_guard, sandbox, audit):
    title = sandbox.world.cms.posts["501"].title
    await ok(
        make_guard(run="r1", gate=PASS, policy=permissive()), "seo", "update_post", {"post_id": 501, "title": "Neu"}
    )
    gate = FixedGate("pass")

    [step] = await rollback_run(make_guard(run="rollback-1", thread="rollback-1", gate=gate), "r1")

    assert step.outcome == "escalated" and step.result.error.rule == "cms.published_update"
    tool, args = step.call
    assert tool == "update_post" and {k: v for k, v in args.items() if v is not None} == {
        "post_id": 501,
        "title": title,
    }
    assert step.proposal == f"rollback-{step.audit_seq}"
    assert sandbox.world.cms.posts["501"].title == "Neu"  # it waits for a person
    assert [dict(c.fields)["title"] for c in gate.checked] == [title]  # the gate checked the restored content
    # The compliance gate judges what would go live again: failing content is refused.
    [refused] = await rollback_run(make_guard(run="rollback-2", thread="rollback-2", gate=FixedGate("fail")), "r1")
    assert refused.outcome == "denied" and sandbox.world.cms.posts["501"].title == "Neu"


async def test_a_dry_run_changes_nothing(make_guard, sandbox, audit):
    await ok(make_guard(run="r1"), "bidding", "set_campaign_budget", {**BUDGET, "amount_micros": "57500000"})
    version = sandbox.version

    [step] = await rollback_run(make_guard(run="rollback-1", thread="rollback-1", dry_run=True), "r1")

    assert step.outcome == "would_undo" and "50000000" in step.detail
    assert sandbox.version == version
    [real] = await rollback_run(make_guard(run="rollback-2", thread="rollback-2"), "r1")
    assert real.outcome == "undone"  # the dry run left no key behind


# --- the command ------------------------------------------------------------------------------


def _call(capsys, config_file, role: str, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    code, out = cli(capsys, config_file, "tool", "call", role, tool, json.dumps(args), "--json")
    assert code == 0, out
    return json.loads(out.out)


def test_the_command_by_row_since_and_dry_run(capsys, config_file):
    budget = _call(capsys, config_file, "bidding", "set_campaign_budget", {**BUDGET, "amount_micros": "57500000"})
    since = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    _call(capsys, config_file, "bidding", "set_keyword_bid", {**BID, "cpc_bid_micros": 1_000_000})

    code, out = cli(capsys, config_file, "audit", "rollback", "--since", since, "--dry-run", "--json")
    dry = json.loads(out.out)
    assert (
        code == 0
        and dry["dry_run"]
        and [(s["tool"], s["outcome"]) for s in dry["steps"]] == [("set_keyword_bid", "would_undo")]
    )
    assert (
        saved_world(config_file)["google_ads"]["customers"][DE]["ad_group_criteria"]["2101~41002"]["cpc_bid_micros"]
        == "1000000"
    )

    code, out = cli(capsys, config_file, "audit", "rollback", "--since", since)
    assert code == 0 and "keyword 2101~41002 back to 0.90 EUR per click  undone" in out.out
    code, out = cli(capsys, config_file, "audit", "rollback", "--seq", str(budget["audit_seq"]), "--json")
    assert code == 0 and [s["outcome"] for s in json.loads(out.out)["steps"]] == ["undone"]
    customer = saved_world(config_file)["google_ads"]["customers"][DE]
    assert customer["campaign_budgets"]["9001"]["amount_micros"] == "50000000"
    assert customer["ad_group_criteria"]["2101~41002"]["cpc_bid_micros"] == "900000"

    code, out = cli(capsys, config_file, "audit", "rollback", "--seq", str(budget["audit_seq"]), "--json")
    assert code == 0 and [s["outcome"] for s in json.loads(out.out)["steps"]] == ["already_undone"]
    code, out = cli(capsys, config_file, "audit", "rollback", "--since", "yesterday")
    assert code == 2 and "--since" in out.err


def test_an_escalated_undo_waits_for_a_person(capsys, config_file):
    # The brand campaign: every ad in it passes the gate, so enabling it again is escalated, not denied
    # (campaign 111 holds "ab 89 €", which the product feed contradicts).
    status = {"customer_id": DE, "campaign_id": "113", "status": "PAUSED"}
    code, out = cli(capsys, config_file, "tool", "call", "bidding", "set_campaign_status", json.dumps(status), "--json")
    queued = json.loads(out.out)
    assert queued["decision"] == "escalate"
    code, out = cli(capsys, config_file, "approvals", "approve", queued["approval"], "--approver", "erika")
    assert code == 0, out
    assert saved_world(config_file)["google_ads"]["customers"][DE]["campaigns"]["113"]["status"] == "PAUSED"

    code, out = cli(capsys, config_file, "audit", "rollback", "--run", queued["run_id"], "--json")
    [step] = json.loads(out.out)["steps"]
    assert step["outcome"] == "escalated", step["detail"]
    assert code == 8 and step["outcome"] == "escalated" and step["approval"].startswith(f"rollback-{step['audit_seq']}")
    code, out = cli(capsys, config_file, "approvals", "approve", step["approval"], "--approver", "max")
    assert code == 0, out
    assert saved_world(config_file)["google_ads"]["customers"][DE]["campaigns"]["113"]["status"] == "ENABLED"
    code, out = cli(capsys, config_file, "audit", "rollback", "--run", queued["run_id"], "--json")
    assert code == 0 and [s["outcome"] for s in json.loads(out.out)["steps"]] == ["already_undone"]


async def test_the_sandbox_clears_only_an_optional_field_the_mask_names_without_a_value(platforms, sandbox):
    from adpilot.errors import PlatformError

    ads = platforms.google_ads
    await ads.clear_keyword_bid(DE, "2101", "41001", validate_only=True)
    criterion = sandbox.world.customer(DE).ad_group_criteria["2101~41001"]
    assert criterion.cpc_bid_micros == "1200000"  # validate only
    await ads.clear_keyword_bid(DE, "2101", "41001")
    assert criterion.cpc_bid_micros is None
    keyword = await ads.keyword(DE, "2101", "41001")
    assert (keyword.own_bid, keyword.cpc_bid_micros, keyword.default_bid_micros) == (False, 1_000_000, 1_000_000)
    rn = f"customers/{DE}/adGroupCriteria/2101~41001"
    with pytest.raises(PlatformError, match="no value"):  # a status is never cleared
        await ads.mutate(
            DE, "adGroupCriteria", [{"update": {"resourceName": rn}, "updateMask": "status"}], safe_to_repeat=True
        )
