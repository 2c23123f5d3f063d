"""docs/COMPLIANCE.md documents every rule with an example, and every example does what it says."""

import datetime
import re
from pathlib import Path

import pytest

from adpilot.feed import demo_feed_path, load_feed
from adpilot.policies.claims import ClaimChecker
from adpilot.policies.compliance import ComplianceEngine
from adpilot.policies.content import Content

DOC = Path(__file__).resolve().parents[2] / "docs" / "COMPLIANCE.md"
ENGINE = ComplianceEngine.from_pack("default", today=lambda: datetime.date(2026, 12, 2))
# The claims rules need a product feed: their examples are judged against the demo world's.
FEED_ENGINE = ComplianceEngine.from_pack(
    "default", today=lambda: datetime.date(2026, 12, 2), claims=ClaimChecker(load_feed(demo_feed_path()))
)
_CELL = re.compile(r"(?<!\\)\|")


def documented_rules() -> list[tuple[str, str, str, str]]:
    """(rule, verdicts, fires, passes) for each row of the "Every rule" table."""
    section = DOC.read_text().split("## Every rule, with an example", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in _CELL.split(line)[1:-1]]
        rule, verdicts, _, fires, passes = cells
        rows.append((rule.strip("`"), verdicts, fires.strip("`"), passes.strip("`")))
    return rows


ROWS = documented_rules()


def content_of(example: str) -> Content:
    """An example as the docs write it: "headline: …", "cms: …", "ad: h | h // d | d", "[product: …]"."""
    example = example.replace("\\|", "|")
    subject = evidence = market = ""
    if found := re.search(r"\s*\[market: ([A-Z]{2})\]", example):
        market, example = found.group(1), example.replace(found.group(0), "")
    if found := re.search(r"\s*\[product: ([^\]]+)\]", example):
        subject, example = found.group(1), example.replace(found.group(0), "")
    if found := re.search(r"\s*\[evidence: ([^\]]+)\]", example):
        evidence, example = found.group(1), example.replace(found.group(0), "")
    kind, _, text = (
        example.partition(": ") if re.match(r"^(headline|description|cms|ad): ", example) else ("", "", example)
    )
    common = {"subject": subject, "evidence": (evidence,) if evidence else (), "market": market}
    if kind == "headline":
        return Content("google_ads", headlines=(text,), **common)
    if kind == "description":
        return Content("google_ads", descriptions=(text,), **common)
    if kind == "cms":
        return Content("cms", fields=(("content", text),), **common)
    if kind == "ad":
        headlines, descriptions = (part.split(" | ") for part in text.split(" // "))
        return Content("google_ads", headlines=tuple(headlines), descriptions=tuple(descriptions), complete_ad=True)
    return Content("google_ads", texts=(text,), **common)


def test_the_table_covers_every_rule():
    assert {row[0] for row in ROWS} >= {
        "length.headline", "length.description", "count.headlines", "count.descriptions", "caps",
        "punctuation.repeated", "punctuation.exclamation_count", "punctuation.headline_exclamation", "emoji",
        "brand.forbidden", "brand.disclaimer", "superlatives", "evidence.scope", "evidence.source",
        "evidence.expired", "health", "free", "green", "price_reduction", "pii.email", "pii.phone", "pii.iban",
        "html.active_content", "concealed", "locale", "claims.price", "claims.discount", "claims.shipping",
        "claims.returns",
    }  # fmt: skip


@pytest.mark.parametrize(("rule", "verdicts", "fires", "passes"), [r for r in ROWS if r[2] != "—"], ids=lambda v: v)
def test_each_documented_example_fires_its_rule(rule, verdicts, fires, passes):
    engine = FEED_ENGINE if rule.startswith("claims.") else ENGINE
    verdict = engine.check(content_of(fires))
    assert rule in {f["rule"] for f in verdict.findings}, verdict.findings
    assert verdict.verdict in verdicts
    clean = engine.check(content_of(passes))
    assert clean.verdict == "pass", clean.findings
