"""Regression cases from an attack on the content gate: each was judged `pass` (or a false alarm)
before the fix it names. A violation that passes is the worst failure the gate can have."""

import datetime

import pytest

from adpilot.policies.compliance import ComplianceEngine
from adpilot.policies.content import Content

ENGINE = ComplianceEngine.from_pack("default", today=lambda: datetime.date(2026, 12, 2))


def text(value: str, **extra: object) -> Content:
    return Content("google_ads", texts=(value,), **extra)  # type: ignore[arg-type]


def page(markup: str) -> Content:
    return Content("cms", fields=(("content", markup),))


def verdict(content: Content) -> str:
    return ENGINE.check(content).verdict


@pytest.mark.parametrize(
    "content",
    [
        # Latin look-alikes: small capitals, IPA letters
        text("Die \u0299\u1d07\ua731\u1d1b\u1d07 Jacke"),
        text("\u0261ratis Versand für alle"),
        text("g\u0251rantiert wasserdicht"),
        text("Die Einlage he\u0269lt Fersensporn."),
        text("The \u0253est jacket"),
        # control characters inside a word
        text("Die be\x0bste Jacke"),
        page("<p>Die be\x00ste Jacke</p>"),
        # writing-direction overrides: readers see "beste"
        text("Die \u202eetseb\u202c Jacke"),
        # whitespace inside multi-word terms
        text("Nr.  1 im Test"),
        page("<p>Wir sind Nr.\n1 bei Wanderschuhen</p>"),
        page("<p>Besser als Jack\nWolfskin</p>"),
        page("<p>Hilft gegen  Krebs</p>"),
        # vocabulary
        text("Unsere Testsiegerjacke"),
        text("Test-Sieger Wanderschuhe"),
        text("Our test winners: hiking boots"),
        text("Vergleichssieger Wanderschuhe"),
        text("Die günstigste Regenjacke"),
        text("Höchste Qualität zum fairen Preis"),
        text("Die leichteste Regenjacke der Welt"),
        text("Nr. eins bei Wanderschuhen"),
        text("Nr. \u0661 bei Wanderschuhen"),
        text("Fersensporn in 4 Wochen geheilt"),
        text("Beschleunigt den Heilungsprozess"),
        text("Cured my back pain in a week"),
        text("Ohne Versandkosten für alle"),
        text("Cost-free delivery on all jackets"),
        text("Free-Shipping für alle"),
        text("Delivery at no cost"),
        text("Complimentary shipping on all jackets"),
        text("Klimafreundlicher Versand"),
        text("CO2 neutraler Versand"),
        text("Eco friendly jackets"),
        text("Klimaneutral, aber nicht zertifiziert"),
        text("Eco-friendly jackets, ISO 9001"),
        text("Alle Jacken \u201330 %. Was für ein Winter!"),
        text("30 Prozent Rabatt auf alle Jacken"),
        text("Spare 30 % auf alle Jacken"),
        text("50 € Rabatt auf alle Jacken"),
        text("Jetzt 30 % Rabatt sichern statt lange zu warten"),
        text("0 % Zins auf alle Jacken"),
        text("Bequeme Ratenzahlung möglich"),
        text("Leichter als Jack-Wolfskin-Jacken"),
        text("Leichter als JackWolfskin"),
        # a condition word that qualifies nothing
        text("Gratis-Regenhülle, dicht bei allen Wetterbedingungen"),
        text("Gratisversand, Lieferung innerhalb von 24 Stunden"),
        text("Gratis-Mütze, nur für dich"),
        # exclamation look-alikes, symbols
        Content("google_ads", headlines=("Jetzt zugreifen\u01c3",)),
        Content("google_ads", descriptions=("Wirklich wasserdicht\u01c3\u01c3",)),
        Content(
            "google_ads", headlines=("\u1d21\u1d00\ua731\ua731\u1d07\u0280\u1d05\u026a\u1d04\u029c\u1d1b\u1d07 Schuhe",)
        ),
        text("\u2605\u2605\u2605\u2605\u2605 Kundenbewertung"),
        text("\u2713 Versand in 1–2 Werktagen"),
        text("\u279c Jetzt entdecken"),
        # evidence: the product named elsewhere, one citation for two claims, expired hidden by valid
        text("Testsieger laut Bergwelt 3/2026. Passend zu Wanderschuhen.", subject="Rain Jackets"),
        text("Regenjacke Summit Shell: Testsieger laut Bergwelt 3/2026. Auch Wanderschuhe im Shop."),
        text("Wanderschuhe Testsieger laut Bergwelt 3/2026. Die beste Regenjacke: Summit Shell."),
        text("Testsieger Regenjacke Summit Shell, Bergwelt 11/2024. Wanderschuhe: Bergwelt 3/2026."),
    ],
    ids=lambda c: (c.texts or c.headlines or c.descriptions or (c.fields[0][1],))[0][:40],
)
def test_a_disguised_or_unusual_violation_does_not_pass(content):
    assert verdict(content) != "pass", ENGINE.check(content).findings


@pytest.mark.parametrize(
    "content",
    [
        text("Best.-Nr. 12345, Größe 42"),
        text("Am besten bestellen Sie bis 14 Uhr."),
        text("Alle Angaben nach bestem Wissen."),
        text("Best regards, the Alpine Outfitters team"),
        text("Katalog Nr. 1/2026 jetzt online"),
        text("Besuchen Sie uns: Marktplatz Nr. 1, Heilbronn"),
        text("Ihr gesetzlich garantiertes Widerrufsrecht gilt 14 Tage."),
        text("Nicht umsonst tragen Bergführer diese Jacke."),
        text("PFAS free membrane"),
        text("Membrane free of PFC"),
        text("Feel free to ask our team"),
        text("Neue Free Climbing Kollektion"),
        text("Gratisversand ab 50,- €"),
        text("Gratisversand ab € 50"),
        text("Free shipping from €50"),
        text("Free shipping over 50 €"),
        text("Free shipping on orders of €50 or more"),
        text("Free returns within 30 days"),
        text("30 % less weight than the previous model"),
        text("Neues Modell: -20 % Gewicht"),
        text("Sparbuch mit 10 % Zinsen"),
        text("Bestellung, Beständigkeit, Heilbronn, Heiligabend"),
    ],
    ids=lambda c: c.texts[0][:40],
)
def test_ordinary_copy_raises_no_alarm(content):
    assert verdict(content) == "pass", ENGINE.check(content).findings


@pytest.mark.parametrize(
    "markup",
    [
        "<p>Die be<span hidden>x</span>ste Jacke</p>",
        '<p>Die be<span style="display:none">x</span>ste Jacke</p>',
        '<p>gra<span style="font-size:0">x</span>tis Versand</p>',
        "<p>Die be<style></style>ste Jacke</p>",
        "<p>Die be<template></template>ste Jacke</p>",
        '<svg width="300" height="40"><text x="0" y="20"><![CDATA[Die beste Jacke]]></text></svg>',
        '<div><template shadowrootmode="open"><p>Die beste Jacke</p></template></div>',
        '<style>.c::after{content:"Die beste Jacke"}</style><p class="c"></p>',
        '<p>Die <bdo dir="rtl">etseb</bdo> Jacke</p>',
        "<p>Die &#x202E;etseb&#x202C; Jacke</p>",
        '<p>Die <span style="unicode-bidi:bidi-override;direction:rtl">etseb</span> Jacke</p>',
        "<p>Gratisversand für alle<span hidden> ab 50 € Bestellwert</span></p>",
        '<p>Gratisversand*</p><img src="x.jpg" alt="* ab 50 € Bestellwert">',
        '<p>Ratenkauf mit 0 % Zinsen</p><img src="x.jpg" alt="Bonität vorausgesetzt">',
        '<p>Testsieger Wanderschuhe</p><img src="x.jpg" alt="Bergwelt 3/2026">',
        '<link rel="stylesheet" href="https://evil.example/x.css"><p>Jacken</p>',
        '<script type="application/ld+json">{"@type":"Product","description":"Die beste Jacke, gratis für alle"}'
        "</script><p>Jacke</p>",
        '<p><a href="mailto:max.mustermann@gmail.com">Schreib Max</a></p>',
        '<p><a href="tel:+4917612345678">Ruf Max an</a></p>',
    ],
)
def test_a_page_cannot_hide_or_generate_what_readers_see(markup):
    assert verdict(page(markup)) == "fail", ENGINE.check(page(markup)).findings


def test_a_footnote_in_its_own_paragraph_qualifies_the_claim():
    assert verdict(page("<p>Gratisversand*</p><p>* ab 50 € Bestellwert</p>")) == "pass"


# --- second attack ---------------------------------------------------------------------------------


def ad(headlines: tuple[str, ...], descriptions: tuple[str, ...], **extra: object) -> Content:
    return Content("google_ads", headlines=headlines, descriptions=descriptions, complete_ad=True, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # a violation after 20 compliant claims, or after 20 softer ones, is still judged
        (text(" ".join(["Gratisversand ab 50 € Bestellwert."] * 20) + " Gratis Mütze für alle"), "fail"),
        (text(" ".join(["Perfekte Jacke."] * 20) + " Die beste Jacke."), "fail"),
        (text(" ".join(["Jacke -30 % statt 149 €."] * 20) + " Alle Hosen -50 %"), "fail"),
        # each ad asset stands alone: a footnote or disclaimer in another asset qualifies nothing
        (ad(("Gratisversand*", "Wanderschuhe", "Alpine Outfitters"), ("Beratung.", "* ab 50 € Bestellwert")), "fail"),
        (
            ad(("Ratenkauf möglich", "Wanderschuhe", "Alpine Outfitters"), ("Beratung.", "Bonität vorausgesetzt.")),
            "fail",
        ),
        # evidence: the citation and the product must be in the claim's own sentence
        (text("Wanderschuhe Testsieger laut Bergwelt 3/2026. Bester Kundenservice Deutschlands."), "fail"),
        # conditions that say nothing, negated substantiation
        (text("Gratisversand ab 0 € Bestellwert"), "fail"),
        (text("Gratisversand nur für alle"), "fail"),
        (text("eco-friendly, never certified"), "fail"),
        # a meta description is shown as written
        (Content("cms", fields=(("meta_description", "Wanderschuhe <!-- Die besten Wanderschuhe -->"),)), "fail"),
        # WordPress inserts these when it renders
        (page('<p>Wanderschuhe <!-- wp:block {"ref":77} /--></p>'), "fail"),
        (page("<p>[embed]https://evil.example/video[/embed]</p>"), "fail"),
        # rare Latin letters
        (text("Die \u0243este Jacke"), "fail"),
        (text("Die b\u01ddste Jacke"), "fail"),
        # wording
        (text("Weltmarktführer für Wanderschuhe"), "fail"),
        (text("Testgewinner Wanderschuh"), "fail"),
        (text("Der niedrigste Preis im Netz"), "fail"),
        (text("Versandfrei für alle"), "fail"),
        (text("30 % Preisnachlass"), "fail"),
        (text("-30 % auf UVP"), "fail"),
        (text("Kauf auf Raten mit 0%-Zinsen"), "fail"),
        (text("Klimapositiv produziert"), "fail"),
    ],
)
def test_second_attack_violations_are_caught(content, expected):
    assert verdict(content) == expected, ENGINE.check(content).findings


@pytest.mark.parametrize(
    "content",
    [
        text("No one likes wet feet."),
        text("The trail leading to the hut is steep."),
        text("Tipp Nr. 1: Schuhe gut einlaufen"),
        text("Merino 80 % auf der Haut, 20 % Polyamid außen"),
        text("Versandkostenfrei ab einem Warenwert von 50 Euro"),
        text("Kostenloser Versand für Bestellungen über 50 €"),
        text("Latex free gloves"),
        text("Die beste Zeit für eine Hüttentour ist der September."),
        text("Wir berechnen den ökologischen Fußabdruck jeder Jacke"),
        page(
            '<script type="application/ld+json" class="yoast-schema-graph">{"@type":"Product","name":"Jacke"}</script>'
            "<p>Jacke</p>"
        ),
        text("-30 % gegenüber dem niedrigsten Preis der letzten 30 Tage"),
    ],
    ids=lambda c: (c.texts or (c.fields[0][1],))[0][:40],
)
def test_second_attack_false_alarms_are_gone(content):
    assert verdict(content) == "pass", ENGINE.check(content).findings


def test_beyond_the_cap_the_verdict_still_counts_every_finding():
    result = ENGINE.check(text(" ".join(["Gratis Mütze."] * 30)))
    free = [f for f in result.findings if f["rule"] == "free"]
    assert len(free) == 21 and free[-1]["message"].startswith("and 10 more findings")
