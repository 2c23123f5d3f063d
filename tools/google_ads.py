"""An async client for the Google Ads REST API (and the sandbox, which speaks the same shapes).

Pointing it at the real service is configuration: base URL, API version, developer token and
OAuth2 credentials (a refresh token exchanged for access tokens that are renewed before they
expire, or a static access token). Money stays in integer micros; int64 strings from the wire
become ints. Rows are parsed by the ``parse_*_row`` functions, which accept every valid row the
API can send (fields it omits included) and leave out what the skills must not act on: removed
entities, negative keywords, budgets without a daily amount.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
import httpx

from adpilot.errors import ConfigError, ExitCode, PlatformError
from adpilot.google_ads_versions import (
    DEFAULT_API_VERSION,
    NEWEST_VERIFIED,
    is_sunset,
    sunset_message,
    supported_versions,
)
from adpilot.logs import get_logger
from adpilot.tools.http import RetryPolicy, classified_error, send
from adpilot.tools.ratelimit import RateLimiter

PLATFORM = "google_ads"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
DATE_RANGES = {1: "YESTERDAY", 7: "LAST_7_DAYS", 14: "LAST_14_DAYS", 30: "LAST_30_DAYS"}
_DELAY_RE = re.compile(r"^(\d+(?:\.\d+)?)s$")
_TOKEN_CODES = frozenset({"authenticationError.OAUTH_TOKEN_EXPIRED", "authenticationError.OAUTH_TOKEN_INVALID"})
_log = get_logger("adpilot.google_ads")


# --- errors ---------------------------------------------------------------------------------


class QuotaExhaustedError(PlatformError):
    """The developer token's quota (daily operations, or requests) is used up: retrying now
    cannot succeed, so it is never retried; ``retry_after`` holds the delay Google names, if any."""


class ApiVersionError(PlatformError, ConfigError):
    """The configured API version is switched off (a configuration error: exit code 2)."""

    exit_code = ExitCode.USAGE


class GoogleAdsAuthError(PlatformError, ConfigError):
    """The OAuth2 credentials were refused (invalid_grant, invalid_client, …): exit code 2.
    The message names the configuration keys and environment variables, never their values."""

    exit_code = ExitCode.USAGE


def parse_google_ads_error(response: httpx.Response) -> PlatformError:
    """Turn a GoogleAdsFailure envelope (or anything else) into a PlatformError."""
    status = response.status_code
    retry_after: float | None = None
    code = None
    message = f"HTTP {status}"
    details: Any = None
    try:
        body = response.json()
        error = body["error"]
        message = error.get("message", message)
        failures = [d for d in error.get("details", []) if str(d.get("@type", "")).endswith("GoogleAdsFailure")]
        details = failures[0]["errors"] if failures else None
        if details:
            first = details[0]
            family, value = next(iter(first["errorCode"].items()))
            code = f"{family}.{value}"
            message = first.get("message", message)
            delay = first.get("details", {}).get("quotaErrorDetails", {}).get("retryDelay")
            match = _DELAY_RE.match(delay or "")
            if match:
                retry_after = float(match.group(1))
        elif error.get("status"):
            code = str(error["status"])
    except (ValueError, KeyError, TypeError, AttributeError, StopIteration):
        message = f"HTTP {status}: {response.text[:200]}"
    error_ = classified_error(PLATFORM, response, message, code=code, details=details, retry_after=retry_after)
    if code == "quotaError.RESOURCE_EXHAUSTED":
        wait = f"; Google asks to wait {retry_after:g}s" if retry_after is not None else ""
        return QuotaExhaustedError(
            PLATFORM,
            f"the developer token's API quota is exhausted (daily operations or requests){wait}: not retried, "
            f"try again after the quota resets ({message})",
            status=status,
            code=code,
            retryable=False,
            retry_after=retry_after,
            details=details,
        )
    return error_


def _credential_error(exc: PlatformError) -> GoogleAdsAuthError | None:
    """A refused credential or missing access (401/403 with an authentication or authorization
    error) is a configuration problem, not an outage: exit code 2, naming what to check."""
    family = (exc.code or "").split(".")[0]
    if exc.status not in (401, 403) or family not in ("authenticationError", "authorizationError"):
        return None
    code = exc.code or ""
    if "DEVELOPER_TOKEN" in code:
        fix = "check the developer token in the variable google_ads.developer_token_env names (API Center)"
    elif "USER_PERMISSION_DENIED" in code:
        fix = (
            "the OAuth user has no access to this account; if it is reached through a manager account, set "
            "google_ads.login_customer_id to the manager's id"
        )
    elif "CUSTOMER_NOT_ENABLED" in code:
        fix = "the account is not enabled (cancelled or not yet set up); remove it from accounts"
    else:
        fix = (
            "check the OAuth variables (google_ads.client_id_env, client_secret_env, refresh_token_env) or "
            "google_ads.access_token_env, and the developer token"
        )
    return GoogleAdsAuthError(
        PLATFORM, f"Google Ads refused the credentials ({code}): {fix} (values not shown)", status=exc.status, code=code
    )


# --- credentials --------------------------------------------------------------------------


class TokenSource(Protocol):
    refreshable: bool

    async def token(self, *, stale: str | None = None) -> str: ...


class StaticToken:
    """A fixed access token (Google's expire after about an hour: short manual runs only)."""

    refreshable = False

    def __init__(self, access_token: str) -> None:
        self._token = access_token

    async def token(self, *, stale: str | None = None) -> str:
        return self._token


class OAuth2Token:
    """Access tokens from a refresh token (OAuth2 ``grant_type=refresh_token``), renewed
    ``margin_s`` before they expire; concurrent callers share one refresh (single flight)."""

    refreshable = True

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        token_url: str = GOOGLE_TOKEN_URL,
        names: str = "google_ads.client_id_env, client_secret_env and refresh_token_env",
        clock: Callable[[], float] = time.monotonic,
        margin_s: float = 300.0,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.http = http
        self.token_url = token_url
        self._form = {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        }
        self.names = names
        self.clock = clock
        self.margin_s = margin_s
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.refreshes = 0
        self._access: str | None = None
        self._expires_at = float("-inf")
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return self._access is not None and self.clock() < self._expires_at - self.margin_s

    async def token(self, *, stale: str | None = None) -> str:
        """A valid access token; ``stale``: the token a 401 just refused (refreshed unless another
        caller already replaced it)."""
        if self._fresh() and self._access != stale:
            assert self._access is not None
            return self._access
        async with self._lock:
            if self._fresh() and self._access != stale:
                assert self._access is not None
                return self._access
            await self._refresh()
            assert self._access is not None
            return self._access

    def _parse_error(self, response: httpx.Response) -> PlatformError:
        try:
            body = response.json()
            reason = str(body.get("error", "")) or f"HTTP {response.status_code}"
            description = str(body.get("error_description", ""))
        except ValueError:
            reason, description = f"HTTP {response.status_code}", ""
        if response.status_code in (400, 401, 403):
            hint = {
                "invalid_grant": "the refresh token is expired, revoked or belongs to another client",
                "invalid_client": "the OAuth client id or secret is wrong",
                "unauthorized_client": "this OAuth client may not use refresh tokens",
            }.get(reason, "the OAuth credentials were refused")
            return GoogleAdsAuthError(
                PLATFORM,
                f"OAuth token refresh failed: {reason}"
                + (f" ({description})" if description else "")
                + f": {hint}; check {self.names} (values not shown)",
                status=response.status_code,
                code=f"oauth.{reason}",
            )
        return classified_error(PLATFORM, response, f"OAuth token endpoint: {reason}", code=f"oauth.{reason}")

    async def _refresh(self) -> None:
        started = self.clock()
        response = await send(
            self.http,
            lambda: self.http.post(self.token_url, data=self._form, timeout=httpx.Timeout(self.timeout_s)),
            platform=PLATFORM,
            limiter=RateLimiter(1000.0),
            limiter_key="oauth",
            timeout_s=self.timeout_s,
            retry=self.retry,
            safe_to_repeat=True,
            parse_error=self._parse_error,
            sleep=self.sleep,
        )
        try:
            body = response.json()
            access, expires_in = str(body["access_token"]), float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as exc:
            raise PlatformError(PLATFORM, "the OAuth token endpoint answered without an access_token") from exc
        self._access, self._expires_at = access, started + expires_in
        self.refreshes += 1
        _log.debug("google_ads.token_refreshed", expires_in_s=expires_in)


# --- typed rows ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    customer_id: str
    id: str
    name: str
    amount_micros: int  # the daily amount
    status: str = "ENABLED"


@dataclass(frozen=True)
class CampaignInfo:
    customer_id: str
    id: str
    name: str
    status: str
    budget_id: str
    # The daily budget; for a campaign with a total (lifetime) budget, that total: an upper bound
    # of what it can spend in a day (so an account's daily total never understates).
    budget_micros: int
    budget_is_total: bool = False


@dataclass(frozen=True)
class Keyword:
    customer_id: str
    ad_group_id: str
    criterion_id: str
    text: str
    match_type: str
    status: str
    cpc_bid_micros: int  # effective: the keyword's own bid, else its ad group's default
    own_bid: bool
    default_bid_micros: int | None = None  # its ad group's default bid (None: not read)


@dataclass(frozen=True)
class AdInfo:
    customer_id: str
    ad_group_id: str
    ad_id: str
    status: str
    headlines: tuple[str, ...]
    descriptions: tuple[str, ...]
    final_urls: tuple[str, ...]


@dataclass(frozen=True)
class ClientAccount:
    """An account under a manager (one ``customer_client`` row)."""

    id: str
    name: str
    level: int
    manager: bool
    currency_code: str | None
    status: str | None


@dataclass(frozen=True)
class ChangeEvent:
    """One ``change_event`` row: a change to an entity, by anyone, as Google recorded it."""

    date_time: str
    resource_type: str
    resource_name: str
    operation: str  # CREATE | UPDATE | REMOVE
    changed_fields: tuple[str, ...]
    client_type: str | None
    user_email: str | None
    new_resource: dict[str, Any]
    old_resource: dict[str, Any]


@dataclass(frozen=True)
class MutateResult:
    resource_names: tuple[str | None, ...]
    partial_failures: tuple[dict[str, Any], ...] = ()
    validate_only: bool = False


# level → (GAQL resource, output key → field)
_LEVELS: dict[str, tuple[str, dict[str, str]]] = {
    "campaign": ("campaign", {"campaign_id": "campaign.id", "campaign_name": "campaign.name"}),
    "ad_group": (
        "ad_group",
        {"campaign_id": "campaign.id", "ad_group_id": "ad_group.id", "ad_group_name": "ad_group.name"},
    ),
    "ad": ("ad_group_ad", {"ad_group_id": "ad_group.id", "ad_id": "ad_group_ad.ad.id", "status": "ad_group_ad.status"}),
    "keyword": (
        "keyword_view",
        {
            "ad_group_id": "ad_group.id",
            "criterion_id": "ad_group_criterion.criterion_id",
            "text": "ad_group_criterion.keyword.text",
            "status": "ad_group_criterion.status",
            "cpc_bid_micros": "ad_group_criterion.cpc_bid_micros",
            "ad_group_cpc_bid_micros": "ad_group.cpc_bid_micros",
        },
    ),
}
_METRICS = (
    "metrics.impressions",
    "metrics.clicks",
    "metrics.cost_micros",
    "metrics.conversions",
    "metrics.conversions_value",
)


def _dig(row: dict[str, Any], dotted: str) -> Any:
    node: Any = row
    for part in dotted.split("."):
        head, *rest = part.split("_")
        key = head + "".join(p[:1].upper() + p[1:] for p in rest)
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _int(value: Any) -> int | None:
    """An int64 from the wire (a JSON string, or a number), else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _removed(status: Any) -> bool:
    return status == "REMOVED"


def parse_budget_row(customer_id: str, row: dict[str, Any], budget_id: str | None = None) -> Budget | None:
    """A daily budget, or None: removed, or without a daily amount (a total budget, which
    adpilot's budget skills do not manage)."""
    if _removed(_dig(row, "campaign_budget.status")):
        return None
    amount = _int(_dig(row, "campaign_budget.amount_micros"))
    if amount is None:
        return None
    found_id = _str(_dig(row, "campaign_budget.id")) or (budget_id or "")
    return Budget(
        customer_id,
        found_id,
        _str(_dig(row, "campaign_budget.name")),
        amount,
        _str(_dig(row, "campaign_budget.status")) or "ENABLED",
    )


def parse_campaign_row(customer_id: str, row: dict[str, Any]) -> CampaignInfo | None:
    """A campaign, or None when it is removed or its budget states no amount at all."""
    if _removed(_dig(row, "campaign.status")):
        return None
    daily = _int(_dig(row, "campaign_budget.amount_micros"))
    total = _int(_dig(row, "campaign_budget.total_amount_micros"))
    if daily is None and total is None:
        return None
    return CampaignInfo(
        customer_id,
        _str(_dig(row, "campaign.id")),
        _str(_dig(row, "campaign.name")),
        _str(_dig(row, "campaign.status")),
        _str(_dig(row, "campaign_budget.id")),
        daily if daily is not None else total or 0,
        daily is None,
    )


def parse_keyword_row(customer_id: str, row: dict[str, Any]) -> Keyword | None:
    """A positive, not removed keyword with the bid in force, or None. A keyword without its own
    bid inherits its ad group's default; with neither (automated bidding) there is no bid to manage."""
    if _removed(_dig(row, "ad_group_criterion.status")) or _dig(row, "ad_group_criterion.negative") is True:
        return None
    text = _dig(row, "ad_group_criterion.keyword.text")
    if not isinstance(text, str):
        return None  # not a keyword criterion
    own = _int(_dig(row, "ad_group_criterion.cpc_bid_micros"))
    default = _int(_dig(row, "ad_group.cpc_bid_micros"))
    effective = own if own is not None else default
    if effective is None:
        return None
    return Keyword(
        customer_id,
        _str(_dig(row, "ad_group.id")),
        _str(_dig(row, "ad_group_criterion.criterion_id")),
        text,
        _str(_dig(row, "ad_group_criterion.keyword.match_type")),
        _str(_dig(row, "ad_group_criterion.status")),
        effective,
        own is not None,
        default,
    )


def parse_ad_row(customer_id: str, row: dict[str, Any]) -> AdInfo | None:
    if _removed(_dig(row, "ad_group_ad.status")):
        return None
    rsa = _dig(row, "ad_group_ad.ad.responsive_search_ad") or {}

    def texts(key: str) -> tuple[str, ...]:
        items = rsa.get(key) if isinstance(rsa, dict) else None
        return tuple(str(a["text"]) for a in items or () if isinstance(a, dict) and a.get("text") is not None)

    return AdInfo(
        customer_id,
        _str(_dig(row, "ad_group.id")),
        _str(_dig(row, "ad_group_ad.ad.id")),
        _str(_dig(row, "ad_group_ad.status")),
        texts("headlines"),
        texts("descriptions"),
        tuple(str(u) for u in _dig(row, "ad_group_ad.ad.final_urls") or ()),
    )


def parse_change_event_row(row: dict[str, Any]) -> ChangeEvent:
    fields = _dig(row, "change_event.changed_fields")
    paths = fields.split(",") if isinstance(fields, str) else []
    return ChangeEvent(
        _str(_dig(row, "change_event.change_date_time")),
        _str(_dig(row, "change_event.change_resource_type")),
        _str(_dig(row, "change_event.change_resource_name")),
        _str(_dig(row, "change_event.resource_change_operation")),
        tuple(p for p in paths if p),
        _dig(row, "change_event.client_type"),
        _dig(row, "change_event.user_email"),
        _dig(row, "change_event.new_resource") or {},
        _dig(row, "change_event.old_resource") or {},
    )


def _gaql_time(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class GoogleAdsClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        developer_token: str,
        access_token: str | None = None,
        credentials: TokenSource | None = None,
        api_version: str = DEFAULT_API_VERSION,
        login_customer_id: str | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if credentials is None:
            if access_token is None:
                raise ValueError("give credentials (OAuth2Token) or a static access_token")
            credentials = StaticToken(access_token)
        self.http = http
        self.credentials = credentials
        self.api_version = api_version
        self.login_customer_id = login_customer_id
        self.limiter = limiter or RateLimiter(10.0)
        self.retry = retry or RetryPolicy()
        self.timeout_s = timeout_s
        self.clock = clock
        self.sleep = sleep
        self._headers = {"developer-token": developer_token}
        if login_customer_id:
            self._headers["login-customer-id"] = login_customer_id

    async def _post(self, customer_id: str, path: str, body: dict[str, Any], *, safe_to_repeat: bool) -> Any:
        return await self._call(
            "POST",
            f"/{self.api_version}/customers/{customer_id}/{path}",
            body,
            limiter_key=f"{PLATFORM}:{customer_id}",
            safe_to_repeat=safe_to_repeat,
        )

    async def _call(
        self, method: str, url: str, body: dict[str, Any] | None, *, limiter_key: str, safe_to_repeat: bool
    ) -> Any:
        """One request through the shared limiter, timeout, retry policy and deadline; the JSON
        body. An access token the API refuses as expired is refreshed once and the request sent
        again (a 401 is answered before anything is processed, so even a create may go again)."""
        refused: str | None = None
        while True:
            token = await self.credentials.token(stale=refused)
            headers = {**self._headers, "authorization": f"Bearer {token}"}
            try:
                response = await send(
                    self.http,
                    functools.partial(
                        self.http.request,
                        method,
                        url,
                        json=body,
                        headers=headers,
                        timeout=httpx.Timeout(self.timeout_s),
                    ),
                    platform=PLATFORM,
                    limiter=self.limiter,
                    limiter_key=limiter_key,
                    timeout_s=self.timeout_s,
                    retry=self.retry,
                    safe_to_repeat=safe_to_repeat,
                    parse_error=parse_google_ads_error,
                    clock=self.clock,
                    sleep=self.sleep,
                )
            except PlatformError as exc:
                if refused is None and self.credentials.refreshable and exc.status == 401 and exc.code in _TOKEN_CODES:
                    refused = token
                    continue
                raise self._version_error(exc) or _credential_error(exc) or exc from None
            return response.json()

    def _version_error(self, exc: PlatformError) -> ApiVersionError | None:
        sunset = exc.code == "requestError.UNSUPPORTED_VERSION" or (exc.status == 404 and is_sunset(self.api_version))
        if not sunset:
            return None
        message = (
            sunset_message(self.api_version)
            if is_sunset(self.api_version)
            else f"Google Ads refuses API version {self.api_version} as unsupported; set google_ads.api_version "
            f"to a supported version: {supported_versions()}"
        )
        return ApiVersionError(PLATFORM, message, status=exc.status, code=exc.code)

    # --- raw API ---------------------------------------------------------------------
    async def search(self, customer_id: str, query: str) -> list[dict[str, Any]]:
        """Run a GAQL query and return every row, following page tokens (pages have the API's
        fixed size: ``pageSize`` is not supported since v17)."""
        rows: list[dict[str, Any]] = []
        body: dict[str, Any] = {"query": query}
        while True:
            page = await self._post(customer_id, "googleAds:search", body, safe_to_repeat=True)
            rows.extend(page.get("results", []))
            token = page.get("nextPageToken")
            if not token:
                return rows
            body = {"query": query, "pageToken": token}

    async def mutate(
        self,
        customer_id: str,
        service: str,
        operations: list[dict[str, Any]],
        *,
        validate_only: bool = False,
        partial_failure: bool = False,
        safe_to_repeat: bool,
    ) -> MutateResult:
        body: dict[str, Any] = {"operations": operations}
        if validate_only:
            body["validateOnly"] = True
        if partial_failure:
            body["partialFailure"] = True
        data = await self._post(customer_id, f"{service}:mutate", body, safe_to_repeat=safe_to_repeat)
        failures = ()
        if data.get("partialFailureError"):
            failures = tuple(
                error for detail in data["partialFailureError"].get("details", []) for error in detail.get("errors", [])
            )
        names = tuple(r.get("resourceName") for r in data.get("results", []))
        return MutateResult(names, failures, validate_only)

    # --- typed reads --------------------------------------------------------------------
    async def campaigns(self, customer_id: str) -> list[CampaignInfo]:
        rows = await self.search(
            customer_id,
            "SELECT campaign.id, campaign.name, campaign.status, campaign_budget.id, "
            "campaign_budget.amount_micros, campaign_budget.total_amount_micros "
            "FROM campaign WHERE campaign.status != REMOVED ORDER BY campaign.id",
        )
        return [c for c in (parse_campaign_row(customer_id, r) for r in rows) if c is not None]

    async def budget(self, customer_id: str, budget_id: str) -> Budget | None:
        """The daily budget, or None: not found, removed, or a total budget (not managed)."""
        rows = await self.search(
            customer_id,
            "SELECT campaign_budget.id, campaign_budget.name, campaign_budget.amount_micros, "
            "campaign_budget.total_amount_micros, campaign_budget.status "
            f"FROM campaign_budget WHERE campaign_budget.id = {int(budget_id)}",
        )
        return parse_budget_row(customer_id, rows[0], budget_id) if rows else None

    async def budgets(self, customer_id: str) -> list[Budget]:
        rows = await self.search(
            customer_id,
            "SELECT campaign_budget.id, campaign_budget.name, campaign_budget.amount_micros, "
            "campaign_budget.total_amount_micros, campaign_budget.status "
            "FROM campaign_budget WHERE campaign_budget.status != REMOVED",
        )
        return [b for b in (parse_budget_row(customer_id, r) for r in rows) if b is not None]

    async def campaign_status(self, customer_id: str, campaign_id: str) -> str | None:
        rows = await self.search(
            customer_id, f"SELECT campaign.status FROM campaign WHERE campaign.id = {int(campaign_id)}"
        )
        return _dig(rows[0], "campaign.status") if rows else None

    async def keywords(self, customer_id: str, where: str = "") -> list[Keyword]:
        condition = "ad_group_criterion.status != REMOVED" + (f" AND {where}" if where else "")
        rows = await self.search(
            customer_id,
            "SELECT ad_group.id, ad_group_criterion.criterion_id, ad_group_criterion.keyword.text, "
            "ad_group_criterion.keyword.match_type, ad_group_criterion.status, ad_group_criterion.cpc_bid_micros, "
            f"ad_group_criterion.negative, ad_group.cpc_bid_micros FROM ad_group_criterion WHERE {condition}",
        )
        return [k for k in (parse_keyword_row(customer_id, r) for r in rows) if k is not None]

    async def keyword(self, customer_id: str, ad_group_id: str, criterion_id: str) -> Keyword | None:
        found = await self.keywords(
            customer_id,
            f"ad_group.id = {int(ad_group_id)} AND ad_group_criterion.criterion_id = {int(criterion_id)}",
        )
        return found[0] if found else None

    async def ads(self, customer_id: str, ad_group_id: str | None = None) -> list[AdInfo]:
        where = "ad_group_ad.status != REMOVED"
        if ad_group_id is not None:
            where += f" AND ad_group.id = {int(ad_group_id)}"
        rows = await self.search(
            customer_id,
            "SELECT ad_group.id, ad_group_ad.ad.id, ad_group_ad.status, ad_group_ad.ad.final_urls, "
            "ad_group_ad.ad.responsive_search_ad.headlines, ad_group_ad.ad.responsive_search_ad.descriptions "
            f"FROM ad_group_ad WHERE {where}",
        )
        return [a for a in (parse_ad_row(customer_id, r) for r in rows) if a is not None]

    async def performance(self, customer_id: str, level: str, days: int) -> list[dict[str, Any]]:
        """Metrics per entity of ``level`` over the last ``days`` complete days, as plain dicts."""
        if level not in _LEVELS:
            raise ValueError(f"level must be one of {', '.join(_LEVELS)}")
        if days not in DATE_RANGES:
            raise ValueError(f"days must be one of {sorted(DATE_RANGES)} (the API's fixed date ranges)")
        resource, fields = _LEVELS[level]
        rows = await self.search(
            customer_id,
            f"SELECT {', '.join((*fields.values(), *_METRICS))} FROM {resource} "
            f"WHERE segments.date DURING {DATE_RANGES[days]}",
        )
        result = []
        for r in rows:
            entry: dict[str, Any] = {key: _dig(r, field) for key, field in fields.items()}
            entry.update(
                impressions=int(_dig(r, "metrics.impressions") or 0),
                clicks=int(_dig(r, "metrics.clicks") or 0),
                cost_micros=int(_dig(r, "metrics.cost_micros") or 0),
                conversions=float(_dig(r, "metrics.conversions") or 0.0),
                conversions_value=float(_dig(r, "metrics.conversions_value") or 0.0),
            )
            result.append(entry)
        return result

    # --- manager accounts ----------------------------------------------------------------
    async def client_accounts(
        self, manager_id: str | None = None, *, include_hidden: bool = False
    ) -> list[ClientAccount]:
        """The accounts directly under a manager (default: ``login_customer_id``), from the
        ``customer_client`` resource; the manager itself (level 0) is left out."""
        manager = manager_id or self.login_customer_id
        if not manager:
            raise ValueError("client_accounts needs a manager id (or google_ads.login_customer_id)")
        rows = await self.search(
            manager,
            "SELECT customer_client.client_customer, customer_client.id, customer_client.descriptive_name, "
            "customer_client.level, customer_client.manager, customer_client.currency_code, "
            "customer_client.status, customer_client.hidden FROM customer_client WHERE customer_client.level <= 1",
        )
        accounts = []
        for r in rows:
            level = _int(_dig(r, "customer_client.level")) or 0
            if level == 0 or (_dig(r, "customer_client.hidden") is True and not include_hidden):
                continue
            client_id = (
                _str(_dig(r, "customer_client.id"))
                or _str(_dig(r, "customer_client.client_customer")).rsplit("/", 1)[-1]
            )
            accounts.append(
                ClientAccount(
                    client_id,
                    _str(_dig(r, "customer_client.descriptive_name")),
                    level,
                    _dig(r, "customer_client.manager") is True,
                    _dig(r, "customer_client.currency_code"),
                    _dig(r, "customer_client.status"),
                )
            )
        return accounts

    # --- change history (reconciling changes whose outcome is unknown) ---------------------
    async def change_events(
        self,
        customer_id: str,
        *,
        since: dt.datetime,
        until: dt.datetime | None = None,
        resource_type: str | None = None,
        limit: int = 1000,
    ) -> list[ChangeEvent]:
        """Changes recorded by Google from ``since`` (the API wants a finite window of at most
        30 days and a LIMIT). Times are in the account's time zone, so the window is widened by a
        day on each side; callers match on resource name and values, not on the time."""
        start = since - dt.timedelta(days=1)
        end = (until or dt.datetime.now(dt.UTC)) + dt.timedelta(days=1)  # default: up to now
        where = (
            f"change_event.change_date_time >= '{_gaql_time(start)}' "
            f"AND change_event.change_date_time <= '{_gaql_time(end)}'"
        )
        if resource_type:
            where += f" AND change_event.change_resource_type = {resource_type}"
        rows = await self.search(
            customer_id,
            "SELECT change_event.change_date_time, change_event.change_resource_type, "
            "change_event.change_resource_name, change_event.resource_change_operation, "
            "change_event.changed_fields, change_event.client_type, change_event.user_email, "
            "change_event.new_resource, change_event.old_resource "
            f"FROM change_event WHERE {where} ORDER BY change_event.change_date_time DESC LIMIT {int(limit)}",
        )
        return [parse_change_event_row(r) for r in rows]

    async def find_change(
        self,
        customer_id: str,
        *,
        since: dt.datetime,
        resource_type: str,
        operation: str,
        resource_prefix: str = "",
        matches: Callable[[ChangeEvent], bool] | None = None,
    ) -> ChangeEvent | None:
        """The newest recorded change of this kind (optionally under a resource-name prefix and
        passing ``matches``): whether a change whose answer was lost did land."""
        for event in await self.change_events(customer_id, since=since, resource_type=resource_type):
            if event.operation != operation or not event.resource_name.startswith(resource_prefix):
                continue
            if matches is None or matches(event):
                return event
        return None

    async def find_created_ad(
        self,
        customer_id: str,
        ad_group_id: str,
        headlines: list[str],
        descriptions: list[str],
        *,
        since: dt.datetime,
    ) -> str | None:
        """The resource name of an RSA created in this ad group since ``since`` with exactly
        these texts (even if it was paused or removed since), else None."""

        def same(event: ChangeEvent) -> bool:
            ad = _dig(event.new_resource, "ad_group_ad.ad.responsive_search_ad") or {}
            got_h = [a.get("text") for a in ad.get("headlines", [])]
            got_d = [a.get("text") for a in ad.get("descriptions", [])]
            return got_h == headlines and got_d == descriptions

        event = await self.find_change(
            customer_id,
            since=since,
            resource_type="AD_GROUP_AD",
            operation="CREATE",
            resource_prefix=self._rn(customer_id, "adGroupAds", f"{int(ad_group_id)}~"),
            matches=same,
        )
        return event.resource_name if event is not None else None

    # --- typed mutations (absolute "set to" values: safe to repeat) ------------------------
    def _rn(self, customer_id: str, collection: str, key: str) -> str:
        return f"customers/{customer_id}/{collection}/{key}"

    async def _update(
        self, customer_id: str, service: str, key: str, values: dict[str, Any], validate_only: bool
    ) -> MutateResult:
        # updateMask paths are lowerCamelCase and relative to the resource (REST FieldMask JSON).
        operation = {
            "update": {"resourceName": self._rn(customer_id, service, key), **values},
            "updateMask": ",".join(values),
        }
        return await self.mutate(customer_id, service, [operation], validate_only=validate_only, safe_to_repeat=True)

    async def set_budget_amount(
        self, customer_id: str, budget_id: str, amount_micros: int, *, validate_only: bool = False
    ) -> MutateResult:
        return await self._update(
            customer_id, "campaignBudgets", budget_id, {"amountMicros": str(amount_micros)}, validate_only
        )

    async def set_campaign_status(
        self, customer_id: str, campaign_id: str, status: str, *, validate_only: bool = False
    ) -> MutateResult:
        return await self._update(customer_id, "campaigns", campaign_id, {"status": status}, validate_only)

    async def set_keyword_bid(
        self, customer_id: str, ad_group_id: str, criterion_id: str, cpc_bid_micros: int, *, validate_only: bool = False
    ) -> MutateResult:
        return await self._update(
            customer_id,
            "adGroupCriteria",
            f"{ad_group_id}~{criterion_id}",
            {"cpcBidMicros": str(cpc_bid_micros)},
            validate_only,
        )

    async def clear_keyword_bid(
        self, customer_id: str, ad_group_id: str, criterion_id: str, *, validate_only: bool = False
    ) -> MutateResult:
        """Remove the keyword's own bid, so that it uses its ad group's default again: the update's
        mask names ``cpcBidMicros`` and the update sets no value (how the API clears a field)."""
        operation = {
            "update": {"resourceName": self._rn(customer_id, "adGroupCriteria", f"{ad_group_id}~{criterion_id}")},
            "updateMask": "cpcBidMicros",
        }
        return await self.mutate(
            customer_id, "adGroupCriteria", [operation], validate_only=validate_only, safe_to_repeat=True
        )

    async def set_ad_status(
        self, customer_id: str, ad_group_id: str, ad_id: str, status: str, *, validate_only: bool = False
    ) -> MutateResult:
        return await self._update(
            customer_id, "adGroupAds", f"{ad_group_id}~{ad_id}", {"status": status}, validate_only
        )

    async def create_responsive_search_ad(
        self,
        customer_id: str,
        ad_group_id: str,
        headlines: list[str],
        descriptions: list[str],
        final_url: str,
        *,
        status: str = "ENABLED",
        validate_only: bool = False,
    ) -> MutateResult:
        """Create an RSA. Not safe to repeat: a lost answer is reconciled, never blindly retried."""
        operation = {
            "create": {
                "adGroup": self._rn(customer_id, "adGroups", ad_group_id),
                "status": status,
                "ad": {
                    "finalUrls": [final_url],
                    "responsiveSearchAd": {
                        "headlines": [{"text": h} for h in headlines],
                        "descriptions": [{"text": d} for d in descriptions],
                    },
                },
            }
        }
        return await self.mutate(
            customer_id, "adGroupAds", [operation], validate_only=validate_only, safe_to_repeat=False
        )

    async def list_accessible_customers(self) -> list[str]:
        body = await self._call(
            "GET",
            f"/{self.api_version}/customers:listAccessibleCustomers",
            None,
            limiter_key=PLATFORM,
            safe_to_repeat=True,
        )
        return [name.rsplit("/", 1)[1] for name in body.get("resourceNames", [])]


__all__ = [
    "NEWEST_VERIFIED",
    "AdInfo",
    "ApiVersionError",
    "Budget",
    "CampaignInfo",
    "ChangeEvent",
    "ClientAccount",
    "GoogleAdsAuthError",
    "GoogleAdsClient",
    "Keyword",
    "MutateResult",
    "OAuth2Token",
    "QuotaExhaustedError",
    "StaticToken",
    "parse_ad_row",
    "parse_budget_row",
    "parse_campaign_row",
    "parse_change_event_row",
    "parse_google_ads_error",
    "parse_keyword_row",
]
