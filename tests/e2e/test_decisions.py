"""Approvals in the browser: read a change (before → after, projected impact), approve it as an approver
who did not ask for it, reject one with a reason, edit one and approve it — and the run that waited
for all three finishes, its changes in the audit trail under the names of the people who decided."""

from __future__ import annotations

import re

from tests.e2e.conftest import approval_ids

TITLE_502 = "Regenjacken für Damen und Herren"
NEW_DESCRIPTION = "Wasserdichte Wanderschuhe: worauf es bei Membran, Sohle und Passform ankommt."


def _by_post(page) -> dict[int, str]:
    """The waiting approvals by the post they change (the demo asks three: posts 501, 502, 504)."""
    found: dict[int, str] = {}
    for approval in approval_ids(page):
        page.goto(f"/inbox/{approval}")
        post = re.search(r"post (\d+)", page.inner_text("main dl"))
        assert post, page.inner_text("main")
        found[int(post.group(1))] = approval
    return found


def test_an_approval_shows_its_diff_and_projected_impact(shared_console, open_as):
    page = open_as(shared_console, "lena")
    assert page.inner_text("h1") == "Approvals waiting"
    ids = approval_ids(page)
    assert len(ids) == 3, page.inner_text("main")
    page.goto(f"/inbox/{_by_post(page)[502]}")
    facts = page.inner_text("main dl")
    assert "title:" in facts and "→" in facts and f"'{TITLE_502}'" in facts, facts
    assert "Spend" in facts or "spend" in facts, facts
    assert page.is_visible("button[value=approve]") and page.is_visible("button[value=reject]")


def test_approve_reject_and_edit_and_the_run_finishes(own_console, open_as):
    lena = open_as(own_console, "lena")
    posts = _by_post(lena)
    assert sorted(posts) == [501, 502, 504]

    lena.goto(f"/inbox/{posts[502]}")
    lena.fill("#reason", "shorter title reads better")
    lena.click("button[value=approve]")
    assert lena.inner_text("h1") == "Decision recorded", lena.inner_text("main")

    mara = open_as(own_console, "mara")
    mara.goto(f"/inbox/{posts[504]}")
    mara.fill("#reason", "not before the winter sale")
    mara.click("button[value=reject]")
    assert mara.inner_text("h1") == "Decision recorded", mara.inner_text("main")

    lena.goto(f"/inbox/{posts[501]}")
    lena.click("details summary")
    lena.fill("#edits", f"meta_description={NEW_DESCRIPTION}")
    lena.fill("#reason", "with the title we use in the ads")
    lena.click("button[value=edit]")
    assert lena.inner_text("h1") == "Decision recorded", lena.inner_text("main")

    assert approval_ids(lena) == []
    lena.goto("/runs")
    row = lena.locator("tbody tr", has_text="-cms").first
    assert "done" in row.inner_text(), lena.inner_text("main")
    thread = row.locator("a").first.inner_text()
    lena.goto(f"/runs/{thread}")
    timeline = lena.inner_text("main")
    assert "approved by lena" in timeline and "post 502: title" in timeline, timeline
    assert f"→ “{NEW_DESCRIPTION[:30]}" in timeline, timeline

    lena.goto("/audit")
    trail = lena.inner_text("main")
    assert "rejected by mara: not before the winter sale" in trail, trail
    assert f"“{TITLE_502}”" in trail, trail
