"""The console as a person uses it: the real server (`adpilot serve`, a subprocess on a free loopback
port) over a demo state directory (`adpilot demo`: three SEO changes wait for approval), driven by
Debian's Chromium through Playwright.

The suite is skipped, with the reason, when /usr/bin/chromium is absent, unless ADPILOT_E2E=1 (as CI
sets it): then a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

CHROMIUM = Path(os.environ.get("ADPILOT_CHROMIUM", "/usr/bin/chromium"))
REQUIRED = os.environ.get("ADPILOT_E2E") == "1"
# The flags that keep Chromium off the network on a closed machine (Playwright adds --headless and a
# fresh profile of its own).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery"
PEOPLE = {"vera": "viewer", "otto": "operator", "lena": "approver", "mara": "approver", "ada": "admin"}
ADPILOT = [sys.executable, "-m", "adpilot.app.cli"]
START_TIMEOUT = 60.0  # seconds for `adpilot serve` to answer /api/health
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "reports" / "screenshots"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists() or REQUIRED:
        return
    reason = f"no browser at {CHROMIUM} (install Debian's chromium; with ADPILOT_E2E=1 this is a failure)"
    skip = pytest.mark.skip(reason=reason)
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.path)).resolve().parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"ADPILOT_E2E=1 but there is no browser at {CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _env(state: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["ADPILOT__STATE_DIR"] = str(state)
    env.pop("ADPILOT__CONSOLE__PORT", None)
    return env


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state directory after `adpilot demo`, with the people of :data:`PEOPLE`; never served itself
    (each console serves a copy)."""
    from adpilot.app.web.users import open_users

    home = tmp_path_factory.mktemp("e2e-seeded")
    state = home / "state"
    done = subprocess.run(
        [*ADPILOT, "demo"], cwd=home, env=_env(state), capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    users = open_users(state)
    try:
        for name, role in PEOPLE.items():
            users.add(name, role, PASSWORD)
    finally:
        users.close()
    return state


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Console:
    url: str
    state: Path
    process: subprocess.Popen[str]


def start_console(state: Path) -> Console:
    """`adpilot serve` over ``state`` on a free loopback port, once it answers /api/health."""
    port = free_port()
    process = subprocess.Popen(
        [*ADPILOT, "serve", "--port", str(port)],
        cwd=state.parent,
        env=_env(state),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise AssertionError(f"adpilot serve ended with {process.returncode}: {process.stdout.read()}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{url}/api/health", timeout=2.0).status_code == 200:
                return Console(url, state, process)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"adpilot serve did not answer on {url} within {START_TIMEOUT} s") from None
            time.sleep(0.1)  # polls for the server's readiness (the condition above), not a fixed wait


def stop_console(console: Console) -> None:
    console.process.terminate()
    try:
        console.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        console.process.kill()
        console.process.wait()
    if console.process.stdout is not None:
        console.process.stdout.close()


@pytest.fixture(scope="session")
def shared_console(seeded: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """One console for the tests that only read (its approvals stay undecided)."""
    state = tmp_path_factory.mktemp("e2e-shared") / "state"
    shutil.copytree(seeded, state)
    console = start_console(state)
    yield console
    stop_console(console)


@pytest.fixture
def own_console(seeded: Path, tmp_path: Path) -> Iterator[Console]:
    """A console over a fresh copy of the demo state, for a test that decides or switches."""
    state = tmp_path / "state"
    shutil.copytree(seeded, state)
    console = start_console(state)
    yield console
    stop_console(console)


Opener = Callable[..., object]


@pytest.fixture
def open_as(browser) -> Iterator[Opener]:
    """``open_as(console, "lena")``: a new browser context signed in as lena, on her inbox
    (``name=None``: not signed in; ``viewport``: the window size, desktop by default)."""
    contexts = []

    def opener(console: Console, name: str | None, *, viewport: dict[str, int] | None = None, locale: str = "en-US"):
        context = browser.new_context(viewport=viewport or DESKTOP, locale=locale, base_url=console.url)  # type: ignore[attr-defined]
        contexts.append(context)
        page = context.new_page()
        if name is not None:
            sign_in(page, name)
        return page

    yield opener
    for context in contexts:
        context.close()


def sign_in(page, name: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/inbox")


def approval_ids(page) -> list[str]:
    """The approval ids the inbox lists (from its links)."""
    page.goto("/inbox")
    hrefs = page.eval_on_selector_all("main a[href^='/inbox/']", "links => links.map(a => a.getAttribute('href'))")
    return [href.removeprefix("/inbox/") for href in hrefs]
