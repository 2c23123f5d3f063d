"""The Google-Ads-REST-shaped part of the sandbox.

Routes (``{v}`` is any ``vNN``):
    POST /{v}/customers/{cid}/googleAds:search         {query, pageToken?, pageSize?}
    POST /{v}/customers/{cid}/googleAds:searchStream   {query}
    POST /{v}/customers/{cid}/{collection}:mutate      {operations, partialFailure?, validateOnly?}
    GET  /{v}/customers:listAccessibleCustomers
Collections: campaignBudgets, campaigns, adGroups, adGroupAds, adGroupCriteria.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from adpilot.money import INT64_MAX, minimum_unit_micros
from adpilot.text import google_ads_length
from adpilot.tools.sandbox.envelopes import ads_error, ads_error_response, failure_details
from adpilot.tools.sandbox.gaql import GaqlError, parse
from adpilot.tools.sandbox.search import execute
from adpilot.tools.sandbox.simulate import truth_for_new_ad, truth_for_new_keyword
from adpilot.tools.sandbox.world import (
    Ad,
    AdGroupAd,
    AdGroupCriterion,
    AdTextAsset,
    Customer,
    KeywordInfo,
    ResponsiveSearchAd,
)

if TYPE_CHECKING:
    from adpilot.tools.sandbox.server import Sandbox

MAX_OPERATIONS = 10_000
MAX_PAGE_SIZE = 10_000
_VERSION_RE = re.compile(r"^v\d+$")
_CID_RE = re.compile(r"^\d{10}$")


class OperationError(Exception):
    """One operation of a mutate request is invalid; carries a GoogleAdsError body."""

    def __init__(self, family: str, code: str, message: str, path: list[str] | None = None):
        super().__init__(message)
        self.family, self.code, self.message, self.path = family, code, message, path or []

    def to_error(self, index: int, kind: str) -> dict[str, Any]:
        location: list[dict[str, Any]] = [{"fieldName": "operations", "index": index}, {"fieldName": kind}]
        location += [{"fieldName": part} for part in self.path]
        return ads_error(self.family, self.code, self.message, location=location)


@dataclass(frozen=True)
class _Collection:
    world_field: str
    resource: str  # the segment in resource names: campaignBudgets, campaigns, ...
    updatable: dict[str, str]  # updateMask path → model field
    creatable: bool
    # Optional fields an update clears when its mask names them and the update sets no value (the
    # Google Ads API's way to clear a field): a keyword's own bid, so it uses its ad group's default.
    clearable: frozenset[str] = frozenset()


_COLLECTIONS = {
    "campaignBudgets": _Collection(
        "campaign_budgets",
        "campaignBudgets",
        {"amountMicros": "amount_micros", "name": "name"},
        False,
    ),
    "campaigns": _Collection("campaigns", "campaigns", {"status": "status", "name": "name"}, False),
    "adGroups": _Collection(
        "ad_groups",
        "adGroups",
        {"status": "status", "name": "name", "cpcBidMicros": "cpc_bid_micros"},
        False,
    ),
    "adGroupAds": _Collection("ad_group_ads", "adGroupAds", {"status": "status"}, True),
    "adGroupCriteria": _Collection(
        "ad_group_criteria",
        "adGroupCriteria",
        {"status": "status", "cpcBidMicros": "cpc_bid_micros"},
        True,
        frozenset({"cpcBidMicros"}),
    ),
}


def _int64(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not re.fullmatch(r"-?\d+", str(value)):
        raise OperationError(
            "fieldError",
            "INVALID_VALUE",
            f"{field} must be an int64 (as a string), got {value!r}",
            [field],
        )
    number = int(value)
    if abs(number) > INT64_MAX:
        raise OperationError("rangeError", "TOO_HIGH", f"{field} is outside the int64 range", [field])
    return number


def _status(value: Any, field: str = "status") -> str:
    if value not in ("ENABLED", "PAUSED"):
        raise OperationError(
            "requestError",
            "INVALID_ENUM_VALUE",
            f"status must be ENABLED or PAUSED (use a remove operation to remove), got {value!r}",
            [field],
        )
    return str(value)


def _check_money(customer: Customer, micros: int, field: str, *, bid: bool) -> None:
    unit = minimum_unit_micros(customer.currency_code)
    family = "biddingError" if bid else "campaignBudgetError"
    if micros <= 0:
        code = "BID_TOO_SMALL" if bid else "MONEY_AMOUNT_LESS_THAN_CURRENCY_MINIMUM_CPC"
        raise OperationError(family, code, f"{field} must be positive, got {micros}", [field])
    if micros % unit:
        code = "BID_TOO_MANY_FRACTIONAL_DIGITS" if bid else "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT"
        raise OperationError(
            family,
            code,
            f"{field} must be a multiple of {unit} micros (the {customer.currency_code} billable unit)",
            [field],
        )


def _apply_update(customer: Customer, spec: _Collection, body: Any, mask: Any) -> Callable[[], str]:
    if not isinstance(body, dict) or not isinstance(body.get("resourceName"), str):
        raise OperationError("fieldError", "REQUIRED", "update.resourceName is required", ["resource_name"])
    resource_name: str = body["resourceName"]
    key = _key_of(customer, spec, resource_name)
    entity = getattr(customer, spec.world_field).get(key)
    if entity is None:
        raise OperationError(
            "mutateError",
            "RESOURCE_NOT_FOUND",
            f"{resource_name} does not exist",
            ["resource_name"],
        )
    if not isinstance(mask, str) or not mask.strip():
        raise OperationError("fieldMaskError", "FIELD_MASK_MISSING", "updateMask is required for an update operation")
    changes: dict[str, Any] = {}
    for path in (p.strip() for p in mask.split(",")):
        if path not in spec.updatable:
            raise OperationError(
                "fieldMaskError",
                "FIELD_NOT_FOUND",
                f"{path!r} cannot be updated; updatable: {', '.join(spec.updatable)}",
            )
        if path not in body and path in spec.clearable:
            changes[spec.updatable[path]] = None
            continue
        if path not in body:
            raise OperationError(
                "fieldError",
                "REQUIRED",
                f"update mask names {path!r} but the update has no value for it",
                [path],
            )
        value = body[path]
        field = spec.updatable[path]
        if field == "status":
            changes[field] = _status(value)
        elif field.endswith("_micros"):
            micros = _int64(value, field)
            _check_money(customer, micros, field, bid=field == "cpc_bid_micros")
            changes[field] = str(micros)
        else:
            if not isinstance(value, str) or not value.strip():
                raise OperationError("stringLengthError", "EMPTY", f"{field} must be a non-empty string", [field])
            changes[field] = value
    unknown = set(body) - set(spec.updatable) - {"resourceName"}
    if unknown:
        raise OperationError(
            "requestError",
            "UNKNOWN_FIELD",
            f"unknown or immutable field(s): {', '.join(sorted(unknown))}",
        )

    def apply() -> str:
        for field, value in changes.items():
            setattr(entity, field, value)
        return resource_name

    return apply


def _apply_remove(customer: Customer, spec: _Collection, resource_name: Any) -> Callable[[], str]:
    if not isinstance(resource_name, str):
        raise OperationError("fieldError", "REQUIRED", "remove takes a resource name")
    key = _key_of(customer, spec, resource_name)
    entity = getattr(customer, spec.world_field).get(key)
    if entity is None or getattr(entity, "status", None) == "REMOVED":
        raise OperationError("mutateError", "RESOURCE_NOT_FOUND", f"{resource_name} does not exist")

    def apply() -> str:
        entity.status = "REMOVED"
        return resource_name

    return apply


def _key_of(customer: Customer, spec: _Collection, resource_name: str) -> str:
    prefix = f"customers/{customer.id}/{spec.resource}/"
    if not resource_name.startswith(prefix) or not re.fullmatch(r"\d+(~\d+)?", resource_name[len(prefix) :]):
        raise OperationError(
            "requestError",
            "RESOURCE_NAME_MALFORMED",
            f"{resource_name!r} is not a {spec.resource} resource name of customer {customer.id}",
            ["resource_name"],
        )
    return resource_name[len(prefix) :]


def _ad_group_key(customer: Customer, body: dict[str, Any]) -> str:
    ref = body.get("adGroup")
    prefix = f"customers/{customer.id}/adGroups/"
    if not isinstance(ref, str) or not ref.startswith(prefix):
        raise OperationError(
            "fieldError",
            "REQUIRED",
            f"adGroup must be a resource name like {prefix}123",
            ["ad_group"],
        )
    key = ref[len(prefix) :]
    if key not in customer.ad_groups:
        raise OperationError("mutateError", "RESOURCE_NOT_FOUND", f"{ref} does not exist", ["ad_group"])
    return key


def _text_assets(items: Any, field: str, limit: int, minimum: int, maximum: int) -> list[AdTextAsset]:
    if not isinstance(items, list):
        raise OperationError("fieldError", "REQUIRED", f"{field} must be a list of {{text}} objects", [field])
    if len(items) < minimum:
        raise OperationError(
            "collectionSizeError",
            "TOO_FEW",
            f"{field}: at least {minimum} required, got {len(items)}",
            [field],
        )
    if len(items) > maximum:
        raise OperationError(
            "collectionSizeError",
            "TOO_MANY",
            f"{field}: at most {maximum} allowed, got {len(items)}",
            [field],
        )
    assets = []
    for index, item in enumerate(items):
        text = item.get("text") if isinstance(item, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise OperationError("stringLengthError", "EMPTY", f"{field}[{index}].text must be non-empty", [field])
        if google_ads_length(text) > limit:
            raise OperationError(
                "stringLengthError",
                "TOO_LONG",
                f"{field}[{index}] is {google_ads_length(text)} characters; the limit is {limit}",
                [field],
            )
        assets.append(AdTextAsset(text=text, pinned_field=item.get("pinnedField")))
    texts = [a.text.casefold() for a in assets]
    if len(set(texts)) != len(texts):
        raise OperationError("adError", "DUPLICATE_TEXT", f"{field} contains the same text twice", [field])
    return assets


def _create_ad(sandbox: Sandbox, customer: Customer, body: dict[str, Any]) -> Callable[[], str]:
    group = _ad_group_key(customer, body)
    status = _status(body.get("status", "ENABLED"))
    ad = body.get("ad")
    rsa = ad.get("responsiveSearchAd") if isinstance(ad, dict) else None
    if not isinstance(ad, dict) or not isinstance(rsa, dict):
        raise OperationError("adError", "AD_TYPE_REQUIRED", "ad.responsiveSearchAd is required", ["ad"])
    headlines = _text_assets(rsa.get("headlines"), "headlines", 30, 3, 15)
    descriptions = _text_assets(rsa.get("descriptions"), "descriptions", 90, 2, 4)
    urls = ad.get("finalUrls")
    if (
        not isinstance(urls, list)
        or not urls
        or not all(isinstance(u, str) and re.match(r"https?://", u) for u in urls)
    ):
        raise OperationError(
            "adError",
            "FINAL_URL_REQUIRED",
            "ad.finalUrls needs at least one http(s) URL",
            ["ad", "final_urls"],
        )
    for path_field in ("path1", "path2"):
        value = rsa.get(path_field)
        if value is not None and (not isinstance(value, str) or google_ads_length(value) > 15):
            raise OperationError(
                "stringLengthError",
                "TOO_LONG",
                f"{path_field} is limited to 15 characters",
                [path_field],
            )

    def apply() -> str:
        ad_id = str(sandbox.next_id())
        key = f"{group}~{ad_id}"
        resource_name = f"customers/{customer.id}/adGroupAds/{key}"
        customer.ad_group_ads[key] = AdGroupAd(
            resource_name=resource_name,
            ad_group=f"customers/{customer.id}/adGroups/{group}",
            status=status,  # type: ignore[arg-type]
            ad=Ad(
                resource_name=f"customers/{customer.id}/ads/{ad_id}",
                id=ad_id,
                final_urls=list(urls),
                responsive_search_ad=ResponsiveSearchAd(
                    headlines=headlines,
                    descriptions=descriptions,
                    path1=rsa.get("path1"),
                    path2=rsa.get("path2"),
                ),
            ),
        )
        copy = "|".join(a.text for a in (*headlines, *descriptions))
        truth_for_new_ad(sandbox.world, customer.id, key, copy)
        return resource_name

    return apply


def _create_criterion(sandbox: Sandbox, customer: Customer, body: dict[str, Any]) -> Callable[[], str]:
    group = _ad_group_key(customer, body)
    status = _status(body.get("status", "ENABLED"))
    keyword = body.get("keyword")
    if not isinstance(keyword, dict) or not isinstance(keyword.get("text"), str) or not keyword["text"].strip():
        raise OperationError("fieldError", "REQUIRED", "keyword.text is required", ["keyword", "text"])
    if keyword.get("matchType") not in ("EXACT", "PHRASE", "BROAD"):
        raise OperationError(
            "requestError",
            "INVALID_ENUM_VALUE",
            "keyword.matchType must be EXACT, PHRASE or BROAD",
            ["keyword", "match_type"],
        )
    if len(keyword["text"]) > 80 or len(keyword["text"].split()) > 10:
        raise OperationError(
            "criterionError",
            "KEYWORD_TEXT_TOO_LONG",
            "keywords are limited to 80 characters and 10 words",
            ["keyword", "text"],
        )
    bid = body.get("cpcBidMicros")
    bid_micros = None
    if bid is not None:
        bid_micros = _int64(bid, "cpc_bid_micros")
        _check_money(customer, bid_micros, "cpc_bid_micros", bid=True)

    def apply() -> str:
        for existing in customer.ad_group_criteria.values():
            if (
                existing.ad_group.endswith(f"/{group}")
                and existing.keyword.text == keyword["text"]
                and existing.keyword.match_type == keyword["matchType"]
                and existing.status != "REMOVED"
            ):
                return existing.resource_name
        criterion_id = str(sandbox.next_id())
        key = f"{group}~{criterion_id}"
        resource_name = f"customers/{customer.id}/adGroupCriteria/{key}"
        customer.ad_group_criteria[key] = AdGroupCriterion(
            resource_name=resource_name,
            ad_group=f"customers/{customer.id}/adGroups/{group}",
            criterion_id=criterion_id,
            status=status,  # type: ignore[arg-type]
            keyword=KeywordInfo(text=keyword["text"], match_type=keyword["matchType"]),
            cpc_bid_micros=str(bid_micros) if bid_micros is not None else None,
            negative=bool(body.get("negative", False)),
        )
        truth_for_new_keyword(sandbox.world, customer.id, key)
        return resource_name

    return apply


def _plan(sandbox: Sandbox, customer: Customer, spec: _Collection, operation: Any) -> tuple[str, Callable[[], str]]:
    if not isinstance(operation, dict):
        raise OperationError("requestError", "INVALID_INPUT", "each operation must be an object")
    kinds = [k for k in ("create", "update", "remove") if k in operation]
    extra = set(operation) - {"create", "update", "remove", "updateMask"}
    if len(kinds) != 1 or extra:
        raise OperationError(
            "mutateError",
            "OPERATION_REQUIRED",
            "an operation has exactly one of create, update, remove (plus updateMask)",
        )
    kind = kinds[0]
    try:
        if kind == "update":
            return kind, _apply_update(customer, spec, operation["update"], operation.get("updateMask"))
        if kind == "remove":
            return kind, _apply_remove(customer, spec, operation["remove"])
        if not spec.creatable:
            raise OperationError(
                "mutateError",
                "OPERATION_NOT_SUPPORTED",
                f"the sandbox cannot create {spec.resource}",
            )
        body = operation["create"]
        if not isinstance(body, dict):
            raise OperationError("requestError", "INVALID_INPUT", "create must be an object")
        creator = _create_ad if spec.resource == "adGroupAds" else _create_criterion
        return kind, creator(sandbox, customer, body)
    except OperationError as exc:
        exc.kind = kind  # type: ignore[attr-defined]
        raise


def _page_token(query: str, offset: int) -> str:
    digest = hashlib.sha256(query.encode()).hexdigest()[:12]
    return base64.urlsafe_b64encode(f"{offset}:{digest}".encode()).decode()


def _page_offset(query: str, token: str) -> int:
    try:
        offset, digest = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        if digest != hashlib.sha256(query.encode()).hexdigest()[:12]:
            raise ValueError
        return int(offset)
    except (ValueError, UnicodeDecodeError):
        raise OperationError("requestError", "INVALID_PAGE_TOKEN", "pageToken does not belong to this query") from None


class GoogleAdsApi:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def _body(self, request: Request, version: str) -> dict[str, Any] | Response:
        try:
            body = json.loads(await request.body() or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return ads_error_response(
                400,
                [ads_error("requestError", "INVALID_INPUT", f"Invalid JSON payload received: {exc}")],
                version=version,
            )
        if not isinstance(body, dict):
            return ads_error_response(
                400,
                [ads_error("requestError", "INVALID_INPUT", "the request body must be a JSON object")],
                version=version,
            )
        return body

    def _authorise(self, request: Request, version: str, customer_id: str | None) -> Response | Customer | None:
        creds = self.sandbox.credentials
        if request.headers.get("authorization") != f"Bearer {creds.access_token}":
            return ads_error_response(
                401,
                [
                    ads_error(
                        "authenticationError",
                        "OAUTH_TOKEN_INVALID",
                        "The OAuth access token is missing, invalid or expired.",
                    )
                ],
                version=version,
            )
        if request.headers.get("developer-token") != creds.developer_token:
            return ads_error_response(
                401,
                [
                    ads_error(
                        "authenticationError",
                        "DEVELOPER_TOKEN_INVALID",
                        "The developer token is missing or not valid.",
                    )
                ],
                version=version,
            )
        if customer_id is None:
            return None
        if not _CID_RE.match(customer_id):
            return ads_error_response(
                400,
                [
                    ads_error(
                        "requestError",
                        "INVALID_CUSTOMER_ID",
                        f"customer id {customer_id!r} must be 10 digits without dashes",
                    )
                ],
                version=version,
            )
        customer = self.sandbox.world.customer(customer_id)
        if customer is None:
            return ads_error_response(
                403,
                [
                    ads_error(
                        "authorizationError",
                        "USER_PERMISSION_DENIED",
                        f"User doesn't have permission to access customer {customer_id}.",
                    )
                ],
                version=version,
            )
        return customer

    async def list_accessible(self, request: Request, version: str) -> Response:
        denied = self._authorise(request, version, None)
        if denied is not None:
            return denied  # type: ignore[return-value]
        names = [c.resource_name for c in self.sandbox.world.google_ads.customers.values()]
        return JSONResponse({"resourceNames": names})

    async def search(self, request: Request, version: str, customer_id: str, stream: bool) -> Response:
        customer = self._authorise(request, version, customer_id)
        if not isinstance(customer, Customer):
            return customer  # type: ignore[return-value]
        body = await self._body(request, version)
        if isinstance(body, Response):
            return body
        query = body.get("query")
        if not isinstance(query, str):
            return ads_error_response(
                400,
                [ads_error("queryError", "QUERY_ERROR", "the request needs a 'query' string")],
                version=version,
            )
        try:
            rows, mask = execute(parse(query), customer, self.sandbox.world.sim.today)
        except GaqlError as exc:
            location = [{"fieldName": "query"}]
            message = exc.message if exc.position is None else f"{exc.message} (position {exc.position})"
            return ads_error_response(
                400,
                [ads_error("queryError", exc.code, message, location=location)],
                version=version,
            )
        if stream:
            batches = [
                {"results": rows[i : i + MAX_PAGE_SIZE], "fieldMask": mask}
                for i in range(0, max(len(rows), 1), MAX_PAGE_SIZE)
            ]
            return JSONResponse(batches)
        page_size = body.get("pageSize", MAX_PAGE_SIZE)
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
            return ads_error_response(
                400,
                [ads_error("requestError", "INVALID_PAGE_SIZE", f"pageSize must be 1..{MAX_PAGE_SIZE}")],
                version=version,
            )
        offset = 0
        if body.get("pageToken"):
            try:
                offset = _page_offset(query, str(body["pageToken"]))
            except OperationError as exc:
                return ads_error_response(400, [ads_error(exc.family, exc.code, exc.message)], version=version)
        page = rows[offset : offset + page_size]
        result: dict[str, Any] = {"results": page, "fieldMask": mask}
        if offset + page_size < len(rows):
            result["nextPageToken"] = _page_token(query, offset + page_size)
        if body.get("returnTotalResultsCount"):
            result["totalResultsCount"] = str(len(rows))
        return JSONResponse(result)

    async def mutate(self, request: Request, version: str, customer_id: str, collection: str) -> Response:
        customer = self._authorise(request, version, customer_id)
        if not isinstance(customer, Customer):
            return customer  # type: ignore[return-value]
        spec = _COLLECTIONS.get(collection)
        if spec is None:
            return ads_error_response(
                404,
                [
                    ads_error(
                        "requestError",
                        "UNKNOWN_SERVICE",
                        f"no mutate service {collection!r}; supported: {', '.join(_COLLECTIONS)}",
                    )
                ],
                version=version,
            )
        body = await self._body(request, version)
        if isinstance(body, Response):
            return body
        operations = body.get("operations")
        if not isinstance(operations, list) or not operations:
            return ads_error_response(
                400,
                [ads_error("mutateError", "OPERATIONS_REQUIRED", "operations must be a non-empty list")],
                version=version,
            )
        if len(operations) > MAX_OPERATIONS:
            return ads_error_response(
                400,
                [
                    ads_error(
                        "requestError",
                        "TOO_MANY_MUTATE_OPERATIONS",
                        f"at most {MAX_OPERATIONS} operations per request",
                    )
                ],
                version=version,
            )
        unknown = set(body) - {
            "operations",
            "partialFailure",
            "validateOnly",
            "responseContentType",
        }
        if unknown:
            return ads_error_response(
                400,
                [
                    ads_error(
                        "requestError",
                        "INVALID_INPUT",
                        f"Invalid JSON payload received. Unknown name(s): {', '.join(sorted(unknown))}",
                    )
                ],
                version=version,
            )
        partial = bool(body.get("partialFailure", False))
        validate_only = bool(body.get("validateOnly", False))

        plans: list[Callable[[], str] | None] = []
        errors: list[dict[str, Any]] = []
        for index, operation in enumerate(operations):
            try:
                _, apply = _plan(self.sandbox, customer, spec, operation)
                plans.append(apply)
            except OperationError as exc:
                errors.append(exc.to_error(index, getattr(exc, "kind", "operation")))
                plans.append(None)
        if errors and not partial:
            return ads_error_response(400, errors, version=version)
        if validate_only:
            return JSONResponse({})
        results = [{"resourceName": apply()} if apply is not None else {} for apply in plans]
        self.sandbox.changed()
        response: dict[str, Any] = {"results": results}
        if errors:
            response["partialFailureError"] = {
                "code": 3,
                "message": f"{len(errors)} of {len(operations)} operations failed",
                "details": failure_details(errors, version),
            }
        return JSONResponse(response)

    async def dispatch(self, request: Request) -> Response:
        version = request.path_params["version"]
        if not _VERSION_RE.match(version):
            return ads_error_response(
                404,
                [ads_error("requestError", "UNSUPPORTED_VERSION", f"unknown API version {version!r}")],
            )
        rest: str = request.path_params["rest"]
        if rest == "customers:listAccessibleCustomers" and request.method == "GET":
            return await self.list_accessible(request, version)
        match = re.fullmatch(r"customers/([^/]+)/(\w+):(\w+)", rest)
        if match is None or request.method != "POST":
            return ads_error_response(
                404,
                [
                    ads_error(
                        "requestError",
                        "UNKNOWN_METHOD",
                        f"no method {request.method} /{version}/{rest}",
                    )
                ],
                version=version,
            )
        customer_id, service, method = match.groups()
        if service == "googleAds" and method in ("search", "searchStream"):
            return await self.search(request, version, customer_id, stream=method == "searchStream")
        if method == "mutate":
            return await self.mutate(request, version, customer_id, service)
        return ads_error_response(
            404,
            [ads_error("requestError", "UNKNOWN_METHOD", f"no method {service}:{method}")],
            version=version,
        )
