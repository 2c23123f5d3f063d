"""The Google Ads client against what the real API does (issue 16): supported versions, OAuth2
refresh, manager accounts, timeouts, quota, retry ceilings and deadlines, rows the sandbox did
not produce, and reconciling a lost create through change_event. No test sleeps: clocks and
sleeps are injected."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adpilot.compose.platforms import connect
from adpilot.config import Config, GoogleAdsConfig, load_config
from adpilot.errors import ConfigError, PlatformError
from adpilot.google_ads_versions import DEFAULT_API_VERSION, SUNSET_DATES, is_sunset
from adpilot.tools.google_ads import (
    ApiVersionError,
    GoogleAdsAuthError,
    GoogleAdsClient,
    OAuth2Token,
    QuotaExhaustedError,
    StaticToken,
    parse_ad_row,
    parse_budget_row,
    parse_campaign_row,
    parse_keyword_row,
)
from adpilot.tools.http import RetryPolicy
from adpilot.tools.sandbox import Sandbox
from adpilot.tools.sandbox.world import CampaignBudget
from tests.conftest import AT, DE, FAST_RETRY

TODAY = dt.date(2026, 12, 3)


class FakeTime:
    """One clock for the sandbox (datetime) and the client (seconds), and a sleep that only
    advances it."""

    def __init__(self, start: str = "2026-12-03T08:00:00") -> None:
        self.now = dt.datetime.fromisoformat(start).replace(tzinfo=dt.UTC)
        self.slept: list[float] = []

    def datetime(self) -> dt.datetime:
        return self.now

    def seconds(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)


def _oauth_client(sandbox: Sandbox, http: httpx.AsyncClient, time: FakeTime, **token_kw: Any) -> GoogleAdsClient:
    creds = sandbox.credentials
    token = OAuth2Token(
        http,
        client_id=creds.client_id,
        client_secret=creds.client_secret,
        refresh_token=token_kw.pop("refresh_token", creds.refresh_token),
        token_url=f"{sandbox.base_url}/token",
        clock=time.seconds,
        **token_kw,
    )
    return GoogleAdsClient(
        http, developer_token=creds.developer_token, credentials=token, retry=FAST_RETRY, clock=time.seconds
    )


def _failure(code: dict[str, str], message: str, *, status: int, retry_delay: str | None = None) -> httpx.Response:
    error: dict[str, Any] = {"errorCode": code, "message": message}
    if retry_delay is not None:
        error["details"] = {"quotaErrorDetails": {"rateScope": "ACCOUNT", "retryDelay": retry_delay}}
    body = {
        "error": {
            "code": status,
            "message": message,
            "status": {429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE", 400: "INVALID_ARGUMENT"}[status],
            "details": [
                {
                    "@type": f"type.googleapis.com/google.ads.googleads.{DEFAULT_API_VERSION}.errors.GoogleAdsFailure",
                    "errors": [error],
                }
            ],
        }
    }
    return httpx.Response(status, json=body)


def _mock_client(
    handler: Any, time: FakeTime | None = None, retry: RetryPolicy | None = None, **kw: Any
) -> GoogleAdsClient:
    time = time or FakeTime()
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="https://googleads.example")
    return GoogleAdsClient(
        http,
        developer_token="dev",
        access_token="static",
        retry=retry or RetryPolicy(attempts=5, base_delay_s=0.5, max_delay_s=5, jitter=0),
        clock=time.seconds,
        sleep=time.sleep,
        **kw,
    )


# --- 1. versions -------------------------------------------------------------------------------


def test_the_default_version_is_not_switched_off():
    # Old code: v17 (switched off 2025-06-04) in the client and in the configuration.
    assert not is_sunset(DEFAULT_API_VERSION, TODAY)
    assert Config().google_ads.api_version == DEFAULT_API_VERSION
    assert not is_sunset(GoogleAdsClient(httpx.AsyncClient(), developer_token="d", access_token="a").api_version)
    assert all(is_sunset(v, TODAY) for v in SUNSET_DATES)


def test_configuration_refuses_a_sunset_version_naming_the_key():
    with pytest.raises(ConfigError) as info:
        load_config(environ={"ADPILOT__GOOGLE_ADS__API_VERSION": "v19"})
    message = str(info.value)
    assert "google_ads.api_version" in message and "v19" in message and "2026-02-11" in message
    assert "v23" in message


async def test_a_sunset_version_becomes_a_config_error_naming_the_key(sandbox):
    async with sandbox.client() as http:
        client = GoogleAdsClient(
            http,
            developer_token=sandbox.credentials.developer_token,
            access_token=sandbox.credentials.access_token,
            api_version="v18",
            retry=FAST_RETRY,
        )
        with pytest.raises(ApiVersionError) as info:
            await client.campaigns(DE)
    error = info.value
    assert isinstance(error, ConfigError) and error.exit_code == 2
    assert "google_ads.api_version" in str(error) and "v18" in str(error) and "v23 or newer" in str(error)


# --- 2. OAuth2 -----------------------------------------------------------------------------------


async def test_a_run_longer_than_the_token_lifetime_refreshes(sandbox):
    time = FakeTime()
    sandbox.clock = time.datetime
    async with sandbox.client() as http:
        client = _oauth_client(sandbox, http, time)
        assert [c.id for c in await client.campaigns(DE)] == ["111", "112", "113"]
        time.advance(50 * 60)  # within the hour, outside the 5-minute margin: the same token
        await client.campaigns(DE)
        assert sandbox.tokens_issued == 1
        time.advance(6 * 60)  # 56 minutes: inside the margin, renewed before it expires
        await client.campaigns(DE)
        time.advance(2 * 3600)  # hours later (a long run): renewed again, never a 401
        await client.campaigns(DE)
    assert sandbox.tokens_issued == 3


async def test_concurrent_calls_share_one_refresh(sandbox):
    time = FakeTime()
    sandbox.clock = time.datetime
    async with sandbox.client() as http:
        client = _oauth_client(sandbox, http, time)
        await asyncio.gather(*(client.budget(DE, "9001") for _ in range(12)))
    assert sandbox.tokens_issued == 1


async def test_a_token_the_api_calls_expired_is_refreshed_once_and_the_call_repeated(sandbox):
    time = FakeTime()
    sandbox.clock = time.datetime
    async with sandbox.client() as http:
        client = _oauth_client(sandbox, http, time)
        await client.campaigns(DE)
        # The server's clock runs ahead of ours (skew): it calls the token expired before we do.
        sandbox.clock = lambda: time.now + dt.timedelta(hours=2)
        assert await client.budget(DE, "9001") is not None
    assert sandbox.tokens_issued == 2


async def test_a_refused_refresh_token_is_a_clear_error_without_secrets(sandbox):
    time = FakeTime()
    sandbox.clock = time.datetime
    async with sandbox.client() as http:
        client = _oauth_client(sandbox, http, time, refresh_token="1//revoked-secret-value")
        with pytest.raises(GoogleAdsAuthError) as info:
            await client.campaigns(DE)
    error = info.value
    message = str(error)
    assert error.exit_code == 2 and isinstance(error, ConfigError) and not error.retryable
    assert "invalid_grant" in message and "refresh_token_env" in message
    for secret in ("revoked-secret-value", sandbox.credentials.client_secret):
        assert secret not in message


def test_compose_picks_oauth_then_a_static_token_and_names_missing_variables():
    config = Config(
        google_ads=GoogleAdsConfig(base_url="https://googleads.googleapis.com"),
        wordpress={"base_url": "https://shop.example"},
    )
    base = {"GOOGLE_ADS_DEVELOPER_TOKEN": "dev", "WORDPRESS_APP_PASSWORD": "pw"}
    oauth = {**base, "GOOGLE_ADS_CLIENT_ID": "id", "GOOGLE_ADS_CLIENT_SECRET": "s", "GOOGLE_ADS_REFRESH_TOKEN": "r"}
    platforms = connect(config, environ=oauth)
    assert isinstance(platforms.google_ads.credentials, OAuth2Token)
    assert platforms.google_ads.retry.deadline_s == 120 and platforms.google_ads.retry.max_server_delay_s == 60
    platforms = connect(config, environ={**base, "GOOGLE_ADS_ACCESS_TOKEN": "at"})
    assert isinstance(platforms.google_ads.credentials, StaticToken)
    with pytest.raises(ConfigError) as info:
        connect(config, environ={**base, "GOOGLE_ADS_CLIENT_ID": "id"})
    message = str(info.value)
    assert "GOOGLE_ADS_CLIENT_SECRET" in message and "GOOGLE_ADS_REFRESH_TOKEN" in message
    assert "GOOGLE_ADS_ACCESS_TOKEN" in message and "'id'" not in message


async def test_the_demo_wiring_uses_the_sandbox_token_endpoint(sandbox):
    async with connect(Config(), sandbox=sandbox, retry=FAST_RETRY) as platforms:
        await platforms.google_ads.campaigns(DE)
    assert sandbox.tokens_issued == 1


# --- 3. manager accounts ---------------------------------------------------------------------


async def test_login_customer_id_is_sent_and_client_accounts_are_listed(sandbox):
    manager = sandbox.world.google_ads.manager_id
    seen: list[str | None] = []
    async with sandbox.client(event_hooks={"request": [lambda r: _record_header(r, seen)]}) as http:
        client = GoogleAdsClient(
            http,
            developer_token=sandbox.credentials.developer_token,
            access_token=sandbox.credentials.access_token,
            login_customer_id=manager,
            retry=FAST_RETRY,
        )
        accounts = await client.client_accounts()
        assert await client.budget(DE, "9001") is not None
    assert [(a.id, a.level, a.manager) for a in accounts] == [(DE, 1, False), (AT, 1, False)]
    assert accounts[0].currency_code == "EUR" and accounts[0].name
    assert set(seen) == {manager}


async def _record_header(request: httpx.Request, seen: list[str | None]) -> None:
    seen.append(request.headers.get("login-customer-id"))


async def test_client_accounts_needs_a_manager():
    client = GoogleAdsClient(httpx.AsyncClient(), developer_token="d", access_token="a")
    with pytest.raises(ValueError, match="manager"):
        await client.client_accounts()


# --- 4. timeouts, quota, retry ceilings, deadlines ------------------------------------------------


async def test_timeout_s_reaches_httpx():
    # Old code: no timeout on the request, so httpx's 5 s default cut a 30 s timeout_s short.
    timeouts = []

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"])
        return httpx.Response(200, json={"results": []})

    client = _mock_client(handler, timeout_s=42.0)
    await client.search(DE, "SELECT campaign.id FROM campaign")
    assert timeouts == [{"connect": 42.0, "read": 42.0, "write": 42.0, "pool": 42.0}]


async def test_an_exhausted_daily_quota_is_its_own_error_and_never_retried():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return _failure({"quotaError": "RESOURCE_EXHAUSTED"}, "Too many requests.", status=429)

    time = FakeTime()
    client = _mock_client(handler, time)
    with pytest.raises(QuotaExhaustedError) as info:
        await client.campaigns(DE)
    assert len(calls) == 1 and time.slept == [] and not info.value.retryable
    assert "quota" in str(info.value) and info.value.code == "quotaError.RESOURCE_EXHAUSTED"


async def test_a_retry_delay_beyond_the_ceiling_fails_at_once():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return _failure(
            {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"}, "Retry later.", status=429, retry_delay="3600s"
        )

    time = FakeTime()
    client = _mock_client(handler, time, retry=RetryPolicy(attempts=5, max_server_delay_s=60, jitter=0))
    with pytest.raises(PlatformError) as info:
        await client.campaigns(DE)
    # Old code: slept the full hour (no ceiling) before trying again.
    assert len(calls) == 1 and time.slept == []
    assert "3600s" in str(info.value) and "max_retry_delay_s" in str(info.value)


async def test_a_short_server_delay_is_still_honoured():
    responses = [
        _failure({"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"}, "Retry.", status=429, retry_delay="7s"),
        httpx.Response(200, json={"results": []}),
    ]
    time = FakeTime()
    client = _mock_client(lambda request: responses.pop(0), time)
    assert await client.search(DE, "SELECT campaign.id FROM campaign") == []
    assert time.slept == [7.0]


async def test_the_deadline_bounds_a_call_with_all_its_retries():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return _failure({"internalError": "TRANSIENT_ERROR"}, "Try again.", status=503)

    time = FakeTime()
    policy = RetryPolicy(attempts=50, base_delay_s=1.0, max_delay_s=8.0, jitter=0, deadline_s=20.0)
    client = _mock_client(handler, time, retry=policy)
    with pytest.raises(PlatformError) as info:
        await client.campaigns(DE)
    assert sum(time.slept) <= 20.0 and len(calls) < 50
    assert "deadline" in str(info.value) and info.value.status == 503


# --- 5. rows the sandbox never produced ------------------------------------------------------


async def test_total_budgets_removed_budgets_and_entities_are_handled(platforms, sandbox):
    customer = sandbox.world.customer(DE)
    customer.campaign_budgets["9001"] = CampaignBudget(
        resource_name=f"customers/{DE}/campaignBudgets/9001", id="9001", name="Total", total_amount_micros="900000000"
    )
    spare = customer.campaign_budgets["9002"].model_copy(update={"status": "REMOVED"})
    customer.campaign_budgets["9002"] = spare
    # Old code: int(None) on the total-only budget.
    budgets = await platforms.google_ads.budgets(DE)
    assert {b.id for b in budgets}.isdisjoint({"9001", "9002"})
    assert await platforms.google_ads.budget(DE, "9001") is None
    campaigns = await platforms.google_ads.campaigns(DE)
    total = [c for c in campaigns if c.budget_id == "9001"]
    assert total and all(c.budget_is_total and c.budget_micros == 900_000_000 for c in total)


async def test_keywords_inherit_and_negative_or_removed_ones_are_left_out(platforms, sandbox):
    customer = sandbox.world.customer(DE)
    keys = list(customer.ad_group_criteria)
    customer.ad_group_criteria[keys[0]].cpc_bid_micros = None  # inherits its ad group's bid
    customer.ad_group_criteria[keys[1]].negative = True
    customer.ad_group_criteria[keys[2]].status = "REMOVED"
    keywords = {f"{k.ad_group_id}~{k.criterion_id}": k for k in await platforms.google_ads.keywords(DE)}
    assert keys[1] not in keywords and keys[2] not in keywords
    inherited = keywords[keys[0]]
    group = customer.ad_groups[keys[0].split("~")[0]]
    assert not inherited.own_bid and inherited.cpc_bid_micros == int(group.cpc_bid_micros)


def _int64() -> st.SearchStrategy[str]:
    return st.integers(min_value=0, max_value=2**63 - 1).map(str)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def _row(**resources: dict[str, Any]) -> dict[str, Any]:
    """A REST row: absent fields are absent (the API omits unset fields), never null."""
    return {name: {k: v for k, v in fields.items() if v is not None} for name, fields in resources.items()}


STATUS = st.sampled_from(["ENABLED", "PAUSED", "REMOVED", "UNKNOWN"])


@settings(max_examples=200)
@given(_int64(), _maybe(_int64()), _maybe(_int64()), _maybe(st.sampled_from(["ENABLED", "REMOVED"])))
def test_budget_rows(budget_id, amount, total, status):
    row = _row(
        campaignBudget={
            "id": budget_id,
            "name": "B",
            "amountMicros": amount,
            "totalAmountMicros": total,
            "status": status,
        }
    )
    budget = parse_budget_row(DE, row)
    if status == "REMOVED" or amount is None:
        assert budget is None
    else:
        assert budget is not None and budget.amount_micros == int(amount) and budget.id == budget_id


@settings(max_examples=200)
@given(STATUS, _maybe(_int64()), _maybe(_int64()))
def test_campaign_rows(status, amount, total):
    row = _row(
        campaign={"id": "1", "name": "C", "status": status},
        campaignBudget={"id": "2", "amountMicros": amount, "totalAmountMicros": total},
    )
    campaign = parse_campaign_row(DE, row)
    if status == "REMOVED" or (amount is None and total is None):
        assert campaign is None
    else:
        assert campaign is not None
        assert campaign.budget_micros == int(amount if amount is not None else total)
        assert campaign.budget_is_total == (amount is None)


@settings(max_examples=300)
@given(
    STATUS,
    _maybe(_int64()),
    _maybe(_int64()),
    _maybe(st.booleans()),
    _maybe(st.text(min_size=1, max_size=20)),
    _maybe(st.sampled_from(["EXACT", "PHRASE", "BROAD"])),
)
def test_keyword_rows(status, own, default, negative, text, match_type):
    row = _row(
        adGroup={"id": "7", "cpcBidMicros": default},
        adGroupCriterion={
            "criterionId": "9",
            "status": status,
            "cpcBidMicros": own,
            "negative": negative,
            "keyword": {"text": text, "matchType": match_type} if text is not None else None,
        },
    )
    keyword = parse_keyword_row(DE, row)
    if status == "REMOVED" or negative or text is None or (own is None and default is None):
        assert keyword is None
    else:
        assert keyword is not None and keyword.text == text
        assert keyword.cpc_bid_micros == int(own if own is not None else default)
        assert keyword.own_bid == (own is not None)
        assert keyword.default_bid_micros == (int(default) if default is not None else None)


@settings(max_examples=200)
@given(STATUS, st.lists(st.text(max_size=30), max_size=15), _maybe(st.lists(st.just("https://x.example"), max_size=2)))
def test_ad_rows(status, headlines, urls):
    row = _row(
        adGroup={"id": "7"},
        adGroupAd={
            "status": status,
            "ad": {"id": "5", "finalUrls": urls, "responsiveSearchAd": {"headlines": [{"text": h} for h in headlines]}},
        },
    )
    ad = parse_ad_row(DE, row)
    if status == "REMOVED":
        assert ad is None
    else:
        assert ad is not None and list(ad.headlines) == headlines and ad.descriptions == ()
        assert list(ad.final_urls) == (urls or [])


# --- 7. reconciling an unknown outcome through change_event -----------------------------------------


async def test_a_lost_create_is_found_in_the_change_history(sandbox):
    time = FakeTime()
    sandbox.clock = time.datetime
    headlines = ["Wanderschuhe kaufen", "Neue Modelle 2026", "Jetzt bestellen"]
    descriptions = ["Leichte Wanderschuhe für jedes Gelände.", "Kostenloser Versand ab 50 Euro."]
    sandbox.set_faults({"google_ads": {"timeout_rate": 1.0, "timeout_kind": "after", "timeout_ms": 0, "on": "writes"}})
    async with sandbox.client() as http:
        client = GoogleAdsClient(
            http,
            developer_token=sandbox.credentials.developer_token,
            access_token=sandbox.credentials.access_token,
            retry=FAST_RETRY,
        )
        started = time.now
        with pytest.raises(PlatformError) as info:
            await client.create_responsive_search_ad(DE, "2101", headlines, descriptions, "https://shop.example/x")
        assert info.value.outcome_unknown  # the create landed, its answer was lost
        found = await client.find_created_ad(DE, "2101", headlines, descriptions, since=started)
        assert found is not None and found.startswith(f"customers/{DE}/adGroupAds/2101~")
        assert await client.find_created_ad(DE, "2101", [*headlines[:2], "Andere"], descriptions, since=started) is None
        events = await client.change_events(DE, since=started, resource_type="AD_GROUP_AD")
    assert [e.operation for e in events] == ["CREATE"] and events[0].client_type == "GOOGLE_ADS_API"
    assert json.dumps(events[0].new_resource)  # plain JSON for the audit log


async def test_a_refused_developer_token_is_a_configuration_error_naming_what_to_check(sandbox):
    async with sandbox.client() as http:
        client = GoogleAdsClient(
            http, developer_token="not-the-token", access_token=sandbox.credentials.access_token, retry=FAST_RETRY
        )
        with pytest.raises(GoogleAdsAuthError) as info:
            await client.list_accessible_customers()
    error = info.value
    assert isinstance(error, ConfigError) and error.exit_code == 2 and error.status == 401
    assert "google_ads.developer_token_env" in str(error) and "not-the-token" not in str(error)
