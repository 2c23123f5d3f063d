"""An async client for the WordPress REST API (``/wp-json/wp/v2``), Application-Password auth.

WordPress answers public reads even when the password is wrong, so :meth:`verify_credentials`
asks ``/users/me`` instead of trusting a 200. Posts and pages share one id space; the client
finds either by id.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import httpx

from adpilot.errors import PlatformError
from adpilot.tools.http import RetryPolicy, classified_error, send
from adpilot.tools.ratelimit import RateLimiter

PLATFORM = "wordpress"


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

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> WpPost:
        def raw(field: str) -> str:
            value = data.get(field) or {}
            return str(value.get("raw", value.get("rendered", ""))) if isinstance(value, dict) else str(value)

        return cls(
            id=int(data["id"]),
            type=str(data.get("type", "post")),
            status=str(data.get("status", "")),
            title=raw("title"),
            content=raw("content"),
            excerpt=raw("excerpt"),
            slug=str(data.get("slug", "")),
            meta_description=str((data.get("meta") or {}).get("meta_description", "")),
            link=str(data.get("link", "")),
            modified=str(data.get("modified", "")),
        )

    def published_text(self) -> dict[str, str]:
        """Everything a visitor or search engine sees: what the compliance gate must check."""
        return {
            "title": self.title,
            "content": self.content,
            "excerpt": self.excerpt,
            "meta_description": self.meta_description,
        }


class WordPressClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        username: str,
        app_password: str,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.http = http
        token = base64.b64encode(f"{username}:{app_password}".encode()).decode()
        self._headers = {"authorization": f"Basic {token}"}
        self.limiter = limiter or RateLimiter(10.0)
        self.retry = retry or RetryPolicy()
        self.timeout_s = timeout_s

    async def _request(
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
        response = await self._request("GET", "users/me", safe_to_repeat=True)
        data: dict[str, Any] = response.json()
        return data

    async def list_posts(self, *, status: str | None = None, search: str | None = None) -> list[WpPost]:
        """Posts and pages (``status`` as WordPress takes it; default: every status but trash)."""
        found: list[WpPost] = []
        for collection in ("posts", "pages"):
            page = 1
            while True:
                params: dict[str, Any] = {"context": "edit", "per_page": 100, "page": page, "status": status or "any"}
                if search:
                    params["search"] = search
                response = await self._request("GET", collection, safe_to_repeat=True, params=params)
                found.extend(WpPost.from_api(item) for item in response.json())
                if page >= int(response.headers.get("x-wp-totalpages", "1") or 1):
                    break
                page += 1
        return sorted(found, key=lambda p: p.id)

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
            return WpPost.from_api(response.json())
        return None

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
        """Create a post. Not safe to repeat: an unanswered create is reconciled, not retried."""
        body = {
            "title": title,
            "content": content,
            "excerpt": excerpt,
            "status": status,
            "meta": {"meta_description": meta_description},
        }
        response = await self._request("POST", f"{kind}s", safe_to_repeat=False, json=body)
        return WpPost.from_api(response.json())

    async def update_post(self, post: WpPost, fields: dict[str, Any]) -> WpPost:
        """Set fields to absolute values (safe to repeat). ``meta_description`` goes into meta."""
        body = {k: v for k, v in fields.items() if k != "meta_description"}
        if "meta_description" in fields:
            body["meta"] = {"meta_description": fields["meta_description"]}
        response = await self._request("POST", f"{post.type}s/{post.id}", safe_to_repeat=True, json=body)
        return WpPost.from_api(response.json())
