"""Signing in and out, and the language switch."""

from __future__ import annotations

import re
import secrets

from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from adpilot.app.web.core import SESSION_COOKIE, Ctx, Refused, field, page, respond, same, secure
from adpilot.app.web.html import hidden, tag
from adpilot.app.web.i18n import COOKIE as LANG_COOKIE
from adpilot.app.web.i18n import LANGUAGES
from adpilot.app.web.users import SESSION_TTL, Throttled

LOGIN_CSRF_COOKIE = "adpilot_login_csrf"
_PATH = re.compile(r"/[A-Za-z0-9/_.~-]*")


def _next(target: str | None) -> str:
    """Where to go after signing in: a plain path of this console only (never another site)."""
    if target and _PATH.fullmatch(target) and not target.startswith("//"):
        return target
    return "/inbox"


def _login_form(ctx: Ctx, message: str | None, status: int = 200) -> Response:
    t = ctx.t
    token = secrets.token_urlsafe(32)
    body = [
        tag("p", message, class_="error", role="alert") if message else None,
        tag(
            "form",
            hidden("csrf", token),
            hidden("next", _next(ctx.form.get("next") or ctx.request.query_params.get("next"))),
            field(
                t["login.name"],
                tag("input", id="name", name="name", autocomplete="username", required=True, autofocus=True),
                id_="name",
            ),
            field(
                t["login.password"],
                tag(
                    "input",
                    id="password",
                    name="password",
                    type="password",
                    autocomplete="current-password",
                    required=True,
                ),
                id_="password",
            ),
            tag("button", t["login.submit"], type="submit"),
            method="post",
            action="/login",
        ),
    ]
    response = respond(ctx, t["login.title"], body, status=status)
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure(ctx.request), path="/login"
    )
    return response


@page(None)
async def login(ctx: Ctx) -> Response:
    if ctx.request.method == "GET":
        if ctx.session is not None:
            return RedirectResponse("/inbox", status_code=303)
        return _login_form(ctx, None)
    if not same(ctx.form.get("csrf"), ctx.request.cookies.get(LOGIN_CSRF_COOKIE) or ""):
        raise Refused(403, ctx.t["csrf"])
    client = ctx.request.client.host if ctx.request.client else "?"
    try:
        user = ctx.users.authenticate(ctx.form.get("name", ""), ctx.form.get("password", ""), client)
    except Throttled as throttled:
        response = _login_form(ctx, ctx.t["login.throttled"].format(seconds=throttled.seconds), 429)
        response.headers["Retry-After"] = str(throttled.seconds)
        return response
    if user is None:
        return _login_form(ctx, ctx.t["login.wrong"], 401)
    if ctx.session is not None:
        ctx.users.close_session(ctx.request.cookies.get(SESSION_COOKIE, ""))
    token = ctx.users.open_session(user)
    response = RedirectResponse(_next(ctx.form.get("next")), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=secure(ctx.request),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@page("viewer")
async def logout(ctx: Ctx) -> Response:
    ctx.users.close_session(ctx.request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=secure(ctx.request))
    return response


@page(None)
async def language(ctx: Ctx) -> Response:
    """Remember the language the switch picked (a preference cookie, a year)."""
    chosen = ctx.request.path_params["lang"]
    if chosen not in LANGUAGES:
        raise Refused(404, ctx.t["not_found"])
    response = RedirectResponse(_next(ctx.request.query_params.get("next")), status_code=303)
    response.set_cookie(
        LANG_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="strict", secure=secure(ctx.request), path="/"
    )
    return response


routes = [
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/lang/{lang}", language, methods=["GET"]),
]
