"""`adpilot check-copy`: the verdict, and with --explain what the rules read and which term fired."""

import json

from tests.app.conftest import run

ON = ["--on", "2026-12-02"]  # evidence has validity dates: judge on a fixed day


def test_explain_shows_the_normalised_text_and_the_rule(capsys, config_file):
    code, out = run(capsys, config_file, "check-copy", *ON, "--explain", "Die b\u0435\u200bste Jacke")
    assert code == 0
    assert "'Die beste Jacke'   (normalised)" in out.out
    assert "written: 'Die b\\u0435\\u200bste Jacke'" in out.out
    assert "superlatives" in out.out and "(?:aller)?beste[rnsm]?" in out.out


def test_explain_as_json_names_the_evidence(capsys, config_file):
    code, out = run(
        capsys,
        config_file,
        "check-copy",
        *ON,
        "--explain",
        "--json",
        "--product",
        "Hiking Boots",
        "Testsieger laut Bergwelt 3/2026",
    )
    data = json.loads(out.out)
    assert code == 0 and data["verdict"] == "pass"
    assert data["normalised"][0]["reads"] == "Testsieger laut Bergwelt 3/2026"
    assert data["backing"][0]["evidence"] == "bergwelt-2026-03"


def test_expired_evidence_on_a_later_day(capsys, config_file):
    code, out = run(
        capsys,
        config_file,
        "check-copy",
        "--on",
        "2027-03-01",
        "--strict",
        "--product",
        "Wanderschuhe",
        "Testsieger laut Bergwelt 3/2026",
    )
    assert code == 4 and "evidence.expired" in out.out


def test_a_bad_date_is_a_usage_error(capsys, config_file):
    code, out = run(capsys, config_file, "check-copy", "--on", "next week", "Jacken")
    assert code == 2 and "--on" in out.err and "YYYY-MM-DD" in out.err


def test_explain_says_which_part_of_a_page_the_rules_read(capsys, config_file):
    markup = '<p>Die b&#x435;ste Jacke</p><img src="a.jpg" alt="Gratis Versand">'
    code, out = run(capsys, config_file, "check-copy", *ON, "--channel", "cms", "--explain", markup)
    assert code == 0
    assert "texts[0]: 'Die beste Jacke'   (normalised)   (from the HTML: body text)" in out.out
    assert "written: 'Die b\\u0435ste Jacke'" in out.out
    assert "texts[0][alt]: 'Gratis Versand'   (from the HTML: alt text)" in out.out
