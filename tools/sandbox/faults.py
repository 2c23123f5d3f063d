"""Injected faults per platform: latency, 5xx errors, 429 bursts, timeouts, and (WordPress) a
concurrent editor.

Draws come from a generator seeded when the faults are set, so a fault sequence is
reproducible for the same requests in the same order. A timeout either hangs before the
request is handled or handles it and then hangs ("response lost"); the second kind is what
makes exactly-once hard, so the sandbox produces both. A concurrent edit saves other text into
a post the moment a write to it arrives, as another person's save landing between adpilot's
check of the post and its write (the check-then-publish race).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field


class ConcurrentEdit(BaseModel):
    """Another editor's save into post ``post_id``: it lands together with the next write to that
    post that sets its status (``on: any_write``: the next write at all), before that write's own
    fields, as a save made between adpilot's check and its write would. ``times`` writes meet it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    post_id: int = Field(..., gt=0)
    text: str
    field: Literal["content", "title", "excerpt"] = "content"
    on: Literal["status_write", "any_write"] = "status_write"
    times: int = Field(1, ge=1)


class FaultConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: int = Field(0, ge=0, le=60_000)
    error_rate: float = Field(0.0, ge=0, le=1)
    rate_limit_every: int = Field(0, ge=0, description="every Nth request is answered 429")
    timeout_rate: float = Field(0.0, ge=0, le=1)
    retry_delay_ms: int = Field(1000, ge=0, le=600_000, description="retry delay a 429 announces")
    timeout_ms: int = Field(30_000, ge=0, description="how long a timed-out request hangs")
    timeout_kind: Literal["mixed", "before", "after"] = Field(
        "mixed", description="hang before handling, after handling (response lost), or either"
    )
    on: Literal["all", "reads", "writes"] = Field("all", description="which requests the faults strike")
    seed: int = 0
    concurrent_edit: ConcurrentEdit | None = Field(None, description="WordPress only: edit a post as a write arrives")


class Verdict(Enum):
    PASS = "pass"
    ERROR = "error"
    RATE_LIMITED = "rate_limited"
    HANG_BEFORE = "hang_before"
    HANG_AFTER = "hang_after"


@dataclass
class FaultState:
    config: FaultConfig = field(default_factory=FaultConfig)
    requests: int = 0
    fired: dict[str, int] = field(default_factory=dict)  # verdict → how often it struck
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    edits_left: int = 0  # writes the concurrent edit still meets

    def configure(self, config: FaultConfig) -> None:
        self.config = config
        self.requests = 0
        self.fired = {}
        self.rng = random.Random(config.seed)
        self.edits_left = config.concurrent_edit.times if config.concurrent_edit is not None else 0

    def concurrent_edit(self, post_id: int, *, sets_status: bool) -> ConcurrentEdit | None:
        """The edit that lands with this write to ``post_id``, if one is due (see :class:`ConcurrentEdit`)."""
        edit = self.config.concurrent_edit
        if edit is None or self.edits_left <= 0 or edit.post_id != post_id:
            return None
        return edit if sets_status or edit.on == "any_write" else None

    def edit_landed(self) -> None:
        self.edits_left -= 1
        self.fired["concurrent_edit"] = self.fired.get("concurrent_edit", 0) + 1

    async def decide(self, *, write: bool) -> Verdict:
        """Count the request, wait the latency, and say which fault (if any) strikes it."""
        verdict = await self._draw(write)
        if verdict is not Verdict.PASS:
            self.fired[verdict.value] = self.fired.get(verdict.value, 0) + 1
        return verdict

    async def _draw(self, write: bool) -> Verdict:
        cfg = self.config
        if cfg.on != "all" and (cfg.on == "writes") != write:
            return Verdict.PASS
        self.requests += 1
        if cfg.latency_ms:
            await anyio.sleep(cfg.latency_ms / 1000)
        if cfg.rate_limit_every and self.requests % cfg.rate_limit_every == 0:
            return Verdict.RATE_LIMITED
        if cfg.error_rate and self.rng.random() < cfg.error_rate:
            return Verdict.ERROR
        if cfg.timeout_rate and self.rng.random() < cfg.timeout_rate:
            if cfg.timeout_kind == "mixed":
                return Verdict.HANG_AFTER if self.rng.random() < 0.5 else Verdict.HANG_BEFORE
            return Verdict.HANG_AFTER if cfg.timeout_kind == "after" else Verdict.HANG_BEFORE
        return Verdict.PASS

    async def hang(self) -> None:
        await anyio.sleep(self.config.timeout_ms / 1000)
