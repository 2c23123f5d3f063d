"""The labelled corpus: German and English ad lines and CMS bodies, half of them adversarial.

The gate must never pass a line labelled ``fail`` (a violation that reaches a platform), and must
judge at least 95 % of all lines exactly as labelled. Every rule class the issue names is in it:
look-alike and invisible characters, full-width text, markup, German compounds, other locales'
claims, emoji, personal data, conditions, evidence, active content.
"""

import datetime
from collections import Counter
from pathlib import Path

import pytest
import yaml

from adpilot.policies.compliance import ComplianceEngine
from adpilot.policies.content import Content

CORPUS = Path(__file__).parent / "data" / "corpus"
ENGINE = ComplianceEngine.from_pack("default", today=lambda: datetime.date(2026, 12, 2))
ITEMS = [item for file in sorted(CORPUS.glob("*.yaml")) for item in yaml.safe_load(file.read_text())]
CLASSES = {
    "lookalike", "invisible", "fullwidth", "html", "compound", "cross_locale", "emoji", "pii",
    "free_condition", "evidence", "active_content",
}  # fmt: skip


def content_of(item: dict) -> Content:
    common = {
        "locale": item.get("locale", "de"),
        "evidence": tuple(item.get("evidence", [])),
        "subject": item.get("subject", ""),
    }
    if "fields" in item:
        return Content("cms", fields=tuple(sorted(item["fields"].items())), **common)
    channel = item.get("channel", "google_ads")
    if "headline" in item:
        return Content(channel, headlines=(item["headline"],), **common)
    if "description" in item:
        return Content(channel, descriptions=(item["description"],), **common)
    return Content(channel, texts=(item["text"],), **common)


@pytest.fixture(scope="module")
def judged() -> list[tuple[dict, str, list]]:
    results = []
    for item in ITEMS:
        verdict = ENGINE.check(content_of(item))
        results.append((item, verdict.verdict, [f["rule"] for f in verdict.findings]))
    return results


def test_the_corpus_is_large_mixed_and_adversarial():
    assert len(ITEMS) >= 200
    assert len({i["id"] for i in ITEMS}) == len(ITEMS)
    adversarial = [i for i in ITEMS if i.get("adversarial")]
    assert len(adversarial) * 2 >= len(ITEMS)
    by_class = Counter(i["class"] for i in ITEMS)
    assert all(by_class[c] >= 8 for c in CLASSES), by_class
    assert sum(1 for i in ITEMS if i.get("locale") == "en") >= 50
    assert sum(1 for i in ITEMS if "fields" in i or i.get("channel") == "cms") >= 30
    verdicts = Counter(i["expect"] for i in ITEMS)
    assert verdicts["pass"] >= 60 and verdicts["fail"] >= 80 and verdicts["needs_review"] >= 5


def test_no_violation_passes(judged):
    passed = [
        f"{item['id']}: {item.get('why', '')}"
        for item, verdict, _ in judged
        if item["expect"] == "fail" and verdict == "pass"
    ]
    assert not passed, "\n".join(passed)


def test_accuracy_is_at_least_95_percent(judged):
    wrong = [
        f"{item['id']} ({item['class']}): expected {item['expect']}, got {verdict} {rules} — {item.get('why', '')}"
        for item, verdict, rules in judged
        if verdict != item["expect"]
    ]
    accuracy = 1 - len(wrong) / len(judged)
    assert accuracy >= 0.95, f"accuracy {accuracy:.1%}:\n" + "\n".join(wrong)


def test_every_fired_rule_is_documented(judged):
    documented = (Path(__file__).resolve().parents[2] / "docs" / "COMPLIANCE.md").read_text()
    fired = {rule for _, _, rules in judged for rule in rules}
    assert all(f"`{rule}`" in documented for rule in fired), fired
