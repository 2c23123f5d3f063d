"""The Google-Ads-REST-shaped part of the sandbox.

Routes (``{v}`` is ``vNN``; a sunset version is refused as Google refuses it, see
:mod:`adpilot.google_ads_versions`):
    POST /{v}/customers/{cid}/googleAds:search         {query, pageToken?}  (pageSize: not supported)
    POST /{v}/customers/{cid}/googleAds:searchStream   {query}
    POST /{v}/customers/{cid}/{collection}:mutate      {operations, partialFailure?, validateOnly?}
    GET  /{v}/customers:listAccessibleCustomers
    POST /token                                         OAuth2 refresh_token grant (form-encoded)
Collections: campaignBudgets, campaigns, adGroups, adGroupAds, adGroupCriteria. Update masks are
lowerCamelCase paths relative to the resource (``amountMicros``), as the REST FieldMask JSON
form has them. Every applied operation is recorded in the account's change history (the
``change_event`` resource); the manager account (``login-customer-id``) serves ``customer_client``.
Error codes are members of the API's own enums, and a body that is not valid JSON for the
request's proto (an unknown field, a value of the wrong type, an int64 out of range, a name its
enum lacks) gets the JSON front end's 400 without a GoogleAdsFailure, as from Google; both are
checked against Google's generated messages by tests/tools/test_google_ads_contract.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from adpilot.google_ads_versions import is_sunset
from adpilot.money import INT64_MAX, minimum_unit_micros
from adpilot.text import google_ads_length
from adpilot.tools.sandbox.envelopes import ads_error, ads_error_response, failure_details, rpc_error_response
from adpilot.tools.sandbox.gaql import GaqlError, Query, parse
from adpilot.tools.sandbox.search import CustomerClient, camel, execute
from adpilot.tools.sandbox.simulate import truth_for_new_ad, truth_for_new_keyword
from adpilot.tools.sandbox.world import (
    Ad,
    AdGroupAd,
    AdGroupCriterion,
    AdTextAsset,
    ChangeEvent,
    Customer,
    KeywordInfo,
    ResponsiveSearchAd,
)

if TYPE_CHECKING:
    from adpilot.tools.sandbox.server import Sandbox

MAX_OPERATIONS = 10_000
MAX_PAGE_SIZE = 10_000  # the API's fixed page size since v17 (pageSize is not supported)
MAX_CHANGE_EVENT_DAYS = 30
_VERSION_RE = re.compile(r"^v\d+$")
_CID_RE = re.compile(r"^\d{10}$")


class PayloadError(Exception):
    """The request body is not valid JSON for the request's proto (an unknown field name, a
    field mask in the wrong form, a value of the wrong JSON type, an int64 out of range, a name
    its enum does not have): the API's front end refuses the whole request, 400, without a
    GoogleAdsFailure. ``{index}`` in the message stands for the operation's index."""


def _invalid(at: str, kind: str, value: Any) -> PayloadError:
    """The JSON front end's refusal of ``value`` at ``at`` (a path below ``operations[i]``)."""
    where = "operations[{index}]" + (f".{at}" if at else "")
    return PayloadError(f"Invalid value at '{where}' ({kind}), {json.dumps(value, ensure_ascii=False)[:200]}")


# Every enum of the API has these two members besides its own (they parse, the API refuses them).
_ENUM_SENTINELS = ("UNSPECIFIED", "UNKNOWN")
_STATUS_ENUM = frozenset({*_ENUM_SENTINELS, "ENABLED", "PAUSED", "REMOVED"})
_MATCH_TYPE_ENUM = frozenset({*_ENUM_SENTINELS, "EXACT", "PHRASE", "BROAD"})


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
    change_type: str  # the change_event's change_resource_type
    # Optional fields an update clears when its mask names them and the update sets no value (the
    # Google Ads API's way to clear a field): a keyword's own bid, so it uses its ad group's default.
    clearable: frozenset[str] = frozenset()


_COLLECTIONS = {
    "campaignBudgets": _Collection(
        "campaign_budgets",
        "campaignBudgets",
        {"amountMicros": "amount_micros", "name": "name"},
        False,
        "CAMPAIGN_BUDGET",
    ),
    "campaigns": _Collection("campaigns", "campaigns", {"status": "status", "name": "name"}, False, "CAMPAIGN"),
    "adGroups": _Collection(
        "ad_groups",
        "adGroups",
        {"status": "status", "name": "name", "cpcBidMicros": "cpc_bid_micros"},
        False,
        "AD_GROUP",
    ),
    "adGroupAds": _Collection("ad_group_ads", "adGroupAds", {"status": "status"}, True, "AD_GROUP_AD"),
    "adGroupCriteria": _Collection(
        "ad_group_criteria",
        "adGroupCriteria",
        {"status": "status", "cpcBidMicros": "cpc_bid_micros"},
        True,
        "AD_GROUP_CRITERION",
        frozenset({"cpcBidMicros"}),
    ),
}


def _int64(value: Any, field: str, at: str = "update") -> int:
    """An int64 as proto3 JSON has it (a string of digits, or an integral number); anything else,
    or a number outside the int64 range, the JSON front end refuses."""
    integral = isinstance(value, float) and value.is_integer()
    if isinstance(value, bool) or not (
        isinstance(value, int) or integral or (isinstance(value, str) and re.fullmatch(r"-?\d+", value))
    ):
        raise _invalid(f"{at}.{field}", "TYPE_INT64", value)
    number = int(value)
    if not -INT64_MAX - 1 <= number <= INT64_MAX:
        raise _invalid(f"{at}.{field}", "TYPE_INT64", value)
    return number


def _status(value: Any, field: str = "status", at: str = "update") -> str:
    if not isinstance(value, str) or value not in _STATUS_ENUM:
        raise _invalid(f"{at}.{field}", "TYPE_ENUM", value)
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
    if not isinstance(body, dict):
        raise _invalid("update", "resource", body)
    if "resourceName" in body and not isinstance(body["resourceName"], str):
        raise _invalid("update.resource_name", "TYPE_STRING", body["resourceName"])
    if mask is not None and not isinstance(mask, str):
        raise _invalid("update_mask", "type.googleapis.com/google.protobuf.FieldMask", mask)
    if not isinstance(body.get("resourceName"), str):
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
    # (The JSON parser runs first.) Fields the mask does not name are ignored, as the API ignores
    # them; a name the resource does not have is a JSON error.
    known = {camel(name) for name in type(entity).model_fields}
    unknown = set(body) - known
    if unknown:
        raise PayloadError(
            f"Invalid JSON payload received. Unknown name {sorted(unknown)[0]!r} at "
            "'operations[{index}].update': Cannot find field."
        )
    if not isinstance(mask, str) or not mask.strip():
        raise OperationError("fieldMaskError", "FIELD_MASK_MISSING", "updateMask is required for an update operation")
    paths = [p.strip() for p in mask.split(",")]
    if any("_" in p for p in paths):
        # The REST form of a FieldMask is lowerCamelCase; the JSON parser refuses snake_case paths.
        raise PayloadError(
            f"Invalid value at 'operations[{{index}}].update_mask' (type.googleapis.com/google.protobuf.FieldMask), "
            f"{mask!r}: field mask paths in JSON are lowerCamelCase (e.g. 'amountMicros')"
        )
    changes: dict[str, Any] = {}
    for path in paths:
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
            if not isinstance(value, str):
                raise _invalid(f"update.{field}", "TYPE_STRING", value)
            if not value.strip():
                raise OperationError("stringLengthError", "EMPTY", f"{field} must be a non-empty string", [field])
            changes[field] = value

    def apply() -> str:
        for field, value in changes.items():
            setattr(entity, field, value)
        return resource_name

    return apply


def _apply_remove(customer: Customer, spec: _Collection, resource_name: Any) -> Callable[[], str]:
    if not isinstance(resource_name, str):
        raise _invalid("remove", "TYPE_STRING", resource_name)
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
    if ref is not None and not isinstance(ref, str):
        raise _invalid("create.ad_group", "TYPE_STRING", ref)
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
    at = f"create.ad.responsive_search_ad.{field}"
    if items is None:
        raise OperationError("fieldError", "REQUIRED", f"{field} must be a list of {{text}} objects", [field])
    if not isinstance(items, list):
        raise _invalid(at, "AdTextAsset", items)
    for item in items:
        if not isinstance(item, dict):
            raise _invalid(at, "AdTextAsset", item)
        if item.get("text") is not None and not isinstance(item["text"], str):
            raise _invalid(f"{at}.text", "TYPE_STRING", item["text"])
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
        raise OperationError("distinctError", "DUPLICATE_ELEMENT", f"{field} contains the same text twice", [field])
    return assets


def _create_ad(sandbox: Sandbox, customer: Customer, body: dict[str, Any]) -> Callable[[], str]:
    ad = body.get("ad")
    if ad is not None and not isinstance(ad, dict):
        raise _invalid("create.ad", "Ad", ad)
    rsa = ad.get("responsiveSearchAd") if isinstance(ad, dict) else None
    if rsa is not None and not isinstance(rsa, dict):
        raise _invalid("create.ad.responsive_search_ad", "ResponsiveSearchAdInfo", rsa)
    urls = ad.get("finalUrls") if isinstance(ad, dict) else None
    if urls is not None and (not isinstance(urls, list) or not all(isinstance(u, str) for u in urls)):
        raise _invalid("create.ad.final_urls", "TYPE_STRING", urls)
    for path_field in ("path1", "path2"):
        value = rsa.get(path_field) if isinstance(rsa, dict) else None
        if value is not None and not isinstance(value, str):
            raise _invalid(f"create.ad.responsive_search_ad.{path_field}", "TYPE_STRING", value)
    group = _ad_group_key(customer, body)
    status = _status(body.get("status", "ENABLED"), at="create")
    if not isinstance(ad, dict):
        raise OperationError("fieldError", "REQUIRED", "ad is required", ["ad"])
    if not isinstance(rsa, dict):
        raise OperationError("adError", "INVALID_AD_TYPE", "the sandbox creates responsive search ads only", ["ad"])
    headlines = _text_assets(rsa.get("headlines"), "headlines", 30, 3, 15)
    descriptions = _text_assets(rsa.get("descriptions"), "descriptions", 90, 2, 4)
    if not isinstance(urls, list) or not urls:
        raise OperationError("fieldError", "REQUIRED", "ad.finalUrls needs at least one URL", ["ad", "final_urls"])
    if not all(re.match(r"https?://", u) for u in urls):
        raise OperationError(
            "urlFieldError",
            "INVALID_PROTOCOL_IN_FINAL_URL",
            "ad.finalUrls must be http(s) URLs",
            ["ad", "final_urls"],
        )
    for path_field in ("path1", "path2"):
        value = rsa.get(path_field)
        if value is not None and google_ads_length(value) > 15:
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
    keyword = body.get("keyword")
    if keyword is not None and not isinstance(keyword, dict):
        raise _invalid("create.keyword", "KeywordInfo", keyword)
    if isinstance(keyword, dict):
        if keyword.get("text") is not None and not isinstance(keyword["text"], str):
            raise _invalid("create.keyword.text", "TYPE_STRING", keyword["text"])
        match_type = keyword.get("matchType")
        if match_type is not None and (not isinstance(match_type, str) or match_type not in _MATCH_TYPE_ENUM):
            raise _invalid("create.keyword.match_type", "TYPE_ENUM", match_type)
    group = _ad_group_key(customer, body)
    status = _status(body.get("status", "ENABLED"), at="create")
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
        bid_micros = _int64(bid, "cpc_bid_micros", "create")
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
        raise _invalid("", "operation", operation)
    kinds = [k for k in ("create", "update", "remove") if k in operation]
    extra = set(operation) - {"create", "update", "remove", "updateMask"}
    if extra:
        raise PayloadError(
            f"Invalid JSON payload received. Unknown name {sorted(extra)[0]!r} at 'operations[{{index}}]': "
            "Cannot find field."
        )
    if len(kinds) > 1:  # create, update and remove are one oneof
        raise PayloadError(
            f"Invalid JSON payload received. Oneof field 'operation' is already set. Cannot set '{kinds[1]}' "
            "at 'operations[{index}]'"
        )
    if not kinds:
        raise OperationError(
            "requestError",
            "OPERATION_REQUIRED",
            "an operation has exactly one of create, update, remove (plus updateMask)",
        )
    kind = kinds[0]
    try:
        if kind == "update":
            return kind, _apply_update(customer, spec, operation["update"], operation.get("updateMask"))
        if kind == "remove":
            return kind, _apply_remove(customer, spec, operation["remove"])
        body = operation["create"]
        if not isinstance(body, dict):
            raise _invalid("create", "resource", body)
        if not spec.creatable:
            raise OperationError(
                "operationAccessDeniedError",
                "CREATE_OPERATION_NOT_PERMITTED",
                f"the sandbox cannot create {spec.resource}",
            )
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


_CHANGE_TYPES = {spec.resource: spec.change_type for spec in _COLLECTIONS.values()}
_MODEL_KEYS = {
    "campaignBudgets": "campaign_budget",
    "campaigns": "campaign",
    "adGroups": "ad_group",
    "adGroupAds": "ad_group_ad",
    "adGroupCriteria": "ad_group_criterion",
}


def _change_window(query: Query, now: dt.datetime) -> OperationError | None:
    """The change_event resource's own rules: a LIMIT (at most 10,000) and a finite window on
    change_date_time that starts within the last 30 days."""
    if query.limit is None:
        return OperationError("changeEventError", "LIMIT_NOT_SPECIFIED", "change_event queries need a LIMIT clause")
    if query.limit > MAX_PAGE_SIZE:
        return OperationError("changeEventError", "INVALID_LIMIT_CLAUSE", f"the LIMIT is at most {MAX_PAGE_SIZE}")
    low: str | None = None
    high: str | None = None
    for cond in query.where:
        if cond.field != "change_event.change_date_time":
            continue
        values = [str(v) for v in cond.values]
        if cond.op in (">", ">=", "=", "BETWEEN") and values:
            low = max(low or values[0], values[0])
        if cond.op in ("<", "<=", "=") and values:
            high = min(high or values[0], values[0])
        if cond.op == "BETWEEN" and len(values) == 2:
            high = min(high or values[1], values[1])
    if low is None or high is None:
        return OperationError(
            "changeEventError",
            "CHANGE_DATE_RANGE_INFINITE",
            "change_event queries need a finite range on change_event.change_date_time",
        )
    if high < low:
        return OperationError("changeEventError", "CHANGE_DATE_RANGE_NEGATIVE", "the date range ends before it starts")
    oldest = (now - dt.timedelta(days=MAX_CHANGE_EVENT_DAYS)).strftime("%Y-%m-%d")
    if low[:10] < oldest:
        return OperationError(
            "changeEventError",
            "START_DATE_TOO_OLD",
            f"change_event covers the last {MAX_CHANGE_EVENT_DAYS} days: start on or after {oldest}",
        )
    return None


def _search_payload_error(body: dict[str, Any], known: set[str]) -> str | None:
    """What the JSON front end says about a search body that is not a valid request, or None."""
    unknown = set(body) - known
    if unknown:
        return f"Invalid JSON payload received. Unknown name {sorted(unknown)[0]!r}: Cannot find field."
    types: dict[str, tuple[type, ...]] = {
        "customerId": (str,),
        "query": (str,),
        "pageToken": (str,),
        "pageSize": (int, str),  # an int32: a JSON number or a string of digits
        "validateOnly": (bool,),
        "searchSettings": (dict,),
        "summaryRowSetting": (str,),
    }
    for name, value in body.items():
        wrong = not isinstance(value, types[name]) or (isinstance(value, bool) and bool not in types[name])
        if name == "pageSize" and isinstance(value, str) and not re.fullmatch(r"-?\d+", value):
            wrong = True
        if value is not None and wrong:
            return f"Invalid value at '{_snake(name)}', {json.dumps(value)[:200]}"
    settings = body.get("searchSettings") or {}
    extra = set(settings) - {"omitResults", "returnSummaryRow", "returnTotalResultsCount"}
    if extra:
        return (
            f"Invalid JSON payload received. Unknown name {sorted(extra)[0]!r} at 'search_settings': Cannot find field."
        )
    if any(not isinstance(v, bool) for v in settings.values()):
        return "Invalid value at 'search_settings': its fields are booleans"
    return None


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


class GoogleAdsApi:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.page_size = MAX_PAGE_SIZE  # tests lower it to page small results

    # --- OAuth2 (the token endpoint of Google's authorization server) --------------------
    def _sign(self, expires: int) -> str:
        secret = self.sandbox.credentials.client_secret
        return hashlib.sha256(f"{secret}:{expires}".encode()).hexdigest()[:24]

    def issue_token(self) -> tuple[str, int]:
        """A new access token and its lifetime; tokens carry their expiry (any process sharing
        the world accepts them) and stop working when the sandbox clock passes it."""
        lifetime = int(self.sandbox.token_lifetime_s)
        expires = int(self.sandbox.clock().timestamp()) + lifetime
        return f"ya29.sbx-{expires}-{self._sign(expires)}", lifetime

    def token_state(self, token: str) -> str:
        """valid | expired | invalid."""
        if token == self.sandbox.credentials.access_token:
            return "valid"  # the fixed token of the demo and the README's curl examples
        match = re.fullmatch(r"ya29\.sbx-(\d+)-([0-9a-f]{24})", token)
        if match is None or match.group(2) != self._sign(int(match.group(1))):
            return "invalid"
        return "valid" if self.sandbox.clock().timestamp() < int(match.group(1)) else "expired"

    async def token_endpoint(self, request: Request) -> Response:
        creds = self.sandbox.credentials
        form = {k: v[-1] for k, v in urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "refresh_token":
            return JSONResponse(
                {
                    "error": "unsupported_grant_type",
                    "error_description": f"Invalid grant_type: {form.get('grant_type')}",
                },
                status_code=400,
            )
        if form.get("client_id") != creds.client_id or form.get("client_secret") != creds.client_secret:
            return JSONResponse(
                {"error": "invalid_client", "error_description": "The OAuth client was not found."}, status_code=401
            )
        if form.get("refresh_token") != creds.refresh_token:
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}, status_code=400
            )
        token, lifetime = self.issue_token()
        self.sandbox.tokens_issued += 1
        return JSONResponse(
            {
                "access_token": token,
                "expires_in": lifetime,
                "scope": "https://www.googleapis.com/auth/adwords",
                "token_type": "Bearer",
            }
        )

    async def _body(self, request: Request, version: str) -> dict[str, Any] | Response:
        try:
            body = json.loads(await request.body() or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return rpc_error_response(
                400, f"Invalid JSON payload received. {exc}", bad_request=f"Invalid JSON payload received. {exc}"
            )
        if not isinstance(body, dict):
            message = "Invalid JSON payload received. Expected an object."
            return rpc_error_response(400, message, bad_request=message)
        return body

    def _manager(self) -> Customer:
        ads = self.sandbox.world.google_ads
        first = next(iter(ads.customers.values()), None)
        return Customer(
            resource_name=f"customers/{ads.manager_id}",
            id=ads.manager_id,
            descriptive_name=ads.manager_name,
            currency_code=first.currency_code if first else "EUR",
            time_zone=first.time_zone if first else "Europe/Berlin",
        )

    def _clients(self) -> list[CustomerClient]:
        ads = self.sandbox.world.google_ads
        manager = self._manager()
        rows = [manager, *ads.customers.values()]
        return [
            CustomerClient(
                resource_name=f"customers/{manager.id}/customerClients/{c.id}",
                client_customer=c.resource_name,
                id=c.id,
                descriptive_name=c.descriptive_name,
                level="0" if c is manager else "1",
                manager=c is manager,
                currency_code=c.currency_code,
                time_zone=c.time_zone,
            )
            for c in rows
        ]

    def _authorise(self, request: Request, version: str, customer_id: str | None) -> Response | Customer | None:
        creds = self.sandbox.credentials
        header = request.headers.get("authorization", "")
        state = self.token_state(header[len("Bearer ") :]) if header.startswith("Bearer ") else "invalid"
        if state != "valid":
            code, message = (
                ("OAUTH_TOKEN_EXPIRED", "The OAuth access token has expired.")
                if state == "expired"
                else ("OAUTH_TOKEN_INVALID", "The OAuth access token is missing, invalid or expired.")
            )
            return ads_error_response(401, [ads_error("authenticationError", code, message)], version=version)
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
        manager_id = self.sandbox.world.google_ads.manager_id
        login = request.headers.get("login-customer-id")
        if login is not None and not _CID_RE.match(login):
            return ads_error_response(
                400,
                [
                    ads_error(
                        "headerError",
                        "INVALID_LOGIN_CUSTOMER_ID",
                        f"login-customer-id {login!r} must be 10 digits without dashes",
                    )
                ],
                version=version,
            )
        customer = self._manager() if customer_id == manager_id else self.sandbox.world.customer(customer_id)
        if customer is None or (login is not None and login not in (manager_id, customer_id)):
            return ads_error_response(
                403,
                [
                    ads_error(
                        "authorizationError",
                        "USER_PERMISSION_DENIED",
                        f"User doesn't have permission to access customer {customer_id}. If you are accessing a "
                        "client customer, set the manager's customer id in the 'login-customer-id' header.",
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
        # The request message's fields (REST JSON names); SearchSettings replaced
        # returnTotalResultsCount (v19); pageSize parses but is refused below.
        known = {"customerId", "query"} | (
            {"summaryRowSetting"} if stream else {"pageToken", "pageSize", "validateOnly", "searchSettings"}
        )
        invalid = _search_payload_error(body, known)
        if invalid is not None:
            return rpc_error_response(400, invalid, bad_request=invalid)
        query = body.get("query")
        if not isinstance(query, str):
            return ads_error_response(
                400,
                [ads_error("queryError", "QUERY_ERROR", "the request needs a 'query' string")],
                version=version,
            )
        if not stream and "pageSize" in body:
            return ads_error_response(
                400,
                [
                    ads_error(
                        "requestError",
                        "PAGE_SIZE_NOT_SUPPORTED",
                        f"Setting the page size is not supported: pages hold {MAX_PAGE_SIZE} rows",
                        location=[{"fieldName": "page_size"}],
                    )
                ],
                version=version,
            )
        manager = customer.id == self.sandbox.world.google_ads.manager_id
        try:
            parsed = parse(query)
            if parsed.resource == "change_event":
                refused = _change_window(parsed, self.sandbox.clock())
                if refused is not None:
                    return ads_error_response(
                        400, [ads_error(refused.family, refused.code, refused.message)], version=version
                    )
            rows, mask = execute(parsed, customer, self.sandbox.world.sim.today, self._clients() if manager else None)
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
        page_size = self.page_size
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
        if (body.get("searchSettings") or {}).get("returnTotalResultsCount"):
            result["totalResultsCount"] = str(len(rows))
        return JSONResponse(result)

    def _record(
        self,
        customer: Customer,
        spec: _Collection,
        kind: str,
        resource_name: str,
        before: dict[str, Any] | None,
        operation: dict[str, Any],
    ) -> None:
        """Add an applied operation to the account's change history (the change_event resource)."""
        key = resource_name.rsplit("/", 1)[1]
        entity = getattr(customer, spec.world_field).get(key)
        after = entity.model_dump(mode="json") if entity is not None else None
        model_key = _MODEL_KEYS[spec.resource]
        if kind == "update":
            fields = str(operation.get("updateMask", ""))
        elif kind == "create":
            fields = ",".join(sorted(k for k in operation.get("create", {}) if k != "resourceName"))
        else:
            fields = "status"
        now = self.sandbox.clock()
        number = len(customer.change_events) + 1
        ad_group = getattr(entity, "ad_group", None) if entity is not None else None
        customer.change_events[str(number)] = ChangeEvent(
            resource_name=f"customers/{customer.id}/changeEvents/{int(now.timestamp() * 1_000_000)}~{number}~0",
            change_date_time=now.strftime("%Y-%m-%d %H:%M:%S.%f"),
            change_resource_type=spec.change_type,  # type: ignore[arg-type]
            change_resource_name=resource_name,
            resource_change_operation=kind.upper(),  # type: ignore[arg-type]
            changed_fields=fields,
            old_resource={model_key: before} if before is not None else None,
            new_resource={model_key: after} if after is not None else None,
            ad_group=ad_group if isinstance(ad_group, str) else None,
        )

    async def mutate(self, request: Request, version: str, customer_id: str, collection: str) -> Response:
        customer = self._authorise(request, version, customer_id)
        if not isinstance(customer, Customer):
            return customer  # type: ignore[return-value]
        spec = _COLLECTIONS.get(collection)
        if spec is None:
            return rpc_error_response(404, f"Method not found: {collection}:mutate")
        body = await self._body(request, version)
        if isinstance(body, Response):
            return body
        operations = body.get("operations")
        if operations is not None and not isinstance(operations, list):
            message = f"Invalid value at 'operations', {json.dumps(operations)[:200]}: expected a list of operations"
            return rpc_error_response(400, message, bad_request=message)
        if not isinstance(operations, list) or not operations:
            return ads_error_response(
                400,
                [ads_error("requestError", "OPERATION_REQUIRED", "operations must be a non-empty list")],
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
            message = f"Invalid JSON payload received. Unknown name {sorted(unknown)[0]!r}: Cannot find field."
            return rpc_error_response(400, message, bad_request=message)
        partial = bool(body.get("partialFailure", False))
        validate_only = bool(body.get("validateOnly", False))

        plans: list[tuple[str, Callable[[], str]] | None] = []
        errors: list[dict[str, Any]] = []
        for index, operation in enumerate(operations):
            try:
                plans.append(_plan(self.sandbox, customer, spec, operation))
            except PayloadError as exc:
                message = str(exc).replace("{index}", str(index))
                return rpc_error_response(400, message, bad_request=message)
            except OperationError as exc:
                errors.append(exc.to_error(index, getattr(exc, "kind", "operation")))
                plans.append(None)
        if errors and not partial:
            return ads_error_response(400, errors, version=version)
        if validate_only:
            return JSONResponse({})
        results: list[dict[str, Any]] = []
        collection_of = getattr(customer, spec.world_field)
        for plan, operation in zip(plans, operations, strict=True):
            if plan is None:
                results.append({})
                continue
            kind, apply = plan
            name = operation["update"]["resourceName"] if kind == "update" else operation.get("remove")
            existing = collection_of.get(name.rsplit("/", 1)[1]) if isinstance(name, str) else None
            before = existing.model_dump(mode="json") if existing is not None else None
            resource_name = apply()
            self._record(customer, spec, kind, resource_name, before, operation)
            results.append({"resourceName": resource_name})
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
            return rpc_error_response(404, f"The requested URL /{version}/… was not found on this server.")
        if is_sunset(version, self.sandbox.clock().date()):
            # What Google answers for a version past its sunset date.
            return ads_error_response(
                400,
                [
                    ads_error(
                        "requestError",
                        "UNSUPPORTED_VERSION",
                        f"Version {version} is deprecated. Requests to this version will be blocked.",
                    )
                ],
                version=version,
            )
        rest: str = request.path_params["rest"]
        if rest == "customers:listAccessibleCustomers" and request.method == "GET":
            return await self.list_accessible(request, version)
        match = re.fullmatch(r"customers/([^/]+)/(\w+):(\w+)", rest)
        if match is None or request.method != "POST":
            return rpc_error_response(404, f"Method not found: {request.method} /{version}/{rest}")
        customer_id, service, method = match.groups()
        if service == "googleAds" and method in ("search", "searchStream"):
            return await self.search(request, version, customer_id, stream=method == "searchStream")
        if method == "mutate":
            return await self.mutate(request, version, customer_id, service)
        return rpc_error_response(404, f"Method not found: {service}:{method}")
