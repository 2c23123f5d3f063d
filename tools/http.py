"""Sending platform requests: timeouts, rate limits and retries of what is safe to retry.

A request is *safe to repeat* when repeating it cannot change the outcome: reads, and
mutations that set absolute values. Creates are not (a lost response followed by a retry would
create twice), so for them only failures that prove the request was not processed are
retried: 429 (rejected before processing) and connection failures before sending.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

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
) -> httpx.Response:
    """Send with rate limiting, a hard timeout per attempt, and retries where safe."""

    async def attempt() -> httpx.Response:
        await limiter.acquire(limiter_key)
        try:
            with anyio.fail_after(timeout_s):
                response = await request()
        except TimeoutError:
            raise PlatformError(
                platform, f"no answer within {timeout_s:g}s", retryable=True, outcome_unknown=True
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

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        retry_after = error.retry_after if isinstance(error, PlatformError) else None
        return retry.backoff(state.attempt_number, retry_after)

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        _log.warning(
            "retrying",
            platform=platform,
            attempt=state.attempt_number,
            error=str(error),
            sleep_s=round(state.upcoming_sleep, 3),
        )

    retrying = AsyncRetrying(
        stop=stop_after_attempt(retry.attempts),
        wait=wait,
        retry=retry_if_exception(lambda e: _may_retry(e, safe_to_repeat)),
        before_sleep=before_sleep,
        reraise=True,
    )
    result: Any = await retrying(attempt)
    return result
