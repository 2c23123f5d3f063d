"""The chat page in the browser: a German question and an English change request, both by name, answered
in the operator's language while the page follows the run (server-sent events); the change waits for an
approval, which another person gives inline, and the run finishes."""

from __future__ import annotations

import re

from playwright.sync_api import expect

RUN_TIMEOUT = 60_000  # ms for a chat run without a model to reach its end on a loaded machine


def _ask(page, text: str) -> str:
    """Send ``text`` from the chat form; the thread the console started for it."""
    page.goto("/chat")
    page.fill("#chat-text", text)
    page.click("#chat-form button[type=submit]")
    page.wait_for_url(re.compile(r"/chat\?thread="))
    found = re.search(r"thread=([\w-]+)", page.url)
    assert found, page.url
    return found.group(1)


def test_a_german_question_by_name_is_answered_in_german(shared_console, open_as):
    otto = open_as(shared_console, "otto", locale="de-DE")
    thread = _ask(otto, "Wie läuft die Kampagne Boots - Search?")
    status = otto.locator(f"#status-{thread}")
    expect(status).to_contain_text("erledigt", ignore_case=True, timeout=RUN_TIMEOUT)
    turn = otto.locator(f"#turn-{thread}")
    expect(turn).to_contain_text("Kampagne „Boots - Search“")
    expect(turn).to_contain_text("Impressionen")
    assert "__interrupt__" not in turn.inner_text()


def test_an_english_budget_request_by_name_waits_and_another_person_approves_inline(own_console, open_as):
    otto = open_as(own_console, "otto", locale="en-US")
    thread = _ask(otto, "set budget of Boots - Search to 70 EUR")
    expect(otto.locator(f"#status-{thread}")).to_contain_text("waiting for approval", timeout=RUN_TIMEOUT)
    waiting = otto.locator(f"#turn-{thread} .approval-item")
    expect(waiting).to_contain_text("→ 70.00 EUR")
    assert otto.locator(f"#turn-{thread} form.approval").count() == 0  # an operator asks, approvers decide

    lena = open_as(own_console, "lena", locale="en-US")
    lena.goto(f"/chat?thread={thread}")
    form = lena.locator(f"#turn-{thread} form.approval")
    form.locator("input[name=reason]").fill("fine for the season")
    form.locator("button[value=approve]").click()
    lena.wait_for_url(re.compile(rf"/chat\?thread={thread}"))
    turn = lena.locator(f"#turn-{thread}")
    expect(lena.locator(f"#status-{thread}")).to_contain_text("done", timeout=RUN_TIMEOUT)
    expect(turn).to_contain_text("approved by lena")
    assert lena.locator(f"#turn-{thread} form.approval").count() == 0
