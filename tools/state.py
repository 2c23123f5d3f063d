"""A short-lived snapshot of platform state, so the Guard need not re-read before every write.

The Guard judges a change against the entity's current value. Reading it afresh costs one
API round trip per mutation; a run instead loads each account once (:func:`prefetch`: four
bulk queries) and the Guard judges against that snapshot for ``ttl_s`` seconds. Our own
successful writes update the snapshot; a failed or unanswered write drops the entry, so the
next decision reads afresh. A value older than the TTL is never used. ``ttl_s=0`` disables
the snapshot (every decision reads fresh state).

What the TTL trades: a change made outside adpilot within the TTL is not seen by the decisions
that use the snapshot (ad and campaign status, ad copy). Money decisions do not use it: a
budget or keyword bid change, and the account's daily total, are judged on the entity read from
the platform after the Guard holds the account's lease (``ToolContext.fresh_budget``,
``fresh_keyword``, ``fresh_campaigns``), and that read refreshes the snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
MISSING: Any = object()


@dataclass
class StateCache:
    ttl_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _entries: dict[str, tuple[float, Any]] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        entry = self._entries.get(key)
        if entry is None or self.ttl_s <= 0 or self.clock() - entry[0] > self.ttl_s:
            return MISSING
        return entry[1]

    def put(self, key: str, value: Any) -> None:
        if self.ttl_s > 0:
            self._entries[key] = (self.clock(), value)

    def update(self, key: str, change: Callable[[Any], Any]) -> None:
        """Apply our own successful write to a cached value (keeps its original fetch time)."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries[key] = (entry[0], change(entry[1]))

    def invalidate(self, key: str) -> None:
        self._entries.pop(key, None)

    def invalidate_prefix(self, prefix: str) -> None:
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]

    async def read(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        value = self.get(key)
        if value is MISSING:
            value = await load()
            self.put(key, value)
        return value
