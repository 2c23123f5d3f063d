"""Contract tests against Google's own definitions of the Google Ads API (the `contract` extra).

Google's `google-ads` package carries the generated messages and enums of every API version it
supports. Here every HTTP request the client sends in a full sweep of its methods, and every
answer and error the sandbox gives (each validation path, each fault), is parsed with the official
message of the requested version, strictly: a field or an enum value the version does not define
fails the test. Mutate update masks must name fields of the resource, GAQL field names the client
selects must exist, and every error code the sandbox's source can send must be a member of the
official error enums. adpilot itself never imports `google-ads`; only these tests do.

The package is part of the dev extra, so `make test` always runs these tests; a missing package
fails them, unless ADPILOT_CONTRACT_OPTIONAL is set (then the module is skipped).
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

if os.environ.get("ADPILOT_CONTRACT_OPTIONAL"):
    pytest.importorskip("google.ads.googleads", reason="google-ads is not installed (pip install -e '.[contract]')")
try:
    import google.ads.googleads  # noqa: F401
except ImportError as exc:
    raise ImportError(
        "the contract tests need google-ads (the `contract` extra, part of `dev`): run `make install` or "
        "pip install -c constraints.txt -e '.[dev]'; set ADPILOT_CONTRACT_OPTIONAL=1 to skip them instead"
    ) from exc

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2

from adpilot.google_ads_versions import DEFAULT_API_VERSION
from adpilot.tools import sandbox as sandbox_package
from adpilot.tools.google_ads import GoogleAdsClient
from adpilot.tools.http import RetryPolicy
from adpilot.tools.ratelimit import RateLimiter
from adpilot.tools.sandbox import Sandbox
from adpilot.tools.sandbox.demo import SANDBOX_ACCESS_TOKEN, SANDBOX_DEVELOPER_TOKEN
from tests.conftest import ADS_HEADERS, AT, DE

# The versions google-ads==34.0.0 ships; the default version must be one of them.
VERSIONS = ("v23", "v24", "v25", "v26")
NO_RETRY = RetryPolicy(attempts=1)
_FAILURE_TYPE = "type.googleapis.com/google.ads.googleads.{version}.errors.GoogleAdsFailure"
_BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
# collection → the service module and the method's message prefix
_MUTATE = {
    "campaignBudgets": ("campaign_budget_service", "MutateCampaignBudgets"),
    "campaigns": ("campaign_service", "MutateCampaigns"),
    "adGroups": ("ad_group_service", "MutateAdGroups"),
    "adGroupAds": ("ad_group_ad_service", "MutateAdGroupAds"),
    "adGroupCriteria": ("ad_group_criterion_service", "MutateAdGroupCriteria"),
}
_PATH_RE = re.compile(r"^/(v\d+)/customers/([^/]+)/(\w+):(\w+)$")
SANDBOX_SOURCES = Path(sandbox_package.__file__).parent


# --- the official definitions ------------------------------------------------------------------


def _module(version: str, name: str) -> ModuleType:
    return importlib.import_module(f"google.ads.googleads.{version}.{name}")


def _pb(version: str, module: str, name: str) -> type[Message]:
    """The protobuf class behind a proto-plus message of google-ads."""
    return getattr(_module(version, module), name).pb()  # type: ignore[no-any-return]


def parse(text: str | bytes, cls: type[Message]) -> Message:
    """Parse REST JSON strictly: an unknown field or enum value raises json_format.ParseError."""
    return json_format.Parse(text, cls(), ignore_unknown_fields=False)


@functools.cache
def error_enums(version: str) -> dict[str, frozenset[str]]:
    """JSON name of each ErrorCode member (``queryError``) → the names of its enum's values."""
    descriptor = _pb(version, "errors.types.errors", "ErrorCode").DESCRIPTOR
    return {
        field.json_name: frozenset(value.name for value in field.enum_type.values)
        for field in descriptor.fields
        if field.enum_type is not None
    }


def _row_field(version: str, dotted: str) -> FieldDescriptor | None:
    """The field a GAQL name (``campaign_budget.amount_micros``) denotes in GoogleAdsRow, or None."""
    descriptor: Descriptor | None = _pb(version, "services.types.google_ads_service", "GoogleAdsRow").DESCRIPTOR
    field = None
    for part in dotted.split("."):
        if descriptor is None:
            return None
        field = descriptor.fields_by_name.get(part)
        if field is None:
            return None
        descriptor = field.message_type
    return field


# --- recording every exchange ------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    request: bytes
    status: int
    response: bytes

    @property
    def version(self) -> str:
        return self.path.split("/")[1]

    def json(self) -> Any:
        return json.loads(self.response)

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.request[:300]!r} -> {self.status} {self.response[:300]!r}"


class Recorder(httpx.AsyncBaseTransport):
    """Passes requests to the sandbox and keeps every exchange with the Google Ads API (the
    OAuth token endpoint is not part of that API and is not kept)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        if re.match(r"^/v\d+/", request.url.path):
            self.exchanges.append(Exchange(request.method, request.url.path, body, response.status_code, content))
        return httpx.Response(response.status_code, headers=response.headers, content=content)


# --- checking one exchange against the official messages -----------------------------------


def request_message(exchange: Exchange) -> type[Message] | None:
    """The official request message of this call; None for a GET without a body."""
    version = exchange.version
    if exchange.path == f"/{version}/customers:listAccessibleCustomers":
        return None
    match = _PATH_RE.match(exchange.path)
    assert match is not None, f"not a Google Ads API call: {exchange}"
    _, _, service, method = match.groups()
    if service == "googleAds":
        name = {"search": "SearchGoogleAdsRequest", "searchStream": "SearchGoogleAdsStreamRequest"}[method]
        return _pb(version, "services.types.google_ads_service", name)
    module, prefix = _MUTATE[service]
    return _pb(version, f"services.types.{module}", f"{prefix}Request")


def response_message(exchange: Exchange) -> type[Message]:
    version = exchange.version
    if exchange.path == f"/{version}/customers:listAccessibleCustomers":
        return _pb(version, "services.types.customer_service", "ListAccessibleCustomersResponse")
    match = _PATH_RE.match(exchange.path)
    assert match is not None
    _, _, service, method = match.groups()
    if service == "googleAds":
        name = {"search": "SearchGoogleAdsResponse", "searchStream": "SearchGoogleAdsStreamResponse"}[method]
        return _pb(version, "services.types.google_ads_service", name)
    module, prefix = _MUTATE[service]
    return _pb(version, f"services.types.{module}", f"{prefix}Response")


def check_request(exchange: Exchange) -> Message | None:
    """Parse the request body with its official message (raises json_format.ParseError); for a
    mutate, every update mask must name fields of the resource it updates."""
    cls = request_message(exchange)
    if cls is None:
        assert exchange.method == "GET" and not exchange.request, f"listAccessibleCustomers takes no body: {exchange}"
        return None
    message = parse(exchange.request, cls)
    for operation in getattr(message, "operations", ()):
        if operation.HasField("update_mask"):
            resource = operation.DESCRIPTOR.fields_by_name["update"].message_type
            assert operation.update_mask.IsValidForDescriptor(resource), (
                f"update mask {list(operation.update_mask.paths)} names no field of {resource.full_name}: {exchange}"
            )
    return message


def _failure_of(status_json: dict[str, Any], version: str, exchange: Exchange) -> list[dict[str, Any]]:
    """Check a google.rpc.Status's details; returns the GoogleAdsErrors of its GoogleAdsFailure."""
    errors: list[dict[str, Any]] = []
    for detail in status_json.get("details", []):
        kind = detail.get("@type")
        payload = {k: v for k, v in detail.items() if k != "@type"}
        if kind == _BAD_REQUEST_TYPE:
            parse(json.dumps(payload), error_details_pb2.BadRequest)
            continue
        assert kind == _FAILURE_TYPE.format(version=version), f"details name {kind}, not {version}: {exchange}"
        failure = parse(json.dumps(payload), _pb(version, "errors.types.errors", "GoogleAdsFailure"))
        assert failure.errors, f"a GoogleAdsFailure without errors: {exchange}"  # type: ignore[attr-defined]
        errors.extend(payload["errors"])
    return errors


def check_response(exchange: Exchange, *, failure_version: str | None = None) -> list[dict[str, Any]]:
    """Parse the answer with the official messages: a success with the method's response
    message, an error as the REST error envelope (a google.rpc.Status plus its `status` name)
    whose details are a GoogleAdsFailure of the requested version or a google.rpc.BadRequest.
    Returns the GoogleAdsErrors it carries (a partial failure's included)."""
    version = failure_version or exchange.version
    body = exchange.json()
    if exchange.status == 200:
        cls = response_message(exchange)
        batches = body if cls.DESCRIPTOR.name == "SearchGoogleAdsStreamResponse" else [body]
        assert isinstance(batches, list) and batches, f"searchStream answers a JSON array of batches: {exchange}"
        errors: list[dict[str, Any]] = []
        for batch in batches:
            parse(json.dumps(batch), cls)
            for row in batch.get("results", []) if cls.DESCRIPTOR.name.startswith("Search") else ():
                parse(json.dumps(row), _pb(exchange.version, "services.types.google_ads_service", "GoogleAdsRow"))
            if "partialFailureError" in batch:
                errors += _failure_of(batch["partialFailureError"], version, exchange)
        return errors
    assert set(body) == {"error"}, f"an error body is {{'error': status}}: {exchange}"
    error = body["error"]
    assert set(error) <= {"code", "message", "status", "details"}, exchange
    assert error["code"] == exchange.status, exchange
    assert error["status"] in code_pb2.Code.DESCRIPTOR.values_by_name, (
        f"{error['status']} is no google.rpc.Code: {exchange}"
    )
    parse(json.dumps({k: v for k, v in error.items() if k != "status"}), status_pb2.Status)
    errors = _failure_of(error, version, exchange)
    assert errors or exchange.status == 404 or error.get("details"), f"an error without details: {exchange}"
    return errors


def codes(errors: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {next(iter(error["errorCode"].items())) for error in errors}


# --- the sweep: every method of the client -------------------------------------------------


def _ads_client(http: httpx.AsyncClient, sandbox: Sandbox, version: str, **kwargs: Any) -> GoogleAdsClient:
    return GoogleAdsClient(
        http,
        developer_token=SANDBOX_DEVELOPER_TOKEN,
        access_token=SANDBOX_ACCESS_TOKEN,
        api_version=version,
        retry=NO_RETRY,
        limiter=RateLimiter(10_000.0),  # the sweep is not about pacing: no waits between requests
        **kwargs,
    )


async def client_sweep(sandbox: Sandbox, version: str) -> list[Exchange]:
    """Call every method of GoogleAdsClient against the sandbox; the exchanges it caused."""
    recorder = Recorder(sandbox.transport())
    manager = sandbox.world.google_ads.manager_id
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    async with httpx.AsyncClient(transport=recorder, base_url=sandbox.base_url) as http:
        ads = _ads_client(http, sandbox, version, login_customer_id=manager)
        assert await ads.list_accessible_customers() == [DE, AT]
        sandbox._google_ads.page_size = 2  # small pages, so that the client follows a page token
        assert [c.id for c in await ads.campaigns(DE)] == ["111", "112", "113"]
        sandbox._google_ads.page_size = 10_000
        assert await ads.budget(DE, "9001") is not None
        assert await ads.budgets(DE)
        assert await ads.campaign_status(DE, "111") == "ENABLED"
        assert await ads.keywords(DE)
        assert await ads.keyword(DE, "2101", "41001") is not None
        assert await ads.ads(DE)
        assert await ads.ads(DE, "2101")
        for level in ("campaign", "ad_group", "ad", "keyword"):
            for days in (1, 7, 14, 30):
                await ads.performance(DE, level, days)
        assert {a.id for a in await ads.client_accounts()} == {DE, AT}
        assert await ads.client_accounts(manager, include_hidden=True)
        for validate_only in (True, False):
            await ads.set_budget_amount(DE, "9001", 55_000_000, validate_only=validate_only)
            await ads.set_campaign_status(DE, "112", "PAUSED", validate_only=validate_only)
            await ads.set_keyword_bid(DE, "2101", "41001", 1_300_000, validate_only=validate_only)
            await ads.clear_keyword_bid(DE, "2101", "41002", validate_only=validate_only)
            await ads.set_ad_status(DE, "2101", "31002", "PAUSED", validate_only=validate_only)
        headlines = ["Wanderschuhe wasserdicht", "Jetzt Größe finden", "Alpine Outfitters"]
        descriptions = ["Wasserdichte Wanderschuhe für jede Tour.", "Beratung und Versand in 1–2 Werktagen."]
        url = "https://www.alpine-outfitters.example/de/wanderschuhe"
        for validate_only in (True, False):
            await ads.create_responsive_search_ad(
                DE, "2101", headlines, descriptions, url, status="PAUSED", validate_only=validate_only
            )
        assert await ads.change_events(DE, since=since)
        assert await ads.change_events(DE, since=since, resource_type="CAMPAIGN_BUDGET", limit=5)
        assert await ads.find_created_ad(DE, "2101", headlines, descriptions, since=since) is not None
        # mutate() itself, with partial failure: one operation applies, one fails
        good = {
            "update": {"resourceName": f"customers/{DE}/campaignBudgets/9002", "amountMicros": "40000000"},
            "updateMask": "amountMicros",
        }
        bad = {**good, "update": {**good["update"], "resourceName": f"customers/{DE}/campaignBudgets/404"}}
        result = await ads.mutate(DE, "campaignBudgets", [good, bad], partial_failure=True, safe_to_repeat=True)
        assert result.resource_names[0] and result.partial_failures
    return recorder.exchanges


_SWEEPS: dict[str, list[Exchange]] = {}


async def swept(sandbox: Sandbox, version: str) -> list[Exchange]:
    """The exchanges of one client sweep per version (two tests read them; a sweep takes seconds)."""
    if version not in _SWEEPS:
        _SWEEPS[version] = await client_sweep(sandbox, version)
    return _SWEEPS[version]


def test_the_default_version_is_one_the_package_ships():
    assert DEFAULT_API_VERSION in VERSIONS
    for version in VERSIONS:
        assert _module(version, "errors.types.errors").GoogleAdsFailure


@pytest.mark.parametrize("version", VERSIONS)
async def test_every_request_and_answer_of_a_client_sweep_parses(sandbox, version):
    exchanges = await swept(sandbox, version)
    paths = {re.sub(r"customers/\d+/", "customers/{id}/", e.path) for e in exchanges}
    assert paths == {
        f"/{version}/customers:listAccessibleCustomers",
        f"/{version}/customers/{{id}}/googleAds:search",
        *(f"/{version}/customers/{{id}}/{c}:mutate" for c in ("campaignBudgets", "campaigns", "adGroupCriteria")),
        f"/{version}/customers/{{id}}/adGroupAds:mutate",
    }
    assert any(b'"pageToken"' in e.request for e in exchanges), "the sweep followed no page token"
    partial = []
    for exchange in exchanges:
        assert exchange.status == 200, exchange
        check_request(exchange)
        partial += check_response(exchange)
    assert codes(partial) == {("mutateError", "RESOURCE_NOT_FOUND")}


@pytest.mark.parametrize("version", VERSIONS)
async def test_every_field_the_client_queries_exists(sandbox, version):
    """The GAQL the client builds names only fields of the version's resources (a name the
    sandbox knows but Google does not would fail only against the real API)."""
    exchanges = await swept(sandbox, version)
    queries = {json.loads(e.request)["query"] for e in exchanges if e.path.endswith("googleAds:search")}
    assert len(queries) > 10
    for query in queries:
        plain = re.sub(r"'[^']*'", "''", query)
        select = re.match(r"SELECT (.*?) FROM (\w+)", plain)
        assert select is not None, query
        resource = select.group(2)
        assert _row_field(version, resource) is not None, f"no resource {resource} in {version}"
        for name in set(re.findall(r"\b[a-z_]+(?:\.[a-z_0-9]+)+\b", plain)):
            assert _row_field(version, name) is not None, f"{name} is no field of GoogleAdsRow {version}: {query}"


# --- every error the sandbox can answer -----------------------------------------------------


def _update(collection: str, key: str, values: dict[str, Any], mask: str | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"update": {"resourceName": f"customers/{DE}/{collection}/{key}", **values}}
    operation["updateMask"] = ",".join(values) if mask is None else mask
    return operation


def _rsa(**changes: Any) -> dict[str, Any]:
    ad: dict[str, Any] = {
        "finalUrls": ["https://www.alpine-outfitters.example/de"],
        "responsiveSearchAd": {
            "headlines": [{"text": "Wanderschuhe"}, {"text": "Bergschuhe"}, {"text": "Alpine Outfitters"}],
            "descriptions": [{"text": "Wasserdicht und leicht."}, {"text": "Versand in 1–2 Tagen."}],
        },
    }
    rsa = ad["responsiveSearchAd"]
    for key, value in changes.items():  # None: leave the field out
        target = rsa if key in rsa or key in ("path1", "path2") else ad
        target[key] = value
        if value is None:
            del target[key]
    return {"create": {"adGroup": f"customers/{DE}/adGroups/2101", "status": "PAUSED", "ad": ad}}


def _keyword(**keyword: Any) -> dict[str, Any]:
    return {"create": {"adGroup": f"customers/{DE}/adGroups/2101", "keyword": {"matchType": "EXACT", **keyword}}}


# (code the request must draw, collection or None for a search, the body) — bodies the official
# request message accepts: the API itself, not its JSON front end, refuses them.
_TOO_LONG = "Wanderschuhe für jede Bergtour im Sommer"
MUTATE_ERRORS: list[tuple[str, str, dict[str, Any]]] = [
    ("requestError.OPERATION_REQUIRED", "campaigns", {"operations": []}),
    ("requestError.OPERATION_REQUIRED", "campaigns", {"operations": [{}]}),
    ("requestError.TOO_MANY_MUTATE_OPERATIONS", "campaigns", {"operations": [{}] * 10_001}),
    ("fieldError.REQUIRED", "campaigns", {"operations": [{"update": {"status": "PAUSED"}, "updateMask": "status"}]}),
    ("requestError.RESOURCE_NAME_MALFORMED", "campaigns", {"operations": [{"remove": "customers/1/campaigns/x"}]}),
    (
        "mutateError.RESOURCE_NOT_FOUND",
        "campaigns",
        {"operations": [_update("campaigns", "404", {"status": "PAUSED"})]},
    ),
    ("mutateError.RESOURCE_NOT_FOUND", "campaigns", {"operations": [{"remove": f"customers/{DE}/campaigns/404"}]}),
    (
        "fieldMaskError.FIELD_MASK_MISSING",
        "campaigns",
        {"operations": [{"update": {"resourceName": f"customers/{DE}/campaigns/111"}}]},
    ),
    ("fieldMaskError.FIELD_NOT_FOUND", "campaigns", {"operations": [_update("campaigns", "111", {"id": "5"})]}),
    (
        "fieldError.REQUIRED",
        "campaignBudgets",
        {"operations": [_update("campaignBudgets", "9001", {}, "amountMicros")]},
    ),
    (
        "requestError.INVALID_ENUM_VALUE",
        "campaigns",
        {"operations": [_update("campaigns", "111", {"status": "REMOVED"})]},
    ),
    ("stringLengthError.EMPTY", "campaigns", {"operations": [_update("campaigns", "111", {"name": " "})]}),
    (
        "campaignBudgetError.MONEY_AMOUNT_LESS_THAN_CURRENCY_MINIMUM_CPC",
        "campaignBudgets",
        {"operations": [_update("campaignBudgets", "9001", {"amountMicros": "0"})]},
    ),
    (
        "campaignBudgetError.NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT",
        "campaignBudgets",
        {"operations": [_update("campaignBudgets", "9001", {"amountMicros": "50000001"})]},
    ),
    (
        "biddingError.BID_TOO_SMALL",
        "adGroupCriteria",
        {"operations": [_update("adGroupCriteria", "2101~41001", {"cpcBidMicros": "0"})]},
    ),
    (
        "biddingError.BID_TOO_MANY_FRACTIONAL_DIGITS",
        "adGroupCriteria",
        {"operations": [_update("adGroupCriteria", "2101~41001", {"cpcBidMicros": "1234567"})]},
    ),
    (
        "operationAccessDeniedError.CREATE_OPERATION_NOT_PERMITTED",
        "campaigns",
        {"operations": [{"create": {"name": "New"}}]},
    ),
    ("fieldError.REQUIRED", "adGroupAds", {"operations": [{"create": {"status": "PAUSED", "ad": {}}}]}),
    (
        "mutateError.RESOURCE_NOT_FOUND",
        "adGroupAds",
        {"operations": [{"create": {"adGroup": f"customers/{DE}/adGroups/404"}}]},
    ),
    ("fieldError.REQUIRED", "adGroupAds", {"operations": [{"create": {"adGroup": f"customers/{DE}/adGroups/2101"}}]}),
    (
        "adError.INVALID_AD_TYPE",
        "adGroupAds",
        {
            "operations": [
                {"create": {"adGroup": f"customers/{DE}/adGroups/2101", "ad": {"finalUrls": ["https://x.example"]}}}
            ]
        },
    ),
    (
        "requestError.INVALID_ENUM_VALUE",
        "adGroupAds",
        {"operations": [{"create": {**_rsa()["create"], "status": "REMOVED"}}]},
    ),
    ("fieldError.REQUIRED", "adGroupAds", {"operations": [_rsa(headlines=None)]}),
    ("collectionSizeError.TOO_FEW", "adGroupAds", {"operations": [_rsa(headlines=[])]}),
    ("collectionSizeError.TOO_FEW", "adGroupAds", {"operations": [_rsa(descriptions=[{"text": "Nur eine."}])]}),
    (
        "collectionSizeError.TOO_MANY",
        "adGroupAds",
        {"operations": [_rsa(descriptions=[{"text": f"Text {i}"} for i in range(5)])]},
    ),
    (
        "stringLengthError.EMPTY",
        "adGroupAds",
        {"operations": [_rsa(headlines=[{"text": ""}, {"text": "B"}, {"text": "C"}])]},
    ),
    (
        "stringLengthError.TOO_LONG",
        "adGroupAds",
        {"operations": [_rsa(headlines=[{"text": _TOO_LONG}, {"text": "B"}, {"text": "C"}])]},
    ),
    (
        "distinctError.DUPLICATE_ELEMENT",
        "adGroupAds",
        {"operations": [_rsa(headlines=[{"text": "A"}, {"text": "a"}, {"text": "C"}])]},
    ),
    ("fieldError.REQUIRED", "adGroupAds", {"operations": [_rsa(finalUrls=[])]}),
    (
        "urlFieldError.INVALID_PROTOCOL_IN_FINAL_URL",
        "adGroupAds",
        {"operations": [_rsa(finalUrls=["ftp://x.example"])]},
    ),
    ("stringLengthError.TOO_LONG", "adGroupAds", {"operations": [_rsa(path1="wanderschuhe-sommer")]}),
    ("fieldError.REQUIRED", "adGroupCriteria", {"operations": [_keyword(text=" ")]}),
    (
        "requestError.INVALID_ENUM_VALUE",
        "adGroupCriteria",
        {"operations": [_keyword(text="bergschuhe", matchType="UNKNOWN")]},
    ),
    ("criterionError.KEYWORD_TEXT_TOO_LONG", "adGroupCriteria", {"operations": [_keyword(text="x" * 81)]}),
    (
        "biddingError.BID_TOO_SMALL",
        "adGroupCriteria",
        {"operations": [{"create": {**_keyword(text="bergschuhe")["create"], "cpcBidMicros": "0"}}]},
    ),
]


def _change_query(where: str, limit: str = " LIMIT 10") -> str:
    return f"SELECT change_event.change_resource_name FROM change_event{where}{limit}"


_NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
_RECENT = "change_event.change_date_time >= '2026-12-02' AND change_event.change_date_time <= '2026-12-04'"
SEARCH_ERRORS: list[tuple[str, dict[str, Any]]] = [
    ("queryError.QUERY_ERROR", {}),
    ("requestError.PAGE_SIZE_NOT_SUPPORTED", {"query": "SELECT campaign.id FROM campaign", "pageSize": 4}),
    ("requestError.INVALID_PAGE_TOKEN", {"query": "SELECT campaign.id FROM campaign", "pageToken": "bm9wZQ=="}),
    ("queryError.EXPECTED_SELECT", {"query": ""}),
    ("queryError.EXPECTED_SELECT", {"query": "campaign.id FROM campaign"}),
    ("queryError.BAD_SYMBOL", {"query": "SELECT campaign.id FROM campaign WHERE campaign.id = 1 ;"}),
    ("queryError.UNEXPECTED_END_OF_QUERY", {"query": "SELECT campaign.id FROM"}),
    ("queryError.BAD_FIELD_NAME", {"query": "SELECT FROM campaign"}),
    ("queryError.BAD_VALUE", {"query": "SELECT campaign.id FROM campaign WHERE campaign.id = ("}),
    ("queryError.EXPECTED_LIST", {"query": "SELECT campaign.id FROM campaign WHERE campaign.id IN 1"}),
    ("queryError.EXPECTED_LIST", {"query": "SELECT campaign.id FROM campaign WHERE campaign.id IN (1"}),
    ("queryError.BAD_OPERATOR", {"query": "SELECT campaign.id FROM campaign WHERE campaign.id NOT 1"}),
    ("queryError.BAD_OPERATOR", {"query": "SELECT campaign.id FROM campaign WHERE campaign.id IS 1"}),
    ("queryError.BAD_OPERATOR", {"query": "SELECT campaign.id FROM campaign WHERE campaign.id ORDER 1"}),
    ("queryError.EXPECTED_AND", {"query": "SELECT campaign.id FROM campaign WHERE campaign.id BETWEEN 1 OR 2"}),
    (
        "queryError.INVALID_VALUE_WITH_DURING_OPERATOR",
        {"query": "SELECT campaign.id FROM campaign WHERE segments.date DURING LAST_5_DAYS"},
    ),
    (
        "queryError.INVALID_VALUE_WITH_LIKE_OPERATOR",
        {"query": "SELECT campaign.id FROM campaign WHERE campaign.name LIKE 5"},
    ),
    ("queryError.EXPECTED_FROM", {"query": "SELECT campaign.id WHERE campaign.id = 1"}),
    ("queryError.BAD_RESOURCE_TYPE_IN_FROM_CLAUSE", {"query": "SELECT campaign.id FROM campaign.id"}),
    ("queryError.BAD_RESOURCE_TYPE_IN_FROM_CLAUSE", {"query": "SELECT campaign.id FROM asset"}),
    ("queryError.EXPECTED_BY", {"query": "SELECT campaign.id FROM campaign ORDER campaign.id"}),
    ("queryError.BAD_LIMIT_VALUE", {"query": "SELECT campaign.id FROM campaign LIMIT 0"}),
    ("queryError.BAD_PARAMETER_NAME", {"query": "SELECT campaign.id FROM campaign PARAMETERS include_drafts > 1"}),
    ("queryError.UNEXPECTED_INPUT", {"query": "SELECT campaign.id FROM campaign LIMIT 5 5"}),
    (
        "queryError.PROHIBITED_FIELD_COMBINATION_IN_SELECT_CLAUSE",
        {"query": "SELECT campaign.id, campaign.id FROM campaign"},
    ),
    ("queryError.UNRECOGNIZED_FIELD", {"query": "SELECT metrics.nope FROM campaign"}),
    ("queryError.UNRECOGNIZED_FIELD", {"query": "SELECT segments.week FROM campaign"}),
    ("queryError.UNRECOGNIZED_FIELD", {"query": "SELECT campaign.nope FROM campaign"}),
    ("queryError.UNRECOGNIZED_FIELD", {"query": "SELECT asset.id FROM campaign"}),
    ("queryError.UNRECOGNIZED_FIELD", {"query": "SELECT campaign FROM campaign"}),
    ("queryError.UNRECOGNIZED_FIELD", {"query": "SELECT keyword_view.id FROM keyword_view"}),
    ("queryError.UNRECOGNIZED_FIELD", {"query": "SELECT customer.manager FROM customer"}),
    ("queryError.UNRECOGNIZED_FIELD", {"query": "SELECT ad_group_ad.ad FROM ad_group_ad"}),
    ("queryError.PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE", {"query": "SELECT ad_group.id FROM campaign"}),
    ("queryError.INVALID_DATE_FORMAT", {"query": "SELECT metrics.clicks FROM campaign WHERE segments.date = 'today'"}),
    ("queryError.BAD_OPERATOR", {"query": "SELECT metrics.clicks FROM campaign WHERE segments.date LIKE '2026%'"}),
    (
        "queryError.EXPECTED_FILTERS_ON_DATE_RANGE",
        {"query": "SELECT metrics.clicks FROM campaign WHERE segments.date >= '2026-11-01'"},
    ),
    ("queryError.EXPECTED_FILTERS_ON_DATE_RANGE", {"query": "SELECT segments.date, metrics.clicks FROM campaign"}),
    ("queryError.BAD_FIELD_NAME", {"query": "SELECT campaign.id FROM ad_group_ad ORDER BY ad_group_ad.ad.final_urls"}),
    (
        "queryError.PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
        {
            "query": f"SELECT change_event.change_resource_name, metrics.clicks FROM change_event "
            f"WHERE {_RECENT} LIMIT 5"
        },
    ),
    ("queryError.BAD_ENUM_CONSTANT", {"query": "SELECT campaign.id FROM campaign WHERE campaign.status = DELETED"}),
    ("queryError.BAD_NUMBER", {"query": "SELECT campaign.id FROM campaign WHERE campaign.id = 'eins'"}),
    ("queryError.BAD_VALUE", {"query": "SELECT campaign.id FROM campaign WHERE campaign.name > 5"}),
    ("changeEventError.LIMIT_NOT_SPECIFIED", {"query": _change_query(f" WHERE {_RECENT}", "")}),
    ("changeEventError.INVALID_LIMIT_CLAUSE", {"query": _change_query(f" WHERE {_RECENT}", " LIMIT 10001")}),
    ("changeEventError.CHANGE_DATE_RANGE_INFINITE", {"query": _change_query("")}),
    (
        "changeEventError.CHANGE_DATE_RANGE_NEGATIVE",
        {"query": _change_query(" WHERE change_event.change_date_time BETWEEN '2026-12-02' AND '2026-12-01'")},
    ),
    (
        "changeEventError.START_DATE_TOO_OLD",
        {"query": _change_query(" WHERE change_event.change_date_time BETWEEN '2026-10-01' AND '2026-12-01'")},
    ),
]


async def _drive_errors(sandbox: Sandbox, version: str) -> list[tuple[str, Exchange]]:
    """Send requests that draw each error; (the code each was meant to draw, its exchange)."""
    sandbox.clock = lambda: _NOW
    recorder = Recorder(sandbox.transport())
    expected: list[str] = []
    base = f"/{version}/customers/{DE}"
    async with httpx.AsyncClient(transport=recorder, base_url=sandbox.base_url) as http:

        async def send(code: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> None:
            if body is None:
                await http.get(path, headers=headers or ADS_HEADERS)
            else:
                await http.post(path, json=body, headers=headers or ADS_HEADERS)
            expected.append(code)

        for code, collection, body in MUTATE_ERRORS:
            await send(code, f"{base}/{collection}:mutate", body)
        for code, body in SEARCH_ERRORS:
            await send(code, f"{base}/googleAds:search", body)
        # authentication, authorisation and headers
        search = {"query": "SELECT campaign.id FROM campaign"}
        invalid = {**ADS_HEADERS, "authorization": "Bearer nope"}
        await send(
            "authenticationError.OAUTH_TOKEN_INVALID", f"/{version}/customers:listAccessibleCustomers", None, invalid
        )
        await send("authenticationError.OAUTH_TOKEN_INVALID", f"{base}/googleAds:search", search, invalid)
        sandbox.token_lifetime_s = 0
        token, _ = sandbox._google_ads.issue_token()
        expired = {**ADS_HEADERS, "authorization": f"Bearer {token}"}
        await send("authenticationError.OAUTH_TOKEN_EXPIRED", f"{base}/googleAds:search", search, expired)
        wrong_developer = {**ADS_HEADERS, "developer-token": "nope"}
        await send("authenticationError.DEVELOPER_TOKEN_INVALID", f"{base}/googleAds:search", search, wrong_developer)
        await send("requestError.INVALID_CUSTOMER_ID", f"/{version}/customers/111-222-3333/googleAds:search", search)
        bad_login = {**ADS_HEADERS, "login-customer-id": "999-000-1111"}
        await send("headerError.INVALID_LOGIN_CUSTOMER_ID", f"{base}/googleAds:search", search, bad_login)
        await send(
            "authorizationError.USER_PERMISSION_DENIED", f"/{version}/customers/1230000000/googleAds:search", search
        )
        other_login = {**ADS_HEADERS, "login-customer-id": AT}
        await send("authorizationError.USER_PERMISSION_DENIED", f"{base}/googleAds:search", search, other_login)
        # faults
        for fault, code in (
            ({"error_rate": 1.0}, "internalError.TRANSIENT_ERROR"),
            ({"rate_limit_every": 1, "retry_delay_ms": 1500}, "quotaError.RESOURCE_TEMPORARILY_EXHAUSTED"),
            ({"timeout_rate": 1.0, "timeout_ms": 0, "timeout_kind": "before"}, "internalError.DEADLINE_EXCEEDED"),
            ({"timeout_rate": 1.0, "timeout_ms": 0, "timeout_kind": "after"}, "internalError.DEADLINE_EXCEEDED"),
        ):
            sandbox.set_faults({"google_ads": fault})
            await send(code, f"{base}/googleAds:search", search)
            await send(
                code, f"{base}/campaigns:mutate", {"operations": [_update("campaigns", "111", {"status": "PAUSED"})]}
            )
        sandbox.set_faults({})
        # partial failure: the errors ride in a successful answer
        await send(
            "mutateError.RESOURCE_NOT_FOUND",
            f"{base}/campaignBudgets:mutate",
            {
                "operations": [
                    _update("campaignBudgets", "9001", {"amountMicros": "60000000"}),
                    {"remove": f"customers/{DE}/campaignBudgets/404"},
                ],
                "partialFailure": True,
            },
        )
    assert len(recorder.exchanges) == len(expected)
    return list(zip(expected, recorder.exchanges, strict=True))


@pytest.mark.parametrize("version", VERSIONS)
async def test_every_error_the_sandbox_answers_parses_as_a_google_ads_failure(sandbox, version):
    drawn: set[tuple[str, str]] = set()
    for code, exchange in await _drive_errors(sandbox, version):
        check_request(exchange)  # each of these requests is valid JSON for the request message
        errors = check_response(exchange)
        assert code in {f"{family}.{value}" for family, value in codes(errors)}, f"expected {code}: {exchange}"
        drawn |= codes(errors)
    drawn.add(("requestError", "UNSUPPORTED_VERSION"))  # a sunset version's: see the next test
    assert drawn == sandbox_error_codes(), "a code the sandbox can send was not drawn (or one not found in its source)"


async def test_a_sunset_version_answers_a_failure_shaped_like_the_newer_ones(sandbox):
    """google-ads no longer ships v22's messages; its answer is checked against the oldest shipped."""
    recorder = Recorder(sandbox.transport())
    async with httpx.AsyncClient(transport=recorder, base_url=sandbox.base_url) as http:
        await http.post(f"/v22/customers/{DE}/googleAds:search", json={"query": "SELECT campaign.id FROM campaign"})
    (exchange,) = recorder.exchanges
    assert exchange.status == 400
    body = json.loads(exchange.response)
    body["error"]["details"][0]["@type"] = _FAILURE_TYPE.format(version=VERSIONS[0])
    moved = Exchange(exchange.method, exchange.path, exchange.request, exchange.status, json.dumps(body).encode())
    assert codes(check_response(moved, failure_version=VERSIONS[0])) == {("requestError", "UNSUPPORTED_VERSION")}


# Requests the official request message refuses: the API's JSON front end answers them (400,
# a google.rpc.BadRequest, no GoogleAdsFailure) before Google Ads sees them.
INVALID_PAYLOADS: list[tuple[str | None, dict[str, Any]]] = [
    ("campaigns", {"operations": [_update("campaigns", "111", {"status": "PAUSED"})], "partialFailures": True}),
    ("campaigns", {"operations": [_update("campaigns", "111", {"status": "PAUSED"}, "status_x")]}),
    (
        "adGroupCriteria",
        {"operations": [_update("adGroupCriteria", "2101~41001", {"cpcBidMicros": "1500000"}, "cpc_bid_micros")]},
    ),
    ("campaignBudgets", {"operations": [_update("campaignBudgets", "9001", {"amountMicro": "1"}, "name")]}),
    ("campaignBudgets", {"operations": [_update("campaignBudgets", "9001", {"amountMicros": "12.5"})]}),
    ("campaignBudgets", {"operations": [_update("campaignBudgets", "9001", {"amountMicros": "abc"})]}),
    ("campaignBudgets", {"operations": [_update("campaignBudgets", "9001", {"amountMicros": "99999999999999999999"})]}),
    ("campaigns", {"operations": [_update("campaigns", "111", {"status": "STOPPED"})]}),
    ("adGroupCriteria", {"operations": [_keyword(text="bergschuhe", matchType="EXACTLY")]}),
    ("campaigns", {"operations": "remove all"}),
    ("campaigns", {"operations": ["customers/1112223333/campaigns/111"]}),
    (
        "campaigns",
        {
            "operations": [
                {"remove": f"customers/{DE}/campaigns/113", "update": {"resourceName": f"customers/{DE}/campaigns/111"}}
            ]
        },
    ),
    ("campaigns", {"operations": [{"remove": 113}]}),
    ("campaigns", {"operations": [{"update": "customers/1112223333/campaigns/111", "updateMask": "status"}]}),
    (
        "campaigns",
        {"operations": [{"update": {"resourceName": f"customers/{DE}/campaigns/111"}, "updateMask": ["status"]}]},
    ),
    ("adGroupAds", {"operations": [{"create": "an ad"}]}),
    ("adGroupAds", {"operations": [_rsa(headlines="Wanderschuhe")]}),
    ("adGroupAds", {"operations": [_rsa(headlines=["A", "B", "C"])]}),
    ("adGroupAds", {"operations": [_rsa(headlines=[{"text": 1}, {"text": "B"}, {"text": "C"}])]}),
    ("adGroupAds", {"operations": [_rsa(finalUrls="https://x.example")]}),
    ("adGroupAds", {"operations": [_rsa(finalUrls=[5])]}),
    ("adGroupAds", {"operations": [_rsa(path1=5)]}),
    (
        "adGroupCriteria",
        {"operations": [{"create": {"adGroup": f"customers/{DE}/adGroups/2101", "keyword": "bergschuhe"}}]},
    ),
    (None, {"query": 5}),
    (None, {"query": "SELECT campaign.id FROM campaign", "returnTotalResultsCount": True}),
    (None, {"query": "SELECT campaign.id FROM campaign", "pageSize": "many"}),
]


@pytest.mark.parametrize(("collection", "body"), INVALID_PAYLOADS)
async def test_a_body_the_official_message_refuses_gets_the_front_ends_error(sandbox, collection, body):
    recorder = Recorder(sandbox.transport())
    path = f"/{DEFAULT_API_VERSION}/customers/{DE}/" + (f"{collection}:mutate" if collection else "googleAds:search")
    async with httpx.AsyncClient(transport=recorder, base_url=sandbox.base_url) as http:
        await http.post(path, json=body, headers=ADS_HEADERS)
    (exchange,) = recorder.exchanges
    with pytest.raises(json_format.ParseError):
        check_request(exchange)
    assert exchange.status == 400, exchange
    assert check_response(exchange) == [], f"a GoogleAdsFailure for a body the JSON front end refuses: {exchange}"
    assert exchange.json()["error"]["details"][0]["@type"] == _BAD_REQUEST_TYPE


async def test_front_end_errors_parse(sandbox):
    recorder = Recorder(sandbox.transport())
    base = f"/{DEFAULT_API_VERSION}/customers/{DE}"
    async with httpx.AsyncClient(transport=recorder, base_url=sandbox.base_url) as http:
        await http.post(f"{base}/googleAds:search", content=b"{not json", headers=ADS_HEADERS)
        await http.post(f"{base}/googleAds:search", json=["SELECT"], headers=ADS_HEADERS)
        await http.post(f"{base}/assets:mutate", json={"operations": [{}]}, headers=ADS_HEADERS)
        await http.post(f"{base}/googleAds:nope", json={}, headers=ADS_HEADERS)
    assert [e.status for e in recorder.exchanges] == [400, 400, 404, 404]
    for exchange in recorder.exchanges:
        assert check_response(exchange) == []


# --- the sandbox's error codes come only from the official enums -----------------------------


def sandbox_error_codes() -> set[tuple[str, str]]:
    """Every (family, code) the sandbox's Google Ads modules can send, read from their source."""
    found: set[tuple[str, str]] = set()
    for source in SANDBOX_SOURCES.glob("*.py"):
        if source.name.startswith("wordpress"):
            continue
        text = source.read_text(encoding="utf-8")
        found |= set(re.findall(r'(?:ads_error|OperationError)\(\s*"(\w+)",\s*"([A-Z_]+)"', text))
        found |= {("queryError", code) for code in re.findall(r'GaqlError\(\s*"([A-Z_]+)"', text)}
        found |= {("queryError", code) for code in re.findall(r'expect_keyword\("\w+", "([A-Z_]+)"\)', text)}
    found |= {  # codes chosen at run time in _check_money and the token check
        ("biddingError", "BID_TOO_SMALL"),
        ("biddingError", "BID_TOO_MANY_FRACTIONAL_DIGITS"),
        ("campaignBudgetError", "MONEY_AMOUNT_LESS_THAN_CURRENCY_MINIMUM_CPC"),
        ("campaignBudgetError", "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT"),
        ("authenticationError", "OAUTH_TOKEN_EXPIRED"),
        ("authenticationError", "OAUTH_TOKEN_INVALID"),
    }
    return found


@pytest.mark.parametrize("version", VERSIONS)
def test_every_error_code_in_the_sandbox_is_a_member_of_the_official_enums(version):
    found = sandbox_error_codes()
    assert len(found) > 50
    enums = error_enums(version)
    invented = sorted(f"{family}.{code}" for family, code in found if code not in enums.get(family, ()))
    assert invented == []
