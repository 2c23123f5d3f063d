"""Error bodies in the platforms' own shapes, so clients learn to parse the real thing."""

from __future__ import annotations

import itertools
from typing import Any

from starlette.responses import JSONResponse

from adpilot.google_ads_versions import DEFAULT_API_VERSION

GOOGLE_ADS_FAILURE = "type.googleapis.com/google.ads.googleads.{version}.errors.GoogleAdsFailure"
_STATUS_TEXT = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: ("UNAUTHENTICATED", "Request is missing required authentication credential."),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: ("NOT_FOUND", "Requested entity was not found."),
    405: ("UNIMPLEMENTED", "Method not allowed."),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    500: ("INTERNAL", "Internal error encountered."),
    503: ("UNAVAILABLE", "The service is currently unavailable."),
    504: ("DEADLINE_EXCEEDED", "The request deadline was exceeded."),
}
_request_ids = itertools.count(1)


def ads_error(
    family: str,
    code: str,
    message: str,
    *,
    location: list[dict[str, Any]] | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One GoogleAdsError: ``{"errorCode": {family: code}, "message", "location", "details"}``."""
    error: dict[str, Any] = {"errorCode": {family: code}, "message": message}
    if location:
        error["location"] = {"fieldPathElements": location}
    if details:
        error["details"] = details
    return error


def next_request_id() -> str:
    return f"sbx-{next(_request_ids):08d}"


def failure_details(errors: list[dict[str, Any]], version: str) -> list[dict[str, Any]]:
    return [
        {
            "@type": GOOGLE_ADS_FAILURE.format(version=version),
            "errors": errors,
            "requestId": next_request_id(),
        }
    ]


def ads_error_response(
    http_status: int,
    errors: list[dict[str, Any]],
    *,
    version: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    status, message = _STATUS_TEXT[http_status]
    body = {
        "error": {
            "code": http_status,
            "message": message,
            "status": status,
            "details": failure_details(errors, version or DEFAULT_API_VERSION),
        }
    }
    return JSONResponse(body, status_code=http_status, headers=headers)


def rpc_error_response(http_status: int, message: str, *, bad_request: str | None = None) -> JSONResponse:
    """A google.rpc.Status without a GoogleAdsFailure: what the API's front end answers before a
    request reaches Google Ads (an unknown URL, a body that is not valid JSON for the request)."""
    status, _ = _STATUS_TEXT[http_status]
    error: dict[str, Any] = {"code": http_status, "message": message, "status": status}
    if bad_request is not None:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"description": bad_request}]}
        ]
    return JSONResponse({"error": error}, status_code=http_status)


def wp_error(code: str, message: str, status: int, **data: Any) -> JSONResponse:
    """A WordPress REST error: ``{"code", "message", "data": {"status", …}}``."""
    return JSONResponse({"code": code, "message": message, "data": {"status": status, **data}}, status_code=status)
