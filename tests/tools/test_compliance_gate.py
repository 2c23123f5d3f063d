"""The Guard's publish check with the shipped compliance rules."""

import pytest

from adpilot.policies import load_policy
from adpilot.policies.compliance import ComplianceEngine
from adpilot.tools.guard import Approval, Guard, RunScope
from tests.conftest import DE

ENGINE = ComplianceEngine.from_pack()
GOOD = ["Wanderschuhe wasserdicht", "Jetzt Größe finden", "Alpine Outfitters"]
DESCRIPTIONS = ["Wasserdichte Wanderschuhe für jede Tour.", "Beratung und Versand in 1–2 Werktagen."]


@pytest.fixture
def gated(platforms, audit):
    return Guard(platforms, load_policy(), audit, RunScope("r", "t", frozenset({DE})), content_gate=ENGINE)


def rsa(headlines, **extra):
    return {
        "customer_id": DE,
        "ad_group_id": "2101",
        "headlines": headlines,
        "descriptions": DESCRIPTIONS,
        "final_url": "https://www.alpine-outfitters.example/de/wanderschuhe",
        **extra,
    }


async def test_compliant_ad_is_created(gated, sandbox):
    result = await gated.call("creative", "create_responsive_search_ad", rsa(GOOD))
    assert result.decision == "allow" and result.ok


async def test_failing_copy_is_denied_with_the_findings(gated, sandbox):
    result = await gated.call("creative", "create_responsive_search_ad", rsa([*GOOD[:2], "Kostenloser Versand"]))
    assert result.decision == "deny" and result.error.rule == "content.fail"
    assert result.error.details["findings"][0]["rule"] == "free"
    assert result.error.details["content_hash"]


async def test_borderline_copy_escalates_and_an_approval_lets_it_through(gated):
    headlines = [*GOOD[:2], "Unsere Bestseller"]
    escalated = await gated.call("creative", "create_responsive_search_ad", rsa(headlines))
    assert escalated.decision == "escalate" and escalated.error.rule == "content.needs_review"
    details = escalated.error.details
    approval = Approval(details["call_hash"], "brand manager", content_hash=details["content_hash"])
    approved = await gated.call("creative", "create_responsive_search_ad", rsa(headlines), approval=approval)
    assert approved.decision == "allow"


async def test_an_approval_does_not_carry_over_to_changed_copy(gated):
    escalated = await gated.call("creative", "create_responsive_search_ad", rsa([*GOOD[:2], "Unsere Bestseller"]))
    approval = Approval(escalated.error.details["call_hash"], "brand manager")
    other = await gated.call(
        "creative", "create_responsive_search_ad", rsa([*GOOD[:2], "Unsere Bestseller!"]), approval=approval
    )
    assert other.decision == "deny"  # new copy, new check: "!" in a headline fails


async def test_evidence_unlocks_a_claim_only_when_the_copy_names_its_source(gated):
    claim = [*GOOD[:2], "Testsieger 2026"]
    assert (await gated.call("creative", "create_responsive_search_ad", rsa(claim))).decision == "deny"
    cited = await gated.call(
        "creative", "create_responsive_search_ad", rsa(claim, evidence=["kb:testbericht-outdoor-magazin-2026#0"])
    )
    assert cited.decision == "deny" and cited.error.details["findings"][0]["rule"] == "evidence.source"
    elsewhere = {**rsa(claim), "descriptions": ["Testsieger im Outdoor Magazin 10/2026.", *DESCRIPTIONS]}
    denied = await gated.call("creative", "create_responsive_search_ad", elsewhere)
    assert denied.decision == "deny"  # the headline's claim names no source in its own line
    named = {**rsa(GOOD), "descriptions": ["Testsieger im Outdoor Magazin 10/2026.", *DESCRIPTIONS]}
    assert (await gated.call("creative", "create_responsive_search_ad", named)).decision == "allow"


async def test_publishing_checks_the_post_as_it_would_appear(gated, sandbox):
    sandbox.world.cms.posts["503"].content = "<p>Unser Wintersale: alle Jacken -30 %!</p>"
    denied = await gated.call("seo", "publish_post", {"post_id": 503})
    assert denied.decision == "deny" and denied.error.details["findings"][0]["rule"] == "price_reduction"
    sandbox.world.cms.posts["503"].content = "<p>Unser Wintersale: alle Jacken -30 % gegenüber dem Vormonatspreis.</p>"
    assert (await gated.call("seo", "publish_post", {"post_id": 503})).decision == "allow"
    assert sandbox.world.cms.posts["503"].status == "publish"


async def test_check_copy_is_advisory_and_scoped(gated, sandbox):
    result = await gated.call("creative", "check_copy", {"headlines": ["Kostenloser Versand"]})
    assert result.ok and result.data["verdict"] == "fail" and result.data["findings"][0]["rule"] == "free"
    denied = await gated.call("bidding", "check_copy", {"texts": ["x"]})
    assert denied.decision == "deny" and denied.error.rule == "scope.role"
    empty = await gated.call("creative", "check_copy", {})
    assert empty.error.type == "invalid_arguments"


async def test_the_demo_world_has_one_non_compliant_live_ad(platforms):
    failing = []
    for ad in await platforms.google_ads.ads(DE):
        from adpilot.policies.content import Content

        verdict = ENGINE.check(
            Content("google_ads", headlines=ad.headlines, descriptions=ad.descriptions, complete_ad=True)
        )
        if verdict.verdict != "pass":
            failing.append((f"{ad.ad_group_id}~{ad.ad_id}", verdict.verdict))
    assert failing == [("2201~31006", "fail")]
