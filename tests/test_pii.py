"""Personal data detectors: what they find however it is typed, what they leave alone, and redaction."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.pii import PiiMatch, find_pii, iban_is_valid, redact

# --- examples ----------------------------------------------------------------------------------

EMAILS = [
    "info@alpine-outfitters.de",
    "info＠alpine-outfitters.de",  # full-width at sign
    "in\u200bfo@alpine.de",  # zero-width space
    "inf\u043e@alpine.de",  # Cyrillic "о" in the local part
    "info@аlpine.de",  # Cyrillic "а" in the domain
    "ｉｎｆｏ＠ａｌｐｉｎｅ．ｄｅ",  # all full-width
    "max.mustermann+shop@example.org",
    "name (at) domain (dot) de",
    "name(at)domain(dot)de",
    "name [at] domain.de",
    "name [at] domain [dot] co [dot] uk",
    "name {at} domain.de",
    "name (AT) domain (punkt) de",
    "name (ät) domain.de",
    "name @ domain.de",
    # obfuscations: the "@" or the dots bracketed, dashed, spelled out or spaced
    "max.mustermann[@]gmail.com",
    "max.mustermann@gmail[.]com",
    "max.mustermann(at)gmail(.)com",
    "max.mustermann <at> gmail.com",
    "max.mustermann -at- gmail.com",
    "max.mustermann {at} gmail {dot} com",
    "max.mustermann@gmail . com",
    "max.mustermann@gmail dot com",
    "max.mustermann@gmail\u3002com",  # ideographic full stop
    "max.mustermann@gmail\uff0ecom",  # full-width full stop
    "max.mustermann@gmail\uff61com",  # half-width ideographic full stop
    "max.mustermann AT gmail DOT com",
    "name AT domain DOT de",
    # the plain word "at": when the rest looks like an address
    "max.mustermann at gmail dot com",
    "max.mustermann at gmail.com",
    "max_mustermann at alpine.de",
    "anna85 at alpine.de",
    "max at gmail.com",  # a mail provider
    "name at domain (dot) de",  # a marked dot
]

PHONES = [
    "0176 1234 5678",
    "0176-123 45 678",
    "+49 176 1234 5678",
    "+49 (0) 89 / 123 456 78",
    "+49 (0)89 123 456 78",
    "0049 89 12345678",
    "089.123.456.78",
    "+43 1 234 56 78",
    "(415) 555-0134",
    "415-555-0134",
    "+1 (415) 555-0134",
    "0 1 7 6 1 2 3 4 5 6 7 8",
    "０１７６ １２３４５６７８",  # full-width digits and space
    "٠١٧٦ ١٢٣٤٥٦٧٨",  # Arabic-Indic digits
    "0176\u00a01234\u00a05678",  # non-breaking spaces
    "0176\u20111234567",  # non-breaking hyphen
    "089 1234567",
    "089/1234567",
    "089 / 123 456 78",
    "(089) 123 456 78",
    "030 12345-0",
    "017612345678",
    "+4917612345678",
    "+49 30 1234567",
    "0171 2345678",
    "0800 123 456",
    "0176\u20131234\u20135678",  # en dashes: three groups, so no range
    "0176  1234  5678",
    "0176\u00b71234\u00b75678",  # middle dots
    "0176\u30021234\u30025678",  # ideographic full stops
    "0176\n1234\n5678",  # split across lines
    "O176 1234 5678",  # capital letter O for the zero
    "null eins sieben sechs eins zwei drei vier fünf sechs sieben acht",
    "Null Eins Sieben Sechs 1234 5678",
    "null 176 1234 5678",
    "zero one seven six one two three four five six seven eight",
    "plus vier neun eins sieben sechs eins zwei drei vier",
]

IBANS = [
    "DE89 3704 0044 0532 0130 00",
    "DE89370400440532013000",
    "DE89.3704.0044.0532.0130.00",
    "DE89-3704-0044-0532-0130-00",
    "de89 3704 0044 0532 0130 00",
    "AT61 1904 3002 3457 3201",
    "CH93 0076 2011 6238 5295 7",
    "GB82 WEST 1234 5698 7654 32",
    "BE68 5390 0754 7034",
    "NO93 8601 1117 947",
    "D\u0415\uff18\uff19 3704 0044 0532 0130 00",  # Cyrillic "Е", full-width "89"
    "DE89/3704/0044/0532/0130/00",
    "DE89  3704  0044  0532  0130  00",
    "DE89 3704 0044\n0532 0130 00",  # split across lines
]

# Numbers in ordinary copy that are not phone numbers (nor anything else personal).
NOT_PII = [
    "ab 50 €",
    "149,95 €",
    "1.299,00 €",
    "20.000 mm Wassersäule",
    "10/2026",
    "3/2026",
    "02.12.2026",
    "01.01.2026 – 31.12.2026",
    "2026",
    "2026-12-02",
    "1–2 Werktagen",
    "30 Tage",
    "20 %",
    "-30 %",
    "+15 %",
    "2,5 %",
    "Art.-Nr. 48213",
    "EU 42 – 46",
    "GTX 3000",
    "80331 München",
    "01067 Dresden",
    "9–18 Uhr",
    "09:00–18:00 Uhr",
    "ISO 14001",
    "Über +1.000.000 Kunden",
    "0,99 €",
    "Bestellnummer DE12 3456 7890 1234 5678 99",  # check digits wrong: no IBAN
    "Bestellnummer DE12 3456 0044 1234 5678 99",  # … and no phone number inside it either
    "Folge uns @alpine.outfitters",  # a handle, not an address
    "Wir sind at home in den Alpen.",
    "name at domain dot de",  # plain "at" is ordinary language: deliberately not matched
    "Kostenloser Versand ab 50 € – Lieferung in 1–2 Werktagen, 30 Tage Rückgabe.",
    # the number after the label of an article, order or customer number or a product code
    "Art.-Nr. 0123 4567 89",
    "Artikelnummer 0123 4567 89",
    "Best.-Nr. 0123-4567-89",
    "Bestellnummer: 0123 4567 89",
    "Kundennummer 0123 4567 89",
    "SKU 0123456789",
    "EAN 4 006381 333931",
    "EAN-13: 0 012345 678905",
    "GTIN 00012345678905",
    # the word "at" in prose, also before a domain
    "meet us at the store",
    "look at alpine.de",
    "Shop now at alpine.com",
    "SHOP NOW AT ALPINE.COM",
    "Save 20% at alpine.com",
    "Available from 9.99 at alpine.de",
    "Sign up at gmx.de",
    "Get the S24 at samsung.com",
    # dashes and dots between numbers, counting
    "0900–1800 Uhr",
    "PLZ 01067–01069",
    "Größen 36·38·40·42",
    "eins, zwei, drei – los!",
    "one, two, three, four, five, six, seven",
]


def _only(text: str) -> PiiMatch:
    matches = list(find_pii(text))
    assert len(matches) == 1, matches
    return matches[0]


@pytest.mark.parametrize("email", EMAILS)
def test_finds_an_email_address_however_it_is_typed(email):
    text = f"Fragen an {email} – wir antworten."
    match = _only(text)
    assert match.kind == "email"
    assert match.text == email == text[match.start : match.end]


@pytest.mark.parametrize("phone", PHONES)
def test_finds_a_phone_number_however_it_is_written(phone):
    text = f"Ruf an: {phone}, Mo–Fr 9–18 Uhr."
    match = _only(text)
    assert match.kind == "phone"
    assert match.text == phone == text[match.start : match.end]


@pytest.mark.parametrize("iban", IBANS)
def test_finds_an_iban_however_it_is_grouped(iban):
    text = f"Überweisung an {iban}. Danke"
    match = _only(text)
    assert match.kind == "iban"
    assert match.text == iban == text[match.start : match.end]


@pytest.mark.parametrize("text", NOT_PII)
def test_ordinary_numbers_and_words_are_not_personal_data(text):
    assert list(find_pii(text)) == []
    assert redact(text) == text


def test_all_ordinary_numbers_together_are_no_phone_number():
    for joiner in (" ", ", ", " · ", "\n"):
        assert list(find_pii(joiner.join(NOT_PII))) == []


def test_spans_refer_to_the_original_text():
    text = (
        "Schreib an in\u200bfo＠alpine.de oder ruf ０１７６ １２３４５６７８ an: "
        "D\u0415\uff18\uff19 3704 0044 0532 0130 00"
    )
    matches = list(find_pii(text))
    assert [m.kind for m in matches] == ["email", "phone", "iban"]
    for match in matches:
        assert text[match.start : match.end] == match.text
    assert [m.text for m in matches] == [
        "in\u200bfo＠alpine.de",
        "０１７６ １２３４５６７８",
        "D\u0415\uff18\uff19 3704 0044 0532 0130 00",
    ]


def test_an_iban_ends_where_its_country_length_ends():
    text = "BE68 5390 0754 7034 Bank, DE89 3704 0044 0532 0130 00 AT61 1904 3002 3457 3201"
    assert [(m.kind, m.text) for m in find_pii(text)] == [
        ("iban", "BE68 5390 0754 7034"),
        ("iban", "DE89 3704 0044 0532 0130 00"),
        ("iban", "AT61 1904 3002 3457 3201"),
    ]


def test_digits_inside_an_iban_or_email_are_not_a_phone_number():
    assert [m.kind for m in find_pii("DE89 3704 0044 0532 0130 00")] == ["iban"]
    assert [m.kind for m in find_pii("01761234567@example.org")] == ["email"]


def test_mailto_and_tel_values_are_found_without_the_scheme():
    text = (
        '<a href="mailto:max.mustermann@gmail.com">Mail</a> <a href="tel:+4917612345678">Anruf</a> tel:0176-1234-5678'
    )
    assert [(m.kind, m.text) for m in find_pii(text)] == [
        ("email", "max.mustermann@gmail.com"),
        ("phone", "+4917612345678"),
        ("phone", "0176-1234-5678"),
    ]
    assert redact("mailto:max.mustermann@gmail.com, tel:+4917612345678") == "mailto:[E-MAIL], tel:[PHONE]"


def test_a_label_excuses_only_its_own_number():
    text = "Art.-Nr. 0123 4567 89, Beratung 0176 1234 5678, EAN 4 006381 333931"
    assert [(m.kind, m.text) for m in find_pii(text)] == [("phone", "0176 1234 5678")]
    # a number with "+" is never an article number, nor is one longer than a GTIN
    assert [m.text for m in find_pii("SKU +49 176 1234 5678")] == ["+49 176 1234 5678"]
    assert [m.text for m in find_pii("Art.-Nr. 0176 1234 5678 9012")] == ["0176 1234 5678 9012"]


def test_a_range_with_a_dash_is_no_phone_number_but_its_sides_may_be():
    assert list(find_pii("Mo–Fr 0900–1800 Uhr, Sa 0900–1300 Uhr")) == []
    assert [m.text for m in find_pii("01761234567–2")] == ["01761234567"]
    assert [m.text for m in find_pii("Filiale 2–05320130")] == ["05320130"]


def test_spelled_out_digits_need_seven_and_a_number_shape():
    assert [
        m.text for m in find_pii("Ruf an: null eins sieben sechs, eins zwei drei vier fünf sechs sieben acht.")
    ] == ["null eins sieben sechs, eins zwei drei vier fünf sechs sieben acht"]
    assert [m.text for m in find_pii("Tel. zero one seven six one two three four five six seven eight")] == [
        "zero one seven six one two three four five six seven eight"
    ]
    for text in (
        "eins zwei drei vier fünf sechs",  # six
        "eins zwei drei 1234",  # no leading zero and too few tokens
        "zwei 2026 2027 2028",
        "sieben acht neun zehn",
        "oh oh oh oh oh oh oh",
        "neun acht sieben sechs fünf vier drei zwei eins null",  # a countdown
    ):
        assert list(find_pii(text)) == [], text


def test_the_letter_o_counts_as_zero_only_at_the_head_of_a_number():
    assert [m.text for m in find_pii("Ruf O89 1234567 an")] == ["O89 1234567"]
    assert list(find_pii("O2 Tarif, Modell O3 und Tour 2026")) == []


def test_the_word_at_before_a_domain_needs_an_address_shape():
    assert [m.text for m in find_pii("Infos: max.mustermann at alpine.de oder look at alpine.de")] == [
        "max.mustermann at alpine.de"
    ]
    assert list(find_pii("name at domain dot de")) == []  # see NOT_PII
    assert [m.text for m in find_pii("name AT domain DOT de")] == ["name AT domain DOT de"]


def test_iban_checksum_ignores_separators():
    assert iban_is_valid("DE89 3704 0044 0532 0130 00")
    assert iban_is_valid("DE89.3704.0044.0532.0130.00")
    assert iban_is_valid("de89-3704-0044-0532-0130-00")
    assert not iban_is_valid("DE12 3456 7890 1234 5678 99")
    assert not iban_is_valid("DE89 3704 0044 0532 0130 0€")
    assert not iban_is_valid("")


def test_redact_replaces_every_match_in_the_original_text():
    text = "Mail in\u200bfo＠alpine.de, Tel. +49 (0) 89 / 123 456 78, IBAN de89.3704.0044.0532.0130.00, Preis 89 €."
    assert redact(text) == "Mail [E-MAIL], Tel. [PHONE], IBAN [IBAN], Preis 89 €."


def test_redact_leaves_text_without_personal_data_alone():
    text = "Wasserdichte Wanderschuhe ab 89,95 € – Versand in 1–2 Werktagen."
    assert redact(text) is text


# --- properties --------------------------------------------------------------------------------

ALPHANUMERIC = string.ascii_uppercase + string.digits
COUNTRIES = {"DE": 22, "AT": 20, "CH": 21, "GB": 22, "NL": 18, "FR": 27, "BE": 16, "NO": 15, "MT": 31, "IT": 27}


@st.composite
def valid_ibans(draw) -> str:
    """A compact IBAN with correct check digits (a random account, letters allowed)."""
    country = draw(st.sampled_from(sorted(COUNTRIES)))
    account = draw(st.text(alphabet=ALPHANUMERIC, min_size=COUNTRIES[country] - 4, max_size=COUNTRIES[country] - 4))
    digits = "".join(str(int(ch, 36)) for ch in account + country + "00")
    check = 98 - int(digits) % 97
    return f"{country}{check:02d}{account}"


def grouped(iban: str, separators: list[str]) -> str:
    groups = [iban[i : i + 4] for i in range(0, len(iban), 4)]
    out = groups[0]
    for separator, group in zip(separators, groups[1:], strict=False):
        out += separator + group
    return out


@st.composite
def written_ibans(draw) -> str:
    iban = draw(valid_ibans())
    separators = draw(st.lists(st.sampled_from([" ", ".", "-", ""]), min_size=8, max_size=8))
    written = grouped(iban, separators)
    return written.lower() if draw(st.booleans()) else written


@st.composite
def phones(draw) -> str:
    joins = st.sampled_from([" ", "-", "/", ".", " / ", " - "])
    groups = draw(st.lists(st.from_regex(r"[0-9]{2,4}", fullmatch=True), min_size=2, max_size=3))
    subscriber = groups[0]
    for group in groups[1:]:
        subscriber += draw(joins) + group
    area = draw(st.from_regex(r"[1-9][0-9]{1,3}", fullmatch=True))
    form = draw(st.sampled_from(["national", "+49", "0049", "+49 (0)", "+43", "spaced", "us"]))
    if form == "national":
        return f"0{area}{draw(joins)}{subscriber}"
    if form == "+49 (0)":
        return f"+49 (0) {area}{draw(joins)}{subscriber}"
    if form == "spaced":
        return " ".join("0" + area + subscriber.replace(" ", "").replace("-", "").replace("/", "").replace(".", ""))
    if form == "us":
        return draw(st.from_regex(r"\([2-9][0-9]{2}\) [2-9][0-9]{2}-[0-9]{4}", fullmatch=True))
    return f"{form} {area}{draw(joins)}{subscriber}"


@st.composite
def emails(draw) -> str:
    local = draw(st.from_regex(r"[a-z][a-z0-9]{0,8}(?:\.[a-z0-9]{1,8})?", fullmatch=True))
    domain = draw(st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True))
    tld = draw(st.sampled_from(["de", "at", "ch", "com", "org"]))
    at = draw(st.sampled_from(["@", "＠", " @ ", " (at) ", " [at] "]))
    dot = draw(st.sampled_from([".", " (dot) ", " [dot] "]))
    return f"{local}{at}{domain}{dot}{tld}"


OBFUSCATED_AT = ["[@]", "(at)", " (at) ", " [at] ", "{at}", " <at> ", " -at- ", " AT ", " at ", " @ ", "＠"]
OBFUSCATED_DOT = [".", "[.]", "(.)", " (dot) ", " {dot} ", " -dot- ", " dot ", " DOT ", " . ", "\u3002", "．", "｡"]


@st.composite
def obfuscated_emails(draw) -> str:
    """An address written to slip past a filter: the "@" and each dot in any of their disguises."""
    local = draw(st.from_regex(r"[a-z]{1,8}[._][a-z0-9]{1,8}", fullmatch=True))
    labels = draw(st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True), min_size=1, max_size=2))
    tld = draw(st.sampled_from(["de", "at", "ch", "com", "org", "net"]))
    domain = ""
    for label in labels:
        domain += label + draw(st.sampled_from(OBFUSCATED_DOT))
    return f"{local}{draw(st.sampled_from(OBFUSCATED_AT))}{domain}{tld}"


WORDS = st.text(alphabet=string.ascii_letters + "äöüÄÖÜß,;!?–", min_size=1, max_size=12)


@given(st.text())
def test_find_pii_never_raises(text):
    for match in find_pii(text):
        assert text[match.start : match.end] == match.text
    redact(text)


@given(st.lists(st.one_of(WORDS, valid_ibans(), written_ibans(), emails(), phones()), max_size=12))
def test_redacted_text_holds_no_personal_data(parts):
    text = " ".join(parts)
    cleaned = redact(text)
    assert list(find_pii(cleaned)) == []
    assert not any(ch.isdigit() for ch in cleaned)  # the words have none: every digit belonged to a match
    assert redact(cleaned) == cleaned


@given(written_ibans(), st.sampled_from(["", "IBAN: ", "Konto "]), st.sampled_from(["", ".", " Danke", ", BIC"]))
def test_an_iban_is_found_whole_with_any_separators(iban, before, after):
    text = f"{before}{iban}{after}"
    match = _only(text)
    assert match.kind == "iban"
    assert (match.start, match.end, match.text) == (len(before), len(before) + len(iban), iban)


@given(
    obfuscated_emails(),
    st.sampled_from(["", "Mail: ", "Schreib an ", "(", "mailto:"]),
    st.sampled_from(["", ".", " – danke", ", bitte", ")"]),
)
def test_an_obfuscated_email_address_is_found_whole(email, before, after):
    text = f"{before}{email}{after}"
    match = _only(text)
    assert match.kind == "email"
    assert (match.start, match.end, match.text) == (len(before), len(before) + len(email), email)
    assert redact(text) == f"{before}[E-MAIL]{after}"


@given(st.lists(st.one_of(WORDS, obfuscated_emails(), emails(), phones(), written_ibans()), max_size=10))
def test_redacted_obfuscated_addresses_leave_nothing_behind(parts):
    cleaned = redact(" ".join(parts))
    assert list(find_pii(cleaned)) == []
    assert not any(ch.isdigit() for ch in cleaned)
    assert redact(cleaned) == cleaned


def _price(n: int, cents: int) -> str:
    return f"{n:,}".replace(",", ".") + f",{cents:02d} €"


small = st.integers(min_value=0, max_value=999)
day, month, year = st.integers(1, 31), st.integers(1, 12), st.integers(1990, 2099)
ORDINARY = st.one_of(
    st.builds(lambda n: f"{n} €", small),
    st.builds(lambda n: f"ab {n} €", small),
    st.builds(_price, st.integers(0, 99_999_999), st.integers(0, 99)),
    st.builds(lambda n: f"€ {n}.-", small),
    st.builds(lambda d, m, y: f"{d:02d}.{m:02d}.{y}", day, month, year),
    st.builds(lambda d, m, y: f"{d}.{m}.{y}", day, month, year),
    st.builds(lambda d, m, y: f"{y}-{m:02d}-{d:02d}", day, month, year),
    st.builds(lambda m, y: f"{m:02d}/{y}", month, year),
    st.builds(lambda m, y: f"{m}/{y}", month, year),
    st.builds(str, year),
    st.builds(lambda n: f"{n} %", small),
    st.builds(lambda n: f"{n}%", small),
    st.builds(lambda n: f"-{n} %", small),
    st.builds(lambda n: f"+{n} %", small),
    st.builds(lambda n, d: f"{n},{d} %", small, st.integers(0, 9)),
    st.builds(lambda a, b: f"{a}–{b} Werktagen", st.integers(1, 9), st.integers(1, 30)),
    st.builds(lambda a, b: f"{a}–{b} Uhr", st.integers(0, 12), st.integers(12, 23)),
    st.builds(lambda h, m: f"{h:02d}:{m:02d} Uhr", st.integers(0, 23), st.integers(0, 59)),
)


@given(st.lists(ORDINARY, min_size=1, max_size=10), st.sampled_from([" ", ", ", " – ", " · ", "\n"]))
def test_prices_dates_and_percentages_are_never_a_phone_number(parts, joiner):
    text = joiner.join(parts)
    assert [m for m in find_pii(text) if m.kind == "phone"] == []
