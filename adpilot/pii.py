"""Personal data detectors: e-mail addresses, phone numbers, IBANs.

One set of detectors serves two purposes: the compliance rules (personal data has no place
in ad copy) and :func:`redact` (logs and memory never store it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
_PHONE = re.compile(
    r"(?<![\w.+/])(?:"
    r"(?:\+|00)\d{1,3}[\s\-/]?(?:\(0\)[\s\-/]?)?\d{2,5}[\s\-/]?\d{3,}(?:[\s\-]\d{2,})*"  # international
    r"|0\d{2,5}[\s\-/]\d{3,}(?:[\s\-]\d{2,})*"  # national, with a separator
    r"|0\d{9,11}"  # national, written together
    r"|\(\d{3}\)\s?\d{3}[\s.\-]\d{4}|\d{3}[.\-]\d{3}[.\-]\d{4}"  # North American
    r")(?![\w/])"
)
_IBAN = re.compile(r"(?<![A-Z0-9])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?(?![A-Z0-9])")


def iban_is_valid(candidate: str) -> bool:
    """ISO 13616 check digits (mod 97 == 1)."""
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97 == 1


@dataclass(frozen=True)
class PiiMatch:
    kind: str  # email | phone | iban
    start: int
    end: int
    text: str


def find_pii(text: str) -> Iterator[PiiMatch]:
    for match in _EMAIL.finditer(text):
        yield PiiMatch("email", match.start(), match.end(), match.group())
    for match in _IBAN.finditer(text):
        if iban_is_valid(match.group()):
            yield PiiMatch("iban", match.start(), match.end(), match.group())
    for match in _PHONE.finditer(text):
        if sum(ch.isdigit() for ch in match.group()) >= 7:
            yield PiiMatch("phone", match.start(), match.end(), match.group())


_LABELS = {"email": "[E-MAIL]", "phone": "[PHONE]", "iban": "[IBAN]"}


def redact(text: str) -> str:
    """The text with every e-mail address, phone number and IBAN replaced by a label."""
    matches = sorted(find_pii(text), key=lambda m: (m.start, -m.end))
    out, position = [], 0
    for match in matches:
        if match.start < position:
            continue  # overlaps an earlier match (e.g. digits inside an IBAN)
        out.append(text[position : match.start])
        out.append(_LABELS[match.kind])
        position = match.end
    out.append(text[position:])
    return "".join(out)
