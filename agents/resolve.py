"""Names to ids: which campaign, ad group, ad, keyword or budget an operator means.

The entities are read through the Guard's read tools (``list_campaigns``, ``list_ads``,
``get_performance``), so the run's scopes and accounts hold and every read is audited. A name is
compared folded (:func:`adpilot.normalise.fold`: case, accents, look-alike letters and invisible
characters do not count; "-" and other punctuation are spaces): an exact match wins, then a match
that contains every word typed, then the closest by :class:`difflib.SequenceMatcher` ratio above
:data:`FUZZY`. Several equally good matches are ambiguous ("did you mean A or B?"); nothing above
the threshold gives the closest names as suggestions. Ids work too: ``111``, ``9001``, and the
platform notation ``2101~31001`` (ad group ~ ad or keyword).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from adpilot.normalise import fold
from adpilot.tools.guard import Guard

Kind = Literal["campaign", "budget", "ad_group", "ad", "keyword"]
KINDS: tuple[Kind, ...] = ("campaign", "budget", "ad_group", "ad", "keyword")
FUZZY = 0.72  # the least SequenceMatcher ratio of a fuzzy match
CONTAINS = 0.9  # the score of a name that contains every word typed
SUGGEST = 0.4  # the least ratio of a suggestion
_CLOSE = 0.03  # matches whose scores differ by less are equally good
_ID = re.compile(r"^(?:\d+~)?\d+$")


@dataclass(frozen=True)
class Entity:
    kind: Kind
    account: str
    id: str  # "111", "9001", or "2101~31001" for ads and keywords
    name: str
    campaign_id: str | None = None
    ad_group_id: str | None = None
    budget_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def own_id(self) -> str:
        """The id after the ad group: the ad's or keyword's own (criterion) id."""
        return self.id.rpartition("~")[2]


@dataclass(frozen=True)
class Resolution:
    query: str
    matches: tuple[Entity, ...] = ()  # one: found; several: ambiguous
    suggestions: tuple[Entity, ...] = ()  # nothing found: the closest

    @property
    def found(self) -> Entity | None:
        return self.matches[0] if len(self.matches) == 1 else None


def normal(text: str) -> str:
    """``text`` as names are compared: folded, case-free, punctuation as spaces, spaces collapsed."""
    folded = fold(text).text.casefold()
    return " ".join(re.sub(r"[^\w~]+", " ", folded).split())


def _score(query: str, words: set[str], name: str) -> float:
    if not name:
        return 0.0
    if query == name:
        return 1.0
    if words and words <= set(name.split()):
        return CONTAINS
    return difflib.SequenceMatcher(None, query, name).ratio()


def resolve(entities: Iterable[Entity], query: str, kinds: Sequence[Kind] = KINDS) -> Resolution:
    """The entity of ``kinds`` that ``query`` names (an id or a name); never raises on any text."""
    pool = [e for e in entities if e.kind in kinds]
    text = query.strip()
    if _ID.match(text):
        by_id = tuple(e for e in pool if e.id == text)
        by_id = by_id or tuple(e for e in pool if "~" not in text and e.own_id == text)
        return Resolution(text, by_id) if by_id else Resolution(text, suggestions=_near_ids(pool, text))
    wanted = normal(text)
    words = set(wanted.split())
    scored = sorted(
        ((_score(wanted, words, normal(e.name)), e) for e in pool),
        key=lambda pair: (-pair[0], KINDS.index(pair[1].kind), pair[1].account, pair[1].id),
    )
    if not scored or not wanted:
        return Resolution(text)
    best = scored[0][0]
    if best >= FUZZY:
        return Resolution(text, tuple(e for s, e in scored if s >= FUZZY and best - s < _CLOSE))
    return Resolution(text, suggestions=tuple(e for s, e in scored[:3] if s >= SUGGEST))


def _near_ids(pool: Sequence[Entity], text: str) -> tuple[Entity, ...]:
    ranked = sorted(pool, key=lambda e: -difflib.SequenceMatcher(None, text, e.id).ratio())
    return tuple(ranked[:3])


async def catalogue(guard: Guard, kinds: Iterable[Kind], role: str = "bidding") -> list[Entity]:
    """The entities of ``kinds`` in the run's accounts, read through the Guard."""
    wanted = set(kinds)
    found: list[Entity] = []
    for account in sorted(guard.run.accounts):
        if wanted & {"campaign", "budget"}:
            campaigns = await guard.call(role, "list_campaigns", {"customer_id": account})
            for c in campaigns.data if campaigns.ok else []:
                cid, bid = str(c["campaign_id"]), str(c["budget_id"])
                if "campaign" in wanted:
                    found.append(Entity("campaign", account, cid, str(c["name"]), cid, None, bid, dict(c)))
                if "budget" in wanted:
                    found.append(Entity("budget", account, bid, str(c["name"]), cid, None, bid, dict(c)))
        if "ad_group" in wanted:
            groups = await guard.call(
                role, "get_performance", {"customer_id": account, "level": "ad_group", "days": 30}
            )
            for g in groups.data if groups.ok else []:
                gid = str(g["ad_group_id"])
                found.append(Entity("ad_group", account, gid, str(g["ad_group_name"]), str(g["campaign_id"]), gid))
        if "ad" in wanted:
            ads = await guard.call(role, "list_ads", {"customer_id": account})
            for a in ads.data if ads.ok else []:
                gid = str(a["ad_group_id"])
                headline = str((a.get("headlines") or [""])[0])
                found.append(Entity("ad", account, f"{gid}~{a['ad_id']}", headline, None, gid, None, dict(a)))
        if "keyword" in wanted:
            keywords = await guard.call(
                role, "get_performance", {"customer_id": account, "level": "keyword", "days": 30}
            )
            for k in keywords.data if keywords.ok else []:
                gid = str(k["ad_group_id"])
                key = f"{gid}~{k['criterion_id']}"
                found.append(Entity("keyword", account, key, str(k["text"]), None, gid, None, dict(k)))
    return found
