"""The copy-rule engine: labelled samples, edge cases, and the verdict's binding to content."""

import datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from adpilot.errors import PolicyError
from adpilot.pii import find_pii, iban_is_valid, redact
from adpilot.policies.compliance import ComplianceEngine
from adpilot.policies.content import Content

TODAY = datetime.date(2026, 12, 2)  # the evidence registry has validity dates: judge on a fixed day
ENGINE = ComplianceEngine.from_pack("default", today=lambda: TODAY)
SAMPLES = yaml.safe_load((Path(__file__).parent / "data" / "copy_samples.yaml").read_text())


def _content(sample: dict) -> Content:
    return Content(
        channel=sample.get("channel", "google_ads"),
        locale=sample.get("locale", "de"),
        headlines=tuple([sample["headline"]] if "headline" in sample else sample.get("headlines", [])),
        descriptions=tuple([sample["description"]] if "description" in sample else sample.get("descriptions", [])),
        texts=tuple([sample["text"]] if "text" in sample else []),
        complete_ad=sample.get("complete", False),
        evidence=tuple(sample.get("evidence", [])),
    )


def test_the_sample_set_is_large_and_balanced():
    verdicts = [s["expect"] for s in SAMPLES]
    assert len(SAMPLES) >= 60
    assert verdicts.count("pass") >= 20 and verdicts.count("fail") >= 30 and verdicts.count("needs_review") >= 3
    assert sum(1 for s in SAMPLES if s.get("locale") == "en") >= 12


@pytest.mark.parametrize(
    "sample",
    SAMPLES,
    ids=[str(s.get("headline") or s.get("description") or s.get("text") or s.get("headlines"))[:40] for s in SAMPLES],
)
def test_labelled_sample(sample):
    verdict = ENGINE.check(_content(sample))
    fired = {f["rule"] for f in verdict.findings}
    assert verdict.verdict == sample["expect"], verdict.findings
    assert set(sample.get("rules", [])) <= fired
    if sample["expect"] == "pass":
        assert not fired


def test_findings_locate_the_offending_span():
    verdict = ENGINE.check(Content("google_ads", descriptions=("Leichte Jacken, kostenloser Versand.",)))
    (finding,) = verdict.findings
    assert finding["field"] == "descriptions[0]"
    text = "Leichte Jacken, kostenloser Versand."
    assert text[finding["start"] : finding["end"]] == "kostenloser" == finding["text"]
    assert finding["suggestion"]


def test_the_verdict_is_bound_to_the_exact_content():
    first = Content("google_ads", headlines=("Wanderschuhe",))
    changed = Content("google_ads", headlines=("Wanderschuhe ",))
    assert ENGINE.check(first).content_hash == first.hash != changed.hash
    assert Content("google_ads", headlines=("A",), evidence=("x",)).hash != Content("google_ads", headlines=("A",)).hash


def test_counts_apply_only_to_a_complete_ad():
    partial = Content("google_ads", headlines=("Nur eine Überschrift",))
    assert ENGINE.check(partial).verdict == "pass"
    complete = Content("google_ads", headlines=("Nur eine Überschrift",), complete_ad=True)
    assert ENGINE.check(complete).verdict == "fail"


def test_unknown_locale_needs_review():
    assert ENGINE.check(Content("google_ads", locale="fr", texts=("Bonjour",))).verdict == "needs_review"


def test_a_brand_adds_forbidden_phrases_without_code(tmp_path):
    from adpilot.policies.loader import pack_path

    source = pack_path("default").parent
    for file in source.glob("*.yaml"):
        (tmp_path / file.name).write_text(file.read_text())
    brand = (tmp_path / "brand.yaml").read_text().replace('"cheap~"]', '"cheap~", "Wanderlust"]')
    (tmp_path / "brand.yaml").write_text(brand)
    engine = ComplianceEngine.from_pack(str(tmp_path))
    verdict = engine.check(Content("google_ads", headlines=("Wanderlust im Herbst",)))
    assert verdict.verdict == "fail" and verdict.findings[0]["rule"] == "brand.forbidden"
    assert ENGINE.check(Content("google_ads", headlines=("Wanderlust im Herbst",))).verdict == "pass"


def test_a_broken_rule_pack_names_file_and_line(tmp_path):
    from adpilot.policies.loader import pack_path

    for file in pack_path("default").parent.glob("*.yaml"):
        (tmp_path / file.name).write_text(file.read_text())
    rules = (tmp_path / "copy_rules.de.yaml").read_text().replace('fail: ["heilt"', 'fail: ["heilt(", "x"', 1)
    (tmp_path / "copy_rules.de.yaml").write_text(rules)
    with pytest.raises(PolicyError, match=r"copy_rules.de.yaml: invalid CopyRules rules:\n  line \d+: health.fail"):
        ComplianceEngine.from_pack(str(tmp_path))


# --- personal data -------------------------------------------------------------------------


def test_iban_checksum():
    assert iban_is_valid("DE89 3704 0044 0532 0130 00")
    assert not iban_is_valid("DE12 3456 7890 1234 5678 99")


def test_redact_replaces_every_detector_match():
    text = "Mail max@example.org, Tel. +49 89 1234567, IBAN DE89370400440532013000, Preis 89 €."
    assert redact(text) == "Mail [E-MAIL], Tel. [PHONE], IBAN [IBAN], Preis 89 €."


@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80),
    st.sampled_from(["a@b.de", "+49 30 1234567", "DE89 3704 0044 0532 0130 00"]),
)
def test_redacted_text_has_no_personal_data_left(noise, secret):
    text = f"{noise} {secret} {noise}"
    cleaned = redact(text)
    assert secret not in cleaned
    assert not list(find_pii(cleaned))
    assert redact(cleaned) == cleaned


def test_logs_never_carry_personal_data(capsys):
    from adpilot.logs import configure_logging, get_logger

    configure_logging("info", "json")
    get_logger("test").info("contact", note="write to max@example.org or call 0171 2345678")
    err = capsys.readouterr().err
    assert "max@example.org" not in err and "2345678" not in err and "[E-MAIL]" in err
