"""The operator's command grammar: what the chat understands without a model, in German and English.

pause campaign Boots - Search             pausiere kampagne Boots - Search
enable ad 2101~31001                      aktiviere anzeige 2101~31001
pause the worst ad in Hiking Boots        pausiere die schlechteste anzeige in Boots - Search
which is the worst ad in Boots - Search   welche ist die schlechteste anzeige in Boots - Search
set budget of Boots - Search to 60 €      setze budget von Boots - Search auf 60 €
set bid of hiking boots to 1.30           setze gebot von hiking boots in Hiking Boots auf 1,30 €
how is Boots - Search doing               wie läuft die kampagne Boots - Search
show performance 1112223333               zeige leistung 1112223333
what changed today and why                was hat sich heute geändert und warum
approvals                                 freigaben
help                                      hilfe
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from adpilot.agents.state import Role
from adpilot.errors import MoneyError
from adpilot.money import units_to_micros

Language = Literal["de", "en"]

MAX_COMMAND = 300  # characters: a longer message is no command (and no regular expression's worst case)
HELP = __doc__.split("\n\n", 1)[1] if __doc__ else ""
_HELP_LINES = [line for line in HELP.splitlines() if line.strip()]
HELP_EN = "Commands I know, by name or id (English · German):\n" + HELP.rstrip()
HELP_DE = "Befehle, die ich kenne, mit Namen oder Id (Englisch · Deutsch):\n" + HELP.rstrip()


@dataclass(frozen=True)
class Command:
    """One parsed command. ``action``: pause_ad | enable_ad | pause_campaign | enable_campaign |
    set_budget | set_bid | performance | worst_ad | pause_worst_ad | changes | approvals | help.
    ``params`` name their targets as typed (``target``, ``group``) until
    :mod:`adpilot.agents.nodes.supervisor` resolves them to ids."""

    action: str
    role: Role | None
    params: dict[str, Any]
    language: Language = field(default="en")

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "role": self.role, "params": self.params, "language": self.language}


class CommandError(ValueError):
    """The text looked like a command but is not a valid one; the message says what is wrong."""


# --- language --------------------------------------------------------------------------------

_GERMAN = frozenset(
    re.findall(
        r"\S+",
        "wie läuft laufen lauft was hat sich heute geändert geandert und warum setze pausiere stoppe aktiviere "
        "starte zeige auf kampagne anzeige gebot freigaben hilfe die der das den schlechteste schlechtesten "
        "leistung von für fur im welche ist ändere es mir bitte alle gestern ein eine einen über ich du kannst "
        "mein meine nicht wo wann gib schreib zeig mach",
    )
)
_ENGLISH = frozenset(
    re.findall(
        r"\S+",
        "how what the is set pause enable show to of campaign ad bid changed today why worst approvals help "
        "doing performing performance and in which for please stop start what's it everything change me a an "
        "about i you can my not where when give write make tell",
    )
)


# Quoted text — a headline to check, an ad's words, a name — is what the operator talks about, not
# the language they talk in. A single quote opens only after a non-word character ("isn't" stays).
_QUOTED = re.compile(r"(?<!\w)'[^']+'(?!\w)|\"[^\"]+\"|„[^“”]+[“”]|“[^”]+”|‚[^‘’]+[‘’]|‘[^’]+’|«[^»]+»|»[^«]+«")


def unquoted(text: str) -> str:
    """``text`` with its quoted passages blanked out."""
    return _QUOTED.sub(" ", text)


def quoted_texts(text: str) -> list[str]:
    """The quoted passages of ``text``, without their quotation marks."""
    return [m.group(0)[1:-1].strip() for m in _QUOTED.finditer(text)]


def detect_language(text: str, default: Language = "en") -> Language:
    """German or English, by the words of ``text`` outside quotes (umlauts and ß count for German);
    a text that is all quote is read whole; a tie: ``default``."""
    opened = text.count("„")  # German quotation marks are a German clue, even round a quote
    outside = unquoted(text)
    text = outside if outside.strip() else text
    words = re.findall(r"[\wäöüß']+", text.casefold())
    german = sum(w in _GERMAN for w in words) + sum(ch in "äöüß" for ch in text.casefold()) + opened
    english = sum(w in _ENGLISH for w in words)
    if german == english:
        return default
    return "de" if german > english else "en"


# --- money -----------------------------------------------------------------------------------

_CURRENCY_WORDS = {"€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR", "$": "USD", "£": "GBP"}
_MONEY = re.compile(
    r"^\s*(?P<pre>€|\$|£)?\s*(?P<number>[0-9][0-9.,' ]*)\s*(?P<post>€|\$|£|[a-z]{3,5})?\s*$", re.IGNORECASE
)


def parse_money(text: str) -> tuple[int, str | None]:
    """Operator money ("60 €", "60,50 EUR", "1.234,56 €", "€1,234.56", "60.5") as (micros, currency
    or None when none is named). With both "." and "," the last is the decimal mark; one mark
    followed by exactly three digits separates thousands ("1.234" is 1234); else it is the
    decimal mark. Raises :class:`MoneyError` for anything else."""
    match = _MONEY.match(text)
    if match is None or (match.group("pre") and match.group("post")):
        raise MoneyError(f"not an amount: {text.strip()!r} (expected e.g. '60 €' or '1,30 EUR')")
    word = (match.group("pre") or match.group("post") or "").casefold()
    currency = _CURRENCY_WORDS.get(word) or (word.upper() if len(word) == 3 else None)
    if word and currency is None:
        raise MoneyError(f"not a currency: {word!r} in {text.strip()!r}")
    number = re.sub(r"[' ]", "", match.group("number"))
    marks = [ch for ch in number if ch in ".,"]
    if len(marks) > 1 and len(set(marks)) == 2:
        decimal = number[max(number.rfind("."), number.rfind(","))]
        whole, _, fraction = number.rpartition(decimal)
        thousands = "," if decimal == "." else "."
        if decimal in whole or not re.fullmatch(rf"[0-9]{{1,3}}(?:\{thousands}[0-9]{{3}})*", whole):
            raise MoneyError(f"not an amount: {text.strip()!r}")
        number = whole.replace(thousands, "") + "." + fraction
    elif len(marks) > 1:
        if not re.fullmatch(r"[0-9]{1,3}(?:[.,][0-9]{3})+", number):
            raise MoneyError(f"not an amount: {text.strip()!r}")
        number = number.replace(marks[0], "")
    elif marks:
        whole, _, fraction = number.partition(marks[0])
        if not whole or not fraction:
            raise MoneyError(f"not an amount: {text.strip()!r}")
        number = whole + fraction if len(fraction) == 3 and whole != "0" else f"{whole}.{fraction}"
    return units_to_micros(number), currency


# --- the grammar -------------------------------------------------------------------------------

_PAUSE = r"(?:pause|pausiere|stoppe|stop|halte)"
_ENABLE = r"(?:enable|aktiviere|starte|start|resume|activate|reaktiviere)"
_ART = r"(?:(?:the|die|den|das|der|dem)\s+)?"
_KIND = r"(?P<kind>ad|anzeige|campaign|kampagne)"
_TAIL = r"(?:\s+(?:bitte|please))?"
_IN = r"(?:in|im|in der|in the|of|from|von|aus|aus der)"


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + pattern + _TAIL + "$", re.IGNORECASE)


_STATUS = [
    _rx(rf"(?:please\s+|bitte\s+)?(?P<verb>{_PAUSE}|{_ENABLE})\s+{_ART}{_KIND}\s+(?P<target>.+?)"),
    _rx(rf"{_ART}{_KIND}\s+(?P<target>.+?)\s+(?P<verb>pausieren|stoppen|aktivieren|starten|pause|enable)"),
]
_WORST = [
    _rx(rf"(?P<verb>{_PAUSE})\s+{_ART}(?:worst|schlechteste|schlechtesten)\s+(?:ad|anzeige)\s+{_IN}\s+(?P<target>.+?)"),
    _rx(
        r"(?:(?:which|what)(?:'s| is)\s+|(?:welche|was)\s+ist\s+|zeige\s+|show\s+)?"
        rf"{_ART}(?:worst|schlechteste|schlechtesten)\s+(?:ad|anzeige)\s+{_IN}\s+(?P<target>.+?)"
    ),
]
_BUDGET = [
    _rx(
        r"(?:set|setze|change|ändere|andere)\s+(?:the\s+|das\s+)?(?:daily\s+|tages)?budget\s+"
        rf"(?:(?:of|for|von|für|fur)\s+)?{_ART}(?:(?:campaign|kampagne)\s+)?(?P<target>.+?)\s+(?:to|auf)\s+(?P<amount>.+?)"
    ),
    _rx(
        r"(?:das\s+)?budget\s+(?:(?:von|für|fur)\s+)?"
        rf"{_ART}(?:kampagne\s+)?(?P<target>.+?)\s+auf\s+(?P<amount>.+?)\s+(?:setzen|ändern|andern)"
    ),
]
_BID = [
    _rx(
        r"(?:set|setze|change|ändere|andere)\s+(?:the\s+|das\s+)?(?:bid|gebot|max cpc|cpc)\s+"
        rf"(?:(?:of|for|von|für|fur)\s+)?{_ART}(?:(?:keyword|keywords)\s+)?(?P<target>.+?)"
        r"(?:\s+(?:in|im|in der)\s+(?:(?:ad group|anzeigengruppe)\s+)?(?P<group>.+?))?\s+(?:to|auf)\s+(?P<amount>.+?)"
    ),
]
_PERFORMANCE = [
    _rx(
        rf"(?:wie\s+(?:läuft|lauft|laufen|steht)|how\s+(?:is|are|does))\s+{_ART}(?:(?:campaign|kampagne)\s+)?(?P<target>.+?)"
        r"(?:\s+(?:doing|performing|going|so))?(?:\s+(?:gerade|im moment|derzeit|aktuell|heute))?"
    ),
    _rx(rf"how's\s+{_ART}(?:campaign\s+)?(?P<target>.+?)(?:\s+(?:doing|performing|going))?"),
    _rx(
        rf"(?:show|zeige|zeig)\s+(?:me\s+|mir\s+)?{_ART}(?:performance|leistung|zahlen|stats)"
        rf"(?:\s+(?:of|for|von|für|fur|der kampagne)\s+{_ART}|\s+)(?:(?:campaign|kampagne)\s+)?(?P<target>.+?)"
    ),
    _rx(
        rf"(?:performance|leistung)\s+(?:(?:of|for|von|für|fur)\s+)?{_ART}(?:(?:campaign|kampagne)\s+)?(?P<target>.+?)"
    ),
]
_CHANGES = re.compile(
    r"^(?:what(?:'s| has| have)?\s+(?:been\s+)?changed|what\s+changes|which\s+changes|changes|"
    r"was\s+(?:hat\s+sich|wurde|ist)\b.*\b(?:geändert|geandert|verändert|passiert)|änderungen|anderungen|"
    r"welche\s+änderungen|was\s+gibt\s+es\s+neues)\b.*$",
    re.IGNORECASE,
)
_APPROVALS = _rx(
    r"/?(?:show\s+|zeige\s+|zeig\s+|list\s+)?(?:(?:the|die|mir die|me the)\s+)?(?:pending\s+|offene\s+)?"
    r"(?:approvals|freigaben|pending|approval|freigabe)|what(?:'s| is) waiting|was wartet"
)
_HELP = _rx(r"/?help|hilfe|\?|what can you do|was kannst du|commands|befehle")
_COLUMNS = [re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in _HELP_LINES]  # English, German
_EXAMPLES = [english for english, _ in _COLUMNS] + [german for _, german in _COLUMNS]


def _normal(text: str) -> str:
    return " ".join(text.strip().rstrip(".!?").split())


def _amount(raw: str) -> dict[str, Any]:
    try:
        micros, currency = parse_money(raw)
    except MoneyError as exc:
        raise CommandError(str(exc)) from exc
    if micros <= 0:
        raise CommandError(f"the amount must be more than zero, not {raw.strip()!r}")
    return {"amount_micros": micros, "currency": currency}


def _target(text: str) -> str:
    return text.strip().strip("\"'„“”«»‚‘’").strip()


def parse_command(text: str, default: Language = "en") -> Command | None:
    """The command in ``text``; None when it is not one; :class:`CommandError` when it is a broken one
    (an amount that is not one)."""
    normal = _normal(text)
    language = detect_language(text, default)
    if not normal or len(normal) > MAX_COMMAND:
        return None

    def made(action: str, role: Role | None, params: dict[str, Any]) -> Command:
        return Command(action, role, params, language)

    if _HELP.match(normal):
        return made("help", None, {})
    if _APPROVALS.match(normal):
        return made("approvals", None, {})
    if _CHANGES.match(normal):
        return made("changes", None, {})
    for pattern in _WORST:
        if match := pattern.match(normal):
            action = "pause_worst_ad" if match.groupdict().get("verb") else "worst_ad"
            return made(action, "bidding", {"target": _target(match.group("target"))})
    for pattern in _STATUS:
        if match := pattern.match(normal):
            paused = re.fullmatch(rf"{_PAUSE}|pausieren|stoppen", match.group("verb").casefold()) is not None
            kind = "ad" if match.group("kind").casefold() in ("ad", "anzeige") else "campaign"
            action = f"{'pause' if paused else 'enable'}_{kind}"
            return made(action, "bidding", {"target": _target(match.group("target"))})
    for pattern in _BUDGET:
        if match := pattern.match(normal):
            return made(
                "set_budget", "bidding", {"target": _target(match.group("target")), **_amount(match.group("amount"))}
            )
    for pattern in _BID:
        if match := pattern.match(normal):
            params = {"target": _target(match.group("target")), **_amount(match.group("amount"))}
            if match.group("group"):
                params["group"] = _target(match.group("group"))
            return made("set_bid", "bidding", params)
    for pattern in _PERFORMANCE:
        if match := pattern.match(normal):
            return made("performance", "bidding", {"target": _target(match.group("target"))})
    return None


def suggest(text: str, language: Language) -> str:
    """What to say to text that is no command: the closest commands, and the full list."""
    folded = {example.casefold(): example for example in _EXAMPLES}
    close = [folded[c] for c in difflib.get_close_matches(_normal(text).casefold(), list(folded), n=3, cutoff=0.3)]
    if language == "de":
        head = f"Ohne konfiguriertes Modell kann ich „{text.strip()}“ keinem Befehl zuordnen."
        maybe = "Meinten Sie: " + " · ".join(close) + "\n" if close else ""
        return f"{head}\n{maybe}{HELP_DE}"
    head = f"Without a configured model I cannot map “{text.strip()}” to a command; I understand commands only."
    maybe = "Did you mean: " + " · ".join(close) + "\n" if close else ""
    return f"{head}\n{maybe}{HELP_EN}"
