"""An async client for the Google Ads REST API (and the sandbox, which speaks the same shapes).

Pointing it at the real service is configuration: base URL, API version, developer token and
OAuth access token. Money stays in integer micros; int64 strings from the wire become ints.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from adpilot.errors import PlatformError
from adpilot.tools.http import RetryPolicy, classified_error, send
from adpilot.tools.ratelimit import RateLimiter

PLATFORM = "google_ads"
DATE_RANGES = {1: "YESTERDAY", 7: "LAST_7_DAYS", 14: "LAST_14_DAYS", 30: "LAST_30_DAYS"}
_DELAY_RE = re.compile(r"^(\d+(?:\.\d+)?)s$")


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
    except (ValueError, KeyError, TypeError, AttributeError, StopIteration):
        message = f"HTTP {status}: {response.text[:200]}"
    return classified_error(PLATFORM, response, message, code=code, details=details, retry_after=retry_after)


@dataclass(frozen=True)
class Budget:
    customer_id: str
    id: str
    name: str
    amount_micros: int


@dataclass(frozen=True)
class CampaignInfo:
    customer_id: str
    id: str
    name: str
    status: str
    budget_id: str
    budget_micros: int


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


class GoogleAdsClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        developer_token: str,
        access_token: str,
        api_version: str = "v17",
        login_customer_id: str | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.http = http
        self.api_version = api_version
        self.limiter = limiter or RateLimiter(10.0)
        self.retry = retry or RetryPolicy()
        self.timeout_s = timeout_s
        self._headers = {"authorization": f"Bearer {access_token}", "developer-token": developer_token}
        if login_customer_id:
            self._headers["login-customer-id"] = login_customer_id

    async def _post(self, customer_id: str, path: str, body: dict[str, Any], *, safe_to_repeat: bool) -> Any:
        url = f"/{self.api_version}/customers/{customer_id}/{path}"
        return await self._send(
            lambda: self.http.post(url, json=body, headers=self._headers),
            limiter_key=f"{PLATFORM}:{customer_id}",
            safe_to_repeat=safe_to_repeat,
        )

    async def _send(
        self, request: Callable[[], Awaitable[httpx.Response]], *, limiter_key: str, safe_to_repeat: bool
    ) -> Any:
        """One request through the shared limiter, timeout and retry policy; the JSON body."""
        response = await send(
            self.http,
            request,
            platform=PLATFORM,
            limiter=self.limiter,
            limiter_key=limiter_key,
            timeout_s=self.timeout_s,
            retry=self.retry,
            safe_to_repeat=safe_to_repeat,
            parse_error=parse_google_ads_error,
        )
        return response.json()

    # --- raw API ---------------------------------------------------------------------
    async def search(self, customer_id: str, query: str) -> list[dict[str, Any]]:
        """Run a GAQL query and return every row, following page tokens."""
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
            "campaign_budget.amount_micros FROM campaign WHERE campaign.status != REMOVED ORDER BY campaign.id",
        )
        return [
            CampaignInfo(
                customer_id,
                _dig(r, "campaign.id"),
                _dig(r, "campaign.name"),
                _dig(r, "campaign.status"),
                _dig(r, "campaign_budget.id"),
                int(_dig(r, "campaign_budget.amount_micros")),
            )
            for r in rows
        ]

    async def budget(self, customer_id: str, budget_id: str) -> Budget | None:
        rows = await self.search(
            customer_id,
            "SELECT campaign_budget.id, campaign_budget.name, campaign_budget.amount_micros "
            f"FROM campaign_budget WHERE campaign_budget.id = {int(budget_id)}",
        )
        if not rows:
            return None
        r = rows[0]
        return Budget(
            customer_id, budget_id, _dig(r, "campaign_budget.name"), int(_dig(r, "campaign_budget.amount_micros"))
        )

    async def budgets(self, customer_id: str) -> list[Budget]:
        rows = await self.search(
            customer_id,
            "SELECT campaign_budget.id, campaign_budget.name, campaign_budget.amount_micros FROM campaign_budget",
        )
        return [
            Budget(
                customer_id,
                _dig(r, "campaign_budget.id"),
                _dig(r, "campaign_budget.name"),
                int(_dig(r, "campaign_budget.amount_micros")),
            )
            for r in rows
        ]

    async def campaign_status(self, customer_id: str, campaign_id: str) -> str | None:
        rows = await self.search(
            customer_id, f"SELECT campaign.status FROM campaign WHERE campaign.id = {int(campaign_id)}"
        )
        return _dig(rows[0], "campaign.status") if rows else None

    async def keywords(self, customer_id: str, where: str = "") -> list[Keyword]:
        rows = await self.search(
            customer_id,
            "SELECT ad_group.id, ad_group_criterion.criterion_id, ad_group_criterion.keyword.text, "
            "ad_group_criterion.keyword.match_type, ad_group_criterion.status, ad_group_criterion.cpc_bid_micros, "
            f"ad_group.cpc_bid_micros FROM ad_group_criterion{f' WHERE {where}' if where else ''}",
        )
        keywords = []
        for r in rows:
            own = _dig(r, "ad_group_criterion.cpc_bid_micros")
            default = _dig(r, "ad_group.cpc_bid_micros")
            keywords.append(
                Keyword(
                    customer_id,
                    _dig(r, "ad_group.id"),
                    _dig(r, "ad_group_criterion.criterion_id"),
                    _dig(r, "ad_group_criterion.keyword.text"),
                    _dig(r, "ad_group_criterion.keyword.match_type"),
                    _dig(r, "ad_group_criterion.status"),
                    int(own if own is not None else default),
                    own is not None,
                    int(default) if default is not None else None,
                )
            )
        return keywords

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
        ads = []
        for r in rows:
            rsa = _dig(r, "ad_group_ad.ad.responsive_search_ad") or {}
            ads.append(
                AdInfo(
                    customer_id,
                    _dig(r, "ad_group.id"),
                    _dig(r, "ad_group_ad.ad.id"),
                    _dig(r, "ad_group_ad.status"),
                    tuple(a["text"] for a in rsa.get("headlines", [])),
                    tuple(a["text"] for a in rsa.get("descriptions", [])),
                    tuple(_dig(r, "ad_group_ad.ad.final_urls") or ()),
                )
            )
        return ads

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

    # --- typed mutations (absolute "set to" values: safe to repeat) ------------------------
    def _rn(self, customer_id: str, collection: str, key: str) -> str:
        return f"customers/{customer_id}/{collection}/{key}"

    async def _update(
        self, customer_id: str, service: str, key: str, values: dict[str, Any], validate_only: bool
    ) -> MutateResult:
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
        mask names ``cpc_bid_micros`` and the update sets no value (how the API clears a field)."""
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
        body = await self._send(
            lambda: self.http.get(f"/{self.api_version}/customers:listAccessibleCustomers", headers=self._headers),
            limiter_key=PLATFORM,
            safe_to_repeat=True,
        )
        return [name.rsplit("/", 1)[1] for name in body.get("resourceNames", [])]
