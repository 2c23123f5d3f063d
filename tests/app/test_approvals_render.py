"""What `approvals show` tells a person about a post change: the difference, not the page."""

from adpilot.app.approvals import change_text, post_changes, strings

BODY = (
    "<h1>Wanderschuhe</h1>\n<p>"
    + "Lange Einleitung über Membranen und Leder. " * 4
    + "Mehr im <a href='/alt/'>Ratgeber</a>.</p>"
)


def test_an_edited_long_line_shows_where_it_differs():
    after = BODY.replace("<a href='/alt/'>Ratgeber</a>", "Ratgeber")
    lines = post_changes({"content": BODY, "title": "T"}, {"content": after}, strings("en"))
    assert lines[0] == "content changed (1 line(s) out, 1 in)"
    assert "href='/alt/'" in lines[1] and lines[1].lstrip().startswith("- …")
    assert "href" not in lines[2] and lines[2].lstrip().startswith("+ …")


def test_unchanged_fields_are_not_listed_and_empty_values_are_named():
    before = {"title": "Alt", "content": BODY, "meta_description": ""}
    after = {"title": "Alt", "content": BODY, "meta_description": "Neu"}
    lines = post_changes(before, after, strings("de"))
    assert lines == ["meta_description: (leer) → 'Neu'", "alles andere bleibt, wie es ist"]
    assert (
        change_text("update_post", {"post_id": 501}, before, after, "", strings("de")) == "post 501: meta_description"
    )


def test_the_reason_reads_in_the_reader_s_language_with_the_guard_s_numbers():
    from adpilot.app.approvals import why_text

    reason = "needs a person's approval: raise of +300.0 % exceeds 20 % per change"
    german = why_text("budget.max_increase", reason, "de")
    assert german.startswith("das Budget steigt stärker, als eine einzelne Änderung es darf")
    assert "+300.0 %" in german and "needs a person's approval" not in german
    assert why_text("some.new_rule", "x", "de") == "Regel some.new_rule: x"
