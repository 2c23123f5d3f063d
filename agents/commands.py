"""The operator's command grammar: what the chat console understands without a model.

pause ad 2101~31001            pausiere anzeige 2101~31001
enable ad 2101~31001           aktiviere anzeige 2101~31001
pause campaign 111             pausiere kampagne 111
enable campaign 111            aktiviere kampagne 111
set budget 9001 to 55 EUR      setze budget 9001 auf 55 EUR
set bid 2101~41001 to 1.30     setze gebot 2101~41001 auf 1,30 EUR
show performance 1112223333    zeige leistung 1112223333
approvals                      freigaben
help                           hilfe
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from adpilot.agents.state import Role
from adpilot.errors import MoneyError
from adpilot.money import parse_amount

HELP = __doc__.split("\n\n", 1)[1] if __doc__ else ""


@dataclass(frozen=True)
class Command:
    # pause_ad | enable_ad | pause_campaign | enable_campaign | set_budget | set_bid | performance | approvals | help
    action: str
    role: Role | None
    params: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "role": self.role, "params": self.params}


class CommandError(ValueError):
    """The text looked like a command but is not a valid one; the message says what is wrong."""


_AMOUNT = r"(?P<amount>[0-9]+(?:[.,][0-9]+)?\s*(?:eur|€)?)"
_PATTERNS: list[tuple[re.Pattern[str], str, Role | None]] = [
    (re.compile(r"^(?:pause|pausiere|stoppe)\s+(?:ad|anzeige)\s+(?P<group>\d+)~(?P<ad>\d+)$"), "pause_ad", "bidding"),
    (
        re.compile(r"^(?:enable|aktiviere|starte)\s+(?:ad|anzeige)\s+(?P<group>\d+)~(?P<ad>\d+)$"),
        "enable_ad",
        "bidding",
    ),
    (
        re.compile(r"^(?:pause|pausiere|stoppe)\s+(?:campaign|kampagne)\s+(?P<campaign>\d+)$"),
        "pause_campaign",
        "bidding",
    ),
    (
        re.compile(r"^(?:enable|aktiviere|starte)\s+(?:campaign|kampagne)\s+(?P<campaign>\d+)$"),
        "enable_campaign",
        "bidding",
    ),
    (re.compile(rf"^(?:set|setze)\s+budget\s+(?P<budget>\d+)\s+(?:to|auf)\s+{_AMOUNT}$"), "set_budget", "bidding"),
    (
        re.compile(rf"^(?:set|setze)\s+(?:bid|gebot)\s+(?P<group>\d+)~(?P<criterion>\d+)\s+(?:to|auf)\s+{_AMOUNT}$"),
        "set_bid",
        "bidding",
    ),
    (re.compile(r"^(?:show|zeige)\s+(?:performance|leistung)\s+(?P<customer>\d{10})$"), "performance", "bidding"),
    (re.compile(r"^(?:approvals|freigaben|pending)$"), "approvals", None),
    (re.compile(r"^(?:help|hilfe|\?)$"), "help", None),
]
_VERBS = ("pause", "pausiere", "stoppe", "enable", "aktiviere", "starte", "set", "setze", "show", "zeige")


def parse_command(text: str) -> Command | None:
    """The command in ``text``; None when it is not a command; CommandError when it is a broken one."""
    normal = " ".join(text.strip().rstrip(".!").lower().split())
    for pattern, action, role in _PATTERNS:
        match = pattern.match(normal)
        if match is None:
            continue
        params: dict[str, Any] = {k: v for k, v in match.groupdict().items() if k != "amount" and v is not None}
        if "amount" in match.groupdict():
            try:
                params["amount_micros"], params["currency"] = parse_amount(match.group("amount"))
            except MoneyError as exc:
                raise CommandError(str(exc)) from exc
        return Command(action, role, params)
    if normal.split(" ", 1)[0] in _VERBS:
        raise CommandError(f"I did not understand “{text.strip()}”. Commands I know:\n{HELP}")
    return None
