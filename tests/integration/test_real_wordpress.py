"""adpilot against a real WordPress (scripts/wordpress-local.sh starts one on loopback).

Runs when ``ADPILOT_REAL_WP_URL`` is set (with ``ADPILOT_REAL_WP_USER`` and
``WORDPRESS_APP_PASSWORD``, as the script prints them); skipped otherwise — except when
``ADPILOT_REQUIRE_REAL_WP=1`` (the CI lane sets it), where a missing WordPress is an error, never
a silent skip. The site needs the adpilot SEO companion plugin (the script installs it into
mu-plugins). Posts this suite creates are deleted again.
"""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from adpilot.agents.run import Runner
from adpilot.app.cli import main
from adpilot.config import Config, WordPressConfig
from adpilot.tools.ratelimit import RateLimiter
from adpilot.tools.wordpress import WordPressClient, WordPressCredentialsError, WriteNotApplied

URL = os.environ.get("ADPILOT_REAL_WP_URL", "").rstrip("/")
USER = os.environ.get("ADPILOT_REAL_WP_USER", "adpilot")
PASSWORD = os.environ.get("WORDPRESS_APP_PASSWORD", "")

if not URL:
    if os.environ.get("ADPILOT_REQUIRE_REAL_WP") == "1":
        raise RuntimeError(
            "ADPILOT_REQUIRE_REAL_WP=1 but ADPILOT_REAL_WP_URL is not set: start one with "
            'eval "$(scripts/wordpress-local.sh start)"'
        )
    pytest.skip("no real WordPress: set ADPILOT_REAL_WP_URL (scripts/wordpress-local.sh)", allow_module_level=True)

CREDENTIAL = "the application password in $WORDPRESS_APP_PASSWORD (wordpress.app_password_env)"
SAME_TIME = "2026-01-01T09:00:00"
DESCRIPTION = "Wasserdichte Wanderschuhe richtig auswählen: Membran, Leder, Passform & die passende Größe finden."
JSON_LD = '{"@context": "https://schema.org", "@type": "Article", "headline": "Größe \\u003c Passform"}'


def _auth() -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=URL, timeout=60) as client:
        yield client


def client(http: httpx.AsyncClient, *, password: str = PASSWORD, **kwargs) -> WordPressClient:
    return WordPressClient(
        http, username=USER, app_password=password, credential=CREDENTIAL, limiter=RateLimiter(1e9), **kwargs
    )


@pytest.fixture
async def cleanup(http) -> AsyncIterator[list[tuple[str, int]]]:
    """(collection, id) of every post a test creates: force-deleted afterwards."""
    created: list[tuple[str, int]] = []
    yield created
    gate = asyncio.Semaphore(4)  # the script's PHP server runs 4 workers

    async def delete(collection: str, post_id: int) -> None:
        async with gate:
            await http.delete(f"/wp-json/wp/v2/{collection}/{post_id}", params={"force": "true"}, headers=_auth())

    await asyncio.gather(*(delete(collection, post_id) for collection, post_id in created))


async def test_the_login_is_verified_and_a_wrong_password_is_a_configuration_error(http):
    me = await client(http).verify_credentials()
    assert me["slug"] == USER
    public = await http.get(
        "/wp-json/wp/v2/posts",
        headers={"authorization": "Basic " + base64.b64encode(f"{USER}:wrong".encode()).decode()},
    )
    assert public.status_code == 200  # what the client must not take as a proof
    with pytest.raises(WordPressCredentialsError) as info:
        await client(http, password="wrong wrong wrong").list_posts()
    message = str(info.value)
    assert info.value.exit_code == 2 and "$WORDPRESS_APP_PASSWORD" in message and "rest_not_logged_in" in message
    assert "wrong wrong" not in message


async def test_create_update_publish_and_seo_fields_round_trip(http, cleanup):
    wp = client(http)
    title = f"Integration {uuid.uuid4().hex[:8]}"
    draft = await wp.create_post(title=title, content="<p>Erster Absatz.</p>", meta_description="Kurz und gut.")
    cleanup.append(("posts", draft.id))
    assert draft.status == "draft" and draft.title == title and draft.meta_description == "Kurz und gut."

    content = "<h1>Wanderschuhe</h1>\n<p>Nasse Füße verderben jede Tour. Worauf es ankommt.</p>"
    updated = await wp.update_post(draft, {"content": content, "meta_description": DESCRIPTION, "json_ld": JSON_LD})
    assert (updated.content, updated.meta_description, updated.json_ld) == (content, DESCRIPTION, JSON_LD)
    assert "ld+json" not in updated.content

    published = await wp.update_post(updated, {"status": "publish"})
    assert published.status == "publish" and published.slug
    again = await wp.get_post(published.id)
    assert again == published

    page = (await http.get(published.link)).text  # the companion plugin prints both in the head
    assert '<meta name="description" content="' in page and "Passform &amp; die passende" in page
    assert '<script type="application/ld+json">' in page and "\\u003C Passform" in page


async def test_a_key_wordpress_does_not_register_is_a_failed_write(http, cleanup):
    wp = client(http)
    draft = await wp.create_post(title=f"Integration {uuid.uuid4().hex[:8]}", content="x")
    cleanup.append(("posts", draft.id))
    yoast = client(http, seo_fields="yoast")  # Yoast SEO is not installed: nobody registers its key
    with pytest.raises(WriteNotApplied) as info:
        await yoast.update_post(draft, {"meta_description": DESCRIPTION})
    assert "_yoast_wpseo_metadesc" in str(info.value)
    raw = await http.get(f"/wp-json/wp/v2/posts/{draft.id}", params={"context": "edit"}, headers=_auth())
    assert raw.status_code == 200 and "_yoast_wpseo_metadesc" not in (raw.json()["meta"] or {})


async def test_paging_over_150_posts_sharing_a_timestamp_returns_each_once(http, cleanup):
    wp = client(http, per_page=20)
    before = {p.id for p in await wp.list_posts()}
    gate = asyncio.Semaphore(4)

    async def create(index: int) -> int:
        async with gate:
            response = await http.post(
                "/wp-json/wp/v2/posts",
                json={"title": f"Paging {index}", "content": "x", "status": "draft", "date": SAME_TIME},
                headers=_auth(),
            )
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    created = await asyncio.gather(*(create(i) for i in range(150)))
    cleanup.extend(("posts", post_id) for post_id in created)
    listed = [p.id for p in await wp.list_posts()]
    assert len(listed) == len(set(listed))  # nobody twice
    assert set(created) | before == set(listed)  # nobody missing
    drafts = [p.id for p in await client(http, per_page=7).list_posts(status="draft")]
    assert set(created) <= set(drafts) and len(drafts) == len(set(drafts))


async def test_a_maintenance_run_over_the_cms_sets_the_description_once(http, cleanup, tmp_path, monkeypatch):
    wp = client(http)
    title = f"Regenjacken im Test {uuid.uuid4().hex[:6]}"
    content = (
        "<h1>Regenjacken</h1>\n<p>Eine gute Regenjacke hält dicht und atmet. Wir zeigen, worauf es bei Membran, "
        "Nähten und Schnitt ankommt, und welche Jacke zu welcher Tour passt.</p>"
    )
    post = await wp.create_post(title=title, content=content, status="publish")
    cleanup.append(("posts", post.id))
    config = Config(state_dir=tmp_path / "state", wordpress=WordPressConfig(base_url=URL, username=USER))

    async with Runner(config) as runner:
        first = await runner.start({"kind": "maintenance", "scope": "cms"})
        mine = [p for p in first.pending if p["args"].get("post_id") == post.id]
        assert mine and "meta_description" in mine[0]["args"] and "json_ld" in mine[0]["args"]
        decisions = {
            p["id"]: {"decision": "approve", "approver": "ci reviewer"}
            if p in mine
            else {"decision": "reject", "reason": "not this test's page"}
            for p in first.pending
        }
        done = await runner.resume(first.thread_id, decisions)
        assert [a["args"]["post_id"] for a in done.report["applied"]] == [post.id], done.report
        assert not done.report["failed"]
        stored = await wp.get_post(post.id)
        assert stored.meta_description == mine[0]["args"]["meta_description"]
        assert stored.json_ld == mine[0]["args"]["json_ld"] and "ld+json" not in stored.content

        second = await runner.start({"kind": "maintenance", "scope": "cms"})
    assert not [p for p in second.pending if p["args"].get("post_id") == post.id]  # kept, so not proposed again


def test_maintain_with_a_wrong_password_exits_2_naming_the_credential(tmp_path, monkeypatch, capsys):
    config = tmp_path / "config.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\nlog: {{level: error}}\nwordpress: {{base_url: '{URL}', username: {USER}}}\n"
    )
    monkeypatch.setenv("WORDPRESS_APP_PASSWORD", "wrong-application-password")
    code = main(["--config", str(config), "maintain"])
    out = capsys.readouterr()
    assert code == 2, out
    assert "WORDPRESS_APP_PASSWORD" in out.err and "wrong-application-password" not in out.err + out.out
