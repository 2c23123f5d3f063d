"""Claims must match facts: prices, discounts, shipping and return times against the product feed
of the copy's market (issue 15, item 5)."""

import datetime

import pytest

from adpilot.feed import demo_feed_path, load_feed, parse_json_feed
from adpilot.policies.claims import ClaimChecker, find_claims
from adpilot.policies.compliance import ComplianceEngine
from adpilot.policies.content import Content

TODAY = datetime.date(2026, 12, 2)
MARKETS = {"1112223333": "DE", "4445556666": "AT"}
DEMO = ClaimChecker(load_feed(demo_feed_path()), markets=MARKETS, site_market="DE")
ENGINE = ComplianceEngine.from_pack("default", today=lambda: TODAY, claims=DEMO)

# A jacket on sale: 229.95 until 2026-11-10, briefly 209.95 (from 2026-11-10), then 219.95, and
# reduced to 183.95 since 2026-11-25. The lowest price of the 30 days before the reduction: 209.95.
SALE = parse_json_feed(
    """{"products": [{"id": "J1", "title": "Storm Shell", "category": "Regenjacken", "aliases": ["Regenjacke"],
      "url": "https://shop.example/j1", "markets": {
        "DE": {"price": "219.95 EUR", "sale_price": "183.95 EUR",
               "price_history": [["2026-03-01", "229.95"], ["2026-11-10", "209.95"], ["2026-11-15", "219.95"],
                                 ["2026-11-25", "183.95"]],
               "availability": "in_stock", "shipping_days": [1, 2], "return_days": 30}}}]}""",
    "sale.json",
)
SALE_ENGINE = ComplianceEngine.from_pack("default", today=lambda: TODAY, claims=ClaimChecker(SALE))


def judged(engine, text, **where):
    verdict = engine.check(Content("google_ads", headlines=(text,), **where) if len(text) <= 30 else
                           Content("google_ads", descriptions=(text,), **where))  # fmt: skip
    return verdict.verdict, [f for f in verdict.findings if f["rule"].startswith("claims.")]


def test_the_observed_price_claim_fails_naming_the_fact():
    verdict, findings = judged(ENGINE, "Trekkingschuhe ab 89 €", account="4445556666")
    assert verdict == "fail"
    assert findings[0]["rule"] == "claims.price" and findings[0]["text"] == "ab 89 €"
    assert "the feed's lowest price for Trekkingschuhe in AT is 189,95 €" in findings[0]["message"]
    assert findings[0]["suggestion"] == "write “ab 189,95 €”"


def test_the_observed_austrian_shipping_promise_fails_and_the_german_one_passes():
    verdict, findings = judged(ENGINE, "Versand in 1–2 Werktagen", account="4445556666")
    assert verdict == "fail"
    assert findings[0]["rule"] == "claims.shipping"
    assert "shipping time for all products in AT is 3–5 Werktage" in findings[0]["message"]
    assert judged(ENGINE, "Versand in 1–2 Werktagen", account="1112223333") == ("pass", [])
    assert judged(ENGINE, "Versand in 3–5 Werktagen", account="4445556666") == ("pass", [])
    assert judged(ENGINE, "Lieferung in 24 h", market="AT")[0] == "fail"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("Trekkingschuhe ab 189,95 €", {"market": "AT"}),
        ("Wanderschuhe ab 189,95 €", {"account": "1112223333"}),
        ("Hiking boots from €189.95", {"market": "DE"}),
        ("Alpine Trek Leather für 219,95 €", {"market": "DE"}),
        ("Regenjacke nur 229,95 €", {"market": "DE"}),
        ("ab 139,95 €", {"market": "DE", "subject": "Trail Runners"}),
        ("30 Tage Rückgaberecht", {"market": "AT"}),
        ("Rückgabe innerhalb von 30 Tagen", {}),
        ("Versandkostenfrei ab 50 € Bestellwert", {"market": "DE"}),
        ("Ships in 2 days", {"market": "DE"}),
    ],
)
def test_claims_that_state_the_feeds_facts_pass(text, where):
    assert judged(ENGINE, text, **where) == ("pass", [])


@pytest.mark.parametrize(
    ("text", "where", "rule", "fact"),
    [
        ("Alpine Trek GTX nur 149,95 €", {"market": "DE"}, "claims.price", "189,95 €"),
        ("Trail Runner ab 99 EUR", {"market": "DE"}, "claims.price", "139,95 €"),
        ("100 Tage Rückgaberecht", {"market": "DE"}, "claims.returns", "30 Tage"),
        ("Storm Shell -20 %", {"market": "DE"}, "claims.discount", "no reduced price for Storm Shell in DE"),
    ],
)
def test_claims_against_the_facts_fail_naming_the_fact(text, where, rule, fact):
    verdict, findings = judged(ENGINE, text, **where)
    assert verdict == "fail"
    assert [f["rule"] for f in findings] == [rule] and fact in findings[0]["message"]


def test_a_discount_is_measured_against_the_lowest_price_of_the_30_days_before_it():
    # 183.95 against 209.95 (the 30-day low) is 12 %; against 229.95 (the old regular price) it would be 20 %.
    verdict, findings = judged(SALE_ENGINE, "Regenjacke -20 % statt 229,95 €", market="DE")
    assert verdict == "fail"
    messages = " ".join(f["message"] for f in findings)
    assert "reduced by 12 %" in messages and "209,95 €" in messages and "PAngV §11" in messages
    assert {f["rule"] for f in findings} == {"claims.discount"}
    assert judged(SALE_ENGINE, "Regenjacke -12 % statt 209,95 €", market="DE") == ("pass", [])
    assert judged(SALE_ENGINE, "Storm Shell 10 % reduziert", market="DE")[1] == []
    assert judged(SALE_ENGINE, "Storm Shell nur 183,95 €", market="DE") == ("pass", [])


def test_a_reduction_without_price_history_goes_to_a_person():
    feed = parse_json_feed(
        '{"products": [{"id": "J1", "title": "Storm Shell", "category": "Regenjacken", "url": "https://s.example/",'
        ' "markets": {"DE": {"price": "229.95 EUR", "sale_price": "199.95 EUR", "shipping_days": [1, 2]}}}]}'
    )
    engine = ComplianceEngine.from_pack("default", today=lambda: TODAY, claims=ClaimChecker(feed))
    verdict, findings = judged(engine, "Storm Shell -10 % statt 229,95 €", market="DE")
    assert verdict == "needs_review" and {f["severity"] for f in findings} == {"needs_review"}


def test_a_price_claim_whose_product_cannot_be_resolved_goes_to_a_person():
    verdict, findings = judged(ENGINE, "Alles ab 19,95 €", market="DE", subject="Brand")
    assert verdict == "needs_review"
    assert findings[0]["rule"] == "claims.price" and findings[0]["severity"] == "needs_review"
    assert "does not say which product" in findings[0]["message"]


def test_the_ad_groups_subject_resolves_the_product():
    verdict, findings = judged(ENGINE, "Jetzt ab 89 €", market="AT", subject="Wanderschuhe AT")
    assert verdict == "fail" and "Wanderschuhe in AT is 189,95 €" in findings[0]["message"]


def test_an_unknown_market_passes_only_what_holds_in_every_market():
    assert judged(ENGINE, "30 Tage Rückgaberecht") == ("pass", [])
    verdict, findings = judged(ENGINE, "Versand in 1–2 Werktagen")
    assert verdict == "needs_review" and "holds in DE" in findings[0]["message"]
    assert judged(ENGINE, "Trekkingschuhe ab 89 €")[0] == "fail"


def test_pages_are_judged_against_the_sites_market():
    page = Content("cms", fields=(("content", "<p>Alle Wanderschuhe ab <b>89 €</b>. Versand in 1–2 Werktagen.</p>"),))
    verdict = ENGINE.check(page)
    assert verdict.verdict == "fail"
    assert [f["rule"] for f in verdict.findings if f["rule"].startswith("claims.")] == ["claims.price"]


def test_without_a_feed_no_claim_is_checked():
    plain = ComplianceEngine.from_pack("default", today=lambda: TODAY)
    assert plain.check(Content("google_ads", headlines=("Trekkingschuhe ab 89 €",), account="4445556666")).verdict == (
        "pass"
    )


def test_the_market_binds_the_content_hash_but_leaves_older_hashes_alone():
    plain = Content("google_ads", headlines=("Versand in 1–2 Werktagen",))
    assert plain.hash != Content("google_ads", headlines=plain.headlines, account="4445556666").hash
    assert Content("google_ads", headlines=plain.headlines, market="AT").hash != plain.hash


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("ab 89 €", ["price_from"]),
        ("from €89", ["price_from"]),
        ("nur 149,95 €", ["price"]),
        ("fur 99 EUR", ["price"]),
        ("-20 %", ["discount"]),
        ("20 % reduziert", ["discount"]),
        ("statt 199 €", ["reference"]),
        ("Versand in 1–2 Werktagen", ["shipping"]),
        ("Lieferung in 24 h", ["shipping"]),
        ("ships in 2 days", ["shipping"]),
        ("30 Tage Ruckgabe", ["returns"]),
        ("100 Tage Ruckgaberecht", ["returns"]),
        ("Versandkostenfrei ab 50 € Bestellwert", []),
        ("Wassersaule 20.000 mm, bis -20 °C, 0 % Zinsen", []),
        ("Bestellung bis 14 Uhr, Versand am selben Tag", []),
    ],
)
def test_what_counts_as_a_claim(text, kinds):
    assert [c.kind for c in find_claims(text)] == kinds


def test_a_page_full_of_claims_is_bounded_and_never_passes_unchecked():
    page = Content("cms", market="DE", fields=(("content", "<p>" + "Wanderschuhe ab 189,95 €. " * 300 + "</p>"),))
    verdict = ENGINE.check(page)
    assert verdict.verdict == "needs_review"
    assert any("more price, discount, shipping or return claims" in f["message"] for f in verdict.findings)
