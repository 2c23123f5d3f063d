"""The kill switch in the browser: an admin engages it (the page asks for a reason and a confirmation),
every page state shows it and a decision is refused while it holds; the admin releases it. A viewer
sees no decision buttons, and a decision the viewer's browser forges is refused with 403."""

from __future__ import annotations

from tests.e2e.conftest import approval_ids


def test_an_admin_engages_and_releases_the_kill_switch(own_console, open_as):
    ada = open_as(own_console, "ada")
    ada.goto("/controls")
    assert "Released" in ada.inner_text("[role=status]")
    asked: list[str] = []

    def confirm(dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    ada.on("dialog", confirm)
    ada.fill("#kill-reason", "tracking is broken since the shop release")
    ada.check("#kill-confirm")
    ada.click("button[value=engage]")
    assert asked == ["Yes, stop every run and every change now"]
    assert "Kill switch engaged." in ada.inner_text("main")
    ada.goto("/controls")
    state = ada.inner_text("section [role=status]")
    assert "ENGAGED by ada" in state and "tracking is broken since the shop release" in state, state

    lena = open_as(own_console, "lena")
    waiting = approval_ids(lena)[0]
    lena.goto(f"/inbox/{waiting}")
    lena.click("button[value=approve]")
    assert lena.inner_text("h1") == "That did not work" and "kill switch" in lena.inner_text("main").lower()
    assert waiting in approval_ids(lena)
    lena.goto("/controls")
    assert lena.locator("button[value=release]").count() == 0

    ada.click("button[value=release]")
    assert "Kill switch released." in ada.inner_text("main")
    assert "Released" in ada.inner_text("section [role=status]")


def test_the_kill_switch_is_not_engaged_without_the_confirmation(own_console, open_as):
    ada = open_as(own_console, "ada")
    ada.goto("/controls")
    ada.on("dialog", lambda dialog: dialog.dismiss())
    ada.fill("#kill-reason", "just looking")
    ada.check("#kill-confirm")
    ada.click("button[value=engage]")
    ada.goto("/controls")
    assert "Released" in ada.inner_text("section [role=status]")


def test_a_viewer_has_no_decision_buttons_and_a_forged_decision_is_refused(shared_console, open_as):
    vera = open_as(shared_console, "vera")
    waiting = approval_ids(vera)[0]
    vera.goto(f"/inbox/{waiting}")
    assert vera.locator("button[name=decision]").count() == 0
    assert "Your role (viewer) may look, not decide." in vera.inner_text("main")
    csrf = vera.get_attribute("form.user input[name=csrf]", "value")
    forged = vera.request.post(
        f"/inbox/{waiting}/decide", form={"csrf": csrf, "decision": "approve", "reason": "forged"}, max_redirects=0
    )
    assert forged.status == 403, forged.text()
    assert waiting in approval_ids(vera)
    vera.goto("/controls")
    assert vera.locator("#kill-reason").count() == 0
    killed = vera.request.post(
        "/controls/kill-switch", form={"csrf": csrf, "action": "engage", "reason": "x", "confirm": "yes"}
    )
    assert killed.status == 403
    vera.goto("/controls")
    assert "Released" in vera.inner_text("section [role=status]")
