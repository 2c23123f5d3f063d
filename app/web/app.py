"""The console's application: :func:`create_app` builds it from a configuration, and :func:`serve`
runs it with uvicorn.

Pages live in :mod:`adpilot.app.web.pages`, one module a page; the JSON API
(:mod:`adpilot.app.web.api`, the Agent Protocol subset of LangGraph's client) and ``/api/health``
under ``/api/``. Static files (the one stylesheet and script the console ships) are served from
the package: nothing is loaded from another site, and the console works offline.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from adpilot.app.ports import check_port
from adpilot.app.web import api
from adpilot.app.web.pages import accounts, audit, auth, chat, controls, inbox, runs
from adpilot.app.web.users import Clock, open_users, utc_now
from adpilot.config import Config

STATIC = Path(__file__).resolve().parent / "static"


async def home(request: Request) -> Response:
    return RedirectResponse("/inbox", status_code=303)


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True})


def create_app(config: Config, *, clock: Clock = utc_now) -> Starlette:
    """The console over ``config``'s state directory (``clock``: what "now" is for sessions and the
    login throttle)."""
    users = open_users(config.state_dir, clock=clock)
    routes: list[Any] = [
        Route("/", home, methods=["GET"]),
        Route("/api/health", health, methods=["GET"]),
        *auth.routes,
        *inbox.routes,
        *chat.routes,
        *runs.routes,
        *accounts.routes,
        *audit.routes,
        *controls.routes,
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        Mount("/api", app=api.build(config, users)),
    ]
    app = Starlette(routes=routes)
    app.state.config = config
    app.state.users = users
    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(config: Config, host: str, port: int, *, certfile: str | None, keyfile: str | None, say: Any) -> None:
    import uvicorn

    check_port(host, port, "the console")
    if not is_loopback(host) and certfile is None:
        say(
            f"WARNING: the console listens on {host}, beyond this machine, without TLS: passwords and session "
            "cookies cross the network in clear text. Give --tls-cert and --tls-key, or put a TLS proxy in front."
        )
    scheme = "https" if certfile else "http"
    say(f"adpilot console on {scheme}://{host}:{port} (state in {config.state_dir}); Ctrl-C stops it")
    uvicorn.run(
        create_app(config),
        host=host.strip("[]"),
        port=port,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        log_level="warning",
        proxy_headers=True,  # X-Forwarded-Proto/-For, trusted from a proxy on this machine only
    )
