"""The injected concurrent editor: another person's save landing as a write to a post arrives."""

import pytest

from tests.conftest import WP_AUTH

POST = "/wp-json/wp/v2/posts/503"
EDITED = "<p>Kostenloser Versand auf alles!</p>"


async def _fault(client, **edit):
    response = await client.post("/_sandbox/faults", json={"wordpress": {"concurrent_edit": {"post_id": 503, **edit}}})
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_edit_lands_with_the_status_write_and_only_once(client, sandbox):
    settings = await _fault(client, text=EDITED)
    assert settings["wordpress"]["concurrent_edit"] == {
        "post_id": 503,
        "text": EDITED,
        "field": "content",
        "on": "status_write",
        "times": 1,
    }
    published = await client.post(POST, json={"status": "publish"}, headers=WP_AUTH)
    assert published.status_code == 200
    body = published.json()
    assert body["status"] == "publish" and body["content"]["raw"] == EDITED  # the answer shows what is stored
    assert sandbox.world.cms.posts["503"].content == EDITED
    assert sandbox.faults["wordpress"].fired == {"concurrent_edit": 1}

    sandbox.world.cms.posts["503"].content = "<p>wieder sauber</p>"
    again = await client.post(POST, json={"status": "draft"}, headers=WP_AUTH)
    assert again.json()["content"]["raw"] == "<p>wieder sauber</p>"  # times: 1, spent


async def test_writes_that_do_not_set_the_status_or_hit_another_post_are_untouched(client, sandbox):
    await _fault(client, text=EDITED)
    other = await client.post("/wp-json/wp/v2/posts/501", json={"status": "publish"}, headers=WP_AUTH)
    assert EDITED not in other.json()["content"]["raw"]
    text_only = await client.post(POST, json={"title": "Wintersale"}, headers=WP_AUTH)
    assert text_only.json()["content"]["raw"] != EDITED
    assert sandbox.faults["wordpress"].fired == {}
    assert (await client.post(POST, json={"status": "pending"}, headers=WP_AUTH)).json()["content"]["raw"] == EDITED


async def test_any_write_and_other_fields(client, sandbox):
    await _fault(client, text="Kostenlos!", field="title", on="any_write", times=2)
    first = await client.post(POST, json={"excerpt": "x"}, headers=WP_AUTH)
    assert first.json()["title"]["raw"] == "Kostenlos!" and first.json()["excerpt"]["raw"] == "x"
    sandbox.world.cms.posts["503"].title = "Wintersale 2026"
    # The write's own fields land after the edit, as a later save would.
    second = await client.post(POST, json={"title": "Eigener Titel"}, headers=WP_AUTH)
    assert second.json()["title"]["raw"] == "Eigener Titel"
    assert sandbox.faults["wordpress"].fired == {"concurrent_edit": 2}


async def test_a_refused_write_carries_no_edit(client, sandbox):
    await _fault(client, text=EDITED)
    refused = await client.post(POST, json={"status": "asleep"}, headers=WP_AUTH)
    assert refused.status_code == 400
    assert sandbox.world.cms.posts["503"].content != EDITED and sandbox.faults["wordpress"].edits_left == 1


@pytest.mark.parametrize(
    "settings",
    [
        {"google_ads": {"concurrent_edit": {"post_id": 503, "text": "x"}}},
        {"wordpress": {"concurrent_edit": {"post_id": 503, "text": "x", "field": "slug"}}},
        {"wordpress": {"concurrent_edit": {"post_id": 0, "text": "x"}}},
        {"wordpress": {"concurrent_edit": {"post_id": 503, "text": "x", "times": 0}}},
    ],
)
async def test_the_fault_is_validated(client, settings):
    response = await client.post("/_sandbox/faults", json=settings)
    assert response.status_code == 400


async def test_reset_and_replacing_faults_clear_it(client, sandbox):
    await _fault(client, text=EDITED)
    await client.post("/_sandbox/faults", json={})
    await client.post(POST, json={"status": "publish"}, headers=WP_AUTH)
    assert sandbox.world.cms.posts["503"].content != EDITED
    await _fault(client, text=EDITED)
    await client.post("/_sandbox/reset", json={"seed": 7})
    await client.post(POST, json={"status": "publish"}, headers=WP_AUTH)
    assert sandbox.world.cms.posts["503"].content != EDITED
