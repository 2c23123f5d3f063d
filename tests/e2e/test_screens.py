"""Every page of the console at 1280×800 and at phone width (390×844): a screenshot of each lands in
reports/screenshots/PAGE-WIDTHxHEIGHT.png, and at 390 px no page is wider than the screen (a wide
table scrolls inside its own box instead)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import DESKTOP, PHONE, SCREENSHOTS, approval_ids

PAGES = ["login", "inbox", "approval", "chat", "runs", "run", "accounts", "account", "audit", "controls"]


def _first_link(page, path: str, prefix: str) -> str:
    page.goto(path)
    href = page.get_attribute(f"main a[href^='{prefix}']", "href")
    assert href, page.inner_text("main")
    return href


def _open(page, name: str) -> None:
    if name == "approval":
        page.goto(f"/inbox/{approval_ids(page)[0]}")
    elif name == "run":  # a maintenance run: its timeline has changes and decisions to show
        page.goto(_first_link(page, "/runs", "/runs/maint-"))
    elif name == "account":
        page.goto(_first_link(page, "/accounts", "/accounts/"))
    elif name == "chat":  # with a conversation on it: a question, answered
        page.goto("/chat")
        page.fill("#chat-text", "How is Boots - Search doing?")
        page.click("#chat-form button[type=submit]")
        page.locator("#chat-log p.answer").wait_for(timeout=60_000)
    else:
        response = page.goto(f"/{name}")
        assert response is not None and response.status == 200, name


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("name", PAGES)
def test_every_page_fits_the_screen_and_is_photographed(shared_console, open_as, name, viewport):
    page = open_as(shared_console, None if name == "login" else "ada", viewport=viewport)
    _open(page, name)
    assert page.locator("h1").count() == 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{viewport['width']}x{viewport['height']}.png"), full_page=True)
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= viewport["width"], f"{name} is {width} px wide at {viewport['width']} px"
