"""The WordPress-REST-shaped part of the sandbox (``/wp-json/wp/v2/posts|pages|users/me``).

Behaviour follows a real WordPress 6.x (see FINDINGS.md): Application Passwords over HTTP
Basic, a wrong password is simply "not logged in" (public reads still answer 200),
``context=edit`` adds raw values, drafts have an empty slug, DELETE trashes first and
answers 410 the second time, ``?force=true`` deletes, lists carry X-WP-Total headers.
Post meta: only the keys the "installed" SEO plugin registers for REST (``cms.seo_plugin``,
:data:`REGISTERED_META`) are shown and written; any other key is dropped silently (200,
and ``meta: []`` when nothing is registered), exactly as WordPress does.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import math
import re
import unicodedata
import zlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from adpilot.tools.sandbox.envelopes import wp_error
from adpilot.tools.sandbox.world import Post, PostType, User

if TYPE_CHECKING:
    from adpilot.tools.sandbox.server import Sandbox

STATUSES = ("publish", "future", "draft", "pending", "private")
# {seo plugin: {meta key registered for REST: Post attribute}} (integrations/wordpress/adpilot-seo)
REGISTERED_META: dict[str, dict[str, str]] = {
    "adpilot": {"adpilot_meta_description": "meta_description", "adpilot_json_ld": "json_ld"},
    "yoast": {"_yoast_wpseo_metadesc": "meta_description"},
    "rankmath": {"rank_math_description": "meta_description"},
    "none": {},
}
_ORDERBY = {"date", "id", "title", "modified", "slug"}
_FORBIDDEN = "Sorry, you are not allowed to do that."


def slugify(title: str) -> str:
    folded = unicodedata.normalize(
        "NFKD", title.replace("ß", "ss").replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    )
    ascii_text = folded.encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-") or "post"


def _rendered_content(raw: str) -> str:
    if re.search(r"<(p|h[1-6]|ul|ol|div|figure|table|blockquote)\b", raw):
        return raw
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", raw) if p.strip()]
    return "\n".join(f"<p>{p}</p>" for p in paragraphs)


def _text_field(value: Any, name: str) -> str | JSONResponse | None:
    """Title/content/excerpt arrive as a string or as {raw: string}."""
    if value is None:
        return None
    if isinstance(value, dict) and isinstance(value.get("raw"), str):
        return str(value["raw"])
    if isinstance(value, str):
        return value
    return wp_error(
        "rest_invalid_param",
        f"Invalid parameter(s): {name}",
        400,
        params={name: f"{name} is not of type string."},
    )


class WordPressApi:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    @property
    def site(self) -> str:
        return self.sandbox.base_url.rstrip("/")

    def _user(self, request: Request) -> User | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            username, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        for user in self.sandbox.world.cms.users.values():
            if user.username == username and user.app_password.replace(" ", "") == password.replace(" ", ""):
                return user
        return None

    def _link(self, post: Post) -> str:
        if post.status == "publish" and post.slug:
            return f"{self.site}/{post.slug}/"
        return f"{self.site}/?{'page_id' if post.type == 'page' else 'p'}={post.id}"

    def _serialise(self, post: Post, edit: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": post.id,
            "date": post.date,
            "date_gmt": post.date,
            "guid": {"rendered": f"{self.site}/?p={post.id}"},
            "modified": post.modified,
            "modified_gmt": post.modified,
            "slug": post.slug,
            "status": post.status,
            "type": post.type,
            "link": self._link(post),
            "title": {"rendered": html.escape(post.title, quote=False)},
            "content": {"rendered": _rendered_content(post.content), "protected": False},
            "excerpt": {
                "rendered": f"<p>{html.escape(post.excerpt, quote=False)}</p>\n" if post.excerpt else "",
                "protected": False,
            },
            "author": post.author,
            # PHP's empty array: WordPress sends [] when no meta key is registered.
            "meta": {key: getattr(post, name) for key, name in self._registered().items()} or [],
        }
        if edit:
            data["title"]["raw"] = post.title
            data["content"]["raw"] = post.content
            data["excerpt"]["raw"] = post.excerpt
            data["guid"]["raw"] = data["guid"]["rendered"]
            data["password"] = ""
            data["generated_slug"] = post.slug or slugify(post.title)
            data["permalink_template"] = f"{self.site}/%postname%/"
        return data

    def _registered(self) -> dict[str, str]:
        return REGISTERED_META[self.sandbox.world.cms.seo_plugin]

    def _find(self, kind: str, post_id: str) -> Post | None:
        post = self.sandbox.world.cms.posts.get(post_id)
        return post if post is not None and post.type == kind else None

    async def _payload(self, request: Request) -> dict[str, Any] | JSONResponse:
        content_type = request.headers.get("content-type", "")
        raw = await request.body()
        if "application/json" in content_type:
            try:
                data = json.loads(raw or b"{}")
            except (json.JSONDecodeError, UnicodeDecodeError):
                return wp_error("rest_invalid_json", "Invalid JSON body passed.", 400, json_error_code=4)
            if not isinstance(data, dict):
                return wp_error("rest_invalid_json", "Invalid JSON body passed.", 400)
            return {**dict(request.query_params), **data}
        form = await request.form()
        return {
            **dict(request.query_params),
            **{k: v for k, v in form.items() if isinstance(v, str)},
        }

    def _apply_fields(self, post: Post, data: dict[str, Any], user: User) -> JSONResponse | None:
        updates: dict[str, Any] = {}
        for name in ("title", "content", "excerpt"):
            if name in data:
                value = _text_field(data[name], name)
                if isinstance(value, JSONResponse):
                    return value
                updates[name] = value
        if "status" in data:
            status = data["status"]
            if status not in STATUSES:
                return wp_error(
                    "rest_invalid_param",
                    "Invalid parameter(s): status",
                    400,
                    params={"status": f"status is not one of {', '.join(STATUSES)}."},
                )
            capability = "publish_pages" if post.type == "page" else "publish_posts"
            if status in ("publish", "future", "private") and capability not in user.capabilities:
                return wp_error(
                    "rest_cannot_publish",
                    "Sorry, you are not allowed to publish posts as this user.",
                    403,
                )
            updates["status"] = status
        if "slug" in data:
            if not isinstance(data["slug"], str):
                return wp_error(
                    "rest_invalid_param",
                    "Invalid parameter(s): slug",
                    400,
                    params={"slug": "slug is not of type string."},
                )
            updates["slug"] = slugify(data["slug"]) if data["slug"] else ""
        meta = data.get("meta")
        if meta is not None:
            if not isinstance(meta, dict):
                return wp_error(
                    "rest_invalid_param",
                    "Invalid parameter(s): meta",
                    400,
                    params={"meta": "meta is not of type object."},
                )
            registered = self._registered()
            for key, value in meta.items():
                if key not in registered:
                    continue  # not registered for REST: WordPress drops it without a word
                if not isinstance(value, str):
                    return wp_error(
                        "rest_invalid_param",
                        "Invalid parameter(s): meta",
                        400,
                        params={"meta": f"meta.{key} is not of type string."},
                    )
                updates[registered[key]] = value
        for name, value in updates.items():
            setattr(post, name, value)
        if post.status == "publish" and not post.slug:
            post.slug = self._unique_slug(slugify(post.title), post.id)
        post.modified = self.sandbox.now()
        return None

    def _unique_slug(self, slug: str, post_id: int) -> str:
        taken = {p.slug for p in self.sandbox.world.cms.posts.values() if p.id != post_id}
        candidate, n = slug, 2
        while candidate in taken:
            candidate, n = f"{slug}-{n}", n + 1
        return candidate

    async def list(self, request: Request, kind: str) -> Response:
        user = self._user(request)
        params = request.query_params
        invalid: dict[str, str] = {}

        def int_param(name: str, default: int, low: int, high: int | None) -> int:
            raw = params.get(name)
            if raw is None:
                return default
            if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
                invalid[name] = f"{name} must be between {low} ({'inclusive'}) and {high if high else 'more'}."
                return default
            return int(raw)

        page = int_param("page", 1, 1, None)
        per_page = int_param("per_page", 10, 1, 100)
        context = params.get("context", "view")
        if context not in ("view", "edit", "embed"):
            invalid["context"] = "context is not one of view, edit, and embed."
        statuses = [s.strip() for s in params.get("status", "publish").split(",") if s.strip()]
        allowed = (*STATUSES, "trash", "any")
        for status in statuses:
            if status not in allowed:
                invalid["status"] = f"status is not one of {', '.join(allowed)}."
            elif status != "publish" and user is None:
                invalid["status"] = "Status is forbidden."
        orderby = params.get("orderby", "date")
        if orderby not in _ORDERBY:
            invalid["orderby"] = f"orderby is not one of {', '.join(sorted(_ORDERBY))}."
        order = params.get("order", "desc")
        if order not in ("asc", "desc"):
            invalid["order"] = "order is not one of asc and desc."
        if invalid:
            return wp_error(
                "rest_invalid_param",
                f"Invalid parameter(s): {', '.join(invalid)}",
                400,
                params=invalid,
            )
        if context == "edit" and user is None:
            return wp_error(
                "rest_forbidden_context",
                "Sorry, you are not allowed to edit posts in this post type.",
                401,
            )

        wanted = set(STATUSES) if "any" in statuses else set(statuses)
        posts = [p for p in self.sandbox.world.cms.posts.values() if p.type == kind and p.status in wanted]
        search = params.get("search")
        if search:
            needle = search.casefold()
            posts = [p for p in posts if needle in (p.title + " " + p.content + " " + p.excerpt).casefold()]
        if params.get("slug"):
            slugs = set(params["slug"].split(","))
            posts = [p for p in posts if p.slug in slugs]
        if params.get("include"):
            ids = {int(x) for x in params["include"].split(",") if x.strip().isdigit()}
            posts = [p for p in posts if p.id in ids]

        # MySQL breaks ties of ORDER BY post_date as the LIMIT/OFFSET plan happens to: posts that share
        # a timestamp come in another order on each page, so date-ordered paging returns some twice
        # and others never (measured on WordPress 6.1). Only orderby=id is a total order.
        def tie(post: Post) -> int:
            return zlib.crc32(f"{post.id}:{page}:{per_page}".encode())

        key = {
            "date": lambda p: (p.date, tie(p)),
            "id": lambda p: p.id,
            "title": lambda p: (p.title.casefold(), tie(p)),
            "modified": lambda p: (p.modified, tie(p)),
            "slug": lambda p: (p.slug, tie(p)),
        }[orderby]
        posts.sort(key=key, reverse=order == "desc")
        total = len(posts)
        pages = math.ceil(total / per_page) if total else 0
        if page > max(pages, 1):
            return wp_error(
                "rest_post_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
                400,
            )
        chunk = posts[(page - 1) * per_page : page * per_page]
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        links = []
        base = f"{self.site}/wp-json/wp/v2/{kind}s"
        query = {k: v for k, v in params.items() if k != "page"}
        if page > 1:
            links.append(f'<{base}?{urlencode({**query, "page": page - 1})}>; rel="prev"')
        if page < pages:
            links.append(f'<{base}?{urlencode({**query, "page": page + 1})}>; rel="next"')
        if links:
            headers["Link"] = ", ".join(links)
        return JSONResponse([self._serialise(p, context == "edit") for p in chunk], headers=headers)

    async def get(self, request: Request, kind: str, post_id: str) -> Response:
        user = self._user(request)
        post = self._find(kind, post_id)
        if post is None:
            return wp_error("rest_post_invalid_id", "Invalid post ID.", 404)
        context = request.query_params.get("context", "view")
        if post.status != "publish" and user is None:
            return wp_error("rest_forbidden", _FORBIDDEN, 401)
        if context == "edit" and user is None:
            return wp_error("rest_forbidden_context", "Sorry, you are not allowed to edit this post.", 401)
        return JSONResponse(self._serialise(post, context == "edit"))

    async def create(self, request: Request, kind: PostType) -> Response:
        user = self._user(request)
        if user is None:
            return wp_error(
                "rest_cannot_create",
                "Sorry, you are not allowed to create posts as this user.",
                401,
            )
        data = await self._payload(request)
        if isinstance(data, JSONResponse):
            return data
        if "id" in data:
            return wp_error("rest_post_exists", "Cannot create existing post.", 400)
        if not any(
            isinstance(data.get(k), str | dict) and _text_field(data.get(k), k) for k in ("title", "content", "excerpt")
        ):
            return wp_error("empty_content", "Content, title, and excerpt are empty.", 400)
        cms = self.sandbox.world.cms
        post = Post(
            id=cms.next_id,
            type=kind,
            status="draft",
            title="",
            content="",
            date=self.sandbox.now(),
            modified=self.sandbox.now(),
            author=user.id,
        )
        error = self._apply_fields(post, data, user)
        if error is not None:
            return error
        cms.posts[str(post.id)] = post
        cms.next_id += 1
        self.sandbox.changed()
        location = f"{self.site}/wp-json/wp/v2/{kind}s/{post.id}"
        return JSONResponse(self._serialise(post, True), status_code=201, headers={"Location": location})

    async def update(self, request: Request, kind: str, post_id: str) -> Response:
        user = self._user(request)
        post = self._find(kind, post_id)
        if post is None:
            return wp_error("rest_post_invalid_id", "Invalid post ID.", 404)
        if user is None:
            return wp_error("rest_cannot_edit", "Sorry, you are not allowed to edit this post.", 401)
        data = await self._payload(request)
        if isinstance(data, JSONResponse):
            return data
        candidate = post.model_copy(deep=True)
        faults = self.sandbox.faults["wordpress"]
        edit = faults.concurrent_edit(post.id, sets_status="status" in data)
        if edit is not None:  # injected: another editor's save lands just before this write
            setattr(candidate, edit.field, edit.text)
        error = self._apply_fields(candidate, data, user)
        if error is not None:
            return error
        if edit is not None:
            faults.edit_landed()
        self.sandbox.world.cms.posts[post_id] = candidate
        self.sandbox.changed()
        return JSONResponse(self._serialise(candidate, True))

    async def delete(self, request: Request, kind: str, post_id: str) -> Response:
        user = self._user(request)
        post = self._find(kind, post_id)
        if post is None:
            return wp_error("rest_post_invalid_id", "Invalid post ID.", 404)
        if user is None or "delete_posts" not in user.capabilities:
            return wp_error("rest_cannot_delete", "Sorry, you are not allowed to delete this post.", 401)
        force = request.query_params.get("force", "false").lower() in ("1", "true")
        if force:
            previous = self._serialise(post, True)
            del self.sandbox.world.cms.posts[post_id]
            self.sandbox.changed()
            return JSONResponse({"deleted": True, "previous": previous})
        if post.status == "trash":
            return wp_error("rest_already_trashed", "The post has already been deleted.", 410)
        post.trashed_from = post.status
        post.status = "trash"
        post.modified = self.sandbox.now()
        self.sandbox.changed()
        return JSONResponse(self._serialise(post, True))

    async def me(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            return wp_error("rest_not_logged_in", "You are not currently logged in.", 401)
        return JSONResponse(
            {
                "id": user.id,
                "name": user.name,
                "slug": user.username,
                "link": f"{self.site}/author/{user.username}/",
            }
        )

    async def dispatch(self, request: Request) -> Response:
        path: str = request.path_params["rest"].strip("/")
        method = request.method
        if path in ("", "/") and method == "GET":
            return JSONResponse({"name": "Alpine Outfitters (sandbox)", "url": self.site, "namespaces": ["wp/v2"]})
        if path == "wp/v2/users/me" and method == "GET":
            return await self.me(request)
        match = re.fullmatch(r"wp/v2/(posts|pages)(?:/(\d+))?", path)
        if match is not None:
            kind: PostType = "post" if match.group(1) == "posts" else "page"
            post_id = match.group(2)
            if post_id is None and method == "GET":
                return await self.list(request, kind)
            if post_id is None and method == "POST":
                return await self.create(request, kind)
            if post_id is not None and method == "GET":
                return await self.get(request, kind, post_id)
            if post_id is not None and method in ("POST", "PUT", "PATCH"):
                return await self.update(request, kind, post_id)
            if post_id is not None and method == "DELETE":
                return await self.delete(request, kind, post_id)
        return wp_error("rest_no_route", "No route was found matching the URL and request method.", 404)
