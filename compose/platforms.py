"""The platform clients of one process, built from configuration.

``base_url: sandbox`` wires a client to an in-process :class:`Sandbox` over the ASGI transport;
anything else is a real URL and credentials come from the environment variables the
configuration names. Nothing else in adpilot builds an httpx client for a platform, and nothing
in :mod:`adpilot.tools` knows that a sandbox exists.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

import httpx

from adpilot.config import SANDBOX, Config
from adpilot.errors import ConfigError
from adpilot.statedir import StateDir
from adpilot.tools.google_ads import GoogleAdsClient
from adpilot.tools.http import RetryPolicy
from adpilot.tools.platforms import Platforms
from adpilot.tools.ratelimit import RateLimiter
from adpilot.tools.sandbox import Sandbox
from adpilot.tools.wordpress import WordPressClient


def _secret(environ: Mapping[str, str], variable: str, what: str) -> str:
    value = environ.get(variable)
    if not value:
        raise ConfigError(f"{what}: set the environment variable {variable} (named in the configuration)")
    return value


def connect(
    config: Config,
    *,
    sandbox: Sandbox | None = None,
    environ: Mapping[str, str] | None = None,
    retry: RetryPolicy | None = None,
    persist: bool = False,
) -> Platforms:
    """Build both clients; the sandbox (given or seeded from config) serves ``sandbox`` URLs.

    With ``persist`` the sandbox world is loaded from and saved to the state directory, so
    that one CLI command sees what an earlier one changed (a maintenance run, then an approval).
    """
    environ = os.environ if environ is None else environ
    world_file = StateDir(config.state_dir).sandbox_world if persist else None
    if config.uses_sandbox and sandbox is None:
        if world_file is not None:
            sandbox = Sandbox.load_or_seed(world_file, seed=config.sandbox.seed)
            sandbox.share(world_file)
        else:
            sandbox = Sandbox(seed=config.sandbox.seed)
    https: list[httpx.AsyncClient] = []

    def http_for(base_url: str) -> httpx.AsyncClient:
        if base_url == SANDBOX:
            assert sandbox is not None
            client = sandbox.client()
        else:
            # No httpx timeout of its own: its 5 s default would cut every attempt short of the
            # configured timeout_s, which tools/http.py enforces per attempt.
            client = httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(None))
        https.append(client)
        return client

    ads = config.google_ads
    if ads.base_url == SANDBOX:
        assert sandbox is not None
        developer_token, access_token = sandbox.credentials.developer_token, sandbox.credentials.access_token
    else:
        developer_token = _secret(environ, ads.developer_token_env, "google_ads.developer_token_env")
        access_token = _secret(environ, ads.access_token_env, "google_ads.access_token_env")
    google_ads = GoogleAdsClient(
        http_for(ads.base_url),
        developer_token=developer_token,
        access_token=access_token,
        api_version=ads.api_version,
        login_customer_id=ads.login_customer_id,
        limiter=RateLimiter(ads.requests_per_second),
        retry=retry,
        timeout_s=ads.timeout_s,
    )
    wp = config.wordpress
    if wp.base_url == SANDBOX:
        assert sandbox is not None
        username, password = sandbox.credentials.wp_username, sandbox.credentials.wp_app_password
    else:
        username, password = wp.username, _secret(environ, wp.app_password_env, "wordpress.app_password_env")
    wordpress = WordPressClient(
        http_for(wp.base_url),
        username=username,
        app_password=password,
        limiter=RateLimiter(wp.requests_per_second),
        retry=retry,
        timeout_s=wp.timeout_s,
    )
    closers: list[Callable[[], None]] = []
    if sandbox is not None and world_file is not None:
        shared, file = sandbox, world_file

        def save_if_new() -> None:
            # Every change was saved as it landed; only a world never saved before is written now
            # (saving a stale copy later would undo what other processes changed meanwhile).
            if not file.exists():
                shared.save(file)

        closers.append(save_if_new)
    site = sandbox.base_url if sandbox is not None and wp.base_url == SANDBOX else wp.base_url
    return Platforms(google_ads, wordpress, site, https, closers)
