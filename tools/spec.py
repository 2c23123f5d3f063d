"""How a governed tool is described to the Guard.

A tool is typed arguments plus plain async functions: ``assess`` reads the current state and
states what the call would change and which policy rulings apply; ``execute`` performs it;
``reconcile`` finds the effect of an earlier create whose answer was lost; ``reverse`` gives
the arguments that undo a change (for rollback).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from adpilot.policies.content import Content
from adpilot.policies.rules import Ruling

if TYPE_CHECKING:
    from adpilot.policies.model import Policy
    from adpilot.tools.audit import AuditLog
    from adpilot.tools.platforms import Platforms

ToolKind = Literal["read", "set", "create", "meta"]


@dataclass
class ToolContext:
    """What tool functions may use: the platform clients, the policy and the audit history."""

    platforms: Platforms
    policy: Policy
    audit: AuditLog
    _currencies: dict[str, str] = field(default_factory=dict)

    def now(self) -> dt.datetime:
        return self.audit.clock()

    def values_in_window(self, entity: str, hours: int) -> list[Any]:
        return self.audit.values_since(entity, self.now() - dt.timedelta(hours=hours))

    async def currency(self, customer_id: str) -> str:
        if customer_id not in self._currencies:
            rows = await self.platforms.google_ads.search(customer_id, "SELECT customer.currency_code FROM customer")
            self._currencies[customer_id] = rows[0]["customer"]["currencyCode"] if rows else "EUR"
        return self._currencies[customer_id]


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
    reverse: Callable[[Any, Any], dict[str, Any]] | None = None  # (args, before) → undo args

    @property
    def mutates(self) -> bool:
        return self.kind in ("set", "create")
