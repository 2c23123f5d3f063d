"""Text measurements shared by the sandbox's API validation and the compliance rules."""

from __future__ import annotations

import unicodedata


def google_ads_length(text: str) -> int:
    """Characters as Google Ads counts them: wide (CJK) characters count twice.

    Umlauts and ß are one character each; text is NFC-normalised first so that a decomposed
    "ü" (u + combining diaeresis) is not counted as two.
    """
    normalised = unicodedata.normalize("NFC", text)
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in normalised)
