"""An async client for the WordPress REST API (``/wp-json/wp/v2``), Application-Password auth.

WordPress answers public reads even when the password is wrong (it is simply "not logged in"),
so the client asks ``/users/me`` before its first request and turns a refusal into a
configuration error naming the credential (:class:`WordPressCredentialsError`, exit 2) instead
of trusting a 200. Posts and pages share one id space; the client finds either by id.

SEO fields (the meta description, structured data) are post meta that an SEO plugin owns;
:class:`SeoFields` says which keys, by ``wordpress.seo_fields`` (adpilot's companion plugin,
Yoast SEO or Rank Math). WordPress accepts only meta keys registered for the REST API and drops
any other key *silently* (200, ``meta: []``): every write is therefore read back, and a value
that did not land is a failed change (:class:`WriteNotApplied`), never a done one.

Lists are ordered by id, ascending: the default date order pages unstably when posts share a
timestamp (some are returned twice, others never).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Literal, get_args

import httpx

from adpilot.errors import ConfigError, PlatformError
from adpilot.tools.http import RetryPolicy, classified_error, send
from adpilot.tools.ratelimit import RateLimiter

PLATFORM = "wordpress"
PER_PAGE = 100

SeoPlugin = Literal["adpilot", "yoast", "rankmath"]
SEO_PLUGINS: tuple[str, ...] = get_args(SeoPlugin)
COMPANION = "integrations/wordpress/adpilot-seo"


@dataclass(frozen=True)
class SeoFields:
    """Where one SEO plugin keeps a page's SEO fields: REST ``meta`` keys (None: not written)."""

    plugin: SeoPlugin
    label: str
    description_key: str
    json_ld_key: str | None  # None: the plugin builds the page's structured data itself

    def keys(self) -> dict[str, str]:
        """{field name adpilot uses: meta key}."""
        keys = {"meta_description": self.description_key}
        if self.json_ld_key is not None:
            keys["json_ld"] = self.json_ld_key
        return keys

    def fix(self) -> str:
        """What makes the keys writable, for a failed write's message."""
        if self.plugin == "adpilot":
            return f"install the adpilot SEO companion plugin ({COMPANION}) into wp-content/mu-plugins or plugins"
        return (
            f"keep {self.label} active and install the adpilot SEO companion plugin ({COMPANION}), which registers "
            f"{self.description_key!r} for the REST API when {self.label} is active; or set wordpress.seo_fields"
        )


SEO_FIELDS: dict[str, SeoFields] = {
    # The companion plugin registers both keys and prints them in wp_head (meta tag, JSON-LD block).
    "adpilot": SeoFields("adpilot", "the adpilot SEO companion plugin", "adpilot_meta_description", "adpilot_json_ld"),
    # Yoast's REST output (yoast_head, yoast_head_json) is read-only; its description lives in the
    # protected meta key _yoast_wpseo_metadesc, writable over REST only once registered.
    "yoast": SeoFields("yoast", "Yoast SEO", "_yoast_wpseo_metadesc", None),
    "rankmath": SeoFields("rankmath", "Rank Math", "rank_math_description", None),
}


class WordPressCredentialsError(ConfigError):
    """WordPress refused the configured user and application password (401/403 on ``/users/me``)."""


class WriteNotApplied(PlatformError):
    """WordPress answered a write with success, but reading the post back shows values that did not land."""


def parse_wordpress_error(response: httpx.Response) -> PlatformError:
    status = response.status_code
    code, message, details = None, f"HTTP {status}", None
    try:
        body = response.json()
        code = body.get("code")
        message = body.get("message", message)
        details = body.get("data")
    except (ValueError, AttributeError):
        message = f"HTTP {status}: {response.text[:200]}"
    return classified_error(PLATFORM, response, message, code=code, details=details)


@dataclass(frozen=True)
class WpPost:
    id: int
    type: str
    status: str
    title: str
    content: str
    excerpt: str
    slug: str
    meta_description: str
    link: str
    modified: str
    json_ld: str = ""  # the page's structured data as the SEO plugin keeps it (JSON text; "" = none)

    @classmethod
    def from_api(cls, data: dict[str, Any], fields: SeoFields | None = None) -> WpPost:
        fields = fields or SEO_FIELDS["adpilot"]

        def raw(field: str) -> str:
            value = data.get(field) or {}
            return str(value.get("raw", value.get("rendered", ""))) if isinstance(value, dict) else str(value)

        # An empty PHP array is JSON []: WordPress sends "meta": [] when no key is registered.
        meta: dict[str, Any] = data["meta"] if isinstance(data.get("meta"), dict) else {}
        return cls(
            id=int(data["id"]),
            type=str(data.get("type", "post")),
            status=str(data.get("status", "")),
            title=raw("title"),
            content=raw("content"),
            excerpt=raw("excerpt"),
            slug=str(data.get("slug", "")),
            meta_description=str(meta.get(fields.description_key) or ""),
            link=str(data.get("link", "")),
            modified=str(data.get("modified", "")),
            json_ld=str(meta.get(fields.json_ld_key) or "") if fields.json_ld_key else "",
        )

    def published_text(self) -> dict[str, str]:
        """Everything a visitor or search engine sees: what the compliance gate must check."""
        return {
            "title": self.title,
            "content": self.content,
            "excerpt": self.excerpt,
            "meta_description": self.meta_description,
            "json_ld": self.json_ld,
        }

    def value(self, field: str) -> str:
        """A field as :meth:`WordPressClient.update_post` takes it (``status`` included)."""
        if field == "status":
            return self.status
        return self.published_text().get(field, str(getattr(self, field, "")))


class WordPressClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        username: str,
        app_password: str,
        seo_fields: SeoPlugin = "adpilot",
        credential: str = "the WordPress application password",
        per_page: int = PER_PAGE,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        """``credential`` names where the password comes from (never the password itself), for
        the message that says it was refused."""
        self.http = http
        self.username = username
        token = base64.b64encode(f"{username}:{app_password}".encode()).decode()
        self._headers = {"authorization": f"Basic {token}"}
        self.fields = SEO_FIELDS[seo_fields]
        self.credential = credential
        self.per_page = per_page
        self.limiter = limiter or RateLimiter(10.0)
        self.retry = retry or RetryPolicy()
        self.timeout_s = timeout_s
        self._me: dict[str, Any] | None = None

    async def _request(
        self,
        method: str,
        path: str,
        *,
        safe_to_repeat: bool,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
    ) -> httpx.Response:
        if self._me is None:
            await self.verify_credentials()
        return await self._send(method, path, safe_to_repeat=safe_to_repeat, params=params, json=json)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        safe_to_repeat: bool,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
    ) -> httpx.Response:
        url = f"/wp-json/wp/v2/{path}"
        return await send(
            self.http,
            lambda: self.http.request(method, url, params=params, json=json, headers=self._headers),
            platform=PLATFORM,
            limiter=self.limiter,
            limiter_key=PLATFORM,
            timeout_s=self.timeout_s,
            retry=self.retry,
            safe_to_repeat=safe_to_repeat,
            parse_error=parse_wordpress_error,
        )

    async def verify_credentials(self) -> dict[str, Any]:
        """The logged-in user (``/users/me``). A refusal (401/403) is a configuration error naming
        the credential and the fix; every other request of this client first waits for this."""
        try:
            response = await self._send("GET", "users/me", safe_to_repeat=True)
        except PlatformError as exc:
            if exc.status not in (401, 403):
                raise
            site = str(self.http.base_url).rstrip("/")
            raise WordPressCredentialsError(
                f"wordpress: {site} refused user {self.username!r} with {self.credential} "
                f"(HTTP {exc.status} {exc.code or ''}: {exc.message}). Fix: create an application password for "
                "that user (WordPress admin → Users → Profile → Application Passwords) and set it there; check "
                "wordpress.username and wordpress.base_url too"
            ) from None
        data: dict[str, Any] = response.json()
        self._me = data
        return data

    async def list_posts(self, *, status: str | None = None, search: str | None = None) -> list[WpPost]:
        """Posts and pages (``status`` as WordPress takes it; default: every status but trash).

        Pages are read in id order, following ``rel="next"`` until there is none, so each post
        comes exactly once; a failed page fails the whole list (never a shorter one)."""
        found: dict[int, WpPost] = {}
        for collection in ("posts", "pages"):
            page = 1
            while True:
                params: dict[str, Any] = {
                    "context": "edit",
                    "per_page": self.per_page,
                    "page": page,
                    "status": status or "any",
                    "orderby": "id",
                    "order": "asc",
                }
                if search:
                    params["search"] = search
                response = await self._request("GET", collection, safe_to_repeat=True, params=params)
                items = response.json()
                for item in items:
                    post = WpPost.from_api(item, self.fields)
                    found.setdefault(post.id, post)
                if not items or not _has_next(response, page):
                    break
                page += 1
        return sorted(found.values(), key=lambda p: p.id)

    async def get_post(self, post_id: int) -> WpPost | None:
        for collection in ("posts", "pages"):
            try:
                response = await self._request(
                    "GET", f"{collection}/{int(post_id)}", safe_to_repeat=True, params={"context": "edit"}
                )
            except PlatformError as exc:
                if exc.status == 404:
                    continue
                raise
            return WpPost.from_api(response.json(), self.fields)
        return None

    def _body(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The REST body of ``fields``: SEO fields go into ``meta`` under the plugin's keys."""
        keys = self.fields.keys()
        body = {k: v for k, v in fields.items() if k not in ("meta_description", "json_ld")}
        meta = {}
        for name in ("meta_description", "json_ld"):
            if name not in fields:
                continue
            if name not in keys:
                raise WriteNotApplied(
                    PLATFORM,
                    f"{self.fields.label} keeps no {name.replace('_', ' ')} adpilot can write "
                    f"(wordpress.seo_fields: {self.fields.plugin}); nothing was sent",
                    code="adpilot_field_unsupported",
                )
            meta[keys[name]] = fields[name]
        if meta:
            body["meta"] = meta
        return body

    async def create_post(
        self,
        *,
        title: str,
        content: str,
        excerpt: str = "",
        meta_description: str = "",
        status: str = "draft",
        kind: str = "post",
    ) -> WpPost:
        """Create a post. Not safe to repeat: an unanswered create is reconciled, not retried.
        A meta description that did not land fails the call (the draft itself exists)."""
        fields: dict[str, Any] = {"title": title, "content": content, "excerpt": excerpt, "status": status}
        if meta_description:
            fields["meta_description"] = meta_description
        response = await self._request("POST", f"{kind}s", safe_to_repeat=False, json=self._body(fields))
        created = WpPost.from_api(response.json(), self.fields)
        return await self._read_back(created, fields)

    async def update_post(self, post: WpPost, fields: dict[str, Any]) -> WpPost:
        """Set fields to absolute values (safe to repeat); ``meta_description`` and ``json_ld`` go
        into meta under the SEO plugin's keys. The post is read back: a value that did not land
        raises :class:`WriteNotApplied` (a failed change, never a done one)."""
        body = self._body(fields)
        await self._request("POST", f"{post.type}s/{post.id}", safe_to_repeat=True, json=body)
        return await self._read_back(post, fields)

    async def _read_back(self, post: WpPost, fields: dict[str, Any]) -> WpPost:
        response = await self._request(
            "GET", f"{post.type}s/{post.id}", safe_to_repeat=True, params={"context": "edit"}
        )
        stored = WpPost.from_api(response.json(), self.fields)
        missing = {name: value for name, value in fields.items() if stored.value(name) != value}
        if missing:
            keys = self.fields.keys()
            lost = ", ".join(f"meta key {keys[name]!r}" if name in keys else name for name in missing)
            hint = f"; {self.fields.fix()}" if set(missing) & set(keys) else ""
            raise WriteNotApplied(
                PLATFORM,
                f"post {post.id}: WordPress accepted the write but did not keep {lost} "
                f"(read back: {', '.join(f'{n}={stored.value(n)[:60]!r}' for n in missing)}){hint}",
                code="adpilot_write_not_applied",
                details={
                    "post_id": post.id,
                    "not_applied": sorted(missing),
                    "applied": sorted(set(fields) - set(missing)),
                    "seo_fields": self.fields.plugin,
                },
            )
        return stored


def _has_next(response: httpx.Response, page: int) -> bool:
    """Whether WordPress announces a page after ``page`` (``Link: <…>; rel="next"``; else the totals)."""
    link = response.headers.get("link")
    if link is not None:
        return 'rel="next"' in link
    try:
        return page < int(response.headers.get("x-wp-totalpages", "1") or 1)
    except ValueError:
        return False
