"""The creative skill writes copy a copywriter would sign (issue 15): complete sentences and proper
headlines from the feed of the account's market and the brand's templates, never a guideline, never
a line of the group's own ads; and it reacts to the feed (stock, prices)."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest

from adpilot.agents.llm import build_provider
from adpilot.agents.proposal import Proposal
from adpilot.agents.run import Runner
from adpilot.agents.skills.compliance import sweep
from adpilot.agents.skills.creative import creative_proposals, line_problem, restated, slot_values, subject_of
from adpilot.agents.stop import Limits
from adpilot.compose import build_guard
from adpilot.config import Config
from adpilot.feed import Feed, demo_feed_path, feed_to_json, load_feed
from adpilot.memory.documents import front_matter
from adpilot.memory.embeddings import embedding_backend
from adpilot.memory.store import MemoryStore
from adpilot.normalise import fold
from adpilot.policies.claims import ClaimChecker, find_claims
from adpilot.policies.compliance import ComplianceEngine
from adpilot.policies.content import Content
from adpilot.tools.guard import RunScope
from tests.conftest import AT, DE

DEMO_KB = Path(__file__).resolve().parents[3] / "memory" / "knowledge" / "demo"
MARKETS = {DE: "DE", AT: "AT"}
THIN = {  # pause all but one ad of every group: each runs thin
    DE: ["2101~31001", "2101~31003", "2201~31005"],
    AT: ["2801~38002"],
}


def demo_feed(**changes: dict[str, dict[str, object]]) -> Feed:
    """The demo feed with some market facts changed: ``AO_TREK_GTX={"DE": {"availability": …}}``."""
    feed = load_feed(demo_feed_path())
    products = []
    for product in feed.products:
        wanted = changes.get(product.id.replace("-", "_"), {})
        markets = {code: facts.model_copy(update=wanted.get(code, {})) for code, facts in product.markets.items()}
        products.append(product.model_copy(update={"markets": markets}))
    return Feed(products=tuple(products))


def gate(feed: Feed | None = None) -> ComplianceEngine:
    checker = ClaimChecker(feed or demo_feed(), markets=MARKETS)
    return ComplianceEngine.from_pack("default", today=lambda: datetime.date(2026, 11, 1), claims=checker)


def sentences_of(kind: str) -> list[str]:
    """Every sentence of the demo knowledge base's documents of one kind."""
    found = []
    for path in DEMO_KB.glob("*.md"):
        meta, text = front_matter(path.read_text(encoding="utf-8"))
        if meta.get("kind") != kind:
            continue
        for paragraph in re.split(r"\n\s*\n", text):
            if not paragraph.startswith("#"):
                found += [s for s in re.split(r"(?<=[.!?])\s+", " ".join(paragraph.split())) if s]
    return found


def lines(proposal: Proposal) -> list[tuple[str, str]]:
    return [("headline", h) for h in proposal.args["headlines"]] + [
        ("description", d) for d in proposal.args["descriptions"]
    ]


def assert_claims_match_the_feed(line: str, feed: Feed, market: str) -> None:
    """Every price, shipping and return claim of the line states the feed of the market."""
    offers = feed.in_market(market)
    prices = {facts.current_micros for _, facts in offers}
    shipping = (min(f.shipping_days[0] for _, f in offers), max(f.shipping_days[1] for _, f in offers))
    returns = min(f.return_days or 0 for _, f in offers)
    claims = find_claims(fold(line).text)
    for claim in claims:
        if claim.kind in ("price", "price_from"):
            assert claim.micros in prices, (line, market)
        elif claim.kind == "shipping":
            assert claim.days == shipping, (line, market)
        elif claim.kind == "returns":
            assert claim.days == (returns, returns), (line, market)
        else:
            raise AssertionError(f"unexpected {claim.kind} claim in {line!r}")


@pytest.fixture
def memory(tmp_path):
    store = MemoryStore(tmp_path / "chroma", embedding_backend("default"))
    store.ingest([DEMO_KB], tenant=Config().memory.tenant)
    return store


async def test_every_created_ad_is_signable_copy_true_to_its_market(platforms, audit, sandbox, memory):
    for account, keys in THIN.items():
        for key in keys:
            sandbox.world.customer(account).ad_group_ads[key].status = "PAUSED"
    feed = demo_feed()
    engine = gate(feed)
    guard = build_guard(
        Config(), platforms, audit, RunScope("r", "t", frozenset(MARKETS)), content_gate=engine, memory=memory
    )
    guidelines = sentences_of("brand_voice") + sentences_of("legal")
    assert "Wir siezen unsere Kunden in Anzeigen und auf der Website." in guidelines
    created = {}
    for account, market in MARKETS.items():
        existing = await guard.call("creative", "list_ads", {"customer_id": account})
        proposals = await creative_proposals(guard, account, engine.brand, use_memory=True)
        assert proposals and all(p.tool == "create_responsive_search_ad" for p in proposals)
        for proposal in proposals:
            group = proposal.args["ad_group_id"]
            theirs = {
                " ".join(line.casefold().split())
                for ad in existing.data
                if ad["ad_group_id"] == group
                for line in (*ad["headlines"], *ad["descriptions"])
            }
            for field, line in lines(proposal):
                assert line_problem(line, field) is None, line  # a complete sentence or a proper headline
                assert not any(sentence in line for sentence in guidelines), line
                assert " ".join(line.casefold().split()) not in theirs, line  # differs from the group's ads
                assert_claims_match_the_feed(line, feed, market)
            for field in ("headlines", "descriptions"):  # each claim at most once per field
                kinds = [c.kind for line in proposal.args[field] for c in find_claims(fold(line).text)]
                assert all(kinds.count(kind) <= 1 for kind in kinds), proposal.args[field]
                # nor the same promise in other words ("Beratung vom Bergsportler", "Persönliche Beratung")
                assert sum("berat" in line.casefold() for line in proposal.args[field]) <= 1, proposal.args[field]
            result = await guard.call(proposal.role, proposal.tool, proposal.args)
            assert result.ok, result.error
            created[(account, group)] = proposal
    assert {g for _, g in created} == {"2101", "2102", "2201", "2301", "2801"}
    # market-aware: the Austrian ad promises Austrian shipping, the German ones German shipping
    austrian = " ".join(line for _, line in lines(created[(AT, "2801")]))
    assert "1–2 Werktag" not in austrian
    assert all("3–5" not in line for (a, _), p in created.items() if a == DE for _, line in lines(p))
    # varied: the groups do not all get the same copy
    assert len({tuple(p.args["headlines"]) for p in created.values()}) == len(created)


async def test_a_second_variant_differs_from_the_first(make_guard, sandbox):
    customer = sandbox.world.customer(AT)
    customer.ad_group_ads["2801~38002"].status = "PAUSED"
    engine = gate()
    guard = make_guard(gate=engine)
    (first,) = await creative_proposals(guard, AT, engine.brand, use_memory=False)
    assert (await guard.call(first.role, first.tool, first.args)).ok
    for key, ad in customer.ad_group_ads.items():  # only the new one runs: the group is thin again
        ad.status = "ENABLED" if key not in ("2801~38001", "2801~38002") else "PAUSED"
    (second,) = await creative_proposals(guard, AT, engine.brand, use_memory=False)
    assert not set(lines(first)) & set(lines(second))


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("Sie eignet sich für Tagestouren und Hüttenwege bei Nässe.", "description"),  # the product left out
        ("Sie eignet sich für …", "description"),
        ("Es gibt sie als Damen- und Herrenmodell in fünf Farben.", "description"),
        ("Damit bleiben Sie trocken.", "description"),
        ("Preis: 189,95 €.", "description"),  # a label, not a sentence
        ("Persönliche Beratung und 30 Tage Rückgaberecht im Alpine Outfitters Shop.", "description"),  # no verb
        ("Versand in 1–2 Werktagen. Jetzt Modelle vergleichen.", "description"),
        ("wir liefern in 1–2 Werktagen.", "description"),
        ("Wir liefern in 1–2 Werktagen", "description"),
        ("Wanderschuhe für", "headline"),
        ("Sie lässt sich packen", "headline"),
        ("Regenjacken, Daunenjacken,", "headline"),
        ("jetzt Größe finden", "headline"),
        (" Alpine Outfitters Shop", "headline"),
    ],
)
def test_fragments_are_not_copy(line, field):
    assert line_problem(line, field) is not None


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("Sie erhalten persönliche Beratung und 30 Tage Rückgaberecht.", "description"),  # "Sie": the reader
        ("Bestellen Sie Wanderschuhe ab 189,95 € bequem im Alpine Outfitters Shop.", "description"),
        ("Die Imprägnierung unserer Jacken ist PFC-frei und nach bluesign zertifiziert.", "description"),
        ("Es gibt 30 Tage Rückgaberecht. Wir liefern in 3–5 Werktagen.", "description"),
        ("Wanderschuhe ab 189,95 €", "headline"),
        ("Versand in 1–2 Werktagen", "headline"),
        ("Jetzt Größe finden", "headline"),
        ("30 Tage Rückgaberecht", "headline"),
    ],
)
def test_sentences_and_headlines_are_copy(line, field):
    assert line_problem(line, field) is None


def test_every_template_of_the_brand_makes_signable_lines():
    engine = gate()
    values = {
        "brand": "Alpine Outfitters",
        "product": "Alpine Trek GTX",
        "category": "Wanderschuhe",
        "selling_point": "Vibram-Sohle",
        "price": "189,95 €",
        "shipping": "1–2",
        "returns": "30",
    }
    templates = engine.brand.ad_templates
    for field, group in (("headline", templates.headlines), ("description", templates.descriptions)):
        for template in group:
            line = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)
            assert line_problem(line, field) is None, template


async def test_the_demo_ad_with_a_stale_price_gets_a_replacement_and_the_sweep_pauses_only_the_old_one(
    make_guard, sandbox
):
    engine = gate()
    guard = make_guard(gate=engine)
    proposals = await creative_proposals(guard, DE, engine.brand, use_memory=False)
    (boots,) = [p for p in proposals if p.args["ad_group_id"] == "2101"]  # 3 enabled ads: not thin
    assert "ad 2101~31002: “ab 89 €”" in boots.rationale and "189,95 €" in boots.rationale
    assert boots.args["headlines"][0] == "Wanderschuhe ab 189,95 €"  # the price first
    copy = [line for _, line in lines(boots)]
    assert "Trekkingschuhe ab 89 €" not in copy and "Wanderschuhe für jedes Terrain" not in copy
    for proposal in proposals:
        assert (await guard.call(proposal.role, proposal.tool, proposal.args)).ok
    paused, _ = await sweep(guard, [DE], include_cms=False)
    assert {p.args["ad_id"] for p in paused} == {"31002", "31006"}  # the new variants pass the sweep
    for proposal in paused:
        assert (await guard.call(proposal.role, proposal.tool, proposal.args)).decision == "allow"


async def test_a_group_thin_because_the_sweep_paused_a_wrong_price_leads_with_the_right_one(make_guard, sandbox):
    customer = sandbox.world.customer(DE)
    for key in ("2101~31001", "2101~31002", "2101~31003"):  # 31002 ("ab 89 €") paused by the sweep
        customer.ad_group_ads[key].status = "PAUSED"
    engine = gate()
    proposals = await creative_proposals(make_guard(gate=engine), DE, engine.brand, use_memory=False)
    (boots,) = [p for p in proposals if p.args["ad_group_id"] == "2101"]
    assert boots.args["headlines"][0] == "Wanderschuhe ab 189,95 €"
    assert "has 0 enabled ad(s)" in boots.rationale


async def test_a_price_change_replaces_the_ad_stating_the_old_price(make_guard, sandbox):
    customer = sandbox.world.customer(DE)
    for key in ("2101~31001", "2101~31002", "2101~31003"):
        customer.ad_group_ads[key].status = "PAUSED"
    guard = make_guard(gate=gate())
    earlier = {  # an ad an earlier run created, true when it was made
        "customer_id": DE,
        "ad_group_id": "2101",
        "headlines": ["Wanderschuhe ab 189,95 €", "Jetzt Größe finden", "Persönliche Beratung"],
        "descriptions": [
            "Wir liefern in 1–2 Werktagen.",
            "Sie erhalten persönliche Beratung und 30 Tage Rückgaberecht.",
        ],
        "final_url": "https://www.alpine-outfitters.example/de/wanderschuhe",
    }
    assert (await guard.call("creative", "create_responsive_search_ad", earlier)).ok
    customer.ad_group_ads["2101~31002"].status = "ENABLED"  # two enabled: the group is not thin
    # the boots get cheaper: the ad that says 189,95 € is out of date
    cheaper = gate(
        demo_feed(
            AO_TREK_GTX={"DE": {"price_micros": 169_950_000, "price_history": ()}},
        )
    )
    guard = make_guard(gate=cheaper)
    proposals = await creative_proposals(guard, DE, cheaper.brand, use_memory=False)
    (replacement,) = [p for p in proposals if p.args["ad_group_id"] == "2101"]
    assert "189,95 €" in replacement.rationale and "169,95 €" in replacement.rationale
    text = " ".join(line for _, line in lines(replacement))
    assert "169,95 €" in text and "189,95 €" not in text
    assert (await guard.call(replacement.role, replacement.tool, replacement.args)).ok
    paused, _ = await sweep(guard, [DE], include_cms=False)
    old = [p for p in paused if p.args["ad_group_id"] == "2101"]
    assert {p.args["ad_id"] for p in old} == {"31002", created_id(customer, earlier["headlines"])}
    assert any("189,95 €" in p.rationale for p in old)
    assert (await guard.call(old[0].role, old[0].tool, old[0].args)).decision == "allow"  # not the last ad


def created_id(customer, headlines: list[str]) -> str:
    return next(
        ad.ad.id
        for ad in customer.ad_group_ads.values()
        if [h.text for h in ad.ad.responsive_search_ad.headlines] == headlines
    )


def test_a_line_wrong_only_in_its_price_is_restated_from_the_feed():
    engine = gate()
    content = Content(
        channel="google_ads", descriptions=("Die Alpine Trek GTX gibt es ab 199,95 € im Shop.",), account=DE
    )
    verdict = engine.check(content)
    findings = [dict(f) for f in verdict.findings]
    assert verdict.verdict == "fail" and {f["rule"] for f in findings} == {"claims.price"}
    fixed = restated(content.descriptions[0], findings)
    assert fixed == "Die Alpine Trek GTX gibt es ab 189,95 € im Shop."
    assert engine.check(Content(channel="google_ads", descriptions=(fixed,), account=DE)).verdict == "pass"
    # a line with another finding as well is not restated: it is dropped
    assert restated("x", [*findings, {"rule": "free", "text": "x", "suggestion": "y"}]) is None


def _run_key(account: str, proposal: Proposal) -> str:
    """The proposal id a maintenance plan gives the creative skill's proposals (agents/nodes/plan.py)."""
    return f"cre-{account}.{proposal.id}"


async def test_out_of_stock_pauses_and_back_in_stock_enables_only_what_adpilot_paused(make_guard, sandbox):
    customer = sandbox.world.customer(DE)
    engine = gate()
    guard = make_guard(gate=engine, thread="t1")
    # a person pauses 31003 through adpilot's chat (the creative role, an operator command)
    person = Proposal(
        "creative",
        "set_ad_status",
        {"customer_id": DE, "ad_group_id": "2101", "ad_id": "31003", "status": "PAUSED"},
        "operator",
    )
    assert (await guard.call(person.role, person.tool, person.args, proposal_id=f"chat-1.{person.id}")).ok
    # the hiking boots sell out in Germany (not in Austria)
    sold_out = gate(
        demo_feed(
            AO_TREK_GTX={"DE": {"availability": "out_of_stock"}},
            AO_TREK_LEATHER={"DE": {"availability": "out_of_stock"}},
        )
    )
    guard = make_guard(gate=sold_out, thread="t2")
    proposals = await creative_proposals(guard, DE, sold_out.brand, use_memory=False)
    pauses = [p for p in proposals if p.tool == "set_ad_status"]
    assert {p.args["ad_id"] for p in pauses} == {"31001", "31002"}
    assert all(p.args["status"] == "PAUSED" and "out of stock" in p.rationale for p in pauses)
    assert not any(p.args["ad_group_id"] == "2101" for p in proposals if p.tool == "create_responsive_search_ad")
    for proposal in pauses:
        await guard.call(proposal.role, proposal.tool, proposal.args, proposal_id=_run_key(DE, proposal))
    assert customer.ad_group_ads["2101~31001"].status == "PAUSED"
    assert customer.ad_group_ads["2101~31002"].status == "ENABLED"  # the group's last ad: a person decides
    assert not await creative_proposals(make_guard(gate=gate(), thread="t2b"), AT, sold_out.brand, use_memory=False)
    # still sold out: nothing is enabled
    again = await creative_proposals(make_guard(gate=sold_out, thread="t3"), DE, sold_out.brand, use_memory=False)
    assert not any(p.args.get("status") == "ENABLED" for p in again)
    # back in stock: adpilot's out-of-stock pause is undone, the person's pause stays
    guard = make_guard(gate=engine, thread="t4")
    back = [p for p in await creative_proposals(guard, DE, engine.brand, use_memory=False) if p.tool == "set_ad_status"]
    assert [(p.args["ad_id"], p.args["status"]) for p in back] == [("31001", "ENABLED")]
    assert "back in stock" in back[0].rationale
    assert (await guard.call(back[0].role, back[0].tool, back[0].args, proposal_id=_run_key(DE, back[0]))).ok
    assert customer.ad_group_ads["2101~31003"].status == "PAUSED"


async def test_an_ad_paused_again_after_the_stock_pause_is_not_enabled(make_guard, sandbox):
    sold_out = gate(
        demo_feed(
            AO_TREK_GTX={"DE": {"availability": "out_of_stock"}},
            AO_TREK_LEATHER={"DE": {"availability": "out_of_stock"}},
        )
    )
    guard = make_guard(gate=sold_out, thread="t1")
    pauses = [
        p for p in await creative_proposals(guard, DE, sold_out.brand, use_memory=False) if p.tool == "set_ad_status"
    ]
    first = next(p for p in pauses if p.args["ad_id"] == "31001")
    assert (await guard.call(first.role, first.tool, first.args, proposal_id=_run_key(DE, first))).ok
    # a person enables it and pauses it again, through adpilot
    for status in ("ENABLED", "PAUSED"):
        args = {**first.args, "status": status}
        assert (await guard.call("creative", "set_ad_status", args, proposal_id=f"chat-2.{status}")).ok
    engine = gate()
    back = await creative_proposals(make_guard(gate=engine, thread="t2"), DE, engine.brand, use_memory=False)
    assert not any(p.tool == "set_ad_status" for p in back)


async def test_knowledge_becomes_copy_only_from_fact_documents(platforms, audit, sandbox, tmp_path):
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "fakten.md").write_text(
        "---\nkind: product\n---\n# Fakten\n\nUnsere Wanderschuhe werden in Italien gefertigt.\n"
    )
    (kb / "stil.md").write_text("---\nkind: brand_voice\n---\n# Stil\n\nWir nennen Wanderschuhe nie Treter.\n")
    (kb / "recht.md").write_text(
        "---\nkind: legal\n---\n# Recht\n\nWanderschuhe bewerben wir ohne Gesundheitsversprechen.\n"
    )
    (kb / "notiz.md").write_text("# Notiz\n\nUnsere Wanderschuhe sind handgenäht.\n")  # no kind: unspecified
    store = MemoryStore(tmp_path / "chroma", embedding_backend("default"))
    store.ingest([kb], tenant=Config().memory.tenant)
    engine = gate()
    guard = build_guard(
        Config(), platforms, audit, RunScope("r", "t", frozenset({DE})), content_gate=engine, memory=store
    )
    (boots,) = [
        p for p in await creative_proposals(guard, DE, engine.brand, use_memory=True) if p.args["ad_group_id"] == "2101"
    ]
    copy = [line for _, line in lines(boots)]
    assert "Unsere Wanderschuhe werden in Italien gefertigt." in copy
    assert boots.args["evidence"] == ["kb:fakten#0"]
    text = " ".join(copy)
    assert "Treter" not in text and "Gesundheitsversprechen" not in text and "handgenäht" not in text


async def test_every_ad_a_maintenance_run_creates_is_signable_and_true_to_its_market(make_runner, sandbox, audit):
    feed = load_feed(demo_feed_path())
    guidelines = sentences_of("brand_voice") + sentences_of("legal")
    for account, keys in THIN.items():  # thin groups, so that every group gets a new ad
        for key in keys:
            sandbox.world.customer(account).ad_group_ads[key].status = "PAUSED"
    async with make_runner() as runner:
        for _ in range(2):
            await runner.start({"kind": "maintenance", "accounts": [DE, AT]})
    created = [r for r in audit.records(kind="result", tool="create_responsive_search_ad") if r.status == "ok"]
    assert {(r.args["customer_id"], r.args["ad_group_id"]) for r in created} >= {
        (DE, "2102"),
        (DE, "2301"),
        (AT, "2801"),
    }
    for record in created:
        account, group = record.args["customer_id"], record.args["ad_group_id"]
        others = [
            ad
            for key, ad in sandbox.world.customer(account).ad_group_ads.items()
            if key.startswith(f"{group}~")
            and [h.text for h in ad.ad.responsive_search_ad.headlines] != record.args["headlines"]
        ]
        theirs = {
            t.text
            for ad in others
            for t in (*ad.ad.responsive_search_ad.headlines, *ad.ad.responsive_search_ad.descriptions)
        }
        proposal = Proposal("creative", record.tool, record.args, "")
        for field, line in lines(proposal):
            assert line_problem(line, field) is None, line
            assert not any(sentence in line for sentence in guidelines), line
            assert line not in theirs, line
            assert_claims_match_the_feed(line, feed, MARKETS[account])


def test_the_subject_is_the_final_urls_product_else_its_category():
    offers = demo_feed().in_market("DE")

    def ad(url: str, *lines: str) -> dict[str, object]:
        return {"final_urls": [url], "headlines": list(lines), "descriptions": []}

    shop = "https://www.alpine-outfitters.example"
    product = subject_of([ad(f"{shop}/de/trailrunning/alpine-trail-runner/?utm=x")], offers)
    assert product is not None and product.name == "Alpine Trail Runner" and product.product is not None
    below = subject_of([ad(f"{shop}/de/wanderschuhe")], offers)
    assert below is not None and below.name == "Wanderschuhe" and len(below.offers) == 2
    named = subject_of([ad(f"{shop}/at/irgendwo", "Bergschuhe für jede Tour", "Wanderschuhe in Österreich")], offers)
    assert named is not None and named.name == "Wanderschuhe"
    assert subject_of([ad(shop, "Wanderschuhe und Regenjacken")], offers) is None  # a brand group: no subject


async def test_a_product_ads_variant_names_the_product_and_its_selling_points(make_guard, sandbox):
    ad = sandbox.world.customer(DE).ad_group_ads["2102~31004"]
    ad.ad.final_urls = ["https://www.alpine-outfitters.example/de/trailrunning/alpine-trail-runner"]
    engine = gate()
    proposals = await creative_proposals(make_guard(gate=engine), DE, engine.brand, use_memory=False)
    (runner,) = [p for p in proposals if p.args["ad_group_id"] == "2102"]
    text = " ".join(line for _, line in lines(runner))
    assert "Alpine Trail Runner" in text
    points = ("6 mm Sprengung", "Grobes Profil für matschige Wege", "290 Gramm pro Schuh", "grobes Profil")
    assert any(point in text for point in points)


def test_the_slots_state_the_market_of_the_account():
    brand = gate().brand
    feed = demo_feed()
    for market, shipping in (("DE", "1–2"), ("AT", "3–5")):
        offers = feed.in_market(market)
        boots = subject_of([{"final_urls": ["https://www.alpine-outfitters.example/de/wanderschuhe"]}], offers)
        values = slot_values(brand, boots, offers)
        assert values["shipping"] == [shipping] and values["returns"] == ["30"] and values["price"] == ["189,95 €"]
        assert slot_values(brand, None, offers)["shipping"] == [shipping]  # a brand group: the whole market
    # the down jacket is on sale in Germany only: its price slot is the sale price there
    down = [(p, f) for p, f in feed.in_market("DE") if p.id == "AO-SUMMIT-DOWN"]
    assert slot_values(brand, subject_of([{"final_urls": [down[0][0].url]}], down), down)["price"] == ["239,95 €"]


async def test_a_maintenance_run_pauses_sold_out_ads_and_a_later_one_brings_them_back(
    tmp_path, platforms, audit, sandbox, clock
):
    path = tmp_path / "feed.json"
    config = Config.model_validate({"state_dir": str(tmp_path / "state"), "feed": {"path": str(path)}})
    customer = sandbox.world.customer(DE)

    async def run(feed: Feed) -> dict[str, object]:
        path.write_text(feed_to_json(feed), encoding="utf-8")
        runner = Runner(config, platforms=platforms, audit=audit, models=build_provider("none"), limits=Limits())
        async with runner:
            result = await runner.start({"kind": "maintenance", "accounts": [DE]})
        return result.report

    sold_out = demo_feed(
        AO_TREK_GTX={"DE": {"availability": "out_of_stock"}},
        AO_TREK_LEATHER={"DE": {"availability": "out_of_stock"}},
    )
    report = await run(sold_out)
    paused = [a for a in report["applied"] if a["role"] == "creative" and a["tool"] == "set_ad_status"]
    assert paused and all("out of stock" in a["rationale"] for a in paused)
    assert not any(
        a["tool"] == "create_responsive_search_ad" and a["args"]["ad_group_id"] == "2101" for a in report["applied"]
    )
    ours = {a["args"]["ad_id"] for a in paused}
    clock.advance(24 * 8)  # a week later (past the ad-status cooldown of patience) the boots are back
    report = await run(demo_feed())
    enabled = {a["args"]["ad_id"]: a["rationale"] for a in report["applied"] if a["args"].get("status") == "ENABLED"}
    assert set(enabled) == ours and all("back in stock" in r for r in enabled.values())
    assert all(customer.ad_group_ads[f"2101~{ad}"].status == "ENABLED" for ad in ours)
