"""How a governed tool is described to the Guard.

A tool is typed arguments plus plain async functions: ``assess`` reads the current state and
states what the call would change and which policy rulings apply; ``execute`` performs it;
``reconcile`` finds the effect of an earlier create whose answer was lost; ``reverse`` gives
the calls that undo a change recorded in the audit log, or why it cannot be undone (for
rollback, :mod:`adpilot.tools.rollback`); ``published`` reads back the content a
publishing change made live and ``unpublish`` takes it offline again (the Guard's check that
what went live is what it checked).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from adpilot.policies.content import Content, ContentGate, NoRulesGate
from adpilot.policies.rules import Ruling
from adpilot.tools.google_ads import AdInfo, Budget, CampaignInfo, Keyword
from adpilot.tools.state import StateCache

if TYPE_CHECKING:
    from adpilot.memory.store import MemoryStore
    from adpilot.policies.model import Policy
    from adpilot.tools.audit import AuditLog, AuditRecord
    from adpilot.tools.platforms import Platforms

ToolKind = Literal["read", "set", "create", "meta"]


class ToolUnavailable(Exception):
    """A tool cannot run in this configuration (e.g. no memory); the agent gets a readable error."""


def ads_entity(customer_id: str, kind: str, key: str) -> str:
    """The identity of a Google Ads entity in the audit log and the state snapshot."""
    return f"google_ads:{customer_id}:{kind}:{key}"


def account_of(entity: str) -> str:
    """The account an entity belongs to, as a freeze window names it: the Google Ads customer id
    of an :func:`ads_entity`, or ``"cms"`` for WordPress."""
    platform, _, rest = entity.partition(":")
    return rest.partition(":")[0] if platform == "google_ads" else "cms"


@dataclass
class ToolContext:
    """What tool functions may use: the platform clients, the policy, the audit history and
    the state snapshot (reads go through it; see :mod:`adpilot.tools.state`)."""

    platforms: Platforms
    policy: Policy
    audit: AuditLog
    state: StateCache = field(default_factory=StateCache)
    content_gate: ContentGate = field(default_factory=NoRulesGate)
    locale: str = "de"
    memory: MemoryStore | None = None
    tenant: str = "default"

    def now(self) -> dt.datetime:
        return self.audit.clock()

    def range_in_window(self, entity: str, hours: int, current: int) -> tuple[int, int]:
        """(lowest, highest) value of ``entity`` over the rolling window, ``current`` included."""
        seen = self.audit.range_since(entity, self.now() - dt.timedelta(hours=hours))
        return (current, current) if seen is None else (min(seen[0], current), max(seen[1], current))

    async def currency(self, customer_id: str) -> str:
        """The account's currency code (``customer.currency_code``; fixed when an account is
        created, so the snapshot may answer); "" when the platform does not say."""

        async def load() -> str:
            rows = await self.platforms.google_ads.search(customer_id, "SELECT customer.currency_code FROM customer")
            return str(rows[0].get("customer", {}).get("currencyCode") or "") if rows else ""

        return await self.state.read(f"google_ads:{customer_id}:currency", load)

    async def budget(self, customer_id: str, budget_id: str) -> Budget | None:
        return await self.state.read(
            ads_entity(customer_id, "campaign_budget", budget_id),
            lambda: self.platforms.google_ads.budget(customer_id, budget_id),
        )

    # Money decisions read the platform now, never the snapshot: within the snapshot's TTL a person
    # may have changed the amount in the Google Ads UI, and a relative limit judged against the old
    # amount would let a large change pass as a small one. The fresh value replaces the snapshot's.

    async def fresh_budget(self, customer_id: str, budget_id: str) -> Budget | None:
        """The budget as the platform has it now (and the snapshot from now on)."""
        key = ads_entity(customer_id, "campaign_budget", budget_id)
        budget = await self.platforms.google_ads.budget(customer_id, budget_id)
        if budget is None:
            self.state.invalidate(key)
        else:
            self.state.put(key, budget)
        return budget

    async def fresh_keyword(self, customer_id: str, ad_group_id: str, criterion_id: str) -> Keyword | None:
        """The keyword (with the bid in force) as the platform has it now (and the snapshot from now on)."""
        key = ads_entity(customer_id, "ad_group_criterion", f"{ad_group_id}~{criterion_id}")
        keyword = await self.platforms.google_ads.keyword(customer_id, ad_group_id, criterion_id)
        if keyword is None:
            self.state.invalidate(key)
        else:
            self.state.put(key, keyword)
        return keyword

    async def fresh_campaigns(self, customer_id: str) -> list[CampaignInfo]:
        """The account's campaigns with their budgets, read now (for the account's daily total)."""
        campaigns = await self.platforms.google_ads.campaigns(customer_id)
        for campaign in campaigns:
            self.state.put(ads_entity(customer_id, "campaign", campaign.id), campaign.status)
        return campaigns

    async def campaign_status(self, customer_id: str, campaign_id: str) -> str | None:
        return await self.state.read(
            ads_entity(customer_id, "campaign", campaign_id),
            lambda: self.platforms.google_ads.campaign_status(customer_id, campaign_id),
        )

    async def keyword(self, customer_id: str, ad_group_id: str, criterion_id: str) -> Keyword | None:
        return await self.state.read(
            ads_entity(customer_id, "ad_group_criterion", f"{ad_group_id}~{criterion_id}"),
            lambda: self.platforms.google_ads.keyword(customer_id, ad_group_id, criterion_id),
        )

    async def ad_group_ads(self, customer_id: str, ad_group_id: str) -> tuple[AdInfo, ...]:
        async def load() -> tuple[AdInfo, ...]:
            return tuple(await self.platforms.google_ads.ads(customer_id, ad_group_id))

        return await self.state.read(ads_entity(customer_id, "ad_group_ads", ad_group_id), load)

    async def prefetch(self, customer_id: str) -> None:
        """Load one account's mutable state in four bulk queries."""
        ads = self.platforms.google_ads
        await self.currency(customer_id)
        for budget in await ads.budgets(customer_id):
            self.state.put(ads_entity(customer_id, "campaign_budget", budget.id), budget)
        for campaign in await ads.campaigns(customer_id):
            self.state.put(ads_entity(customer_id, "campaign", campaign.id), campaign.status)
        for keyword in await ads.keywords(customer_id):
            key = f"{keyword.ad_group_id}~{keyword.criterion_id}"
            self.state.put(ads_entity(customer_id, "ad_group_criterion", key), keyword)
        groups: dict[str, list[AdInfo]] = {}
        for ad in await ads.ads(customer_id):
            groups.setdefault(ad.ad_group_id, []).append(ad)
        for ad_group_id, group in groups.items():
            self.state.put(ads_entity(customer_id, "ad_group_ads", ad_group_id), tuple(group))


@dataclass
class Assessment:
    entity: str
    before: Any = None
    after: Any = None
    rulings: list[Ruling] = field(default_factory=list)
    extra_scopes: tuple[str, ...] = ()
    content: Content | None = None
    noop: bool = False
    not_found: str | None = None


@dataclass(frozen=True)
class Undo:
    """One governed call that undoes (part of) a change: ``tool`` with ``args``. ``expect`` is the
    entity's value as assessing this call reports it (``Assessment.before``) while nobody has
    changed it since the change; another value is a conflict, and the undo is not made."""

    tool: str
    args: dict[str, Any]
    expect: Any


@dataclass(frozen=True)
class Reversal:
    """How to undo one change: the calls, in order (none: ``reason`` says why it cannot be undone);
    ``note`` qualifies an undo (e.g. what it cannot restore exactly)."""

    calls: tuple[Undo, ...] = ()
    reason: str = ""
    note: str = ""


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    args: type[BaseModel]
    scope: str | None  # None: any role may call it
    kind: ToolKind
    run: Callable[[ToolContext, Any], Awaitable[Any]]  # reads and meta tools; mutations: execute
    assess: Callable[[ToolContext, Any], Awaitable[Assessment]] | None = None
    dry_run: Callable[[ToolContext, Any], Awaitable[Any]] | None = None  # validate without applying
    reconcile: Callable[[ToolContext, Any], Awaitable[Any | None]] | None = None
    reverse: Callable[[AuditRecord], Reversal] | None = None  # the change's ``result`` row → its undo
    # A change that publishes content: what is live once it ran, read back, for the Guard to compare
    # with the content it checked; and how to take the entity offline again if the two differ.
    published: Callable[[ToolContext, Any], Awaitable[Content | None]] | None = None
    unpublish: Callable[[ToolContext, Any], Awaitable[Any]] | None = None

    @property
    def mutates(self) -> bool:
        return self.kind in ("set", "create")
