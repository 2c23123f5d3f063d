"""The console in process (starlette's TestClient) over a state directory of its own, with a clock
the tests move (sessions and the login throttle read it; nothing sleeps)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from adpilot.app.web.app import create_app
from adpilot.config import Config, load_config

PASSWORD = "correct horse battery"
PEOPLE = {
    "vera": "viewer",
    "otto": "operator",
    "marta": "approver",
    "lena": "approver",
    "tom": "approver",
    "ada": "admin",
}


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def config(config_file: Path) -> Config:
    return load_config(config_file)


@pytest.fixture
def app(config: Config, clock: Clock):
    built = create_app(config, clock=clock)
    for name, role in PEOPLE.items():
        built.state.users.add(name, role, PASSWORD)
    yield built
    built.state.users.close()


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as browser:
        yield browser


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD):
    form = client.get("/login")
    return client.post("/login", data={"csrf": csrf_of(form.text), "name": name, "password": password})


def signed_in(app, name: str, *, base_url: str = "http://testserver") -> TestClient:
    browser = TestClient(app, follow_redirects=False, base_url=base_url)
    answer = login(browser, name)
    assert answer.status_code == 303, answer.text
    return browser


def token(client: TestClient, path: str = "/inbox") -> str:
    """The session's CSRF token, as a page of it carries it."""
    return csrf_of(client.get(path).text)
