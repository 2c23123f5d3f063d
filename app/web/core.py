"""What every page shares: who is signed in, the role a route takes, CSRF, the layout, the answers.

Every route is a :func:`page` with the least role it takes; the role is checked here, on the server,
before the handler runs (a viewer's POST to a decision is refused with 403 and changes nothing).
Every POST of a signed-in route must carry the session's CSRF token in its ``csrf`` field (403
otherwise); the login form carries a token of its own, checked against a cookie (there is no session
yet).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from adpilot.app.web.html import Markup, esc, hidden, tag
from adpilot.app.web.i18n import COOKIE as LANG_COOKIE
from adpilot.app.web.i18n import negotiate, words
from adpilot.app.web.users import Session, UserStore, rank
from adpilot.config import Config
from adpilot.errors import AdpilotError, PlatformError

SESSION_COOKIE = "adpilot_session"
MAX_FORM = 64 * 1024  # bytes of a form body; more is refused (413)
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass
class Ctx:
    """One request as a page sees it: the configuration, the signed-in session, the language, the form."""

    request: Request
    config: Config
    users: UserStore
    session: Session | None
    locale: str
    form: dict[str, str]

    @property
    def t(self) -> dict[str, str]:
        return words(self.locale)

    @property
    def name(self) -> str:
        assert self.session is not None
        return self.session.user.name

    @property
    def csrf_token(self) -> str:
        assert self.session is not None
        return self.session.csrf

    @property
    def csrf(self) -> Markup:
        return hidden("csrf", self.session.csrf) if self.session is not None else Markup("")


class Refused(Exception):
    """An answer other than the page: ``status`` with ``message`` shown in the layout."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def refused(exc: AdpilotError, status: int) -> Refused:
    """An error of adpilot as an answer: a platform that failed is 502, anything else ``status``."""
    return Refused(502 if isinstance(exc, PlatformError) else status, str(exc))


def secure(request: Request) -> bool:
    """Whether the browser reached us over TLS (then every cookie is Secure)."""
    return request.url.scheme == "https"


def locale_of(request: Request, config: Config) -> str:
    return negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"), config.locale)


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form body (the last value of a repeated field), at most :data:`MAX_FORM` bytes."""
    if request.method != "POST":
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise Refused(413, "form too large")
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {key: values[-1] for key, values in fields.items()}


def same(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


Handler = Callable[[Ctx], Awaitable[Response]]


def page(role: str | None) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """A route that takes ``role`` (or more; None: anybody, signed in or not)."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            config: Config = request.app.state.config
            users: UserStore = request.app.state.users
            token = request.cookies.get(SESSION_COOKIE)
            session = users.session(token) if token else None
            ctx = Ctx(request, config, users, session, locale_of(request, config), {})
            try:
                if role is not None:
                    if session is None:
                        if request.method != "GET":
                            raise Refused(403, ctx.t["csrf"])
                        return RedirectResponse("/login?next=" + quote(request.url.path, safe="/"), status_code=303)
                    if rank(session.user.role) < rank(role):
                        raise Refused(403, ctx.t["forbidden"].format(role=session.user.role, needed=role))
                ctx.form = await read_form(request)
                if role is not None and request.method == "POST" and not same(ctx.form.get("csrf"), ctx.csrf_token):
                    raise Refused(403, ctx.t["csrf"])
                return await handler(ctx)
            except Refused as refused:
                body = tag("p", refused.message, class_="error", role="alert")
                return respond(ctx, ctx.t["error"], body, status=refused.status)

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    return wrap


def respond(ctx: Ctx, title: str, body: Any, *, status: int = 200) -> HTMLResponse:
    return HTMLResponse(layout(ctx, title, body), status_code=status, headers=HEADERS)


def layout(ctx: Ctx, title: str, body: Any) -> str:
    t = ctx.t
    nav: Any = None
    user_bar: Any = None
    if ctx.session is not None:
        here = ctx.request.url.path
        links = [
            tag("a", t[f"nav.{name}"], href=f"/{name}", aria_current="page" if here.startswith(f"/{name}") else None)
            for name in ("inbox", "chat", "runs", "accounts", "audit", "controls")
        ]
        nav = tag("nav", tag("ul", [tag("li", link) for link in links]), aria_label=t["nav.label"])
        user_bar = tag(
            "form",
            tag("span", t["signed_in"].format(name=ctx.session.user.name, role=ctx.session.user.role)),
            " ",
            ctx.csrf,
            tag("button", t["logout"], type="submit", class_="link"),
            method="post",
            action="/logout",
            class_="user",
        )
    other = "en" if ctx.locale == "de" else "de"
    switch = tag(
        "a",
        t["lang.switch"],
        href=f"/lang/{other}?next=" + quote(ctx.request.url.path, safe="/"),
        lang=other,
        hreflang=other,
    )
    page_html = tag(
        "html",
        tag(
            "head",
            Markup('<meta charset="utf-8">'),
            tag("meta", name="viewport", content="width=device-width, initial-scale=1"),
            tag("title", f"{title} — {t['app']}"),
            tag("link", rel="stylesheet", href="/static/console.css"),
            tag("script", src="/static/console.js", defer=True),
        ),
        tag(
            "body",
            tag("a", t["skip"], href="#main", class_="skip"),
            tag("header", tag("strong", t["app"]), nav, tag("div", user_bar, switch, class_="bar")),
            tag("main", tag("h1", title), body, id="main", tabindex="-1"),
        ),
        lang=ctx.locale,
    )
    return "<!doctype html>\n" + page_html


def field(label: str, control: Markup, *, id_: str) -> Markup:
    return tag("p", tag("label", label, for_=id_), control, class_="field")


def reason_and_confirmation(name: str, reason: str, confirm: str) -> list[Markup]:
    """The two fields a form that stops something needs: a required ``reason`` (id NAME-reason) and
    a ticked confirmation (id NAME-confirm, value ``yes``); the handler refuses the form without both."""
    return [
        field(
            reason,
            tag("textarea", "", id=f"{name}-reason", name="reason", rows="2", required=True),
            id_=f"{name}-reason",
        ),
        tag(
            "p",
            tag("input", id=f"{name}-confirm", name="confirm", type="checkbox", value="yes", required=True),
            " ",
            tag("label", confirm, for_=f"{name}-confirm"),
            class_="field",
        ),
    ]


__all__ = ["Ctx", "Refused", "esc", "field", "layout", "page", "reason_and_confirmation", "respond", "secure"]
