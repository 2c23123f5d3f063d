"""The creative skill states the feed's facts of the account's market (issue 15)."""

import datetime

from adpilot.agents.skills.creative import creative_proposals
from adpilot.compose.deployment import claim_checker
from adpilot.config import Config
from adpilot.policies.compliance import ComplianceEngine

DE, AT = "1112223333", "4445556666"


def gate():
    return ComplianceEngine.from_pack(
        "default", today=lambda: datetime.date(2026, 12, 2), claims=claim_checker(Config())
    )


async def test_the_austrian_ad_promises_austrian_shipping(make_guard, sandbox):
    sandbox.world.customer(AT).ad_group_ads["2801~38001"].status = "PAUSED"  # the group runs thin
    engine = gate()
    proposals = await creative_proposals(make_guard(gate=engine), AT, engine.brand, use_memory=False)
    assert proposals
    copy = [line for p in proposals for line in (*p.args["headlines"], *p.args["descriptions"])]
    assert "Versand in 3–5 Werktagen. Jetzt Modelle vergleichen." in copy
    assert not any("1–2 Werktag" in line for line in copy)


async def test_the_german_ads_keep_german_shipping_and_drop_a_price_the_feed_contradicts(make_guard, sandbox):
    for ad in ("2101~31001", "2101~31003"):  # left: 31002, "Trekkingschuhe ab 89 €" (the boots cost 189,95 €)
        sandbox.world.customer(DE).ad_group_ads[ad].status = "PAUSED"
    engine = gate()
    proposals = await creative_proposals(make_guard(gate=engine), DE, engine.brand, use_memory=False)
    assert proposals
    copy = [line for p in proposals for line in (*p.args["headlines"], *p.args["descriptions"])]
    assert "Versand in 1–2 Werktagen. Jetzt Modelle vergleichen." in copy and "30 Tage Rückgaberecht" in copy
    boots = next(p for p in proposals if p.args["ad_group_id"] == "2101")
    assert "Wanderschuhe für jedes Terrain" in boots.args["headlines"]
    assert "Trekkingschuhe ab 89 €" not in copy
