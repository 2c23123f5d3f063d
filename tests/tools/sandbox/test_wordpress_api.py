"""The WordPress-shaped API behaves like WordPress 6.x as observed in FINDINGS.md."""

import base64

import pytest

from tests.conftest import WP_AUTH

POSTS = "/wp-json/wp/v2/posts"
WRONG_AUTH = {"authorization": "Basic " + base64.b64encode(b"adpilot:wrong pass word").decode()}


async def test_public_list_has_paging_headers(client):
    response = await client.get(POSTS)
    assert response.status_code == 200
    assert response.headers["X-WP-Total"] == "2" and response.headers["X-WP-TotalPages"] == "1"
    assert {p["id"] for p in response.json()} == {501, 504}
    post = next(p for p in response.json() if p["id"] == 501)
    assert post["title"] == {"rendered": "Wasserdichte Wanderschuhe: Kaufberatung"}
    assert "raw" not in post["content"] and post["meta"] == {"adpilot_meta_description": "", "adpilot_json_ld": ""}


async def test_paging_adds_link_headers_and_rejects_pages_past_the_end(client):
    first = await client.get(POSTS, params={"per_page": 1, "status": "any"}, headers=WP_AUTH)
    assert first.headers["X-WP-Total"] == "3" and first.headers["X-WP-TotalPages"] == "3"
    assert 'rel="next"' in first.headers["Link"] and 'rel="prev"' not in first.headers["Link"]
    past = await client.get(POSTS, params={"per_page": 1, "page": 9})
    assert past.status_code == 400 and past.json()["code"] == "rest_post_invalid_page_number"


@pytest.mark.parametrize("params", [{"per_page": "101"}, {"per_page": "0"}, {"orderby": "color"}, {"status": "bogus"}])
async def test_invalid_list_params(client, params):
    response = await client.get(POSTS, params=params, headers=WP_AUTH)
    body = response.json()
    assert response.status_code == 400 and body["code"] == "rest_invalid_param"
    assert set(body["data"]["params"]) == set(params) and body["data"]["status"] == 400


async def test_drafts_need_a_login_and_a_wrong_password_is_not_logged_in(client):
    anonymous = await client.get(POSTS, params={"status": "draft"})
    assert anonymous.status_code == 400 and anonymous.json()["data"]["params"]["status"] == "Status is forbidden."
    wrong = await client.get(POSTS, headers=WRONG_AUTH)
    assert wrong.status_code == 200  # public reads still work: a client must verify credentials
    me = await client.get("/wp-json/wp/v2/users/me", headers=WRONG_AUTH)
    assert me.status_code == 401 and me.json()["code"] == "rest_not_logged_in"
    assert (await client.get("/wp-json/wp/v2/users/me", headers=WP_AUTH)).json()["slug"] == "adpilot"
    draft = await client.get(f"{POSTS}/503")
    assert draft.status_code == 401 and draft.json()["code"] == "rest_forbidden"


async def test_edit_context_adds_raw_values(client):
    anonymous = await client.get(f"{POSTS}/501", params={"context": "edit"})
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "rest_forbidden_context"
    post = (await client.get(f"{POSTS}/501", params={"context": "edit"}, headers=WP_AUTH)).json()
    assert post["title"]["raw"] == "Wasserdichte Wanderschuhe: Kaufberatung"
    assert post["content"]["raw"].startswith("<h1>") and post["generated_slug"]


async def test_pages_live_under_pages_not_posts(client):
    assert (await client.get(f"{POSTS}/502")).json()["code"] == "rest_post_invalid_id"
    page = await client.get("/wp-json/wp/v2/pages/502")
    assert page.status_code == 200 and page.json()["type"] == "page"


async def test_create_draft_then_publish(client, sandbox):
    anonymous = await client.post(POSTS, json={"title": "x"})
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "rest_cannot_create"
    created = await client.post(
        POSTS,
        json={
            "title": "Herbstpflege für Lederschuhe",
            "content": "Text",
            "meta": {"adpilot_meta_description": "Kurz."},
        },
        headers=WP_AUTH,
    )
    assert created.status_code == 201
    post = created.json()
    assert created.headers["Location"].endswith(f"/wp-json/wp/v2/posts/{post['id']}")
    assert post["status"] == "draft" and post["slug"] == "" and "?p=" in post["link"]
    published = await client.post(f"{POSTS}/{post['id']}", json={"status": "publish"}, headers=WP_AUTH)
    assert published.json()["slug"] == "herbstpflege-fuer-lederschuhe"
    assert sandbox.world.cms.posts[str(post["id"])].meta_description == "Kurz."


async def test_create_validations(client):
    empty = await client.post(POSTS, json={"status": "draft"}, headers=WP_AUTH)
    assert empty.json()["code"] == "empty_content"
    bad_status = await client.post(POSTS, json={"title": "x", "status": "live"}, headers=WP_AUTH)
    assert bad_status.json()["code"] == "rest_invalid_param"
    bad_json = await client.post(POSTS, content=b"{oops", headers={**WP_AUTH, "content-type": "application/json"})
    assert bad_json.status_code == 400 and bad_json.json()["code"] == "rest_invalid_json"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
async def test_update_with_any_write_method(client, sandbox, method):
    response = await client.request(
        method, f"{POSTS}/501", json={"meta": {"adpilot_meta_description": "Neu."}}, headers=WP_AUTH
    )
    assert response.status_code == 200
    assert sandbox.world.cms.posts["501"].meta_description == "Neu."


async def test_failed_update_leaves_the_post_untouched(client, sandbox):
    before = sandbox.world.cms.posts["501"].model_dump()
    response = await client.post(f"{POSTS}/501", json={"title": "Neu", "status": "nope"}, headers=WP_AUTH)
    assert response.status_code == 400
    assert sandbox.world.cms.posts["501"].model_dump() == before


async def test_delete_trashes_then_410_then_force_deletes(client, sandbox):
    trashed = await client.delete(f"{POSTS}/504", headers=WP_AUTH)
    assert trashed.status_code == 200 and trashed.json()["status"] == "trash"
    again = await client.delete(f"{POSTS}/504", headers=WP_AUTH)
    assert again.status_code == 410 and again.json()["code"] == "rest_already_trashed"
    forced = await client.delete(f"{POSTS}/504", params={"force": "true"}, headers=WP_AUTH)
    assert forced.json()["deleted"] is True and forced.json()["previous"]["id"] == 504
    assert "504" not in sandbox.world.cms.posts


async def test_unknown_route(client):
    response = await client.get("/wp-json/wp/v2/widgets")
    assert response.status_code == 404 and response.json()["code"] == "rest_no_route"
