"""The copy-rule engine: a verdict (pass | needs_review | fail) with every finding.

Rules are data (``copy_rules.<locale>.yaml`` and ``brand.yaml`` in a policy pack); this
module only knows how to apply them. Each finding names the rule, the field and the exact
span, says what is wrong in words a marketer understands, and suggests a fix where one
exists. The verdict is bound to the hash of exactly the content checked (:class:`Content`),
which is how the Guard's publish check uses it.

Superlatives and "Testsieger" claims pass when backed: either the text matches a claim the
brand pack approves (with its evidence), or the content cites an evidence reference that an
:class:`EvidenceResolver` knows and that covers the claim.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adpilot.errors import PolicyError
from adpilot.pii import find_pii
from adpilot.policies.content import Content, ContentVerdict
from adpilot.policies.loader import load_model, pack_path
from adpilot.text import google_ads_length

Severity = Literal["fail", "needs_review"]

HEADLINE_MAX, DESCRIPTION_MAX = 30, 90
HEADLINES_MIN, HEADLINES_MAX = 3, 15
DESCRIPTIONS_MIN, DESCRIPTIONS_MAX = 2, 4


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){pattern}(?![\w])", re.IGNORECASE)


class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TermRule(_Rules):
    fail: list[str] = Field(default_factory=list)
    review: list[str] = Field(default_factory=list)

    @field_validator("fail", "review")
    @classmethod
    def _valid_patterns(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                _compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from exc
        return patterns


class ConditionalRule(_Rules):
    terms: list[str]
    conditions: list[str]


class GreenRule(TermRule):
    substantiation: list[str]


class PriceRule(_Rules):
    claims: list[str]
    reference: list[str]


class CopyRules(_Rules):
    locale: str
    superlatives: TermRule
    health: TermRule
    free: ConditionalRule
    green: GreenRule
    price_reduction: PriceRule


class Disclaimer(_Rules):
    when: str
    require: str


class ApprovedClaim(_Rules):
    id: str
    pattern: str
    evidence: str


class EvidenceEntry(_Rules):
    ref: str
    source: str
    covers: list[str]


class AdTemplates(_Rules):
    headlines: list[str] = Field(default_factory=list)
    descriptions: list[str] = Field(default_factory=list)


class Brand(_Rules):
    name: str
    forbidden_phrases: list[str] = Field(default_factory=list)
    allow_caps: list[str] = Field(default_factory=list)
    required_disclaimers: list[Disclaimer] = Field(default_factory=list)
    approved_claims: list[ApprovedClaim] = Field(default_factory=list)
    evidence: list[EvidenceEntry] = Field(default_factory=list)
    ad_templates: AdTemplates = AdTemplates()


class EvidenceResolver(Protocol):
    def covers(self, ref: str, claim: str) -> str | None:
        """The source text when ``ref`` is known evidence for ``claim``, else None."""


class BrandEvidence:
    """Evidence listed in the brand pack."""

    def __init__(self, brand: Brand) -> None:
        self.entries = {entry.ref: entry for entry in brand.evidence}

    def covers(self, ref: str, claim: str) -> str | None:
        entry = self.entries.get(ref)
        if entry is None:
            return None
        if any(re.fullmatch(pattern, claim, re.IGNORECASE) for pattern in entry.covers):
            return entry.source
        return None


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    field: str
    start: int
    end: int
    text: str
    message: str
    suggestion: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@functools.lru_cache(maxsize=32)
def _parse_pack(directory: Path, versions: tuple[tuple[str, int], ...]) -> tuple[dict[str, CopyRules], Brand]:
    """The pack's rules, parsed once per version of its files (runs share the immutable models)."""
    rules = {}
    for file in sorted(directory.glob("copy_rules.*.yaml")):
        pack = load_model(CopyRules, file, what="CopyRules rules")
        rules[pack.locale] = pack
    if not rules:
        raise PolicyError(f"{directory}: no copy_rules.<locale>.yaml in the policy pack")
    return rules, load_model(Brand, directory / "brand.yaml", what="Brand rules")


_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f1e6-\U0001f1ff\u2b50\u2b55\u2934\u2935\u3030\u303d\ufe0f]"
)
_CAPS_WORD = re.compile(r"[A-ZÄÖÜẞ][A-ZÄÖÜẞ0-9-]*[A-ZÄÖÜẞ]")
_REPEATED = re.compile(r"[!?]{2,}")
_TAG = re.compile(r"<[^>]+>")


def visible_text(markup: str) -> str:
    """Text of HTML as a reader (or a search engine) sees it, tags removed, entities decoded."""
    return html.unescape(_TAG.sub(" ", markup)).replace("\xa0", " ")


class ComplianceEngine:
    """Applies a pack's copy rules; usable as the Guard's :class:`ContentGate`."""

    def __init__(
        self, rules: dict[str, CopyRules], brand: Brand, extra_evidence: Sequence[EvidenceResolver] = ()
    ) -> None:
        self.rules = rules
        self.brand = brand
        self.evidence: list[EvidenceResolver] = [BrandEvidence(brand), *extra_evidence]
        self._allow_caps = {word.upper() for word in brand.allow_caps}
        self._approved = [(_compile(claim.pattern), claim) for claim in brand.approved_claims]
        self._compiled: dict[str, dict[str, list[re.Pattern[str]]]] = {}
        for locale, pack in rules.items():
            self._compiled[locale] = {
                "superlatives.fail": [_compile(p) for p in pack.superlatives.fail],
                "superlatives.review": [_compile(p) for p in pack.superlatives.review],
                "health.fail": [_compile(p) for p in pack.health.fail],
                "health.review": [_compile(p) for p in pack.health.review],
                "free.terms": [_compile(p) for p in pack.free.terms],
                "free.conditions": [re.compile(p, re.IGNORECASE) for p in pack.free.conditions],
                "green.fail": [_compile(p) for p in pack.green.fail],
                "green.review": [_compile(p) for p in pack.green.review],
                "green.substantiation": [re.compile(p, re.IGNORECASE) for p in pack.green.substantiation],
                "price.claims": [re.compile(p, re.IGNORECASE) for p in pack.price_reduction.claims],
                "price.reference": [_compile(p) for p in pack.price_reduction.reference],
            }

    @classmethod
    def from_pack(
        cls, name_or_path: str = "default", extra_evidence: Sequence[EvidenceResolver] = ()
    ) -> ComplianceEngine:
        directory = pack_path(name_or_path).parent.resolve()
        files = [*sorted(directory.glob("copy_rules.*.yaml")), directory / "brand.yaml"]
        versions = tuple((f.name, f.stat().st_mtime_ns) for f in files if f.exists())
        rules, brand = _parse_pack(directory, versions)
        return cls(rules, brand, extra_evidence)

    # --- the gate -------------------------------------------------------------------------
    def check(self, content: Content) -> ContentVerdict:
        findings = self.findings(content)
        if any(f.severity == "fail" for f in findings):
            verdict = "fail"
        elif findings:
            verdict = "needs_review"
        else:
            verdict = "pass"
        return ContentVerdict(verdict, content.hash, tuple(f.as_dict() for f in findings))  # type: ignore[arg-type]

    def findings(self, content: Content) -> list[Finding]:
        if content.locale not in self._compiled:
            known = ", ".join(sorted(self._compiled))
            return [
                Finding(
                    "locale",
                    "needs_review",
                    "-",
                    0,
                    0,
                    content.locale,
                    f"no copy rules for locale {content.locale!r} (have: {known})",
                )
            ]
        texts: list[tuple[str, str, str]] = []  # (field, kind, text)
        texts += [(f"headlines[{i}]", "headline", t) for i, t in enumerate(content.headlines)]
        texts += [(f"descriptions[{i}]", "description", t) for i, t in enumerate(content.descriptions)]
        texts += [(f"texts[{i}]", "text", t) for i, t in enumerate(content.texts)]
        texts += [(name, "field", visible_text(value)) for name, value in content.fields]
        whole = " ".join(t for _, _, t in texts)
        found: list[Finding] = []
        if content.channel == "google_ads":
            found += self._limits(content)
        for field, kind, text in texts:
            found += self._text_rules(field, kind, text, content)
        found += self._disclaimers(whole)
        return found

    # --- rules ----------------------------------------------------------------------------
    def _limits(self, content: Content) -> list[Finding]:
        found = []
        for kind, items, limit in (
            ("headlines", content.headlines, HEADLINE_MAX),
            ("descriptions", content.descriptions, DESCRIPTION_MAX),
        ):
            for index, text in enumerate(items):
                length = google_ads_length(text)
                if length > limit:
                    found.append(
                        Finding(
                            f"length.{kind[:-1]}",
                            "fail",
                            f"{kind}[{index}]",
                            0,
                            len(text),
                            text,
                            f"{length} characters; Google allows {limit} in a {kind[:-1]}",
                            f"shorten by {length - limit} characters",
                        )
                    )
        if content.complete_ad:
            for kind, items, low, high in (
                ("headlines", content.headlines, HEADLINES_MIN, HEADLINES_MAX),
                ("descriptions", content.descriptions, DESCRIPTIONS_MIN, DESCRIPTIONS_MAX),
            ):
                if not low <= len(items) <= high:
                    missing = low - len(items) if len(items) < low else len(items) - high
                    verb = "add" if len(items) < low else "remove"
                    found.append(
                        Finding(
                            f"count.{kind}",
                            "fail",
                            kind,
                            0,
                            0,
                            str(len(items)),
                            f"a responsive search ad needs {low} to {high} {kind}; this one has {len(items)}",
                            f"{verb} {missing}",
                        )
                    )
        return found

    def _backed(self, claim: str, text: str, start: int, end: int, content: Content) -> bool:
        for pattern, _approved in self._approved:
            for match in pattern.finditer(text):
                if match.start() <= start and end <= match.end():
                    return True
        return any(resolver.covers(ref, claim) for ref in content.evidence for resolver in self.evidence)

    def _text_rules(self, field: str, kind: str, text: str, content: Content) -> list[Finding]:
        patterns = self._compiled[content.locale]
        found: list[Finding] = []

        def add(
            rule: str, severity: Severity, match: re.Match[str], message: str, suggestion: str | None = None
        ) -> None:
            found.append(Finding(rule, severity, field, match.start(), match.end(), match.group(), message, suggestion))

        # Each claim group keeps one pattern list per severity: "<group>.fail" and "<group>.review".
        levels: tuple[tuple[Severity, str], ...] = (("fail", "fail"), ("needs_review", "review"))
        for group, noun in (("superlatives", "superlative"), ("health", "health claim")):
            for severity, level in levels:
                for pattern in patterns[f"{group}.{level}"]:
                    for match in pattern.finditer(text):
                        if group == "superlatives" and self._backed(
                            match.group(), text, match.start(), match.end(), content
                        ):
                            continue
                        if group == "superlatives":
                            message = f"“{match.group()}” is an unsubstantiated {noun}"
                            suggestion = "remove it, or cite evidence for it (an evidence reference)"
                        else:
                            message = f"“{match.group()}” is a {noun} that advertising may not make"
                            suggestion = "describe the product's properties instead"
                        add(f"{group}", severity, match, message, suggestion)
        for pattern in patterns["free.terms"]:
            for match in pattern.finditer(text):
                if not any(c.search(text) for c in patterns["free.conditions"]):
                    add(
                        "free",
                        "fail",
                        match,
                        f"“{match.group()}” without its conditions",
                        "state the condition, e.g. “ab 50 € Bestellwert”",
                    )
        substantiated = any(s.search(text) for s in patterns["green.substantiation"])
        for severity, level in levels:
            for pattern in patterns[f"green.{level}"]:
                for match in pattern.finditer(text):
                    if not substantiated:
                        add(
                            "green",
                            severity,
                            match,
                            f"“{match.group()}” is a generic environmental claim without substantiation",
                            "name the certification or the measurable property",
                        )
        if not any(r.search(text) for r in patterns["price.reference"]):
            for pattern in patterns["price.claims"]:
                for match in pattern.finditer(text):
                    add(
                        "price_reduction",
                        "fail",
                        match,
                        f"“{match.group()}” announces a reduction without the reference price",
                        "add the earlier price, e.g. “statt 149 €”",
                    )
        for phrase in self.brand.forbidden_phrases:
            for match in _compile(re.escape(phrase)).finditer(text):
                add(
                    "brand.forbidden",
                    "fail",
                    match,
                    f"“{match.group()}” is on the brand's list of forbidden phrases",
                    "rephrase without it",
                )
        for match in _CAPS_WORD.finditer(text):
            word = match.group()
            letters = sum(ch.isalpha() for ch in word)
            if (
                letters > 4
                and word.upper() not in self._allow_caps
                and not all(len(part) <= 4 for part in word.split("-"))
            ):
                add("caps", "fail", match, f"“{word}” is written in capitals", f"write “{word.capitalize()}”")
        for match in _REPEATED.finditer(text):
            add(
                "punctuation.repeated",
                "fail",
                match,
                f"repeated punctuation “{match.group()}”",
                f"use a single “{match.group()[0]}”",
            )
        if kind == "headline" and content.channel == "google_ads":
            for match in re.finditer("!", text):
                neighbours = text[max(0, match.start() - 1) : match.start()] + text[match.end() : match.end() + 1]
                if not any(ch in "!?" for ch in neighbours):  # a run like "!!" is reported once, above
                    add(
                        "punctuation.headline_exclamation",
                        "fail",
                        match,
                        "Google does not allow “!” in headlines",
                        "remove the exclamation mark",
                    )
        for match in _EMOJI.finditer(text):
            add(
                "emoji",
                "fail",
                match,
                f"emoji {unicodedata.name(match.group(), 'symbol')!s} in copy",
                "remove the emoji",
            )
        for pii in find_pii(text):
            found.append(
                Finding(
                    f"pii.{pii.kind}",
                    "fail",
                    field,
                    pii.start,
                    pii.end,
                    pii.text,
                    f"personal data ({pii.kind}) in copy",
                    "remove it",
                )
            )
        return found

    def _disclaimers(self, whole: str) -> list[Finding]:
        found = []
        for rule in self.brand.required_disclaimers:
            trigger = re.search(rule.when, whole, re.IGNORECASE)
            if trigger and not re.search(rule.require, whole, re.IGNORECASE):
                found.append(
                    Finding(
                        "brand.disclaimer",
                        "fail",
                        "*",
                        trigger.start(),
                        trigger.end(),
                        trigger.group(),
                        f"“{trigger.group()}” needs the disclaimer “{rule.require.split('|')[0]}”",
                        f"add “{rule.require.split('|')[0]}”",
                    )
                )
        return found
