"""What the Guard lets go live: final URLs, re-enabled ads, every live CMS status, approvals bound
to the content a person saw, and the content that really went live (the check-then-publish race)."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.agents.llm import build_provider
from adpilot.agents.loop import record
from adpilot.agents.run import Runner
from adpilot.agents.skills.compliance import sweep
from adpilot.config import Config
from adpilot.policies import load_policy
from adpilot.policies.compliance import ComplianceEngine
from adpilot.policies.content import Content, ContentVerdict
from adpilot.policies.model import Policy
from adpilot.tools.catalogue import final_url_ruling
from adpilot.tools.guard import Approval
from adpilot.tools.result import ToolError, ToolResult
from tests.conftest import AT, DE, RSA
from tests.tools.conftest import FixedGate

OWN = "alpine-outfitters.example"
CYRILLIC = "www.\u0430lpine-outfitters.example"  # a Cyrillic "а"
PUNYCODE = CYRILLIC.encode("idna").decode()
EDITED = "<p>Kostenloser Versand auf alles!</p>"


def rsa(url: str) -> dict:
    return {**RSA, "final_url": url}


def ad_count(sandbox, customer=DE) -> int:
    return len(sandbox.world.customer(customer).ad_group_ads)


def with_domains(*domains: str) -> Policy:
    return Policy.model_validate({**load_policy().model_dump(by_alias=True), "allowed_domains": list(domains)})


# --- 1. final URLs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://www.alpine-outfitters.example/de/wanderschuhe",
        "https://alpine-outfitters.example/",
        "http://shop.alpine-outfitters.example:443/x?y=1",
        "https://WWW.Alpine-Outfitters.EXAMPLE./de",
    ],
)
async def test_a_final_url_in_the_accounts_own_domain_is_allowed(make_guard, sandbox, url):
    count = ad_count(sandbox)
    result = await make_guard(gate=FixedGate("pass")).call("creative", "create_responsive_search_ad", rsa(url))
    assert result.decision == "allow" and result.ok, result.error
    assert ad_count(sandbox) == count + 1


@pytest.mark.parametrize(
    ("url", "named", "imitates"),
    [
        ("https://evil.example/de", "'evil.example'", False),
        ("https://evil.example/?next=https://www.alpine-outfitters.example/", "'evil.example'", False),
        ("https://xalpine-outfitters.example/", "'xalpine-outfitters.example'", False),
        ("https://alpine-outfitters.example@evil.example/", "'evil.example'", False),
        ("https://www.alpine-outfitters.example:pw@evil.example/", "'evil.example'", False),
        ("https://evil.example\\@www.alpine-outfitters.example/", "backslash", False),
        ("https://127.0.0.1/de", "IP address", False),
        ("https://2130706433/", "IP address", False),
        ("https://0x7f.0.0.1/", "IP address", False),
        ("https://[::1]/", "IP address", False),
        ("https://evil%2Eexample/", "not a domain name", False),
        ("https://xn--alpine-outfitters-.example/", "not a domain name", False),
        ("https://alpine-outfitters.example.evil.example/", "'alpine-outfitters.example.evil.example'", True),
        ("https://www.alpine-outfitters.exarnple/de", "'www.alpine-outfitters.exarnple'", True),
        ("https://www.aIpine-outfitters.example/de", "written 'www.aIpine-outfitters.example'", True),
        (f"https://{CYRILLIC}/de", "www.\\u0430lpine-outfitters.example", True),
        (f"https://{PUNYCODE}/de", f"written '{PUNYCODE}'", True),
    ],
)
async def test_any_other_final_url_is_denied_naming_host_and_allowed_domains(make_guard, sandbox, url, named, imitates):
    count = ad_count(sandbox)
    result = await make_guard(gate=FixedGate("pass")).call("creative", "create_responsive_search_ad", rsa(url))
    assert result.decision == "deny" and result.error.rule == "content.final_url"
    message = result.error.message
    assert named in message and message.endswith(f"allowed domains: {OWN}")
    assert (f"imitates '{OWN}'" in message) is imitates
    assert ad_count(sandbox) == count


async def test_the_policys_domains_replace_the_accounts(make_guard, sandbox):
    policy = with_domains("Partner.Example.", "xn--mnchen-3ya.example")
    assert policy.allowed_domains == ("partner.example", "münchen.example")  # normalised as hosts are
    guard = make_guard(gate=FixedGate("pass"), policy=policy)
    own = await guard.call("creative", "create_responsive_search_ad", rsa("https://www.alpine-outfitters.example/"))
    assert own.decision == "deny" and "allowed domains: partner.example, münchen.example" in own.error.message
    for url in ("https://shop.partner.example/x", "https://münchen.example/", "https://xn--mnchen-3ya.example/"):
        assert (await guard.call("creative", "create_responsive_search_ad", rsa(url))).decision == "allow", url


@pytest.mark.parametrize("domain", ["https://partner.example", "partner.example/x", "a..b", "user@partner.example", ""])
def test_the_policy_refuses_what_is_not_a_domain(domain):
    with pytest.raises(ValueError, match="domain"):
        with_domains(domain)


async def test_the_accounts_domains_are_read_when_deciding(make_guard, sandbox):
    """No ads, no domains: everything is denied, until an ad with a domain exists on the platform."""
    customer = sandbox.world.customer(AT)
    ads = dict(customer.ad_group_ads)
    customer.ad_group_ads.clear()
    guard = make_guard(gate=FixedGate("pass"))
    args = {**rsa("https://www.alpine-outfitters.example/at"), "customer_id": AT, "ad_group_id": "2801"}
    denied = await guard.call("creative", "create_responsive_search_ad", args)
    assert denied.decision == "deny" and "allowed domains: none" in denied.error.message
    customer.ad_group_ads.update(ads)  # someone adds them back in the Google Ads interface
    assert (await guard.call("creative", "create_responsive_search_ad", args)).decision == "allow"


_AUTHORITY = st.text(alphabet="alpine-outfitrsxmA@:.\\%[]0x9\u0430\u3002", min_size=1, max_size=40)


@given(authority=_AUTHORITY, tail=st.sampled_from(["/", "/de?x=1", "#a", "?@evil.example"]))
def test_an_allowed_final_url_points_into_the_domain_for_another_parser_too(authority, tail):
    url = f"https://{authority}{tail}"
    if final_url_ruling(url, (OWN,)) is not None:
        return
    host = httpx.URL(url).host.rstrip(".").lower()  # httpx parses it on its own (RFC 3986 + IDNA)
    assert host == OWN or host.endswith("." + OWN), url


# --- 2. enabling an ad checks its copy again --------------------------------------------------


def pause(sandbox, key: str) -> None:
    sandbox.world.customer(DE).ad_group_ads[key].status = "PAUSED"


def enable(group: str, ad: str) -> dict:
    return {"customer_id": DE, "ad_group_id": group, "ad_id": ad, "status": "ENABLED"}


@pytest.mark.parametrize(
    ("verdict", "decision", "status"),
    [("pass", "allow", "ENABLED"), ("needs_review", "escalate", "PAUSED"), ("fail", "deny", "PAUSED")],
)
async def test_enabling_a_paused_ad_runs_its_copy_through_the_gate(make_guard, sandbox, verdict, decision, status):
    pause(sandbox, "2201~31006")
    gate = FixedGate(verdict)
    result = await make_guard(gate=gate).call("bidding", "set_ad_status", enable("2201", "31006"))
    assert result.decision == decision
    if decision != "allow":
        assert result.error.rule == f"content.{verdict}"
    (checked,) = gate.checked
    assert checked.channel == "google_ads" and checked.complete_ad
    assert "Kostenloser Versand" in checked.headlines and len(checked.descriptions) == 2
    assert sandbox.world.customer(DE).ad_group_ads["2201~31006"].status == status


async def test_enabling_the_failing_demo_ad_is_denied_by_the_rules(make_guard, sandbox):
    pause(sandbox, "2201~31006")
    guard = make_guard(gate=ComplianceEngine.from_pack())
    result = await guard.call("bidding", "set_ad_status", enable("2201", "31006"))
    assert result.decision == "deny" and result.error.rule == "content.fail"
    assert sandbox.world.customer(DE).ad_group_ads["2201~31006"].status == "PAUSED"


async def test_pausing_publishes_nothing_and_checks_nothing(make_guard, sandbox):
    gate = FixedGate("fail")
    paused = await make_guard(gate=gate).call(
        "compliance", "set_ad_status", {**enable("2201", "31006"), "status": "PAUSED"}
    )
    assert paused.decision == "allow" and gate.checked == []


async def test_enabling_an_ad_with_a_foreign_final_url_is_denied(make_guard, sandbox):
    ad = sandbox.world.customer(DE).ad_group_ads["2201~31005"]
    ad.ad.final_urls = [f"https://{CYRILLIC}/regenjacken"]
    ad.status = "PAUSED"  # its own URL never vouches for itself
    result = await make_guard(gate=FixedGate("pass")).call("bidding", "set_ad_status", enable("2201", "31005"))
    assert result.decision == "deny" and result.error.rule == "content.final_url"
    assert f"imitates '{OWN}'" in result.error.message and ad.status == "PAUSED"


async def test_an_ad_is_re_checked_with_the_evidence_it_was_created_with(make_guard, sandbox):
    gate = FixedGate("pass")
    guard = make_guard(gate=gate)
    evidence = ["kb:testbericht-outdoor-magazin-2026#0"]
    created = await guard.call("creative", "create_responsive_search_ad", {**RSA, "evidence": evidence})
    ad_id = created.data["ad_id"]
    assert (await guard.call("creative", "set_ad_status", {**enable("2101", ad_id), "status": "PAUSED"})).ok
    assert (await guard.call("creative", "set_ad_status", enable("2101", ad_id))).ok
    assert gate.checked[-1].evidence == tuple(evidence)
    assert gate.checked[-1].headlines == tuple(RSA["headlines"])
    assert [c.subject for c in gate.checked] == ["Hiking Boots", "Hiking Boots"]  # what the ad advertises


# --- 3. every status but draft is live --------------------------------------------------------


def set_status(sandbox, post_id: int, status: str) -> None:
    sandbox.world.cms.posts[str(post_id)].status = status  # type: ignore[assignment]


@pytest.mark.parametrize("status", ["publish", "future", "pending", "private"])
async def test_changing_a_live_post_in_any_live_status_needs_approval_and_publish_scope(make_guard, sandbox, status):
    set_status(sandbox, 504, status)
    gate = FixedGate("pass")
    guard = make_guard(gate=gate)
    args = {"post_id": 504, "meta_description": "Neue Beschreibung der Pflege von Wanderschuhen."}
    escalated = await guard.call("seo", "update_post", args)
    assert escalated.decision == "escalate" and escalated.error.rule == "cms.published_update"
    assert f"({status})" in escalated.error.message and len(gate.checked) == 1
    assert sandbox.world.cms.posts["504"].meta_description != args["meta_description"]
    creative = await guard.call("creative", "update_post", args)
    assert creative.decision == "deny" and creative.error.rule == "scope.state"
    details = escalated.error.details
    approval = Approval(details["call_hash"], "web editor", content_hash=details["content_hash"])
    assert (await guard.call("seo", "update_post", args, approval=approval)).ok
    assert sandbox.world.cms.posts["504"].meta_description == args["meta_description"]


@pytest.mark.parametrize("status", ["pending", "private"])
async def test_making_a_draft_pending_or_private_is_a_publication(make_guard, sandbox, status):
    args = {"post_id": 503, "status": status}
    creative = await make_guard(gate=FixedGate("pass")).call("creative", "update_post", args)
    assert creative.decision == "deny" and creative.error.rule == "scope.state"
    gate = FixedGate("fail")
    failing = await make_guard(gate=gate).call("seo", "update_post", args)
    assert failing.decision == "deny" and failing.error.rule == "content.fail"
    assert dict(gate.checked[0].fields)["content"] == sandbox.world.cms.posts["503"].content
    assert sandbox.world.cms.posts["503"].status == "draft"
    passing = await make_guard(gate=FixedGate("pass")).call("seo", "update_post", args)
    assert passing.ok and sandbox.world.cms.posts["503"].status == status


async def test_editing_a_draft_publishes_nothing(make_guard, sandbox):
    gate = FixedGate("fail")
    result = await make_guard(gate=gate).call("creative", "update_post", {"post_id": 503, "content": EDITED})
    assert result.ok and gate.checked == []


async def test_taking_a_private_post_offline_checks_no_content(make_guard, sandbox):
    set_status(sandbox, 504, "private")
    gate = FixedGate("fail")
    result = await make_guard(gate=gate).call("seo", "update_post", {"post_id": 504, "status": "draft"})
    assert result.decision == "escalate" and result.error.rule == "cms.published_update" and gate.checked == []


class FailEverything:
    def check(self, content: Content) -> ContentVerdict:
        return ContentVerdict("fail", content.hash, ({"rule": "test", "text": "alles", "message": "fails"},))


async def test_the_compliance_sweep_checks_posts_in_every_live_status(make_guard, sandbox):
    set_status(sandbox, 503, "private")
    set_status(sandbox, 501, "future")
    set_status(sandbox, 502, "pending")
    set_status(sandbox, 504, "draft")
    proposals, _ = await sweep(make_guard(gate=FailEverything()), [], include_cms=True)
    offline = {p.args["post_id"] for p in proposals if p.tool == "update_post"}
    assert offline == {501, 502, 503}
    assert all(p.args["status"] == "draft" for p in proposals)


# --- 4. approvals bind the content the person saw ---------------------------------------------


async def test_an_approval_does_not_publish_content_edited_after_it_was_seen(make_guard, sandbox, audit):
    guard = make_guard(gate=FixedGate("needs_review"))
    escalated = await guard.call("seo", "publish_post", {"post_id": 503})
    seen = escalated.error.details
    approval = Approval(seen["call_hash"], "lena", content_hash=seen["content_hash"])
    sandbox.world.cms.posts["503"].content = EDITED  # edited in the CMS while the approval waited
    again = await guard.call("seo", "publish_post", {"post_id": 503}, approval=approval)
    assert again.decision == "escalate" and again.error.rule == "approval.content_changed"
    assert "content changed since lena saw it" in again.error.message
    assert again.error.details["content_hash"] != seen["content_hash"]
    assert sandbox.world.cms.posts["503"].status == "draft"
    (row,) = [r for r in audit.records(kind="decision") if r.rule == "approval.content_changed"]
    assert row.decision == "escalate" and row.entity == "wordpress:post:503"
    # An approval of the content as it is now is an approval.
    renewed = Approval(seen["call_hash"], "lena", content_hash=again.error.details["content_hash"])
    assert (await guard.call("seo", "publish_post", {"post_id": 503}, approval=renewed)).ok
    assert sandbox.world.cms.posts["503"].status == "publish"


async def test_an_approval_without_the_content_hash_does_not_approve_content(make_guard, sandbox):
    guard = make_guard(gate=FixedGate("needs_review"))
    escalated = await guard.call("seo", "publish_post", {"post_id": 503})
    blind = Approval(escalated.error.details["call_hash"], "lena")
    result = await guard.call("seo", "publish_post", {"post_id": 503}, approval=blind)
    assert result.decision == "escalate" and result.error.rule == "approval.content_changed"
    assert sandbox.world.cms.posts["503"].status == "draft"


async def test_an_edit_is_approved_only_while_the_content_it_was_made_on_is_unchanged(make_guard, sandbox):
    guard = make_guard(gate=FixedGate("pass"))
    shown = {"post_id": 501, "meta_description": "Vorschlag des Agenten."}
    seen = (await guard.call("seo", "update_post", shown)).error.details
    edited = {"post_id": 501, "meta_description": "Von Lena umformuliert."}

    def approval(args):
        return Approval(guard.digest("update_post", args), "lena", content_hash=seen["content_hash"], edited_from=shown)

    to_other_post = {"post_id": 504, "meta_description": "Von Lena umformuliert."}
    moved = await guard.call("seo", "update_post", to_other_post, approval=approval(to_other_post))
    assert moved.error.rule == "approval.content_changed" and "not wordpress:post:501" in moved.error.message
    sandbox.world.cms.posts["501"].content += "<p>Neu: Kostenloser Versand!</p>"
    changed = await guard.call("seo", "update_post", edited, approval=approval(edited))
    assert changed.error.rule == "approval.content_changed"
    assert sandbox.world.cms.posts["501"].meta_description == ""
    sandbox.world.cms.posts["501"].content = sandbox.world.cms.posts["501"].content.removesuffix(
        "<p>Neu: Kostenloser Versand!</p>"
    )
    assert (await guard.call("seo", "update_post", edited, approval=approval(edited))).ok
    assert sandbox.world.cms.posts["501"].meta_description == "Von Lena umformuliert."


def test_the_pending_item_keeps_the_content_hash_it_shows():
    error = ToolError(
        "escalated", "needs a person's approval", "content.needs_review", {"call_hash": "c", "content_hash": "h"}
    )
    result = ToolResult("publish_post", "escalate", error=error, call_hash="c")
    _, pending = record(
        result, proposal_id="p", task_id="t", role="seo", tool="publish_post", args={}, rationale="", account=None
    )
    assert pending is not None and pending["content_hash"] == "h" and pending["call_hash"] == "c"
    budget = ToolResult("set_campaign_budget", "escalate", error=dataclasses.replace(error, details={"call_hash": "c"}))
    _, pending = record(
        budget, proposal_id="p", task_id="t", role="bidding", tool="x", args={}, rationale="", account=None
    )
    assert pending is not None and pending["content_hash"] is None


async def test_a_run_does_not_carry_out_an_approval_of_content_edited_since(tmp_path, platforms, audit, sandbox):
    sandbox.world.cms.posts["503"].content = "<p>Unsere Bestseller im Wintersale.</p>"  # needs review
    scripts = {
        "supervisor": [{"tool_calls": [{"name": "transfer_to_seo", "args": {"task": "publish 503"}}]}],
        "seo": [{"tool_calls": [{"name": "publish_post", "args": {"post_id": 503}}]}],
    }
    models = build_provider("scripted", scripts=scripts)
    runner = Runner(Config(state_dir=tmp_path / "state"), platforms=platforms, audit=audit, models=models, skills=False)
    async with runner:
        first = await runner.start({"kind": "chat", "text": "publish 503"})
        assert first.status == "waiting"
        (item,) = first.pending
        escalation = next(r for r in audit.records(kind="decision") if r.tool == "publish_post")
        assert item["content_hash"] and escalation.rule == "content.needs_review"
        sandbox.world.cms.posts["503"].content = "<p>Unsere Bestseller für Herbst und Winter.</p>"
        again = await runner.resume(first.thread_id, {item["id"]: {"decision": "approve", "approver": "lena"}})
        # Not published on lena's approval: she saw other text. It waits for a person again, bound
        # to the text as it is now.
        assert sandbox.world.cms.posts["503"].status == "draft"
        assert [r.rule for r in audit.records(kind="decision") if r.tool == "publish_post"][
            -1
        ] == "approval.content_changed"
        assert not [r for r in audit.records(kind="result") if r.tool == "publish_post"]
        assert any("was not carried out" in note for note in again.report["notes"])
        assert again.status == "waiting"
        (renewed,) = again.pending
        assert renewed["id"] == f"{item['id']}.r2" and renewed["content_hash"] != item["content_hash"]
        done = await runner.resume(again.thread_id, {renewed["id"]: {"decision": "approve", "approver": "lena"}})
    assert done.status == "done"
    assert sandbox.world.cms.posts["503"].status == "publish"  # the text she approved the second time
    assert len([r for r in audit.records(kind="result") if r.tool == "publish_post" and r.status == "ok"]) == 1


# --- 5. what went live is what was checked ------------------------------------------------------


def race(sandbox, post_id: int = 503, **extra) -> None:
    sandbox.set_faults({"wordpress": {"concurrent_edit": {"post_id": post_id, "text": EDITED, **extra}}})


async def test_content_changed_between_check_and_publish_is_taken_offline(make_guard, sandbox, audit):
    original = sandbox.world.cms.posts["503"].content
    race(sandbox)
    gate = FixedGate("pass")
    result = await make_guard(gate=gate).call("seo", "publish_post", {"post_id": 503}, proposal_id="p1")
    assert result.decision == "deny" and result.error.rule == "content.changed_during_publish"
    assert result.error.details["reverted"] is True
    post = sandbox.world.cms.posts["503"]
    assert post.status == "draft" and post.content == EDITED
    assert [dict(c.fields)["content"] for c in gate.checked] == [original]  # only the old text was checked
    (row,) = audit.records(kind="result")
    assert row.status == "error" and row.reason == "reverted: content changed between check and publish"
    assert row.rule == "content.changed_during_publish" and row.result["reverted"] is True
    assert audit.verify() > 0


async def test_a_repeat_after_the_revert_decides_on_the_content_now_there(make_guard, sandbox):
    race(sandbox)
    guard = make_guard(gate=FixedGate("pass"))
    assert (await guard.call("seo", "publish_post", {"post_id": 503}, proposal_id="p1")).error is not None
    failing = make_guard(gate=FixedGate("fail"))
    again = await failing.call("seo", "publish_post", {"post_id": 503}, proposal_id="p1")
    assert again.decision == "deny" and again.error.rule == "content.fail" and not again.replayed
    assert sandbox.world.cms.posts["503"].status == "draft"


async def test_without_a_concurrent_edit_the_post_is_published(make_guard, sandbox, audit):
    result = await make_guard(gate=FixedGate("pass")).call("seo", "publish_post", {"post_id": 503})
    assert result.ok and sandbox.world.cms.posts["503"].status == "publish"
    assert [r.status for r in audit.records(kind="result")] == ["ok"]


async def test_a_draft_made_private_is_reverted_when_its_content_changed_meanwhile(make_guard, sandbox):
    race(sandbox)
    result = await make_guard(gate=FixedGate("pass")).call("seo", "update_post", {"post_id": 503, "status": "private"})
    assert result.error.rule == "content.changed_during_publish"
    assert sandbox.world.cms.posts["503"].status == "draft"


async def test_a_live_update_whose_page_changed_meanwhile_is_taken_offline(make_guard, sandbox, audit):
    race(sandbox, post_id=501, on="any_write")
    guard = make_guard(gate=FixedGate("pass"))
    args = {"post_id": 501, "meta_description": "Wasserdichte Wanderschuhe: Membran, Leder, Passform."}
    seen = (await guard.call("seo", "update_post", args)).error.details
    approval = Approval(seen["call_hash"], "lena", content_hash=seen["content_hash"])
    result = await guard.call("seo", "update_post", args, approval=approval)
    assert result.error.rule == "content.changed_during_publish"
    post = sandbox.world.cms.posts["501"]
    assert post.status == "draft" and post.content == EDITED


async def test_a_failed_revert_is_reported_loudly(make_guard, sandbox, audit):
    race(sandbox)
    guard = make_guard(gate=FixedGate("pass"))

    async def broken(ctx, args):
        raise RuntimeError("CMS unreachable")

    guard.tools["publish_post"] = dataclasses.replace(guard.tools["publish_post"], unpublish=broken)
    result = await guard.call("seo", "publish_post", {"post_id": 503})
    assert result.error.rule == "content.changed_during_publish" and result.error.details["reverted"] is False
    assert "FAILED" in result.error.message
    (row,) = audit.records(kind="result")
    assert row.status == "error" and row.reason.startswith("revert failed")


async def test_enabling_a_campaign_checks_the_copy_of_the_ads_it_brings_back(make_guard, sandbox):
    # Campaign 112 carries ad 2201~31006 ("Kostenloser Versand", which the gate fails), still ENABLED.
    sandbox.world.google_ads.customers[DE].campaigns["112"].status = "PAUSED"
    guard = make_guard(gate=ComplianceEngine.from_pack("default"))
    args = {"customer_id": DE, "campaign_id": "112", "status": "ENABLED"}
    result = await guard.call("bidding", "set_campaign_status", args)
    assert result.decision == "deny" and result.error.rule == "content.fail"
    assert "2201~31006" in result.error.message
    assert sandbox.world.google_ads.customers[DE].campaigns["112"].status == "PAUSED"
    sandbox.world.google_ads.customers[DE].ad_group_ads["2201~31006"].status = "PAUSED"
    clean = await guard.call("bidding", "set_campaign_status", args)
    assert clean.decision == "escalate" and clean.error.rule != "content.fail"  # a campaign change still needs a person
