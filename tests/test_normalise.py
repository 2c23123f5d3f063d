"""The one normalisation before every content rule: what a reader sees, mapped back to what was written."""

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.normalise import fold, fold_pattern, skeleton

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u00ad", "\u2060", "\ufeff", "\u034f", "\ufe0f", "\u180e"]
# Cyrillic and Greek letters a reader takes for Latin ones.
LOOKALIKE = {
    "a": "а",
    "e": "е",
    "o": "о",
    "p": "р",
    "c": "с",
    "x": "х",
    "y": "у",
    "i": "і",
    "s": "ѕ",
    "T": "Τ",
    "K": "Κ",
}


@pytest.mark.parametrize(
    ("written", "reads"),
    [
        ("b\u0435ste", "beste"),  # Cyrillic е
        ("\u03a4estsieger", "Testsieger"),  # Greek capital tau
        ("gra\u200btis", "gratis"),
        ("Schn\u00e4pp\u00adchen", "Schnappchen"),  # soft hyphen removed, accents off
        ("he\u0301ilt", "heilt"),  # combining acute
        ("ｇｒａｔｉｓ！", "gratis!"),  # full width
        ("‼", "!!"),
        ("𝐛𝐞𝐬𝐭", "best"),  # mathematical bold
        ("S\u200bU\u200bP\u200bE\u200bR", "SUPER"),
        ("Nr. 1", "Nr. 1"),  # digits are never remapped (UTS #39 would make "1" an "l")
        ("\u03ba\u03bfstenlos", "kostenlos"),  # Greek kappa and omicron
        ("GORE-TEX®", "GORE-TEX®"),
        ("Die \u0299\u1d07\ua731\u1d1b\u1d07 Jacke", "Die BESTE Jacke"),  # small capitals read as capitals
        ("\u0261ratis g\u0251rantiert he\u0269lt \u0253est", "gratis garantiert heilt best"),  # IPA letters
        ("be\x00ste", "beste"),
        ("Nr. \u0661", "Nr. 1"),  # Arabic-Indic digit
        ("Jetzt\u01c3", "Jetzt!"),  # the Latin letter "ǃ" reads as "!"
        ("Straße, Größe", "Straße, Große"),  # ß stays ß
    ],
)
def test_fold_reads_what_a_reader_sees(written, reads):
    assert fold(written).text == reads


@given(st.text())
def test_every_folded_character_comes_from_somewhere(text):
    folded = fold(text)
    assert len(folded.origin) == len(folded.text)
    assert list(folded.origin) == sorted(folded.origin)
    assert all(0 <= i < len(text) for i in folded.origin)


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("\t\n\r")))
def test_printable_ascii_is_left_alone(text):
    folded = fold(text)
    assert folded.text == text and folded.origin == tuple(range(len(text)))


@given(st.text(alphabet="abc\x00\x01\x0b\x0c\x1b\x7f"))
def test_control_characters_are_dropped(text):
    assert fold(text).text == "".join(ch for ch in text if ch in "abc")


@given(st.text())
def test_folding_twice_changes_nothing(text):
    once = fold(text).text
    assert fold(once).text == once


@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12),
    st.lists(st.tuples(st.integers(0, 12), st.sampled_from(INVISIBLE)), max_size=5),
)
def test_invisible_characters_never_change_a_word(word, insertions):
    written = word
    for at, char in sorted(insertions, reverse=True):
        written = written[:at] + char + written[at:]
    folded = fold(written)
    assert folded.text == word
    quoted = folded.quote(0, len(folded.text))  # a finding quotes what was written, invisibles inside included
    assert quoted in written and fold(quoted).text == word


@given(st.text(alphabet="aeopcxyisTK", min_size=1, max_size=12), st.data())
def test_lookalike_letters_read_as_latin(word, data):
    positions = data.draw(st.sets(st.integers(0, len(word) - 1)))
    written = "".join(LOOKALIKE[ch] if i in positions else ch for i, ch in enumerate(word))
    assert fold(written).text == word


@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=10))
def test_full_width_text_reads_as_ascii(text):
    wide = "".join(chr(ord(ch) + 0xFEE0) for ch in text)  # U+FF01..U+FF5E
    assert fold(wide).text == text


def test_a_span_of_the_folded_text_quotes_the_original():
    written = "Die b\u0435\u200bste Jacke"
    folded = fold(written)
    start = folded.text.index("beste")
    assert folded.quote(start, start + 5) == "b\u0435\u200bste"


def test_patterns_fold_like_text_without_touching_regex_syntax():
    assert fold_pattern("Schnäppchen|größte[rnsm]?\\d+") == "Schnappchen|großte[rnsm]?\\d+"
    assert unicodedata.normalize("NFD", "ä") != fold_pattern("ä") == "a"


def test_skeleton_unmasks_lookalike_domains():
    assert skeleton("аlpine-outfitters.de") == skeleton("alpine-outfitters.de")  # Cyrillic а
    assert skeleton("alpine-outfitters.de") != skeleton("alpine-outfitter.de")
