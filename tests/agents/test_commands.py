"""The command grammar: the issue's phrases in German and English, money, and arbitrary text."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.agents.commands import (
    CommandError,
    detect_language,
    parse_command,
    parse_money,
    suggest,
)
from adpilot.errors import MoneyError
from adpilot.money import format_money


@pytest.mark.parametrize(
    ("text", "action", "params", "language"),
    [
        ("Wie läuft die Kampagne Boots - Search?", "performance", {"target": "Boots - Search"}, "de"),
        ("how is Boots - Search doing?", "performance", {"target": "Boots - Search"}, "en"),
        ("pause the worst ad in Boots - Search", "pause_worst_ad", {"target": "Boots - Search"}, "en"),
        ("Pausiere die schlechteste Anzeige in Boots - Search", "pause_worst_ad", {"target": "Boots - Search"}, "de"),
        ("which is the worst ad in Hiking Boots", "worst_ad", {"target": "Hiking Boots"}, "en"),
        ("what changed today and why?", "changes", {}, "en"),
        ("Was hat sich heute geändert und warum?", "changes", {}, "de"),
        ("freigaben", "approvals", {}, "de"),
        ("approvals", "approvals", {}, "en"),
        ("hilfe", "help", {}, "de"),
        ("pause campaign Boots - Search", "pause_campaign", {"target": "Boots - Search"}, "en"),
        ("Kampagne Boots - Search pausieren", "pause_campaign", {"target": "Boots - Search"}, "de"),
        ("aktiviere anzeige 2101~31001", "enable_ad", {"target": "2101~31001"}, "de"),
        ("pause ad Regenjacken", "pause_ad", {"target": "Regenjacken"}, "en"),
        ("show performance 1112223333", "performance", {"target": "1112223333"}, "en"),
    ],
)
def test_the_phrases_of_the_issue(text, action, params, language):
    command = parse_command(text)
    assert command is not None and command.action == action
    assert command.params == params and command.language == language


@pytest.mark.parametrize(
    ("text", "target", "micros", "currency", "language"),
    [
        ("set budget of Boots - Search to 60 EUR", "Boots - Search", 60_000_000, "EUR", "en"),
        ("setze Budget von Boots - Search auf 60 €", "Boots - Search", 60_000_000, "EUR", "de"),
        ("Setze Budget 9001 auf 55 EUR", "9001", 55_000_000, "EUR", "de"),
        ("set budget 9001 to 1.234,56 €", "9001", 1_234_560_000, "EUR", "en"),
    ],
)
def test_budgets_in_money(text, target, micros, currency, language):
    command = parse_command(text)
    assert command is not None and command.action == "set_budget"
    assert command.params == {"target": target, "amount_micros": micros, "currency": currency}
    assert command.language == language


def test_bids_by_keyword_and_ad_group():
    command = parse_command("setze Gebot von hiking boots in Hiking Boots auf 1,30 €")
    assert command is not None and command.action == "set_bid"
    assert command.params == {
        "target": "hiking boots",
        "group": "Hiking Boots",
        "amount_micros": 1_300_000,
        "currency": "EUR",
    }
    plain = parse_command("set bid 2101~41001 to 1.30")
    assert plain is not None and plain.params == {"target": "2101~41001", "amount_micros": 1_300_000, "currency": None}


def test_a_broken_amount_is_an_error_and_free_text_is_no_command():
    with pytest.raises(CommandError, match="not an amount"):
        parse_command("set budget nine to five")
    with pytest.raises(CommandError, match="more than zero"):
        parse_command("set budget 9001 to 0 EUR")
    assert parse_command("Write me a poem about boots") is None
    assert parse_command("   ") is None
    assert parse_command("set bid " + "in " * 2000 + "to 1 EUR") is None  # too long to be a command


@pytest.mark.parametrize(
    ("text", "micros", "currency"),
    [
        ("60 €", 60_000_000, "EUR"),
        ("60,50 EUR", 60_500_000, "EUR"),
        ("1.234,56 €", 1_234_560_000, "EUR"),
        ("€1,234.56", 1_234_560_000, "EUR"),
        ("60.5", 60_500_000, None),
        ("1.234", 1_234_000_000, None),
        ("0,125 eur", 125_000, "EUR"),
        ("12 CHF", 12_000_000, "CHF"),
    ],
)
def test_amounts(text, micros, currency):
    assert parse_money(text) == (micros, currency)


@pytest.mark.parametrize("text", ["", "€", "60 € €", "1.2.3,4,5", "1,234.56.7", "12 dollars", "€ 5 EUR", "-5"])
def test_not_amounts(text):
    with pytest.raises(MoneyError):
        parse_money(text)


@given(st.integers(min_value=0, max_value=9 * 10**14), st.sampled_from(["de", "en"]))
def test_formatted_money_parses_back(cents, language):
    micros = cents * 10_000
    shown = format_money(micros, "EUR", language)
    assert "micros" not in shown and "€" in shown
    assert parse_money(shown) == (micros, "EUR")


@given(st.text(max_size=40))
def test_amount_parsing_never_crashes_otherwise(text):
    try:
        micros, _ = parse_money(text)
    except MoneyError:
        return
    assert isinstance(micros, int)


@given(st.text(max_size=80))
def test_the_grammar_never_crashes(text):
    with contextlib.suppress(CommandError):
        parse_command(text)
    assert suggest(text, detect_language(text))


def test_money_for_people():
    assert format_money(60_000_000, "EUR", "de") == "60,00 €"
    assert format_money(1_234_560_000, "EUR", "de") == "1.234,56 €"
    assert format_money(1_234_560_000, "EUR", "en") == "€1,234.56"
    assert format_money(500_000_000, "JPY", "en") == "500 JPY"


def test_a_suggestion_names_the_closest_commands_in_the_language():
    assert "Did you mean: pause campaign Boots - Search" in suggest("pause campain Boots - Search", "en")
    german = suggest("pausire kampagne Boots - Search", "de")
    assert "Meinten Sie: pausiere kampagne Boots - Search" in german


QUOTES = [("'", "'"), ('"', '"'), ("„", "“"), ("“", "”"), ("«", "»")]


@given(
    quoted=st.text(alphabet=st.characters(blacklist_characters="'\"„“”«»\n"), min_size=1, max_size=60),
    marks=st.sampled_from(QUOTES),
)
def test_the_language_is_the_operators_not_the_quoted_copys(quoted, marks):
    """ "Would the headline 'Garantiert die beste Regenjacke' be okay?" is asked in English: the
    answer must be English whatever the quoted copy's language."""
    opening, closing = marks
    assert detect_language(f"Would the headline {opening}{quoted}{closing} be okay for our ads?", "de") == "en"
    assert detect_language(f"Ist die Überschrift {opening}{quoted}{closing} für unsere Anzeigen in Ordnung?") == "de"


def test_apostrophes_are_not_quotes_and_a_text_that_is_all_quote_is_read_whole():
    assert detect_language("Our trail running ad isn't showing anymore. Let's switch it back on", "de") == "en"
    assert detect_language("'Wie läuft die Kampagne für Wanderschuhe?'") == "de"
    # German quotation marks are a German clue of their own, even round the quote
    assert detect_language("Ok so: „Gratis Versand für alle“?", "en") == "de"


def test_every_help_example_is_a_command_in_its_column_language():
    """The help lists each command in English and German: both columns must be what the grammar
    understands, and the columns stay apart (two spaces at least) however long an example is."""
    from adpilot.agents.commands import HELP

    for line in HELP.splitlines():
        if not line.strip():
            continue
        english, german = line.split("  ", 1)[0].strip(), line.split("  ", 1)[1].strip()
        assert english and german, line
        for text, language in ((english, "en"), (german, "de")):
            command = parse_command(text)
            assert command is not None and command.language == language, text
