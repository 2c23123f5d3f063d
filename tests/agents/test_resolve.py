"""Names to ids: exact, folded, fuzzy, ambiguous, none — and never a crash."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adpilot.agents.resolve import Entity, catalogue, resolve
from tests.conftest import AT, DE

WORLD = [
    Entity("campaign", DE, "111", "Boots - Search", "111", None, "9001"),
    Entity("campaign", DE, "112", "Jackets - Search", "112", None, "9002"),
    Entity("campaign", AT, "211", "Boots - Search AT", "211", None, "9101"),
    Entity("budget", DE, "9001", "Boots - Search", "111", None, "9001"),
    Entity("ad_group", DE, "2101", "Hiking Boots", "111", "2101"),
    Entity("ad", DE, "2201~31005", "Regenjacken für Damen", None, "2201"),
    Entity("ad", DE, "2201~31006", "Regenjacken im Angebot", None, "2201"),
    Entity("ad", DE, "2301~31007", "Über uns: Größe", None, "2301"),
    Entity("keyword", DE, "2101~41002", "hiking boots", None, "2101"),
]


def test_exact_beats_a_longer_name():
    found = resolve(WORLD, "Boots - Search", ("campaign",)).found
    assert found is not None and found.id == "111"


def test_case_accents_confusables_and_punctuation_do_not_count():
    for typed in ("boots search", "BOOTS – SEARCH", "Bооts - Search", "boots\u200b - search"):  # Cyrillic "о"
        found = resolve(WORLD, typed, ("campaign",)).found
        assert found is not None and found.id == "111", typed
    umlauts = resolve(WORLD, "uber uns: grosse", ("ad",)).found
    assert umlauts is not None and umlauts.id == "2301~31007"


def test_a_typo_is_matched_fuzzily():
    found = resolve(WORLD, "Bots - Serch", ("campaign",)).found
    assert found is not None and found.id == "111"


def test_ambiguous_names_ask_which():
    both = resolve(WORLD, "Regenjacken", ("ad",))
    assert both.found is None and {e.id for e in both.matches} == {"2201~31005", "2201~31006"}


def test_nothing_gives_the_closest_as_suggestions():
    nothing = resolve(WORLD, "Jacken Suche", ("campaign",))
    assert nothing.found is None and not nothing.matches
    assert nothing.suggestions and nothing.suggestions[0].id == "112"


def test_ids_in_platform_notation_and_plain():
    assert resolve(WORLD, "2201~31005", ("ad",)).found == WORLD[5]
    assert resolve(WORLD, "31005", ("ad",)).found == WORLD[5]
    assert resolve(WORLD, "9001", ("budget",)).found == WORLD[3]
    typo = resolve(WORLD, "2201~31009", ("ad",))
    assert typo.found is None and typo.suggestions[0].id.startswith("2201~3100")


@given(st.text(max_size=60), st.lists(st.sampled_from(["campaign", "budget", "ad_group", "ad", "keyword"]), min_size=1))
def test_never_crashes_on_any_text(text, kinds):
    result = resolve(WORLD, text, tuple(kinds))
    assert all(e.kind in kinds for e in (*result.matches, *result.suggestions))


async def test_the_catalogue_is_read_through_the_guard(guard, audit):
    entities = await catalogue(guard, ("campaign", "ad"))
    assert {e.kind for e in entities} == {"campaign", "ad"}
    assert any(e.name == "Boots - Search" and e.account == DE for e in entities)
    reads = {r.tool for r in audit.records() if r.tool in ("list_campaigns", "list_ads")}
    assert reads == {"list_campaigns", "list_ads"}  # audited like every Guard read
