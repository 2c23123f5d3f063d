"""The SEO audit finds the demo's known problems and proposes fixes that pass compliance."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.agents.skills.seo import TITLE_MAX, json_ld, lexical_similarity, meta_description, shorten_title
from adpilot.agents.skills.seo import audit as seo_audit
from adpilot.policies import load_policy
from adpilot.policies.compliance import ComplianceEngine
from adpilot.policies.content import Content
from adpilot.tools.guard import Approval, Guard, RunScope
from adpilot.tools.wordpress import WpPost

ENGINE = ComplianceEngine.from_pack()
SITE = "http://sandbox.adpilot.local"


def post(post_id=1, title="Titel", content="<h1>Titel</h1><p>Text.</p>", **extra):
    fields = {
        "type": "post",
        "status": "publish",
        "excerpt": "",
        "slug": f"p{post_id}",
        "meta_description": "",
        "link": f"{SITE}/p{post_id}/",
        "modified": "2026-11-01T09:00:00",
    }
    return WpPost(id=post_id, title=title, content=content, **{**fields, **extra})


@pytest.fixture
async def demo_report(platforms, sandbox):
    return seo_audit(await platforms.wordpress.list_posts(), site=SITE, brand="Alpine Outfitters")


def checks(report, post_id):
    return {f.check for f in report.findings if f.post_id == post_id}


async def test_known_problems_of_the_demo_posts(demo_report):
    assert {"meta_missing", "broken_link", "jsonld_missing"} <= checks(demo_report, 501)
    assert {"title_length", "jsonld_missing"} <= checks(demo_report, 502)
    assert "meta_missing" not in checks(demo_report, 502)
    assert not checks(demo_report, 503)  # drafts are not audited


async def test_the_fixes_are_concrete(demo_report):
    proposals = {p.args["post_id"]: p for p in demo_report.proposals}
    assert proposals[502].args["title"] == "Regenjacken für Damen und Herren"
    meta = proposals[501].args["meta_description"]
    assert 70 <= len(meta) <= 160 and meta.startswith("Nasse Füße verderben jede Tour.")
    content = proposals[501].args["content"]
    assert "groessenberatung-alt" not in content and "Größenratgeber" in content
    assert "application/ld+json" not in content  # structured data is the plugin's field, not the body
    data = json.loads(proposals[501].args["json_ld"])
    assert data["@type"] == "Article" and data["description"] == meta
    assert all(p.tool == "update_post" and p.role == "seo" for p in demo_report.proposals)


async def test_every_fix_passes_compliance(demo_report, platforms):
    for proposal in demo_report.proposals:
        current = await platforms.wordpress.get_post(proposal.args["post_id"])
        fields = {**current.published_text(), **{k: v for k, v in proposal.args.items() if k != "post_id"}}
        verdict = ENGINE.check(Content("cms", fields=tuple(sorted(fields.items()))))
        assert verdict.verdict == "pass", (proposal.args["post_id"], verdict.findings)


async def test_applied_fixes_leave_nothing_to_fix(demo_report, platforms, audit, sandbox):
    guard = Guard(platforms, load_policy(), audit, RunScope("r", "t", frozenset()), content_gate=ENGINE)
    for proposal in demo_report.proposals:
        escalated = await guard.call("seo", proposal.tool, proposal.args, proposal_id=proposal.id)
        assert escalated.decision == "escalate"  # live pages: a person approves
        details = escalated.error.details
        approval = Approval(details["call_hash"], "web editor", content_hash=details.get("content_hash"))
        applied = await guard.call("seo", proposal.tool, proposal.args, proposal_id=proposal.id, approval=approval)
        assert applied.ok
    report = seo_audit(await platforms.wordpress.list_posts(), site=SITE, brand="Alpine Outfitters")
    remaining = {f.check for f in report.findings}
    assert remaining <= {"thin_content"}, remaining
    assert report.proposals == []


def test_shortening_prefers_the_part_before_a_separator():
    assert (
        shorten_title("Regenjacken für Damen und Herren – Die große Übersicht für jedes Wetter")
        == "Regenjacken für Damen und Herren"
    )


@given(st.lists(st.from_regex(r"[A-Za-zÄÖÜäöüß]{1,14}", fullmatch=True), min_size=1, max_size=20))
def test_a_shortened_title_fits_and_keeps_whole_words(words):
    title = " ".join(words)
    short = shorten_title(title)
    assert len(short) <= TITLE_MAX
    assert title.startswith(short) and (short == title or title[len(short)] == " " or not short)


def test_missing_and_multiple_h1():
    report = seo_audit([post(1, content="<p>Kein Titel.</p>"), post(2, content="<h1>A</h1><h1>B</h1>")], site=SITE)
    fixes = {p.args["post_id"]: p.args["content"] for p in report.proposals}
    assert fixes[1].startswith("<h1>Titel</h1>")
    assert fixes[2].count("<h1>") == 1 and "<h2>B</h2>" in fixes[2]


def test_duplicate_titles_and_long_meta_descriptions():
    long_meta = "Ein sehr langer Text. " * 12
    report = seo_audit([post(1, meta_description=long_meta), post(2)], site=SITE)
    assert {"duplicate_title"} <= {f.check for f in report.findings if f.post_id == 2}
    (first,) = [p for p in report.proposals if p.args["post_id"] == 1]
    assert len(first.args["meta_description"]) <= 160


def test_faq_and_product_json_ld():
    faq = post(
        1, content="<h2>Wie pflege ich Leder?</h2><p>Mit Wachs.</p><h2>Wie trockne ich Schuhe?</h2><p>An der Luft.</p>"
    )
    assert json_ld(faq, "d", "Brand")["@type"] == "FAQPage"
    assert json_ld(faq, "d", "Brand")["mainEntity"][0]["acceptedAnswer"]["text"] == "Mit Wachs."
    product = post(2, type="page", content="<p>Alpine Trek GTX für 189,95 € – jetzt in den Warenkorb.</p>")
    data = json_ld(product, "d", "Brand")
    assert data["@type"] == "Product" and data["offers"]["price"] == "189.95"


def test_external_links_are_never_called_broken():
    content = '<h1>T</h1><p><a href="https://other.example/x/">extern</a> <a href="mailto:a@b.de">m</a></p>'
    report = seo_audit([post(1, content=content)], site=SITE)
    assert "broken_link" not in {f.check for f in report.findings}


def test_meta_description_from_the_excerpt_when_it_is_long_enough():
    excerpt = "Wasserdichte Wanderschuhe im Vergleich: Membran, Leder und Passform erklärt, mit Tipps zur Größe."
    assert meta_description(post(1, excerpt=excerpt)) == excerpt


def test_lexical_similarity_is_symmetric_and_self_similar():
    matrix = lexical_similarity(
        ["Wanderschuhe wasserdicht Membran", "Membran Wanderschuhe pflegen", "Regenjacke Damen"]
    )
    assert matrix[0][1] == pytest.approx(matrix[1][0]) and matrix[0][0] == pytest.approx(1.0)
    assert matrix[0][1] > matrix[0][2]
