"""What every API route shares: who calls (an API token), the role a route takes, JSON in and out,
and errors as JSON with their status.

A caller names themselves with their API token (``adpilot users token NAME``) in the ``x-api-key``
header (what ``langgraph_sdk.get_client(api_key=…)`` sends) or as ``Authorization: Bearer …``. No
cookies are read here: a browser's session cannot call the API, so there is no CSRF to guard.
No token or an unknown one: 401; a role too small for the route: 403.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from adpilot.app.web.users import User, UserStore, rank
from adpilot.config import Config

MAX_BODY = 1024 * 1024  # bytes of a JSON body; more is refused (413)
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


class ApiError(Exception):
    """An answer other than the result: ``status`` with ``detail`` as ``{"detail": …}``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=HEADERS)


def answer(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
    return Response(body, status_code=status, media_type="application/json", headers={**HEADERS, **(headers or {})})


@dataclass
class Call:
    """One API request: the configuration, the caller, the JSON body (an object, or {})."""

    request: Request
    config: Config
    user: User
    body: dict[str, Any]

    def param(self, name: str) -> str:
        return str(self.request.path_params[name])


def token_of(request: Request) -> str | None:
    given = request.headers.get("x-api-key")
    if given:
        return given.strip()
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def read_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object (an empty body: {}); 413 beyond :data:`MAX_BODY`, 422 otherwise."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise ApiError(413, f"the request body exceeds {MAX_BODY} bytes")
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except RecursionError:
        raise ApiError(422, "the request body is not JSON: it is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(422, f"the request body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(422, f"the request body must be a JSON object, not {type(data).__name__}")
    return data


Handler = Callable[[Call], Awaitable[Response]]


def api(role: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """A route that takes an API token of ``role`` (or more)."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            users: UserStore = request.app.state.users
            token = token_of(request)
            user = users.token_user(token) if token else None
            if user is None:
                return error(401, "an API token is needed: x-api-key header (adpilot users token NAME)")
            if rank(user.role) < rank(role):
                return error(403, f"{user.name} is {user.role}; this takes {role} or more")
            try:
                body = await read_json(request) if request.method in ("POST", "PATCH", "PUT") else {}
                return await handler(Call(request, request.app.state.config, user, body))
            except ApiError as exc:
                return error(exc.status, exc.detail)

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    return wrap


def field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    """``body[name]`` when it is of ``kind`` (absent or null: ``default``); 422 otherwise."""
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ApiError(422, f"{name}: expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
    return value
