"""The Guard's side of leases: a mutation happens only while its actor holds the target's lease.

An actor (a run, one ``adpilot tool call``, an approval, a rollback) has one :class:`Owner`.
The first mutation of an account (or of the CMS) takes that resource's lease, waiting at most
``wait_s``; the lease is kept — renewed by a heartbeat — until the actor releases everything at
its end. While it is held no other process can change that account, so the Guard's checks that
depend on sibling state (the last enabled ad of a group, the rolling windows) see every change
that can happen, once the snapshot read before the lease was taken has been dropped.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from adpilot.leases import CMS, LeaseStore, Owner, describe_resource, resource_for_account


def resource_of(args: dict[str, Any]) -> str:
    """The lease a call needs: its Google Ads account, or the CMS for WordPress tools."""
    customer = args.get("customer_id")
    return resource_for_account(str(customer)) if customer else CMS


class LeaseKeeper:
    """Takes leases for one owner on demand and remembers which it holds."""

    def __init__(self, store: LeaseStore, owner: Owner, *, wait_s: float = 0.0) -> None:
        self.store = store
        self.owner = owner
        self.wait_s = wait_s
        self._held: set[str] = set()

    async def ensure(self, resource: str) -> bool:
        """Hold ``resource`` (raises BusyError naming the holder); True when newly taken."""
        if resource in self._held and self.store.holds(self.owner, resource):
            return False
        # Not held (never, or it lapsed and may have been someone else's meanwhile): take it, and
        # tell the caller that what it read before is no longer to be trusted.
        await self._acquire([resource])
        self._held.add(resource)
        return True

    def still_holds(self, resource: str) -> bool:
        """Whether the lease is still ours (it may lapse while its holder stalls)."""
        return self.store.holds(self.owner, resource)

    async def take(self, resources: list[str]) -> None:
        """Take several leases at once, all or none (a run takes its accounts up front)."""
        await self._acquire(resources)
        self._held.update(resources)

    async def _acquire(self, resources: list[str]) -> None:
        """Wait for the leases without blocking the event loop (other runs of this process go on)."""
        deadline = time.monotonic() + self.wait_s
        delay = 0.02
        while self.store.try_acquire(resources, self.owner) is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                what = ", ".join(describe_resource(r) for r in resources)
                self.store.acquire(resources, self.owner, wait_s=0, what=f"change {what}")
                return
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, 0.5)

    def release(self) -> None:
        self.store.release(self.owner)
        self._held.clear()
