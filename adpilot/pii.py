"""Personal data detectors: e-mail addresses, phone numbers, IBANs.

One set of detectors serves two purposes: the compliance rules (personal data has no place
in ad copy) and :func:`redact` (logs and memory never store it).

Detection runs on the text as a reader sees it (:func:`adpilot.normalise.fold`: full-width
"＠" and digits, zero-width characters, Cyrillic look-alikes), with every decimal digit of any
script read as its ASCII digit; each match is reported with its span in the original text.

What counts:

* e-mail: ``name@domain.tld`` (also after ``mailto:``), ``name @ domain.tld``, and the marked
  obfuscations ``name (at) domain (dot) tld`` with any brackets (``[at]``, ``{at}``, ``<at>``,
  ``[@]``, ``(.)``, ``(punkt)``) or dashes (`` -at- ``); a spaced ``domain . tld`` and the word
  ``dot`` / ``DOT`` before a known TLD; the ideographic full stop "。" as a dot. The plain word
  ``at`` / ``AT`` counts only before ``domain.tld`` with a known TLD and when the rest looks
  like an address: a local part such as ``max.mustermann``, ``max_m`` or ``anna85``, a mail
  provider (``max at gmail.com``), or obfuscated dots as well (``(dot)``, or ``DOT`` with
  ``AT``). So ``look at alpine.de`` and ``name at domain dot de`` stay ordinary language;
* phone: international (``+49 …``, ``0049 …``, with an optional ``(0)``), national numbers
  that start with a trunk "0" (or a letter "O" typed for it) and an area code of at least two
  digits (``0176 1234 5678``, ``089.123.456.78``, ``(089) 1234567``), North American
  ``(415) 555-0134``, and digits spaced one by one; groups are joined by up to three spaces,
  one line break, "-", "/", ".", a middle dot, or an en or em dash (then in three groups at
  least, so "0900–1800" stays a range), and a match needs at least seven digits. Digits spelled
  out in German or English (``null eins sieben sechs …``, ``zero one seven …``, also mixed
  with digits) count from seven on, with three words or after a leading zero; counting
  ("one, two, three …") does not. Prices, dates, years, postcodes and ranges do not start like a
  phone number and stay unmatched, and a number right after the label of an article, order or
  customer number or a product code (``Art.-Nr. 0123 4567 89``, ``EAN 4 006381 333931``) is
  that number;
* IBAN: two letters, two check digits and the account, grouped in any way by up to three
  spaces, a line break, dots, slashes or hyphens (or not at all), any case, with valid
  ISO 13616 check digits and, for a country of the IBAN registry, its exact length.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from adpilot.normalise import fold

# --- e-mail ------------------------------------------------------------------------------------

_OPEN, _CLOSE = r"[(\[{<]", r"[)\]}>]"
# "@" written together or with a space on both sides ("name @ domain.de"); a space on one side
# only is a handle ("Folge uns @alpine.outfitters"), not an address. Marked forms: "(at)",
# "[@]", "{at}", "<at>", " -at- ".
_AT = rf"(?:@| @ |[ ]*{_OPEN}[ ]*(?:at|@)[ ]*{_CLOSE}[ ]*|[ ]+-[ ]?at[ ]?-[ ]+)"
# A dot nobody writes by accident: ".", "(dot)", "[.]", "{punkt}", " -dot- ".
_DOT_MARKED = rf"(?:\.|[ ]*{_OPEN}[ ]*(?:dot|punkt|\.)[ ]*{_CLOSE}[ ]*|[ ]+-[ ]?(?:dot|punkt)[ ]?-[ ]+)"
# A dot that ordinary text has too (" . " between words, the word "dot"): only before a known TLD.
_DOT_LOOSE = r"(?: \. |[ ]+(?-i:dot|DOT|punkt|PUNKT)[ ]+)"
_DOT = rf"(?:{_DOT_MARKED}|{_DOT_LOOSE})"
# Top-level domains of the addresses we meet, for the forms that prose has as well.
_KNOWN_TLD = (
    r"(?:com|net|org|info|biz|de|at|ch|li|lu|eu|io|co|me|uk|fr|it|nl|be|es|pt|pl|cz|sk|hu|dk|se|no|fi"
    r"|ie|gr|ro|bg|hr|si|us|ca|au|nz|ru|tv|app|dev|xyz|online|shop|store|email|mail|berlin|hamburg"
    r"|bayern|koeln|wien|tirol|swiss)(?![\w+%-])"
)
_DOMAIN = rf"[\w-]+(?:{_DOT}[\w-]+)*"
_EMAIL = re.compile(
    rf"(?<![\w.+%-])[\w+%-][\w.+%-]*{_AT}{_DOMAIN}"
    rf"(?:{_DOT_MARKED}[^\W\d_]{{2,}}(?![\w+%-])|{_DOT_LOOSE}{_KNOWN_TLD})",
    re.IGNORECASE,
)
# "name at domain.de": the plain word "at" (in lower or upper case) before a domain with a
# known TLD. Prose has that too ("look at alpine.de"), so :func:`_worded_email` asks more.
_AT_WORD = re.compile(r"[ ]+(at|AT)[ ]+")
_LOCAL = re.compile(r"[\w+%-](?:[\w.+%-]*[^\W_])?")
_WORDED_DOMAIN = re.compile(rf"{_DOMAIN}(?=(?:{_DOT_MARKED}|{_DOT_LOOSE}){_KNOWN_TLD})", re.IGNORECASE)
_WORDED_END = re.compile(rf"(?:{_DOT_MARKED}|{_DOT_LOOSE}){_KNOWN_TLD}", re.IGNORECASE)
_ADDRESS_LIKE_LOCAL = re.compile(r"[^\W\d_][._+][^\W_]|[^\W_][._+][^\W\d_]|^[a-z]{2,}[0-9]{2,}$")
_MAIL_PROVIDERS = re.compile(
    r"gmail|googlemail|gmx|web|yahoo|outlook|hotmail|live|icloud|t-online|posteo|mailbox|aol|freenet"
    r"|proton|protonmail|arcor|yandex",
    re.IGNORECASE,
)
# Words that stand before "at <provider>" in prose ("sign up at gmx.de").
_NOT_A_NAME = re.compile(
    r"up|in|us|me|now|here|there|today|online|more|free|them|it|this|that|only|also|log|sign|shop|buy"
    r"|find|visit|contact|yours|ours|mail|email",
    re.IGNORECASE,
)


def _worded_email(local: str, at: str, domain: str, dots: str) -> bool:
    """Is "local at domain.tld" an address rather than prose? Its local part looks like one
    ("max.mustermann", "max_m", "anna85"), the domain is a mail provider ("max at gmail.com"),
    or its dots are obfuscated too: marked ("(dot)") or, with "AT" in capitals, "DOT"."""
    if _ADDRESS_LIKE_LOCAL.search(local):
        return True
    provider = re.split(_DOT, domain, maxsplit=1)[0]
    if _MAIL_PROVIDERS.fullmatch(provider) and not _NOT_A_NAME.fullmatch(local):
        return True
    if re.search(rf"{_OPEN}|[ ]-", dots):
        return True
    return at == "AT" and re.search(r" (?:DOT|PUNKT) ", dots) is not None


def _local_before(text: str, end: int) -> int | None:
    """The start of the local part of an address that ends at ``end``, if one does."""
    start = end
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_.+%-"):
        start -= 1
    return start if _LOCAL.fullmatch(text, start, end) else None


def _emails(text: str) -> list[tuple[int, int]]:
    spans = [match.span() for match in _EMAIL.finditer(text)]
    if " at " not in text and " AT " not in text:
        return spans
    for at in _AT_WORD.finditer(text):
        start = _local_before(text, at.start())
        domain = _WORDED_DOMAIN.match(text, at.end())
        if start is None or domain is None:
            continue
        tld = _WORDED_END.match(text, domain.end())
        if tld is None:
            continue
        end = tld.end()
        if not _worded_email(text[start : at.start()], at[1], domain.group(), text[at.start() : end]):
            continue
        if not any(first < end and start < last for first, last in spans):
            spans.append((start, end))
    return sorted(spans)


# --- phone -------------------------------------------------------------------------------------

# Dashes: "0176–1234–5678" is a phone number, "1–2 Werktage" and "9–18 Uhr" are ranges. A number
# joined by an en or em dash needs a leading 0 or "+" (as every number here) and three groups.
_DASHES = "\u2013\u2014"
_MIDDOTS = "\u00b7\u2022\u2027\u2219\u22c5\u30fb"
# Between two groups of digits: up to three spaces, one line break, or "-", "/", "." (or a
# non-breaking hyphen, which NFKC turns into U+2010) with at most one space on either side, or
# a middle dot or dash with none.
_JOIN = rf"(?:[ ]?[-/.\u2010][ ]?|[{_MIDDOTS}{_DASHES}]|[ ]{{1,3}}|[ ]*\r?\n[ ]*)"
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
    r"|(?:\+[ ]?[1-9]|0)(?:[ ]{1,2}[0-9]){6,}"  # spaced out: 0 1 7 6 1 2 3 4 5 6 7 8
    r")"
    # Not followed by what would make it the head of a longer number, or by what would be the
    # start of another one that only the last digit here keeps from matching on its own.
    r"(?![\w@+]|\([0-9])(?![.,:/\-\u2010][0-9+(])"
)
# "+1.000.000 Kunden": a signed number with thousands separators, not a phone number.
_THOUSANDS = re.compile(r"\+ ?[1-9][0-9]{0,2}(?:([.,])[0-9]{3})(?:\1[0-9]{3})*")
_MIN_PHONE_DIGITS = 7
# "O176 1234 5678": a capital (or small) letter O typed for the leading zero.
_LETTER_O = re.compile(r"(?<![\w.,:/@+\-])[Oo](?=[1-9][0-9])")
# A number right after the label of an article, order or customer number, or of a product code
# ("Art.-Nr. 0123 4567 89", "EAN 4 006381 333931"), is that number, not a phone number; at most
# GTIN's 14 digits, and never one that starts with "+".
_CODE_LABEL = re.compile(
    r"(?<![^\W_])(?:"
    r"(?:art(?:ikel)?|best(?:ell)?|kunden|auftrags|rechnungs|modell|serien|produkt|"
    r"article|item|order|customer|model|part|product)[ ]?\.?[ ]?-?[ ]?(?:nr|nummer|no|number)\.?"
    r"|sku|ean(?:[ -]?(?:8|13))?|gtin(?:[ -]?(?:8|12|13|14))?|upc|isbn(?:[ -]?1[03])?|mpn|pzn"
    r")(?![^\W_])[ ]*[:#]?[ ]*"
    r"(?P<code>[0-9](?:(?:[ ]?[-/.][ ]?|[ ]{1,2})?[0-9])*)(?![\w+])",
    re.IGNORECASE,
)
_MAX_CODE_DIGITS = 14
# Spelled-out digits: "null eins sieben sechs …", "zero one seven …", also mixed with digits.
_DIGIT_WORDS = {
    **dict.fromkeys(["null", "zero", "oh"], 0),
    **dict.fromkeys(["eins", "one"], 1),
    **dict.fromkeys(["zwei", "zwo", "two"], 2),
    **dict.fromkeys(["drei", "three"], 3),
    **dict.fromkeys(["vier", "four"], 4),
    **dict.fromkeys(["funf", "fuenf", "five"], 5),  # "fünf" is folded to "funf"
    **dict.fromkeys(["sechs", "six"], 6),
    **dict.fromkeys(["sieben", "seven"], 7),
    **dict.fromkeys(["acht", "eight"], 8),
    **dict.fromkeys(["neun", "nine"], 9),
}
_DIGIT_TOKEN = rf"(?:{'|'.join(sorted(_DIGIT_WORDS, key=len, reverse=True))}|[0-9]{{1,4}})"
_SPELLED_JOIN = r"(?:[ ]*[,/.\-][ ]*|[ ]{1,3}|[ ]*\r?\n[ ]*)"
_SPELLED = re.compile(
    rf"(?<![\w+])(?:(?:\+|plus)[ ]?)?{_DIGIT_TOKEN}(?:{_SPELLED_JOIN}{_DIGIT_TOKEN})+(?!\w)",
    re.IGNORECASE,
)
_TOKENS = re.compile(rf"{_DIGIT_TOKEN}", re.IGNORECASE)
_MIN_SPELLED_WORDS = 3

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
_IBAN_SEPARATORS = " .-/\u2010\u00b7\r\n"
# Between two characters of the account: up to three spaces, one line break, or one of ". - / ·".
_IBAN_JOIN = r"(?:[ ]{1,3}|[ ]*\r?\n[ ]*|[.\-/\u2010\u00b7])"
# Country, check digits, then the account: letters and digits, one separator at most between two.
_IBAN = re.compile(rf"(?<![^\W_])[A-Za-z]{{2}}[0-9]{{2}}(?:{_IBAN_JOIN}?[A-Za-z0-9]){{11,30}}")
# Shaped like an IBAN, valid or not ("Bestellnummer DE12 3456 0044 …"): no phone number inside.
_IBAN_SHAPE = re.compile(
    rf"(?<![^\W_])[A-Z]{{2}}[0-9]{{2}}(?:{_IBAN_JOIN}?[A-Z0-9]{{4}}){{3,7}}(?:{_IBAN_JOIN}?[A-Z0-9]{{1,3}})?"
)
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


# Could the text hold anything at all? Phone numbers and IBANs need a digit (or a spelled-out
# one), an e-mail an "@" or the word "at". Most log lines have digits; this spares the scans for
# the rest.
_ANY = re.compile(rf"[0-9@]|\b(?:at|{'|'.join(_DIGIT_WORDS)})\b", re.IGNORECASE)
# Full stops that NFKC leaves alone but a reader takes for ".": the ideographic one (and the
# half-width one, which NFKC turns into it).
_STOPS = str.maketrans("\u3002", ".")


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
    position = 0
    while (match := _PHONE.search(text, position)) is not None:
        start, end = match.span()
        position = end
        dashes = [index for index in range(start, end) if text[index] in _DASHES]
        if dashes and len(re.findall(r"[0-9]+", match.group())) < 3:
            # "0900–1800" is a range, not a phone number; either side may be one on its own.
            end = position = dashes[0]
        found = text[start:end]
        if _digit_count(found) < _MIN_PHONE_DIGITS:
            continue
        if _THOUSANDS.fullmatch(found):
            continue
        yield start, end


def _spelled_phones(text: str) -> Iterator[tuple[int, int]]:
    """Runs of at least seven digits, some of them spelled out ("null eins sieben sechs …"):
    seven tokens with three words at least, or any run that starts with "null", "zero", "0" or "+"."""
    for match in _SPELLED.finditer(text):
        tokens = list(_TOKENS.finditer(match.group()))
        words = [token.group() for token in tokens if not token.group().isdigit()]
        if not words or (len(words) == len(tokens) and _counted(words)):
            continue
        if len(words) >= _MIN_SPELLED_WORDS and len(tokens) >= _MIN_PHONE_DIGITS:
            yield match.span()
            continue
        # From the first leading token ("+", "null", "0…") on, if a word follows.
        for index, token in enumerate(tokens):
            first = token.group()
            signed = index == 0 and match.group()[0] in "+pP"
            if not (signed or first[0] == "0" or first.lower() in ("null", "zero")):
                continue
            rest = tokens[index:]
            if any(not t.group().isdigit() for t in rest) and _token_digits(rest) >= _MIN_PHONE_DIGITS:
                yield match.start() + (0 if signed else token.start()), match.end()
            break


def _token_digits(tokens: list[re.Match[str]]) -> int:
    return sum(len(token.group()) if token.group().isdigit() else 1 for token in tokens)


def _counted(words: list[str]) -> bool:
    """Counting or calling, not a number: "one, two, three, …", "neun acht sieben …", "oh oh oh …"."""
    values = [_DIGIT_WORDS[word.lower()] for word in words]
    steps = {later - earlier for earlier, later in itertools.pairwise(values)}
    return len(steps) == 1 and steps <= {-1, 0, 1}


def _digit_count(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


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


def _all_phones(text: str) -> list[tuple[int, int]]:
    """Phone numbers written in digits and spelled out, merged where they overlap."""
    numbers = _LETTER_O.sub("0", text)
    phones = list(_phones(numbers))
    if phones:  # the numbers of "Art.-Nr. 0123 4567 89" or "EAN 4 006381 333931" are none
        codes = [m.span("code") for m in _CODE_LABEL.finditer(numbers) if _digit_count(m["code"]) <= _MAX_CODE_DIGITS]
        phones = list(_phones(_masked(numbers, codes))) if codes else phones
    lowered = text.lower()
    if any(word in lowered for word in _DIGIT_WORDS):
        phones += _spelled_phones(text)
    return _merged(phones)


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
        detect = _ascii_digits(folded.text).translate(_STOPS)
        locate = folded.span
    if not _ANY.search(detect):
        return
    found: list[tuple[int, int, str]] = []
    emails = _emails(detect)
    ibans = list(_ibans(detect))
    found += [(start, end, "email") for start, end in emails]
    found += [(start, end, "iban") for start, end in ibans]
    rest = _masked(detect, emails + ibans) if emails or ibans else detect
    rest = _masked(rest, [match.span() for match in _IBAN_SHAPE.finditer(rest)])
    phones = _all_phones(rest)
    more = phones
    while more:  # what redacting these leaves next to a label is found now, not in the redacted text
        more = _all_phones(_masked(rest, phones))
        phones = _merged(phones + more)
    found += [(start, end, "phone") for start, end in phones]
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


# --- pseudonymisation --------------------------------------------------------------------------
#
# The audit log keeps a keyed token where a text held personal data: "[email:<subject>-<variant>]".
# ``subject`` is an HMAC of the normalised value (lower-cased address, digits of a phone number,
# compact IBAN), so one person gets one subject whatever the spelling and rows about them
# correlate; ``variant`` is an HMAC of the exact text, so each spelling has its own token and the
# exact text can be restored from a vault. Tokens are written in 16 consonants, with no digit and no
# vowel: no detector ever matches one (a phone number and an IBAN need digits, an address an "@"
# or the word "at", a spelled-out number a digit word), so pseudonymising is idempotent.

_TOKEN_LETTERS = "bcdfghjklmnpqrst"
_SUBJECT_CHARS = 16  # 64 bits
_VARIANT_CHARS = 12  # 48 bits: distinguishes the spellings of one subject
TOKEN = re.compile(
    rf"\[(email|phone|iban):([{_TOKEN_LETTERS}]{{{_SUBJECT_CHARS}}})-([{_TOKEN_LETTERS}]{{{_VARIANT_CHARS}}})\]"
)
_EMAIL_AT = re.compile(rf"\s*(?:{_OPEN}\s*(?:at|@)\s*{_CLOSE}|-\s?at\s?-|@)\s*|\s+at\s+", re.IGNORECASE)
_EMAIL_DOT = re.compile(
    rf"\s*(?:{_OPEN}\s*(?:dot|punkt|\.)\s*{_CLOSE}|-\s?(?:dot|punkt)\s?-|\.)\s*|\s+(?:dot|punkt)\s+", re.IGNORECASE
)
# The countries whose national numbers ("0176 …") a person may also have written internationally
# ("+49 176 …"): the markets adpilot serves. One person, one set of subjects (see :func:`subject_tokens`).
NATIONAL_CODES = ("49", "43", "41")
# A country code, then the trunk zero nobody dials from abroad: "+49 (0) 176 …" (any country), or
# "+49 0176 …" (one of ours: Italy dials its leading zero, "+39 06 …").
_TRUNK_AFTER_CODE = re.compile(
    r"^(?P<code>\s*(?:\+\s?|00)(?:[1-9][0-9]{0,2}(?=\s*\(\s*0\s*\))|(?:"
    + "|".join(NATIONAL_CODES)
    + r")(?=[\s./-]+0[1-9])))(?:\s*\(\s*0\s*\)|[\s./-]+0)"
)
_PHONE_WORDS = re.compile(rf"\b(?:{'|'.join(sorted(_DIGIT_WORDS, key=len, reverse=True))})\b", re.IGNORECASE)


def normalise_subject(kind: str, text: str) -> str:
    """The one spelling of a person's e-mail address, phone number or IBAN that its subject hash
    is taken of: ``Max.M (at) Example (dot) de`` and ``max.m@example.de`` are one address,
    ``+49 176 1234``, ``0049-176-1234`` and ``+49 (176) 1234`` one number."""
    folded = _ascii_digits(fold(text).text).translate(_STOPS)
    if kind == "email":
        lowered = folded.lower().strip()
        lowered = lowered.removeprefix("mailto:")
        local, _, domain = _EMAIL_AT.sub("@", lowered, count=1).partition("@")
        local = re.sub(r"\s+", "", local)
        domain = re.sub(r"\s+", "", _EMAIL_DOT.sub(".", domain))
        return f"{local}@{domain}"
    if kind == "phone":
        spelled = _PHONE_WORDS.sub(lambda m: str(_DIGIT_WORDS[m.group().lower()]), folded)
        spelled = _LETTER_O.sub("0", spelled)
        # "+49 (0) 176 …" and "+49 0176 …": the trunk zero written after the country code is not dialled.
        spelled = _TRUNK_AFTER_CODE.sub(r"\g<code>", spelled)
        digits = "".join(ch for ch in spelled if ch.isdigit())
        international = spelled.lstrip().startswith("+") or digits.startswith("00")
        return "+" + digits.removeprefix("00") if international else digits
    return folded.translate(_IBAN_STRIP).upper()


def _letters(digest: bytes, count: int) -> str:
    return "".join(_TOKEN_LETTERS[b >> 4] + _TOKEN_LETTERS[b & 15] for b in digest)[:count]


def _subject(kind: str, normalised: str, key: bytes) -> str:
    return _letters(hmac.new(key, f"subject\0{kind}\0{normalised}".encode(), hashlib.sha256).digest(), _SUBJECT_CHARS)


def pseudonym(kind: str, text: str, key: bytes) -> str:
    """The token for one match: ``[kind:<subject>-<variant>]`` (see :data:`TOKEN`)."""
    subject = _subject(kind, normalise_subject(kind, text), key)
    variant = _letters(hmac.new(key, f"variant\0{kind}\0{text}".encode(), hashlib.sha256).digest(), _VARIANT_CHARS)
    return f"[{kind}:{subject}-{variant}]"


def subject_token(value: str, key: bytes) -> str:
    """What every token of the person ``value`` (an e-mail address, a phone number or an IBAN, in
    any spelling) starts with: ``[kind:<subject>-``. Raises ValueError for a value that is none."""
    matches = list(find_pii(value))
    if len(matches) != 1:
        found = "more than one" if matches else "no"
        raise ValueError(f"{value!r} is not one e-mail address, phone number or IBAN ({found} found)")
    (match,) = matches
    return f"[{match.kind}:{_subject(match.kind, normalise_subject(match.kind, match.text), key)}-"


def literal_token(token: str, key: bytes) -> str:
    """The token that stands for text which merely *looks* like a token (someone pasted one from
    `audit show` into a post): a subject of its own, so it is never taken for — or revealed as —
    the person whose token was copied."""
    found = TOKEN.fullmatch(token)
    if found is None:
        raise ValueError("not a token")
    digest = hmac.new(key, f"literal\0{token}".encode(), hashlib.sha256).digest()
    return f"[{found[1]}:{_letters(digest[:8], _SUBJECT_CHARS)}-{_letters(digest[8:14], _VARIANT_CHARS)}]"


def subject_tokens(value: str, key: bytes) -> list[str]:
    """Every subject the person ``value`` may have in the log: :func:`subject_token`, and for a
    phone number the same number written nationally and internationally ("0176 …" and "+49 176 …"
    for each of :data:`NATIONAL_CODES`), which no normalisation can make one without knowing the
    country. A data-subject request and an erasure must cover them all."""
    first = subject_token(value, key)
    (match,) = find_pii(value)
    if match.kind != "phone":
        return [first]
    number = normalise_subject("phone", match.text)
    forms = [number]
    if number.startswith("0") and not number.startswith("00"):
        forms += [f"+{code}{number[1:]}" for code in NATIONAL_CODES]
    for code in NATIONAL_CODES:
        if number.startswith(f"+{code}"):
            forms.append("0" + number.removeprefix(f"+{code}"))
    return list(dict.fromkeys([first] + [f"[phone:{_subject('phone', form, key)}-" for form in forms]))


_MAX_ROUNDS = 4
_SHORTEST = 6  # "a@b.de"; a phone number has seven digits, an IBAN fifteen characters


@functools.lru_cache(maxsize=4096)
def _matches(text: str) -> tuple[tuple[int, int, str], ...]:
    """The spans to replace (overlapping matches merged), for the short texts that recur in every
    row — ids, amounts, statuses, reasons — found once. Holds no key and no token."""
    spans: list[list[Any]] = []
    for match in sorted(find_pii(text), key=lambda m: (m.start, -m.end)):
        if spans and match.start < spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], match.end)
        else:
            spans.append([match.start, match.end, match.kind])
    return tuple((start, end, kind) for start, end, kind in spans)


def _spans(text: str) -> tuple[tuple[int, int, str], ...]:
    if len(text) < _SHORTEST or (text.isascii() and text.isdigit() and text[0] != "0"):
        return ()  # too short, or an id as the catalogue spells it: digits without a trunk zero or a "+"
    if len(text) <= 256:
        return _matches(text)
    return _matches.__wrapped__(text)


def pseudonymise(text: str, key: bytes) -> tuple[str, dict[str, str]]:
    """``text`` with every e-mail address, phone number and IBAN replaced by its keyed token, and
    each token's exact original (``{token: text}``). Overlapping matches become one token of the
    whole span (the kind of the one that starts first). Tokens already in the text stay as they
    are; what a replacement brings next to another match is found in a further round."""
    originals: dict[str, str] = {}
    for _ in range(_MAX_ROUNDS):
        spans = _spans(text)
        if not spans:
            return text, originals
        out, position = [], 0
        for start, end, kind in spans:
            original = text[start:end]
            token = pseudonym(kind, original, key)
            originals[token] = original
            out.append(text[position:start])
            out.append(token)
            position = end
        out.append(text[position:])
        text = "".join(out)
    return redact(text), originals  # never reached by real text; still, nothing personal is left
