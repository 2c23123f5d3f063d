"""WordPress SEO fields through the configured plugin's meta keys, loud failures, stable paging (issue 16).

The sandbox behaves as WordPress 6.1 does (measured): a meta key is kept only when registered
for the REST API (``cms.seo_plugin`` says which are), any other key is dropped silently with a
200; a wrong application password is merely "not logged in"; posts sharing a timestamp page
unstably in date order.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.agents.run import Runner
from adpilot.app.cli import main
from adpilot.app.runs import exit_code, render_reports
from adpilot.config import Config
from adpilot.tools.ratelimit import RateLimiter
from adpilot.tools.sandbox import Sandbox, World
from adpilot.tools.sandbox.demo import SANDBOX_APP_PASSWORD, SANDBOX_USER
from adpilot.tools.sandbox.world import Post
from adpilot.tools.wordpress import SEO_FIELDS, WordPressClient, WordPressCredentialsError, WriteNotApplied
from tests.conftest import FAST_RETRY

DRAFT = 503  # the demo's draft: changing it needs no approval
DESCRIPTION = "Wasserdichte Wanderschuhe richtig auswählen: Membran, Leder, Passform und die passende Größe."


def client_for(sandbox: Sandbox, http, plugin: str = "adpilot", **kwargs) -> WordPressClient:
    return WordPressClient(
        http, username=SANDBOX_USER, app_password=SANDBOX_APP_PASSWORD, seo_fields=plugin, retry=FAST_RETRY, **kwargs
    )


# --- adapters ----------------------------------------------------------------------------


@pytest.mark.parametrize("plugin", ["adpilot", "yoast", "rankmath"])
async def test_each_adapter_writes_its_key_and_reads_back_what_it_wrote(sandbox, plugin):
    sandbox.world.cms.seo_plugin = plugin
    key = SEO_FIELDS[plugin].description_key
    async with sandbox.client() as http:
        wp = client_for(sandbox, http, plugin)
        post = await wp.get_post(DRAFT)
        updated = await wp.update_post(post, {"meta_description": DESCRIPTION, "title": "Neuer Titel"})
        raw = (await http.get(f"/wp-json/wp/v2/posts/{DRAFT}", params={"context": "edit"}, headers=wp._headers)).json()
    assert updated.meta_description == DESCRIPTION and updated.title == "Neuer Titel"
    assert raw["meta"][key] == DESCRIPTION
    assert sandbox.world.cms.posts[str(DRAFT)].meta_description == DESCRIPTION


async def test_the_companion_plugin_keeps_json_ld_out_of_the_body(sandbox):
    data = '{"@context": "https://schema.org", "@type": "Article", "headline": "a \\u003c b"}'
    async with sandbox.client() as http:
        wp = client_for(sandbox, http)
        post = await wp.get_post(DRAFT)
        updated = await wp.update_post(post, {"json_ld": data})
    assert updated.json_ld == data and "ld+json" not in updated.content
    assert sandbox.world.cms.posts[str(DRAFT)].json_ld == data


@pytest.mark.parametrize("plugin", ["yoast", "rankmath"])
async def test_plugins_that_build_their_own_schema_get_no_json_ld(sandbox, plugin):
    sandbox.world.cms.seo_plugin = plugin
    async with sandbox.client() as http:
        wp = client_for(sandbox, http, plugin)
        post = await wp.get_post(DRAFT)
        with pytest.raises(WriteNotApplied, match="nothing was sent"):
            await wp.update_post(post, {"json_ld": "{}"})


@pytest.mark.parametrize(
    ("installed", "configured"), [("none", "adpilot"), ("adpilot", "yoast"), ("yoast", "rankmath")]
)
async def test_a_key_wordpress_does_not_keep_is_a_failed_write(sandbox, installed, configured):
    sandbox.world.cms.seo_plugin = installed
    async with sandbox.client() as http:
        wp = client_for(sandbox, http, configured)
        post = await wp.get_post(DRAFT)
        with pytest.raises(WriteNotApplied) as info:
            await wp.update_post(post, {"meta_description": DESCRIPTION})
    assert SEO_FIELDS[configured].description_key in str(info.value) and "companion plugin" in str(info.value)
    assert info.value.details["not_applied"] == ["meta_description"]


async def test_the_sandbox_drops_unregistered_meta_like_wordpress(client, sandbox):
    """The old client wrote meta.meta_description: a 200, and nothing kept."""
    from tests.conftest import WP_AUTH

    response = await client.post(
        f"/wp-json/wp/v2/posts/{DRAFT}", json={"meta": {"meta_description": DESCRIPTION}}, headers=WP_AUTH
    )
    assert response.status_code == 200 and "meta_description" not in response.json()["meta"]
    assert sandbox.world.cms.posts[str(DRAFT)].meta_description == ""
    sandbox.world.cms.seo_plugin = "none"
    assert (await client.get(f"/wp-json/wp/v2/posts/{DRAFT}", headers=WP_AUTH)).json()["meta"] == []


async def test_through_the_guard_a_dropped_key_is_recorded_failed_never_done(sandbox, guard, audit):
    sandbox.world.cms.seo_plugin = "none"  # no plugin registers the key
    args = {"post_id": DRAFT, "meta_description": DESCRIPTION}
    first = await guard.call("seo", "update_post", args)
    again = await guard.call("seo", "update_post", args)
    for result in (first, again):
        assert not result.ok and result.error.type == "platform_error"
        assert "did not keep meta key 'adpilot_meta_description'" in result.error.message
    rows = [r for r in audit.records(kind="result") if r.tool == "update_post"]
    assert [r.status for r in rows] == ["error", "error"]  # tried again, failed again: never "ok"
    assert sandbox.world.cms.posts[str(DRAFT)].meta_description == ""


async def test_a_run_reports_the_unkept_description_as_failed_and_exits_1(sandbox, platforms, audit, tmp_path):
    sandbox.world.cms.seo_plugin = "none"
    config = Config(state_dir=tmp_path / "state")
    async with Runner(config, platforms=platforms, audit=audit) as runner:
        first = await runner.start({"kind": "maintenance", "scope": "cms"})
        approve = {p["id"]: {"decision": "approve", "approver": "web editor"} for p in first.pending}
        assert any("meta_description" in p["args"] for p in first.pending)
        done = await runner.resume(first.thread_id, approve)
    failed = [f for f in done.report["failed"] if "meta_description" in f["args"]]
    assert failed and all(
        f["args"]["post_id"] not in {a["args"]["post_id"] for a in done.report["applied"]} for f in failed
    )
    assert exit_code([done]) == 9  # a change the platform did not keep: platform error


# --- credentials ---------------------------------------------------------------------------


@pytest.fixture
def served_sandbox() -> Iterator[str]:
    """The sandbox over real HTTP on loopback, as a real WordPress would be configured (by URL, with
    the password from the environment). The socket listens before the server thread starts, so a
    client's connection simply waits in the backlog: nothing to wait for."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sandbox = Sandbox(World.demo(7), base_url=url)
    server = uvicorn.Server(uvicorn.Config(sandbox.app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def test_a_wrong_application_password_stops_maintain_with_exit_2(served_sandbox, tmp_path, monkeypatch, capsys):
    config = tmp_path / "config.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\nlog: {{level: error}}\n"
        f"wordpress: {{base_url: '{served_sandbox}', username: {SANDBOX_USER}}}\n"
    )
    monkeypatch.setenv("WORDPRESS_APP_PASSWORD", "wrong-secret-1234")
    code = main(["--config", str(config), "maintain"])
    out = capsys.readouterr()
    assert code == 2, out
    assert "WORDPRESS_APP_PASSWORD" in out.err and "wordpress.app_password_env" in out.err
    assert "Application Passwords" in out.err  # the fix
    assert "wrong-secret-1234" not in out.err + out.out
    assert "nothing to change" not in out.out

    code = main(["--config", str(config), "seo", "audit"])
    out = capsys.readouterr()
    assert code == 2 and "WORDPRESS_APP_PASSWORD" in out.err and "Invalid parameter" not in out.err


async def test_the_client_refuses_every_request_until_the_login_is_proven(sandbox):
    async with sandbox.client() as http:
        wp = WordPressClient(http, username=SANDBOX_USER, app_password="wrong", credential="$X")
        with pytest.raises(WordPressCredentialsError, match=r"\$X"):
            await wp.get_post(501)  # public: WordPress would answer it


# --- paging --------------------------------------------------------------------------------


def _world_with(count: int, drafts: int) -> World:
    world = World.demo(7)
    for index in range(count):
        post_id = 1000 + index
        world.cms.posts[str(post_id)] = Post(
            id=post_id,
            status="draft" if index < drafts else "publish",
            title=f"Beitrag {post_id}",
            content="x",
            slug=f"b{post_id}",
            date="2026-01-01T00:00:00",  # one timestamp for all: date order pages unstably
            modified="2026-01-01T00:00:00",
        )
    return world


@given(count=st.integers(0, 260), per_page=st.integers(1, 100), drafts=st.integers(0, 5))
def test_paging_returns_each_post_exactly_once(count, per_page, drafts):
    world = _world_with(count, min(drafts, count))
    expected = sorted(int(k) for k, p in world.cms.posts.items() if p.status != "trash")

    async def listed() -> list[int]:
        sandbox = Sandbox(world)
        async with sandbox.client() as http:
            # No rate limit: the token bucket would make the many small pages wait in real time.
            wp = client_for(sandbox, http, per_page=per_page, limiter=RateLimiter(1e9))
            posts = await wp.list_posts()
        return [p.id for p in posts]

    assert asyncio.run(listed()) == expected


async def test_date_order_really_is_unstable_in_the_sandbox():
    """What the client must not rely on (117 posts of one timestamp: some twice, some never)."""
    from tests.conftest import WP_AUTH

    sandbox = Sandbox(_world_with(117, 0))
    seen: list[int] = []
    async with sandbox.client() as http:
        for page in (1, 2):
            response = await http.get(
                "/wp-json/wp/v2/posts", params={"per_page": 100, "page": page, "status": "any"}, headers=WP_AUTH
            )
            seen += [p["id"] for p in response.json()]
    assert len(seen) == 117 + 3 and len(set(seen)) < len(seen)  # the default (date) order repeats and skips


# --- a failed read fails the run ------------------------------------------------------------


async def test_a_failed_list_fails_the_seo_run_visibly(sandbox, platforms, audit, tmp_path):
    sandbox.set_faults({"wordpress": {"error_rate": 1.0, "on": "reads"}})
    config = Config(state_dir=tmp_path / "state")
    async with Runner(config, platforms=platforms, audit=audit) as runner:
        result = await runner.start({"kind": "maintenance", "scope": "cms"})
    assert [f["tool"] for f in result.report["failed"]] == ["list_posts"]
    assert any("seo task did not run" in note for note in result.report["notes"])
    assert exit_code([result]) == 9  # a failed read: platform error
    assert "nothing to change" not in render_reports([result])


async def test_the_installed_plugin_is_a_switch_of_the_sandbox_world(client):
    from tests.conftest import WP_AUTH

    patched = await client.post("/_sandbox/patch", json={"cms.seo_plugin": "yoast"})
    assert patched.status_code == 200
    post = (await client.get(f"/wp-json/wp/v2/posts/{DRAFT}", headers=WP_AUTH)).json()
    assert post["meta"] == {"_yoast_wpseo_metadesc": ""}
