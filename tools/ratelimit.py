"""Token buckets per (platform, account) so concurrent runs stay under the platforms' limits."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio


@dataclass
class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst``; ``acquire`` waits for a token."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    _tokens: float = field(init=False)
    _updated: float = field(init=False)
    _lock: anyio.Lock = field(init=False, default_factory=anyio.Lock)

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self._tokens = self.burst
        self._updated = self.clock()

    def _refill(self) -> None:
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def try_acquire(self) -> float:
        """Take a token if one is there (returns 0), else return the seconds until one is."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate

    async def acquire(self) -> None:
        async with self._lock:
            wait = self.try_acquire()
            if wait > 0:
                # Holding the lock, nobody else can take the token we are waiting for.
                await anyio.sleep(wait)
                self._refill()
                self._tokens = max(self._tokens, 1.0) - 1.0


class RateLimiter:
    """One bucket per key (platform and account), created on first use."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._buckets: dict[str, TokenBucket] = {}

    def bucket(self, key: str) -> TokenBucket:
        if key not in self._buckets:
            self._buckets[key] = TokenBucket(self.rate, self.burst)
        return self._buckets[key]

    async def acquire(self, key: str) -> None:
        await self.bucket(key).acquire()
