"""Personal data detectors: e-mail addresses, phone numbers, IBANs.

One set of detectors serves two purposes: the compliance rules (personal data has no place
in ad copy) and :func:`redact` (logs and memory never store it).

Detection runs on the text as a reader sees it (:func:`adpilot.normalise.fold`: full-width
"＠" and digits, zero-width characters, Cyrillic look-alikes), with every decimal digit of any
script read as its ASCII digit; each match is reported with its span in the original text.

What counts:

* e-mail: ``name@domain.tld``, ``name @ domain.tld`` and the bracketed obfuscations
  ``name (at) domain (dot) tld`` / ``[at]`` / ``{at}`` (also ``(punkt)``); a plain
  ``name at domain dot de`` is ordinary language far too often and is not matched;
* phone: international (``+49 …``, ``0049 …``, with an optional ``(0)``), national numbers
  that start with a trunk "0" and an area code of at least two digits (``0176 1234 5678``,
  ``089.123.456.78``, ``(089) 1234567``), North American ``(415) 555-0134``, and digits
  spaced one by one; groups are joined by a space, "-", "/" or "." and a match needs at
  least seven digits. Prices, dates, years, postcodes, ranges and article numbers do not
  start like a phone number and stay unmatched;
* IBAN: two letters, two check digits and the account, grouped in any way by spaces, dots or
  hyphens (or not at all), any case, with valid ISO 13616 check digits and, for a country of
  the IBAN registry, its exact length.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from adpilot.normalise import fold

# --- e-mail ------------------------------------------------------------------------------------

_OPEN, _CLOSE = r"[(\[{]", r"[)\]}]"
# "@" written together or with a space on both sides ("name @ domain.de"); a space on one side
# only is a handle ("Folge uns @alpine.outfitters"), not an address.
_AT = rf"(?:@| @ |[ ]*{_OPEN}[ ]*at[ ]*{_CLOSE}[ ]*)"
_DOT = rf"(?:\.|[ ]*{_OPEN}[ ]*(?:dot|punkt)[ ]*{_CLOSE}[ ]*)"
_EMAIL = re.compile(
    rf"(?<![\w.+%-])[\w+%-][\w.+%-]*{_AT}[\w-]+(?:{_DOT}[\w-]+)*{_DOT}[^\W\d_]{{2,}}(?![\w+%-])",
    re.IGNORECASE,
)

# --- phone -------------------------------------------------------------------------------------

# Between two groups of digits: one space, or "-", "/", "." (or a non-breaking hyphen, which
# NFKC turns into U+2010) with at most one space on either side. Not "–": that is a range.
_JOIN = r"(?:[ ]?[-/.\u2010][ ]?|[ ])"
# A further group: joined digits, or a bracketed part such as "(0)" or "(89)" and the digits after it.
_GROUP = rf"(?:{_JOIN}[0-9]+|{_JOIN}?\([0-9]{{1,5}}\)[ ]?[0-9]+)"
_PHONE = re.compile(
    # Not inside a word, a URL path or query, an identifier ("a71b-0176…"), or the tail of a
    # number ("20.000", "149,95", "10/2026").
    r"(?<![\w+/=#@%&?])(?<!\w[\-\u2010])(?<![0-9][.,:])"
    r"(?:"
    rf"(?:\+[ ]?|00)[1-9][0-9]*{_GROUP}*"  # international: +49 …, 0049 …, +49 (0) 89 …
    rf"|0[1-9][0-9]+{_GROUP}*"  # national: trunk 0 and an area code ("02.12.2026" has none)
    rf"|\(0[1-9][0-9]{{1,4}}\)[ ]?[0-9]+{_GROUP}*"  # national, area code in brackets
    r"|\([2-9][0-9]{2}\)[ ]?[2-9][0-9]{2}[-. ][0-9]{4}"  # North American (415) 555-0134
    r"|[2-9][0-9]{2}([-.])[2-9][0-9]{2}\1[0-9]{4}"  # North American 415-555-0134
    r"|(?:\+[ ]?[1-9]|0)(?:[ ][0-9]){6,}"  # spaced out: 0 1 7 6 1 2 3 4 5 6 7 8
    r")"
    # Not followed by what would make it the head of a longer number, or by what would be the
    # start of another one that only the last digit here keeps from matching on its own.
    r"(?![\w@+]|\([0-9])(?![.,:/\-\u2010][0-9+(])"
)
# "+1.000.000 Kunden": a signed number with thousands separators, not a phone number.
_THOUSANDS = re.compile(r"\+ ?[1-9][0-9]{0,2}(?:([.,])[0-9]{3})(?:\1[0-9]{3})*")
_MIN_PHONE_DIGITS = 7

# --- IBAN --------------------------------------------------------------------------------------

# Lengths of the IBAN registry (SWIFT, ISO 13616). A country code not listed here (a territory,
# a country that joins later) is accepted in capitals with any length from 15 to 34.
_IBAN_LENGTH = {
    **dict.fromkeys(["NO"], 15),
    **dict.fromkeys(["BE"], 16),
    **dict.fromkeys(["DK", "FI", "FK", "FO", "GL", "NL", "SD"], 18),
    **dict.fromkeys(["MK", "SI"], 19),
    **dict.fromkeys(["AT", "BA", "EE", "KZ", "LT", "LU", "MN", "XK"], 20),
    **dict.fromkeys(["CH", "HR", "LI", "LV"], 21),
    **dict.fromkeys(["BG", "BH", "CR", "DE", "GB", "GE", "IE", "ME", "RS", "VA"], 22),
    **dict.fromkeys(["AE", "GI", "IL", "IQ", "OM", "SO", "TL"], 23),
    **dict.fromkeys(["AD", "CZ", "ES", "MD", "PK", "RO", "SA", "SE", "SK", "TN", "VG"], 24),
    **dict.fromkeys(["LY", "PT", "ST"], 25),
    **dict.fromkeys(["IS", "TR"], 26),
    **dict.fromkeys(["BI", "DJ", "FR", "GR", "IT", "MC", "MR", "SM"], 27),
    **dict.fromkeys(["AL", "AZ", "BY", "CY", "DO", "GT", "HN", "HU", "LB", "NI", "PL", "SV"], 28),
    **dict.fromkeys(["BR", "EG", "PS", "QA", "UA"], 29),
    **dict.fromkeys(["JO", "KW", "MU", "YE"], 30),
    **dict.fromkeys(["MT", "SC"], 31),
    **dict.fromkeys(["LC"], 32),
    **dict.fromkeys(["RU"], 33),
}
_IBAN_SEPARATORS = " .-\u2010"
# Country, check digits, then the account: letters and digits, one separator at most between two.
_IBAN = re.compile(r"(?<![^\W_])[A-Za-z]{2}[0-9]{2}(?:[ .\-\u2010]?[A-Za-z0-9]){11,30}")
# Shaped like an IBAN, valid or not ("Bestellnummer DE12 3456 0044 …"): no phone number inside.
_IBAN_SHAPE = re.compile(r"(?<![^\W_])[A-Z]{2}[0-9]{2}(?:[ .\-\u2010]?[A-Z0-9]{4}){3,7}(?:[ .\-\u2010]?[A-Z0-9]{1,3})?")
_IBAN_STRIP = str.maketrans("", "", _IBAN_SEPARATORS)


def iban_is_valid(candidate: str) -> bool:
    """ISO 13616 check digits (mod 97 == 1); spaces, dots and hyphens between groups are ignored."""
    compact = candidate.translate(_IBAN_STRIP).upper()
    if not 15 <= len(compact) <= 34 or not compact.isascii() or not compact.isalnum():
        return False
    if not (compact[:2].isalpha() and compact[2:4].isdigit()):
        return False
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97 == 1


# --- matching ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PiiMatch:
    kind: str  # email | phone | iban
    start: int  # span in the text as given (not the folded text)
    end: int
    text: str  # text[start:end]


# Could the text hold anything at all? Phone numbers and IBANs need a digit, an e-mail an "@"
# or a bracketed "at". Most log lines have digits; this spares the three scans for the rest.
_ANY = re.compile(rf"[0-9@]|{_OPEN}[ ]*at[ ]*{_CLOSE}", re.IGNORECASE)


def _ascii_digits(text: str) -> str:
    """Every decimal digit (Arabic-Indic, Devanagari, …) as its ASCII digit; one character for one."""
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(ch)) if not ch.isascii() and ch.isdecimal() else ch for ch in text)


def _ibans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of valid IBANs in the detection text."""
    position = 0
    while (candidate := _IBAN.search(text, position)) is not None:
        found = _longest_iban(text, candidate.start(), candidate.end())
        if found is None:
            position = candidate.start() + 1
            continue
        yield candidate.start(), found
        position = found


def _longest_iban(text: str, start: int, end: int) -> int | None:
    """The end of the valid IBAN that starts at ``start`` within ``text[start:end]``, if any.

    The candidate may run on into the next words; an IBAN ends where a group ends (the next
    character is no letter or digit) and, for a registry country, at the country's length."""
    country = text[start : start + 2].upper()
    ends: list[int] = []  # for each compact length, the text position after that character
    for index in range(start, end):
        if text[index] not in _IBAN_SEPARATORS:
            ends.append(index + 1)
    known = _IBAN_LENGTH.get(country)
    if known is not None:
        lengths = [known] if known <= len(ends) else []
    elif text[start : start + 2].isupper():
        lengths = list(range(min(len(ends), 34), 14, -1))
    else:
        lengths = []
    for length in lengths:
        stop = ends[length - 1]
        if stop < len(text) and text[stop].isalnum():
            continue  # in the middle of a group
        if iban_is_valid(text[start:stop]):
            return stop
    return None


def _phones(text: str) -> Iterator[tuple[int, int]]:
    for match in _PHONE.finditer(text):
        found = match.group()
        if sum(ch.isdigit() for ch in found) < _MIN_PHONE_DIGITS:
            continue
        if _THOUSANDS.fullmatch(found):
            continue
        yield match.start(), match.end()


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each span blanked out as redaction would label it: "[" letters "]", same length.

    Phone numbers are looked for in the text with e-mail addresses and IBANs masked, so a match
    there sees the same neighbours as it would in the redacted text."""
    out, position = [], 0
    for start, end in sorted(spans):
        if end <= position:
            continue
        start = max(start, position)
        out.append(text[position:start])
        out.append("[" + "x" * (end - start - 2) + "]" if end - start >= 2 else "x" * (end - start))
        position = end
    out.append(text[position:])
    return "".join(out)


def _same_span(start: int, end: int) -> tuple[int, int]:
    return start, end


def find_pii(text: str) -> Iterator[PiiMatch]:
    """Every e-mail address, phone number and IBAN in ``text``, in order of position; spans and
    quotes refer to ``text`` itself. A phone-like run of digits inside an e-mail address or an
    IBAN (or a code shaped like one) is part of that, not a phone number."""
    if text.isascii():
        detect = text
        locate: Callable[[int, int], tuple[int, int]] = _same_span
    else:
        folded = fold(text)
        detect = _ascii_digits(folded.text)
        locate = folded.span
    if not _ANY.search(detect):
        return
    found: list[tuple[int, int, str]] = []
    emails = [match.span() for match in _EMAIL.finditer(detect)]
    ibans = list(_ibans(detect))
    found += [(start, end, "email") for start, end in emails]
    found += [(start, end, "iban") for start, end in ibans]
    rest = _masked(detect, emails + ibans) if emails or ibans else detect
    rest = _masked(rest, [match.span() for match in _IBAN_SHAPE.finditer(rest)])
    found += [(start, end, "phone") for start, end in _phones(rest)]
    for start, end, kind in sorted(found):
        first, last = locate(start, end)
        yield PiiMatch(kind, first, last, text[first:last])


_LABELS = {"email": "[E-MAIL]", "phone": "[PHONE]", "iban": "[IBAN]"}


def redact(text: str) -> str:
    """The text with every e-mail address, phone number and IBAN replaced by a label.

    Overlapping matches become one label (the kind of the one that starts first), so no digit
    of any match is left behind."""
    matches = sorted(find_pii(text), key=lambda m: (m.start, -m.end))
    if not matches:
        return text
    out, position = [], 0
    for match in matches:
        if match.end <= position:
            continue  # inside the span already replaced
        if match.start < position:  # reaches beyond it: the label covers the rest too
            position = match.end
            continue
        out.append(text[position : match.start])
        out.append(_LABELS[match.kind])
        position = match.end
    out.append(text[position:])
    return "".join(out)
