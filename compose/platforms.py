"""The platform clients of one process, built from configuration.

``base_url: sandbox`` wires a client to an in-process :class:`Sandbox` over the ASGI transport;
anything else is a real URL and credentials come from the environment variables the
configuration names. Nothing else in adpilot builds an httpx client for a platform, and nothing
in :mod:`adpilot.tools` knows that a sandbox exists.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace

import httpx

from adpilot.config import SANDBOX, Config, GoogleAdsConfig
from adpilot.errors import ConfigError
from adpilot.statedir import StateDir
from adpilot.tools.google_ads import GoogleAdsClient, OAuth2Token, StaticToken, TokenSource
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


def _google_ads_credentials(
    ads: GoogleAdsConfig, environ: Mapping[str, str], http: httpx.AsyncClient, retry: RetryPolicy
) -> TokenSource:
    """OAuth2 refresh-token credentials when all three variables are set, else a static access
    token; neither: a ConfigError naming the variables (never their values)."""
    names = (ads.client_id_env, ads.client_secret_env, ads.refresh_token_env)
    values = [environ.get(name) for name in names]
    if all(values):
        client_id, client_secret, refresh_token = (str(v) for v in values)
        return OAuth2Token(
            http,
            client_id=client_id,
            client_secret=client_secret,
            refresh_token=refresh_token,
            token_url=ads.token_url,
            names=(
                f"google_ads.client_id_env ({ads.client_id_env}), client_secret_env ({ads.client_secret_env}) "
                f"and refresh_token_env ({ads.refresh_token_env})"
            ),
            timeout_s=ads.timeout_s,
            retry=retry,
        )
    if environ.get(ads.access_token_env):
        return StaticToken(environ[ads.access_token_env])
    missing = ", ".join(name for name, value in zip(names, values, strict=True) if not value)
    raise ConfigError(
        f"google_ads credentials: set the environment variables {missing} (OAuth2 refresh token; see "
        f"google_ads.client_id_env, client_secret_env, refresh_token_env), or {ads.access_token_env} "
        "(a static access token, google_ads.access_token_env; it expires after about an hour)"
    )


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
    ads_retry = replace(retry or RetryPolicy(), max_server_delay_s=ads.max_retry_delay_s, deadline_s=ads.deadline_s)
    ads_http = http_for(ads.base_url)
    credentials: TokenSource
    if ads.base_url == SANDBOX:
        assert sandbox is not None
        developer_token = sandbox.credentials.developer_token
        # The sandbox's token endpoint: tokens that expire, refreshed as Google's are.
        credentials = OAuth2Token(
            ads_http,
            client_id=sandbox.credentials.client_id,
            client_secret=sandbox.credentials.client_secret,
            refresh_token=sandbox.credentials.refresh_token,
            token_url=f"{sandbox.base_url}/token",
            timeout_s=ads.timeout_s,
            retry=ads_retry,
        )
    else:
        developer_token = _secret(environ, ads.developer_token_env, "google_ads.developer_token_env")
        credentials = _google_ads_credentials(ads, environ, ads_http, ads_retry)
    google_ads = GoogleAdsClient(
        ads_http,
        developer_token=developer_token,
        credentials=credentials,
        api_version=ads.api_version,
        login_customer_id=ads.login_customer_id,
        limiter=RateLimiter(ads.requests_per_second),
        retry=ads_retry,
        timeout_s=ads.timeout_s,
    )
    wp = config.wordpress
    if wp.base_url == SANDBOX:
        assert sandbox is not None
        username, password = sandbox.credentials.wp_username, sandbox.credentials.wp_app_password
        credential = "the sandbox's application password"
    else:
        username, password = wp.username, _secret(environ, wp.app_password_env, "wordpress.app_password_env")
        credential = f"the application password in ${wp.app_password_env} (wordpress.app_password_env)"
    wordpress = WordPressClient(
        http_for(wp.base_url),
        username=username,
        app_password=password,
        seo_fields=wp.seo_fields,
        credential=credential,
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
