"""Sending platform requests: timeouts, rate limits and retries of what is safe to retry.

A request is *safe to repeat* when repeating it cannot change the outcome: reads, and
mutations that set absolute values. Creates are not (a lost response followed by a retry would
create twice), so for them only failures that prove the request was not processed are
retried: 429 (rejected before processing) and connection failures before sending.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from adpilot.errors import PlatformError
from adpilot.logs import get_logger
from adpilot.tools.ratelimit import RateLimiter

_log = get_logger("adpilot.http")
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


def classified_error(
    platform: str,
    response: httpx.Response,
    message: str,
    *,
    code: str | None = None,
    details: Any = None,
    retry_after: float | None = None,
) -> PlatformError:
    """A platform's HTTP error, classified the same way for every platform: transient statuses
    are retryable, a 500/504 may have been applied (outcome unknown), and a delay the body does
    not give comes from the Retry-After header."""
    status = response.status_code
    header = response.headers.get("retry-after", "")
    if retry_after is None and header.isdigit():
        retry_after = float(header)
    return PlatformError(
        platform,
        message,
        status=status,
        code=code,
        retryable=status in TRANSIENT_STATUSES,
        retry_after=retry_after,
        outcome_unknown=status in (500, 504),
        details=details,
    )


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay_s: float = 0.2
    max_delay_s: float = 20.0
    jitter: float = 0.25  # ± share of the delay drawn at random
    # A retry delay the server asks for beyond this is not waited for: the call fails at once,
    # saying how long the server asked to wait (a daily quota asks for hours).
    max_server_delay_s: float = 60.0
    # One call, every attempt and wait included; None: only the attempts bound it.
    deadline_s: float | None = None

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter, never shorter than what the server asked for."""
        delay = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        delay *= 1 + random.uniform(-self.jitter, self.jitter)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, max(self.max_delay_s, retry_after or 0.0))


def _may_retry(error: BaseException, safe_to_repeat: bool) -> bool:
    if not isinstance(error, PlatformError) or not error.retryable:
        return False
    if safe_to_repeat:
        return True
    # Not idempotent: only retry when the request provably was not processed.
    return error.status == 429 or (error.status is None and not error.outcome_unknown)


def _giving_up(error: PlatformError, why: str) -> PlatformError:
    """The same failure, saying why it was not retried (what it is stays: status, code, outcome)."""
    return PlatformError(
        error.platform,
        f"{error.message} ({why})",
        status=error.status,
        code=error.code,
        retryable=error.retryable,
        retry_after=error.retry_after,
        outcome_unknown=error.outcome_unknown,
        details=error.details,
    )


async def send(
    http: httpx.AsyncClient,
    request: Callable[[], Awaitable[httpx.Response]],
    *,
    platform: str,
    limiter: RateLimiter,
    limiter_key: str,
    timeout_s: float,
    retry: RetryPolicy,
    safe_to_repeat: bool,
    parse_error: Callable[[httpx.Response], PlatformError],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
) -> httpx.Response:
    """Send with rate limiting, a hard timeout per attempt, and retries where safe, within the
    policy's deadline; ``clock`` and ``sleep`` are injectable so that tests never wait."""
    started = clock()

    def remaining() -> float | None:
        return None if retry.deadline_s is None else retry.deadline_s - (clock() - started)

    async def attempt(limit_s: float) -> httpx.Response:
        await limiter.acquire(limiter_key)
        try:
            with anyio.fail_after(limit_s):
                response = await request()
        except TimeoutError:
            raise PlatformError(
                platform, f"no answer within {limit_s:g}s", retryable=True, outcome_unknown=True
            ) from None
        except httpx.TimeoutException as exc:
            raise PlatformError(platform, f"timed out: {exc}", retryable=True, outcome_unknown=True) from exc
        except httpx.ConnectError as exc:
            raise PlatformError(platform, f"cannot connect: {exc}", retryable=True) from exc
        except httpx.TransportError as exc:
            raise PlatformError(platform, f"transport error: {exc}", retryable=True, outcome_unknown=True) from exc
        if response.status_code >= 400:
            raise parse_error(response)
        return response

    number = 0
    while True:
        number += 1
        left = remaining()
        limit_s = timeout_s if left is None else max(0.001, min(timeout_s, left))
        try:
            return await attempt(limit_s)
        except PlatformError as error:
            if number >= retry.attempts or not _may_retry(error, safe_to_repeat):
                raise
            if error.retry_after is not None and error.retry_after > retry.max_server_delay_s:
                raise _giving_up(
                    error,
                    f"the server asks to wait {error.retry_after:g}s, more than the {retry.max_server_delay_s:g}s "
                    "a call waits (max_retry_delay_s)",
                ) from error
            delay = retry.backoff(number, error.retry_after)
            left = remaining()
            if left is not None and delay >= left:
                raise _giving_up(
                    error, f"not retried: the call's deadline of {retry.deadline_s:g}s would pass first"
                ) from error
            _log.warning("retrying", platform=platform, attempt=number, error=str(error), sleep_s=round(delay, 3))
            await sleep(delay)
