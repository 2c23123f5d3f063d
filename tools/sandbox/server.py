"""The sandbox as one ASGI app: Google Ads API, WordPress API and the ``/_sandbox/`` controls.

Use it in process through httpx's ASGI transport (:meth:`Sandbox.client`) or serve it with
uvicorn (``adpilot sandbox serve``). Control routes:

    GET  /_sandbox/state           the world dump (``?path=dotted.path`` for a subtree)
    POST /_sandbox/reset           {"seed": 7}
    GET  /_sandbox/faults          current faults per platform
    POST /_sandbox/faults          {"google_ads": {...}, "wordpress": {...}}  (replaces; see faults.py)
    POST /_sandbox/advance-day     {"days": 1}
    POST /_sandbox/patch           {"dotted.path": value, ...}
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adpilot.errors import ConfigError

try:  # POSIX: processes sharing a world file take turns; elsewhere one process per state dir
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
from adpilot.tools.sandbox.demo import (
    SANDBOX_ACCESS_TOKEN,
    SANDBOX_APP_PASSWORD,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_DEVELOPER_TOKEN,
    SANDBOX_REFRESH_TOKEN,
    SANDBOX_USER,
)
from adpilot.tools.sandbox.envelopes import ads_error, ads_error_response, wp_error
from adpilot.tools.sandbox.faults import FaultConfig, FaultState, Verdict
from adpilot.tools.sandbox.google_ads_api import GoogleAdsApi
from adpilot.tools.sandbox.simulate import advance_day
from adpilot.tools.sandbox.wordpress_api import WordPressApi
from adpilot.tools.sandbox.world import World, get_path, patched

PLATFORMS = ("google_ads", "wordpress")
DEFAULT_BASE_URL = "http://sandbox.adpilot.local"


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_mtime_ns, info.st_size


@dataclass(frozen=True)
class SandboxCredentials:
    developer_token: str = SANDBOX_DEVELOPER_TOKEN
    access_token: str = SANDBOX_ACCESS_TOKEN  # never expires (curl examples); /token issues ones that do
    client_id: str = SANDBOX_CLIENT_ID
    client_secret: str = SANDBOX_CLIENT_SECRET
    refresh_token: str = SANDBOX_REFRESH_TOKEN
    wp_username: str = SANDBOX_USER
    wp_app_password: str = SANDBOX_APP_PASSWORD


class Sandbox:
    """Holds the world and the fault settings; builds the ASGI app that serves them."""

    def __init__(self, world: World | None = None, *, seed: int = 7, base_url: str = DEFAULT_BASE_URL) -> None:
        self.world = world if world is not None else World.demo(seed)
        self.base_url = base_url
        self.credentials = SandboxCredentials()
        self.faults = {platform: FaultState() for platform in PLATFORMS}
        # Google Ads: the wall clock (token expiry, sunset versions, change history); tests set it.
        self.clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
        self.token_lifetime_s = 3600
        self.tokens_issued = 0
        self.version = 0
        # Like a real platform, keep every change the moment it lands — and, since several adpilot
        # processes may share this file, see theirs: see _shared().
        self.autosave: Path | None = None
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) of the file as last read or written
        self._local = asyncio.Lock()
        self._google_ads = GoogleAdsApi(self)
        self._wordpress = WordPressApi(self)
        self._app: Starlette | None = None

    @classmethod
    def load_or_seed(cls, path: Path, *, seed: int = 7) -> Sandbox:
        """The world saved at ``path`` (so successive CLI commands share one world), else a new one."""
        if path.is_file():
            try:
                world = World.model_validate_json(path.read_text(encoding="utf-8"))
            except (ValidationError, ValueError) as exc:
                raise ConfigError(
                    f"{path}: the saved sandbox world is unreadable ({exc}); delete it to re-seed"
                ) from exc
            return cls(world)
        return cls(seed=seed)

    def save(self, path: Path) -> None:
        """Write the world atomically (a crash never leaves half a file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(self.world.model_dump_json(), encoding="utf-8")
        partial.replace(path)
        if path == self.autosave:
            self._seen = _stamp(path)

    def share(self, path: Path) -> None:
        """Keep the world in ``path``: every change is saved there, and every request first sees
        the changes other processes saved (the world this sandbox was loaded from is the start)."""
        self.autosave = path
        self._seen = _stamp(path)

    @asynccontextmanager
    async def _shared(self) -> AsyncIterator[None]:
        """One request at a time across every process that shares the world file.

        A real platform is one service that all clients see; a world file that each process had
        loaded once would let one process overwrite another's changes. So each request runs
        under an exclusive file lock, on the world as the last writer left it.
        """
        if self.autosave is None or fcntl is None:
            yield
            return
        async with self._local:  # a task of this process first; then the other processes
            self.autosave.parent.mkdir(parents=True, exist_ok=True)
            with (self.autosave.with_suffix(".lock")).open("a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    stamp = _stamp(self.autosave)
                    if stamp is not None and stamp != self._seen:
                        self.world = World.model_validate_json(self.autosave.read_text(encoding="utf-8"))
                        self._seen = stamp
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    # --- world bookkeeping used by the API modules -------------------------------------
    def next_id(self) -> int:
        self.world.google_ads.next_id += 1
        return self.world.google_ads.next_id

    def now(self) -> str:
        return f"{self.world.sim.today.isoformat()}T09:00:00"

    def changed(self) -> None:
        self.version += 1
        if self.autosave is not None:
            self.save(self.autosave)

    def set_faults(self, settings: dict[str, Any]) -> None:
        """Replace the fault settings; platforms not named go back to no faults."""
        unknown = set(settings) - set(PLATFORMS)
        if unknown:
            raise ValueError(f"unknown platform(s) {sorted(unknown)}; expected {list(PLATFORMS)}")
        configs = {platform: FaultConfig.model_validate(settings.get(platform) or {}) for platform in PLATFORMS}
        if configs["google_ads"].concurrent_edit is not None:
            raise ValueError("concurrent_edit is a WordPress fault; Google Ads ads cannot be edited")
        for platform in PLATFORMS:
            self.faults[platform].configure(configs[platform])

    # --- transport --------------------------------------------------------------------
    @property
    def app(self) -> Starlette:
        if self._app is None:
            self._app = Starlette(
                routes=[
                    Route("/_sandbox/{action:path}", self._control, methods=["GET", "POST"]),
                    Route("/token", self._google_ads.token_endpoint, methods=["POST"]),
                    Route(
                        "/wp-json/{rest:path}",
                        self._wordpress_entry,
                        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                    ),
                    Route("/{version}/{rest:path}", self._google_ads_entry, methods=["GET", "POST"]),
                ]
            )
        return self._app

    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.app)

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An httpx client wired to this sandbox in process (no sockets)."""
        return httpx.AsyncClient(transport=self.transport(), base_url=self.base_url, **kwargs)

    # --- platform entry points with faults ----------------------------------------------
    async def _with_faults(self, platform: str, request: Request, handler: Any) -> Response:
        state = self.faults[platform]
        if platform == "google_ads":
            write = request.url.path.endswith(":mutate")
        else:
            write = request.method in ("POST", "PUT", "PATCH", "DELETE")
        verdict = await state.decide(write=write)
        version = request.path_params.get("version", "") if platform == "google_ads" else ""
        if verdict is Verdict.RATE_LIMITED:
            delay_ms = state.config.retry_delay_ms
            seconds = f"{delay_ms / 1000:g}s"
            if platform == "google_ads":
                error = ads_error(
                    "quotaError",
                    "RESOURCE_TEMPORARILY_EXHAUSTED",
                    "Too many requests. Retry in " + seconds + ".",
                    details={
                        "quotaErrorDetails": {
                            "rateScope": "ACCOUNT",
                            "rateName": "Requests per account",
                            "retryDelay": seconds,
                        }
                    },
                )
                return ads_error_response(
                    429, [error], version=version, headers={"Retry-After": str(max(1, round(delay_ms / 1000)))}
                )
            response = wp_error("rest_too_many_requests", "Too many requests.", 429)
            response.headers["Retry-After"] = str(max(1, round(delay_ms / 1000)))
            return response
        if verdict is Verdict.ERROR:
            if platform == "google_ads":
                return ads_error_response(
                    503,
                    [
                        ads_error(
                            "internalError",
                            "TRANSIENT_ERROR",
                            "The service is temporarily unavailable. Try again.",
                        )
                    ],
                    version=version,
                )
            return wp_error("internal_server_error", "There has been a critical error on this website.", 500)
        if verdict is Verdict.HANG_BEFORE:
            await state.hang()
            return self._timeout(platform, version)
        async with self._shared():
            response = await handler(request)
        if verdict is Verdict.HANG_AFTER:
            await state.hang()
            return self._timeout(platform, version)
        return response

    @staticmethod
    def _timeout(platform: str, version: str = "") -> Response:
        if platform == "google_ads":
            return ads_error_response(
                504, [ads_error("internalError", "DEADLINE_EXCEEDED", "Deadline exceeded.")], version=version
            )
        return wp_error("gateway_timeout", "Gateway Timeout", 504)

    async def _google_ads_entry(self, request: Request) -> Response:
        return await self._with_faults("google_ads", request, self._google_ads.dispatch)

    async def _wordpress_entry(self, request: Request) -> Response:
        return await self._with_faults("wordpress", request, self._wordpress.dispatch)

    # --- control API ------------------------------------------------------------------
    async def _control(self, request: Request) -> Response:
        action = request.path_params["action"].strip("/")
        try:
            body: Any = json.loads(await request.body() or b"{}") if request.method == "POST" else {}
        except json.JSONDecodeError as exc:
            return JSONResponse({"error": f"invalid JSON: {exc}"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
        try:
            return self._control_action(request.method, action, body, request.query_params.get("path"))
        except (ValidationError, ValueError, KeyError, TypeError) as exc:
            message = f"no such path segment {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
            return JSONResponse({"error": message}, status_code=400)

    def _control_action(self, method: str, action: str, body: dict[str, Any], path: str | None) -> Response:
        if (method, action) == ("GET", "state"):
            dump = self.world.dump()
            return JSONResponse(get_path(dump, path) if path else dump)
        if (method, action) == ("POST", "reset"):
            seed = body.get("seed", self.world.sim.seed)
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise ValueError("seed must be an integer")
            self.world = World.demo(seed)
            self.set_faults({})
            self.changed()
            return JSONResponse({"seed": seed, "today": self.world.sim.today.isoformat()})
        if action == "faults":
            if method == "POST":
                self.set_faults(body)
            return JSONResponse({p: s.config.model_dump() for p, s in self.faults.items()})
        if (method, action) == ("POST", "advance-day"):
            days = body.get("days", 1)
            if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
                raise ValueError("days must be an integer from 1 to 366")
            simulated = advance_day(self.world, days)
            self.changed()
            return JSONResponse(
                {
                    "simulated": [d.isoformat() for d in simulated],
                    "today": self.world.sim.today.isoformat(),
                }
            )
        if (method, action) == ("POST", "patch"):
            self.world = patched(self.world, body)
            self.changed()
            return JSONResponse({"patched": sorted(body)})
        return JSONResponse({"error": f"no control action {method} /_sandbox/{action}"}, status_code=404)


def serve(host: str = "127.0.0.1", port: int = 8765, seed: int = 7) -> None:
    """Run the sandbox with uvicorn until interrupted."""
    import uvicorn

    class _Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:
                # One line that scripts and tests can wait for instead of guessing a delay.
                print(f"sandbox ready on http://{host}:{port}", file=sys.stderr, flush=True)

    sandbox = Sandbox(seed=seed, base_url=f"http://{host}:{port}")
    config = uvicorn.Config(sandbox.app, host=host, port=port, log_level="warning", lifespan="off")
    _Server(config).run()
