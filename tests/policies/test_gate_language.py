"""The gate judges what copy says, not how it is typed: adversarial variants of every rule class."""

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adpilot.policies.compliance import ComplianceEngine
from adpilot.policies.content import Content

TODAY = datetime.date(2026, 12, 2)
ENGINE = ComplianceEngine.from_pack("default", today=lambda: TODAY)

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u00ad", "\u2060", "\ufeff"]
LOOKALIKE = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "i": "і", "s": "ѕ"}
# One failing claim per rule class, each in words an attacker would disguise.
FAILING = [
    ("Die beste Jacke", "superlatives"),
    ("Gratis Versand", "free"),
    ("Die Salbe heilt Blasen", "health"),
    ("Klimaneutral produziert", "green"),
    ("Winterschnäppchen", "brand.forbidden"),
    ("cheap boots", "brand.forbidden"),
    ("Free shipping", "free"),
    ("Cures blisters", "health"),
    ("eco-friendly jackets", "green"),
    ("The best boots", "superlatives"),
]


def verdict(*texts: str, **content: object):
    return ENGINE.check(Content(texts=texts, **{"channel": "google_ads", **content}))  # type: ignore[arg-type]


def rules(result) -> set[str]:
    return {f["rule"] for f in result.findings}


def disguise(text: str, draw) -> str:
    """The text with some letters swapped for look-alikes and invisible characters inserted."""
    out = []
    for ch in text:
        if ch in LOOKALIKE and draw(st.booleans()):
            ch = LOOKALIKE[ch]
        out.append(ch)
        if ch.isalpha() and draw(st.integers(0, 3)) == 0:
            out.append(draw(st.sampled_from(INVISIBLE)))
    return "".join(out)


@settings(max_examples=60)
@given(st.sampled_from(FAILING), st.data())
def test_disguised_claims_still_fail(case, data):
    text, rule = case
    written = disguise(text, data.draw)
    result = verdict(written)
    assert result.verdict == "fail" and rule in rules(result), written


@pytest.mark.parametrize(("text", "rule"), FAILING)
def test_full_width_letters_do_not_hide_a_claim(text, rule):
    wide = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)
    assert rule in rules(verdict(wide))


@pytest.mark.parametrize(("text", "rule"), FAILING)
def test_a_findings_quote_is_the_original_text(text, rule):
    written = text.replace("e", "е", 1)  # one Cyrillic letter
    (finding, *_) = [f for f in verdict(written).findings if f["rule"] == rule]
    assert written[finding["start"] : finding["end"]] == finding["text"]
    assert "\\u0435" in finding["message"] or "е" not in finding["text"]  # the message shows the look-alike


@pytest.mark.parametrize(
    ("markup", "rule"),
    [
        ("<p>Der Preis: gra<span>tis</span> für alle</p>", "free"),
        ("<p>Schn&auml;pp&shy;chen im Winter</p>", "brand.forbidden"),
        ("<p>Die be<!-- x -->ste Jacke</p>", "superlatives"),
        ('<p>Neue Jacken</p><img src="/a.jpg" alt="Die beste Jacke">', "superlatives"),
        ('<p><a href="/x" title="Gratis Versand">Jacken</a></p>', "free"),
        ("<p>Die b&#x435;ste Jacke</p>", "superlatives"),
        ("<p>KLIMA<b>NEUTRAL</b></p>", "green"),
        ("<p>gra<foo>tis</foo> Versand</p>", "free"),
    ],
)
def test_markup_cannot_split_or_hide_a_word(markup, rule):
    result = verdict(fields=(("content", markup),), channel="cms")
    assert result.verdict == "fail" and rule in rules(result)
    finding = next(f for f in result.findings if f["rule"] == rule)
    assert markup[finding["start"] : finding["end"]] == finding["text"]  # quoted from the markup as written


@pytest.mark.parametrize(
    "markup",
    [
        "<p>Hallo</p><script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        '<a href="jav&#x61;script:alert(1)">Jacken</a>',
        '<meta http-equiv="refresh" content="0;url=https://evil.example">',
        '<iframe src="https://evil.example"></iframe>',
        '<form action="https://evil.example"><input name="iban"></form>',
        '<svg onload="alert(1)"></svg>',
        '<script type="application/ld+json">{"a": 1}</script><script>alert(1)</script>',
        '<script type="application/ld+json">not json</script>',
    ],
)
def test_active_content_in_a_page_fails(markup):
    result = verdict(fields=(("content", markup),), channel="cms")
    assert result.verdict == "fail" and "html.active_content" in rules(result)


def test_structured_data_is_not_active_content():
    markup = (
        '<p>Wanderschuhe</p><script type="application/ld+json">{"@type": "Product", "name": "Alpine Trek"}</script>'
    )
    assert verdict(fields=(("content", markup),), channel="cms").verdict == "pass"


@pytest.mark.parametrize(
    ("text", "locale", "rule"),
    [
        ("The best boots for every trail", "de", "superlatives"),
        ("Free shipping on all jackets", "de", "free"),
        ("Die beste Jacke für jedes Wetter", "en", "superlatives"),
        ("Kostenloser Versand", "en", "free"),
    ],
)
def test_every_locales_rules_apply_to_every_text(text, locale, rule):
    assert rule in rules(verdict(text, locale=locale))


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("Gratisversand für alle", "free"),
        ("Versandkostenfrei bestellen", "free"),
        ("Allerbeste Qualität", "superlatives"),
        ("Bestpreisgarantie für Wanderschuhe", "superlatives"),
        ("Outdoor-Testsieger", "superlatives"),
        ("Unsere Winterschnäppchen", "brand.forbidden"),
        ("Spottbillig und robust", "brand.forbidden"),
        ("Klimaneutraler Versand", "green"),
    ],
)
def test_german_compounds_are_matched(text, rule):
    assert rule in rules(verdict(text))


@pytest.mark.parametrize(
    "text",
    [
        "Versandkostenfrei ab 50 € Bestellwert",
        "Bestellung bis 14 Uhr, Versand am selben Tag",
        "Ab einem Bestellwert von 50 € liefern wir kostenlos.",
        "PFC-frei imprägniert, fluorcarbonfrei ausgerüstet",
        "Rückversand kostenlos innerhalb von 30 Tagen",
        "Gratis* Versand\n* ab 50 € Bestellwert",
        "Was kostet eine gute Regenjacke? Ab 89 €.",
        "GORE-TEX® Membran, VIBRAM™ Sohle",
    ],
)
def test_ordinary_german_raises_no_alarm(text):
    assert verdict(text).verdict == "pass", verdict(text).findings


@pytest.mark.parametrize(
    "text",
    [
        "Kostenloser Versand. Unsere Jacken gibt es in zehn Farben und allen Größen, mit hohem Bestellwert",
        "Gratis* Versand",  # an asterisk without a footnote states no condition
        "Gratis* Versand\n* Unsere Jacken sind wasserdicht",  # a footnote without a condition
        "Alle Jacken -30 %. Was für ein Winter!",  # "was" is no reference price
    ],
)
def test_a_qualifier_must_stand_next_to_its_claim(text):
    assert verdict(text).verdict == "fail"


@pytest.mark.parametrize(
    "symbol", ["\U0001faf6", "\u26f0", "\u2602", "\u2705", "\U0001f1e6\U0001f1f9", "1\ufe0f\u20e3", "\u2764\ufe0f"]
)
def test_emoji_by_property_not_by_range(symbol):
    assert "emoji" in rules(verdict(f"Regenjacken {symbol}"))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Schreiben Sie an info＠alpine-outfitters.de", "pii.email"),
        ("IBAN DE89.3704.0044.0532.0130.00", "pii.iban"),
        ("Ruf an: 0176 1234 5678", "pii.phone"),
    ],
)
def test_personal_data_is_found_however_it_is_written(text, kind):
    assert kind in rules(verdict(text))


# --- evidence ----------------------------------------------------------------------------------


def test_a_claim_with_its_evidence_entry_passes_and_cites_it():
    result = verdict("Testsieger laut Bergwelt 3/2026", subject="Hiking Boots")
    assert result.verdict == "pass"
    assert [b["evidence"] for b in result.backing] == ["bergwelt-2026-03"]


def test_evidence_for_another_product_does_not_count():
    result = verdict("Testsieger laut Bergwelt 3/2026", subject="Rain Jackets")
    assert result.verdict == "fail" and rules(result) == {"evidence.scope"}
    assert result.findings[0]["evidence"] == "bergwelt-2026-03"
    jacket = verdict("Testsieger Regenjacke Summit Shell, Bergwelt 3/2026")
    assert jacket.verdict == "fail"


def test_a_copy_that_does_not_say_its_product_goes_to_a_person():
    assert verdict("Testsieger laut Bergwelt 3/2026").verdict == "needs_review"


def test_expired_evidence_does_not_count():
    result = verdict("Testsieger Summit Shell Regenjacke, Bergwelt 11/2024")
    assert result.verdict == "fail" and rules(result) == {"evidence.expired"}
    later = ComplianceEngine.from_pack("default", today=lambda: datetime.date(2027, 3, 1))
    assert (
        later.check(Content("google_ads", texts=("Testsieger laut Bergwelt 3/2026",), subject="Wanderschuhe")).verdict
        == "fail"
    )


def test_a_test_result_must_name_its_source_in_the_copy():
    cited = verdict("Testsieger Wanderschuhe", evidence=("bergwelt-2026-03",))
    assert cited.verdict == "fail" and rules(cited) == {"evidence.source"}


@pytest.mark.parametrize(
    "reference",
    [
        "kb:markenstimme#0",  # the brand guide, which forbids the word
        "kb:produkte-jacken#0",  # a passage that merely contains a claim word
        "brand-guide",
    ],
)
def test_a_passage_that_merely_contains_the_word_is_no_evidence(reference):
    result = verdict("Die beste Regenjacke", evidence=(reference,))
    assert result.verdict == "fail" and rules(result) == {"superlatives"}


def test_the_evidence_of_a_pack_is_validated(tmp_path):
    from adpilot.errors import PolicyError
    from adpilot.policies.loader import pack_path

    for file in pack_path("default").parent.glob("*.yaml"):
        (tmp_path / file.name).write_text(file.read_text())
    text = (tmp_path / "evidence.yaml").read_text().replace("valid_until: 2027-02-28", "valid_until: next year")
    (tmp_path / "evidence.yaml").write_text(text)
    with pytest.raises(PolicyError, match=r"(?s)evidence.yaml.*line \d+: entries.0.valid_until"):
        ComplianceEngine.from_pack(str(tmp_path))
