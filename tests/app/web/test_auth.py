"""Who may do what in the console: passwords, the login throttle, sessions and their cookies, CSRF,
roles enforced on the server."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from adpilot.app.web.i18n import LANGUAGES, negotiate
from adpilot.app.web.users import FREE_FAILURES, SESSION_TTL, UserStore
from adpilot.errors import UsageError
from adpilot.statedir import KillSwitch
from tests.app.web.conftest import PASSWORD, login, signed_in, token


def test_a_wrong_password_is_refused_and_opens_no_session(client):
    answer = login(client, "lena", "not the password")
    assert answer.status_code == 401 and "Passwort ist falsch" in answer.text  # the config's locale: de
    assert "adpilot_session" not in answer.cookies
    assert client.get("/inbox").status_code == 303  # still signed out: back to the login page


def test_an_unknown_user_is_refused_like_a_wrong_password(client):
    assert login(client, "nobody").status_code == 401


def test_passwords_are_stored_as_salted_scrypt_hashes_only(app, config):
    with sqlite3.connect(config.state_dir / "console.sqlite") as db:
        rows = db.execute("SELECT salt, hash FROM users WHERE name IN ('lena', 'tom')").fetchall()
    assert PASSWORD.encode() not in b"".join(bytes(salt) + bytes(digest) for salt, digest in rows)
    (salt_a, hash_a), (salt_b, hash_b) = rows
    assert salt_a != salt_b and hash_a != hash_b  # the same password, a different salt each


def test_failed_logins_are_throttled_per_user_and_address_exponentially(client, clock, app):
    for _ in range(FREE_FAILURES):
        assert login(client, "lena", "wrong password").status_code == 401
    assert login(client, "lena", "wrong password").status_code == 401  # the 4th failure locks for 1 s
    throttled = login(client, "lena")  # the right password, too soon: not even checked
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    assert login(client, "tom").status_code == 303  # another user from the same address is not held up
    client.cookies.clear()
    clock.advance(seconds=1)
    assert login(client, "lena", "wrong password").status_code == 401  # 5th failure: 2 s
    clock.advance(seconds=1)
    assert login(client, "lena").status_code == 429
    clock.advance(seconds=1)
    assert login(client, "lena").status_code == 303  # waited it out; the count starts again
    client.cookies.clear()
    assert login(client, "lena", "wrong password").status_code == 401


def test_the_throttle_never_waits_longer_than_its_cap(config, clock):
    store = UserStore(config.state_dir / "console.sqlite", clock=clock)
    store.add("ida", "viewer", PASSWORD)
    for _ in range(40):
        clock.advance(minutes=16)
        assert store.authenticate("ida", "wrong password", "10.0.0.1") is None
    clock.advance(minutes=15)
    assert store.authenticate("ida", PASSWORD, "10.0.0.1") is not None
    store.close()


def test_the_session_cookie_is_httponly_samesite_strict_and_secure_over_tls(app):
    for base, secure in (("http://testserver", False), ("https://testserver", True)):
        browser = TestClient(app, follow_redirects=False, base_url=base)
        answer = login(browser, "lena")
        (raw,) = [h for h in answer.headers.get_list("set-cookie") if h.startswith("adpilot_session=")]
        flags = [part.strip() for part in raw.split(";")]
        assert {"HttpOnly", "SameSite=strict", "Path=/"} <= set(flags) and ("Secure" in flags) is secure
        assert browser.get("/inbox").status_code == 200


def test_a_session_expires(app, clock):
    browser = signed_in(app, "lena")
    assert browser.get("/inbox").status_code == 200
    clock.advance(seconds=SESSION_TTL.total_seconds())
    answer = browser.get("/inbox")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_signing_out_ends_the_session_on_the_server(app):
    browser = signed_in(app, "lena")
    stolen = browser.cookies["adpilot_session"]
    replay = TestClient(app, follow_redirects=False, cookies={"adpilot_session": stolen})
    assert replay.get("/inbox").status_code == 200  # the cookie alone is a session …
    assert browser.post("/logout", data={"csrf": token(browser)}).status_code == 303
    assert replay.get("/inbox").status_code == 303  # … until its owner signs out


def test_removing_a_user_ends_their_sessions(app):
    browser = signed_in(app, "lena")
    app.state.users.remove("lena")
    assert browser.get("/inbox").status_code == 303


@pytest.mark.parametrize("csrf", [None, "", "forged-token"])
def test_a_post_without_the_session_s_csrf_token_is_refused_and_changes_nothing(app, config, csrf):
    browser = signed_in(app, "ada")
    data = {"action": "engage", "reason": "test", "confirm": "yes"}
    if csrf is not None:
        data["csrf"] = csrf
    assert browser.post("/controls/kill-switch", data=data).status_code == 403
    assert not KillSwitch(config.state_dir).engaged


def test_another_session_s_csrf_token_does_not_do(app, config):
    lena = signed_in(app, "ada")
    tom = signed_in(app, "tom")
    data = {"action": "engage", "reason": "test", "confirm": "yes", "csrf": token(tom)}
    assert lena.post("/controls/kill-switch", data=data).status_code == 403
    assert not KillSwitch(config.state_dir).engaged


def test_the_login_form_needs_its_own_csrf_token(client):
    client.get("/login")
    answer = client.post("/login", data={"csrf": "guessed", "name": "lena", "password": PASSWORD})
    assert answer.status_code == 403 and "adpilot_session" not in answer.cookies


def test_signed_out_a_page_redirects_to_login_and_a_post_is_refused(client, config):
    answer = client.get("/controls")
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/controls"
    refused = client.post("/controls/kill-switch", data={"action": "engage", "reason": "x", "confirm": "yes"})
    assert refused.status_code == 403 and not KillSwitch(config.state_dir).engaged


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x", "/\t/evil.example"]
)
def test_after_login_it_goes_to_a_page_of_the_console_only(client, target):
    form = client.get("/login")
    from tests.app.web.conftest import csrf_of

    answer = client.post(
        "/login", data={"csrf": csrf_of(form.text), "name": "lena", "password": PASSWORD, "next": target}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/inbox"


@pytest.mark.parametrize(
    ("who", "path", "allowed"),
    [
        ("vera", "/controls", True),
        ("otto", "/controls/kill-switch", False),
        ("marta", "/controls/kill-switch", False),
        ("ada", "/controls/kill-switch", True),
    ],
)
def test_roles_are_enforced_on_the_server(app, config, who, path, allowed):
    browser = signed_in(app, who)
    if path == "/controls":
        assert browser.get(path).status_code == 200
        return
    answer = browser.post(path, data={"action": "engage", "reason": "why", "confirm": "yes", "csrf": token(browser)})
    assert (answer.status_code == 200) is allowed and KillSwitch(config.state_dir).engaged is allowed
    if not allowed:
        assert answer.status_code == 403


def test_user_names_and_roles_are_checked(config):
    store = UserStore(config.state_dir / "console.sqlite")
    with pytest.raises(UsageError, match="role 'root'"):
        store.add("x", "root", PASSWORD)
    with pytest.raises(UsageError, match="user name"):
        store.add("<script>", "viewer", PASSWORD)
    with pytest.raises(UsageError, match="at least 10"):
        store.add("short", "viewer", "2short")
    store.add("ida", "viewer", PASSWORD)
    with pytest.raises(UsageError, match="exists already"):
        store.add("ida", "admin", PASSWORD)
    with pytest.raises(UsageError, match="no user 'nobody'"):
        store.remove("nobody")
    store.close()


@given(st.one_of(st.none(), st.text(max_size=8)), st.one_of(st.none(), st.text(max_size=60)))
def test_the_language_is_always_one_the_console_speaks(cookie, accept):
    assert negotiate(cookie, accept, "de") in LANGUAGES


def test_the_language_follows_the_switch_then_accept_language_then_the_config():
    assert negotiate("en", "de-DE,de;q=0.9", "de") == "en"
    assert negotiate(None, "fr-FR, en;q=0.5, de;q=0.8", "en") == "de"
    assert negotiate(None, "fr", "de") == "de"
