"""The copy-rule engine: a verdict (pass | needs_review | fail) with every finding.

Rules are data: ``copy_rules.<locale>.yaml``, ``brand.yaml`` and ``evidence.yaml`` in a policy
pack (docs/COMPLIANCE.md documents each rule with an example). This module only knows how to
apply them, and applies them to what a reader sees rather than to how the text is typed:

* every text is folded first (:func:`adpilot.normalise.fold`: NFKC, invisible characters and
  accents removed, look-alike letters of other scripts made Latin), and CMS markup is rendered
  (:func:`adpilot.markup.render`: tags inside a word do not split it, entities are decoded,
  ``alt``/``title``/``aria-label`` text is judged too);
* every locale's rules run on every text: English claims in a German account are still claims;
* a term marked ``~`` at its start or end also matches inside a compound ("~schnäppchen~"
  catches "Winterschnäppchen"), so German word formation does not walk around a rule;
* a condition ("ab 50 € Bestellwert"), a substantiation ("bluesign-zertifiziert") or a reference
  price ("statt 149 €") only counts when it stands next to the claim it qualifies;
* a superlative or award passes only when the evidence registry has an entry for that claim,
  for the product the copy is about, valid today and named in the copy (or cited by id).

Each finding names the rule, the field and the span of the ORIGINAL text, quotes it, says what
is wrong in words a marketer understands, and suggests a fix. The verdict is bound to the hash of
exactly the content checked (:class:`Content`), which is how the Guard's publish check uses it.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import itertools
import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from adpilot.errors import PolicyError
from adpilot.markup import ActiveContent, active_content, concealment, contact_links, render, structured_data
from adpilot.normalise import Folded, fold, fold_pattern
from adpilot.pii import find_pii
from adpilot.policies.claims import ClaimChecker
from adpilot.policies.content import Content, ContentVerdict
from adpilot.policies.loader import load_model, pack_path
from adpilot.text import google_ads_length

Severity = Literal["fail", "needs_review"]

HEADLINE_MAX, DESCRIPTION_MAX = 30, 90
HEADLINES_MIN, HEADLINES_MAX = 3, 15
DESCRIPTIONS_MIN, DESCRIPTIONS_MAX = 2, 4
NEAR = 60  # characters: how close a condition, substantiation or reference must stand to its claim

# A sentence ends at . ! ? ; or a line break followed by space: "zzgl. Versand" and "20.000" do not end one.
_SENTENCE_END = re.compile(r"[.!?;]+(?=\s)|\n")


def _spaces(pattern: str) -> str:
    """A pattern's spaces as runs of whitespace: "Nr. 1" also meets "Nr.  1" and "Nr.\\n1"
    (" ?" becomes optional whitespace; inside a character class a space is any whitespace)."""
    out, index, in_class = [], 0, False
    while index < len(pattern):
        ch = pattern[index]
        if ch == "\\":
            out.append(pattern[index : index + 2])
            index += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
        elif ch == "]" and in_class:
            in_class = False
        if ch == " " and in_class:
            out.append(r"\s")
        elif ch == " " and pattern[index + 1 : index + 2] == "?":
            out.append(r"\s*")
            index += 1
        elif ch == " ":
            out.append(r"\s+")
        else:
            out.append(ch)
        index += 1
    return "".join(out)


def compile_term(pattern: str) -> re.Pattern[str]:
    """A pack's term as a regular expression over folded text.

    A term matches a whole word unless marked: a leading ``~`` lets it end a compound
    ("~kostenfrei" in "versandkostenfrei"), a trailing ``~`` lets it begin one ("gratis~" in
    "Gratisversand"). A space in a term matches any run of whitespace.
    """
    head = pattern.startswith("~")
    tail = pattern.endswith("~") and not pattern.endswith("\\~")
    core = _spaces(fold_pattern(pattern[1 if head else 0 : len(pattern) - 1 if tail else len(pattern)]))
    before = "" if head else r"(?<!\w)"
    after = "" if tail else r"(?!\w)"
    return re.compile(f"{before}(?:{core}){after}", re.IGNORECASE)


def compile_phrase(pattern: str) -> re.Pattern[str]:
    """A trigger or a required phrase of a brand rule: matched anywhere in folded text."""
    return re.compile(_spaces(fold_pattern(pattern)), re.IGNORECASE)


def _valid_terms(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        try:
            compile_term(pattern)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from exc
    return patterns


class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TermRule(_Rules):
    fail: list[str] = Field(default_factory=list)
    review: list[str] = Field(default_factory=list)
    allow: list[str] = Field(default_factory=list)  # ordinary phrases that contain a term ("Beste Grüße")

    _check = field_validator("fail", "review", "allow")(_valid_terms)


class ConditionalRule(_Rules):
    terms: list[str]
    conditions: list[str]
    allow: list[str] = Field(default_factory=list)

    _check = field_validator("terms", "conditions", "allow")(_valid_terms)


class GreenRule(TermRule):
    substantiation: list[str]

    _substantiation = field_validator("substantiation")(_valid_terms)


class PriceRule(_Rules):
    claims: list[str]
    reference: list[str]
    allow: list[str] = Field(default_factory=list)

    _check = field_validator("claims", "reference", "allow")(_valid_terms)


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


# The slots an ad template may use, with their type: what fills them, from the feed of the ad's market
# (the creative skill, adpilot.agents.skills.creative). A days slot must be followed by its unit
# ("{shipping} Werktagen", "{returns} Tage") and a money slot brings its currency ("ab {price}").
TEMPLATE_SLOTS: dict[str, Literal["text", "money", "days"]] = {
    "brand": "text",  # the brand's name
    "product": "text",  # the product's title, or its category when the ad is about a category
    "category": "text",  # the product's category
    "selling_point": "text",  # one of the product's selling points
    "price": "money",  # the current price; for a category the lowest: "189,95 €"
    "shipping": "days",  # the longest shipping time in working days: "1–2"
    "returns": "days",  # the shortest return period in days: "30"
}
_SLOT = re.compile(r"\{([^{}]*)\}")
_DAYS_UNIT = re.compile(r"\s?(?:-\s?)?(?:werktag|arbeitstag|tag|business day|working day|day)", re.IGNORECASE)
_CURRENCY_AFTER = re.compile(r"\s?(?:€|eur\b|euro)", re.IGNORECASE)


def template_slots(template: str) -> list[str]:
    """The slot names of a template, in order: ``"{product} ab {price}"`` → ``["product", "price"]``."""
    return _SLOT.findall(template)


def _valid_template(template: str, limit: int) -> str:
    known = ", ".join("{" + name + "}" for name in TEMPLATE_SLOTS)
    if "{" in _SLOT.sub("", template) or "}" in _SLOT.sub("", template):
        raise ValueError(f"template {template!r}: an unmatched brace (a slot is written {{name}})")
    for found in _SLOT.finditer(template):
        name = found.group(1)
        kind = TEMPLATE_SLOTS.get(name)
        if kind is None:
            raise ValueError(f"template {template!r}: unknown slot {{{name}}} (known slots: {known})")
        if kind == "days" and not _DAYS_UNIT.match(template, found.end()):
            raise ValueError(f"template {template!r}: the slot {{{name}}} is a number of days; write its unit after it")
        if kind == "money" and _CURRENCY_AFTER.match(template, found.end()):
            raise ValueError(f"template {template!r}: the slot {{{name}}} already brings its currency")
    fixed = google_ads_length(_SLOT.sub("", template))
    if fixed > limit:
        raise ValueError(f"template {template!r}: {fixed} characters without its slots; at most {limit} fit")
    return template


HeadlineTemplate = Annotated[str, AfterValidator(lambda template: _valid_template(template, 30))]
DescriptionTemplate = Annotated[str, AfterValidator(lambda template: _valid_template(template, 90))]


class AdTemplates(_Rules):
    """Typed templates of the creative skill: text with slots (:data:`TEMPLATE_SLOTS`)."""

    headlines: list[HeadlineTemplate] = Field(default_factory=list)
    descriptions: list[DescriptionTemplate] = Field(default_factory=list)


class Brand(_Rules):
    name: str
    forbidden_phrases: list[str] = Field(default_factory=list)
    allow_caps: list[str] = Field(default_factory=list)
    required_disclaimers: list[Disclaimer] = Field(default_factory=list)
    ad_templates: AdTemplates = AdTemplates()

    _check = field_validator("forbidden_phrases")(_valid_terms)


class EvidenceEntry(_Rules):
    """One piece of evidence: which claim it substantiates, for which product, from when to when."""

    id: str = Field(..., pattern=r"^[\w.-]+$")
    claims: list[str] = Field(..., min_length=1)  # terms, e.g. "Testsieger", "beste[rnsm]?"
    products: list[str] = Field(default_factory=list)  # product names, e.g. "Alpine Trek GTX"
    scope: list[str] = Field(default_factory=list)  # terms naming the category, e.g. "~wanderschuhe?"
    source: str
    cite_as: list[str] = Field(default_factory=list)  # how copy names the source, e.g. "Bergwelt 3/2026"
    source_required: bool = False  # the copy itself must name the source (test results must)
    refs: list[str] = Field(default_factory=list)  # other references that cite it, e.g. a knowledge-base passage
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None

    _check = field_validator("claims", "scope")(_valid_terms)


class EvidenceRegistry(_Rules):
    entries: list[EvidenceEntry] = Field(default_factory=list)


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
    pattern: str | None = None  # the pack's term that fired, for --explain and the audit trail
    evidence: str | None = None  # the registry entry the finding is about

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class View:
    """One piece of text as the rules see it: where it is, what was written, what it reads as."""

    field: str
    kind: str  # headline | description | text | field
    written: str  # the field's text as given (markup included)
    folded: Folded  # what a reader sees, folded; origin indexes ``rendered``
    origin: tuple[int, ...]  # rendered index -> index in ``written`` (identity for plain text)
    source: str = "body"  # body, or alt / title / aria-label / json-ld / href text of a page

    def locate(self, start: int, end: int) -> tuple[int, int, str]:
        """The span of ``written`` behind ``folded.text[start:end]``, and its text."""
        first, last = self.folded.span(start, end)
        if first >= last:
            at = self.origin[first] if first < len(self.origin) else len(self.written)
            return at, at, ""
        begin, stop = self.origin[first], self.origin[last - 1] + 1
        return begin, stop, self.written[begin:stop]


@dataclass(frozen=True)
class _Term:
    source: str
    regex: re.Pattern[str]
    compound: bool


def _terms(patterns: list[str]) -> list[_Term]:
    return [_Term(p, compile_term(p), p.startswith("~") or p.endswith("~")) for p in patterns]


@dataclass(frozen=True)
class _Evidence:
    entry: EvidenceEntry
    claims: list[re.Pattern[str]]
    scope: list[re.Pattern[str]]
    products: list[re.Pattern[str]]
    cite_as: list[re.Pattern[str]]
    foreign: list[re.Pattern[str]] = dataclass_field(default_factory=list)  # what other entries cover and this one not


@functools.lru_cache(maxsize=32)
def _parse_pack(
    directory: Path, versions: tuple[tuple[str, int], ...]
) -> tuple[dict[str, CopyRules], Brand, EvidenceRegistry]:
    """The pack's rules, parsed once per version of its files (runs share the immutable models)."""
    rules: dict[str, CopyRules] = {}
    origin: dict[str, Path] = {}
    for file in sorted(directory.glob("copy_rules.*.yaml")):
        pack = load_model(CopyRules, file, what="CopyRules rules")
        if pack.locale in rules:
            raise PolicyError(
                f"{file}: locale {pack.locale!r} is already set by {origin[pack.locale].name}; "
                "one copy_rules file per locale (merge them or change `locale:`)"
            )
        rules[pack.locale] = pack
        origin[pack.locale] = file
    if not rules:
        raise PolicyError(f"{directory}: no copy_rules.<locale>.yaml in the policy pack")
    brand = load_model(Brand, directory / "brand.yaml", what="Brand rules")
    evidence_file = directory / "evidence.yaml"
    registry = (
        load_model(EvidenceRegistry, evidence_file, what="evidence registry")
        if evidence_file.exists()
        else EvidenceRegistry()
    )
    return rules, brand, registry


_EMOJI_NOT = frozenset("\u00a9\u00ae\u2122")  # ©, ®, ™: pictographic by Unicode, but ordinary in copy
# Other symbols (Unicode category So) ordinary in copy; any other one (★ ✓ ➜ ♡) is a pictograph.
_SYMBOLS_OK = frozenset("©®™°℃℉№℗℠")
# Characters that reverse or isolate the direction of text: the reader sees another word.
_DIRECTION_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]+")
_CAPS_WORD = re.compile(r"[A-Z][A-Z0-9-]*[A-Z]")
_REPEATED = re.compile(r"[!?]{2,}")
_EXCLAMATION_RUN = re.compile(r"[!?]*![!?]*")
# A footnote: an asterisk standing before its text ("* ab 50 € Bestellwert"), at the start of the
# content, a line or a block; not the asterisk a claim carries ("gratis*").
_FOOTNOTE = re.compile(r"(?:^|\s)\*+\s*(\w[^*\n]{0,160})")
# The asterisk of a claim: on the claim word or on the word right after it ("Free shipping*").
_MARKED = re.compile(r"\*|\s+\w+\*")


@functools.cache
def _emoji() -> object:
    """Emoji by their Unicode properties, not by code point ranges (loaded on first use)."""
    import regex

    return regex.compile(
        r"[0-9#*]\uFE0F?\u20E3"  # keycaps
        r"|\p{Regional_Indicator}{1,2}"  # flags
        r"|\p{Extended_Pictographic}\uFE0F?"
        r"|\p{Emoji_Presentation}"
        r"|\p{Emoji_Modifier}"
    )


def _symbols(text: str, start: int, end: int) -> Iterator[tuple[int, int, str]]:
    """Pictographic symbols (category So) in text[start:end] that are not ordinary in copy."""
    for index in range(start, end):
        if unicodedata.category(text[index]) == "So" and text[index] not in _SYMBOLS_OK:
            yield index, index + 1, text[index]


def _emoji_matches(text: str) -> Iterator[tuple[int, int, str]]:
    """Emoji (by property) and other pictographic symbols (category So), in order."""
    pattern = _emoji()
    after = 0  # where the text not yet searched for symbols begins
    for match in pattern.finditer(text):  # type: ignore[attr-defined]
        found = match.group()
        if found[0] in _EMOJI_NOT and not found.endswith("\ufe0f"):
            continue
        yield from _symbols(text, after, match.start())
        after = match.end()
        yield match.start(), match.end(), found
    yield from _symbols(text, after, len(text))


QUOTE = "{quote}"  # in a finding's message: replaced by the quote of its span, built only when reported
_PLAIN_EXTRA = frozenset("äöüÄÖÜß€–—„“”‚‘’…°²³½×")


def _said(written: str, reads: str) -> str:
    """A quote for a message: what was written, and what it reads as when that differs (a
    look-alike letter or an invisible character would otherwise be invisible in the message)."""
    if written == reads or unicodedata.normalize("NFC", written) == reads:
        return f"“{written}”"
    return f"“{reads}” (written “{escaped(written)}”)"


def escaped(text: str) -> str:
    """The text with every character outside ASCII and ordinary German typography as ``\\uXXXX``:
    how a look-alike or an invisible character is shown to a person."""
    return "".join(
        ch if (ch.isascii() and ch.isprintable()) or ch in _PLAIN_EXTRA else f"\\u{ord(ch):04x}" for ch in text
    )


def visible_text(markup: str) -> str:
    """Text of HTML as a reader (or a search engine) sees it: tags removed, entities decoded."""
    segments = render(markup)
    return segments[0].text.replace("\xa0", " ") if segments else ""


def _source_name(entry: EvidenceEntry) -> str:
    """How copy would name the entry's source: its first ``cite_as`` when that is plain words."""
    if entry.cite_as and re.fullmatch(r"[\w ./-]+", entry.cite_as[0]):
        return entry.cite_as[0]
    return entry.source.split(",")[0]


_JSON_LD = re.compile(
    r"<script(?=[^>]*\stype\s*=\s*[\"']?application/ld\+json[\"'\s>])(?![^>]*\son\w+\s*=)[^>]*>"
    r"(?P<body>[^<]*)</script\s*>",
    re.IGNORECASE,
)


def _structured_data(markup: str, item: ActiveContent) -> bool:
    """A JSON-LD block (schema.org data for search engines) is data, not code: browsers never run
    it. It counts as such only when it is exactly that: the type, a JSON body, no "<" inside."""
    if item.kind != "script":
        return False
    match = _JSON_LD.fullmatch(markup, item.start, item.end)
    if match is None:
        return False
    try:
        json.loads(match.group("body"))
    except ValueError:
        return False
    return True


class _Text:
    """One view's folded text with what several rules need computed once: the sentence around a
    position and the word around a span (a 100 KB page stays linear)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._ends = [(m.start(), m.end()) for m in _SENTENCE_END.finditer(text)]
        self._starts = [start for start, _ in self._ends]
        self._words = [(m.start(), m.end()) for m in re.finditer(r"\w+", text)]
        self._word_starts = [start for start, _ in self._words]

    def sentence(self, start: int, end: int) -> tuple[int, int]:
        """The sentence around text[start:end], at most NEAR characters either side."""
        index = bisect.bisect_left(self._starts, start)
        low = self._ends[index - 1][1] if index else 0
        while index < len(self._ends) and self._ends[index][0] < end:
            index += 1
        high = self._ends[index][0] if index < len(self._ends) else len(self.text)
        return max(low, start - NEAR), min(high, end + NEAR)

    def near(self, start: int, end: int, patterns: list[re.Pattern[str]]) -> bool:
        """Whether one of ``patterns`` stands in the same sentence as text[start:end], within NEAR."""
        low, high = self.sentence(start, end)
        window = self.text[low:high]
        return any(p.search(window) for p in patterns)

    def word(self, start: int, end: int) -> tuple[int, int]:
        """The whole word (compound) around text[start:end]."""
        index = bisect.bisect_right(self._word_starts, start) - 1
        if index >= 0 and self._words[index][1] >= end:
            return min(start, self._words[index][0]), max(end, self._words[index][1])
        return start, end


_PLAIN_FIELDS = frozenset({"meta_description", "excerpt"})  # shown as plain text by search engines and feeds
# WordPress expands these when it renders a page: content the gate never saw.
_DYNAMIC = re.compile(
    r"<!--\s*wp:(?:core/)?block\s+\{[^}]*\"ref\"|\[(?:embed|video|audio|iframe|playlist)\b", re.IGNORECASE
)
_MAX_PER_RULE = 20  # findings of one rule in one field: enough to act on, and bounded work


class ComplianceEngine:
    """Applies a pack's copy rules; usable as the Guard's :class:`ContentGate`."""

    def __init__(
        self,
        rules: dict[str, CopyRules],
        brand: Brand,
        registry: EvidenceRegistry | None = None,
        *,
        today: Callable[[], dt.date] | None = None,
        claims: ClaimChecker | None = None,
    ) -> None:
        self.rules = rules
        self.claims = claims  # price, discount, shipping and return claims against the product feed
        self.brand = brand
        self.registry = registry or EvidenceRegistry()
        self.today = today or (lambda: dt.datetime.now(dt.UTC).date())
        self._allow_caps = {fold(word).text.upper() for word in brand.allow_caps}
        self._forbidden = _terms(brand.forbidden_phrases)
        self._disclaimers = [(compile_phrase(d.when), compile_phrase(d.require), d) for d in brand.required_disclaimers]
        packs = list(rules.values())

        def levels(group: str) -> dict[str, list[_Term]]:
            return {
                level: [t for pack in packs for t in _terms(getattr(getattr(pack, group), level))]
                for level in ("fail", "review")
            }

        self._superlatives, self._health, self._green = levels("superlatives"), levels("health"), levels("green")
        self._allowed = {
            group: [compile_term(p) for pack in packs for p in getattr(pack, attr).allow]
            for group, attr in (
                ("superlatives", "superlatives"),
                ("health", "health"),
                ("green", "green"),
                ("free", "free"),
                ("price", "price_reduction"),
            )
        }
        self._free = [t for pack in packs for t in _terms(pack.free.terms)]
        self._conditions = [compile_term(p) for pack in packs for p in pack.free.conditions]
        self._substantiation = [compile_term(p) for pack in packs for p in pack.green.substantiation]
        self._price_claims = [t for pack in packs for t in _terms(pack.price_reduction.claims)]
        self._references = [compile_term(p) for pack in packs for p in pack.price_reduction.reference]
        self._evidence = [
            _Evidence(
                entry,
                [compile_term(p) for p in entry.claims],
                [compile_term(p) for p in entry.scope],
                [compile_term(re.escape(p)) for p in entry.products],
                [compile_term(p) for p in entry.cite_as],
            )
            for entry in self.registry.entries
        ]
        for evidence in self._evidence:
            own = {p.pattern for p in [*evidence.products, *evidence.scope]}
            evidence.foreign.extend(
                p for other in self._evidence if other is not evidence for p in [*other.products, *other.scope]
                if p.pattern not in own
            )  # fmt: skip

    @classmethod
    def from_pack(
        cls,
        name_or_path: str = "default",
        *,
        today: Callable[[], dt.date] | None = None,
        claims: ClaimChecker | None = None,
    ) -> ComplianceEngine:
        directory = pack_path(name_or_path).parent.resolve()
        files = [*sorted(directory.glob("copy_rules.*.yaml")), directory / "brand.yaml", directory / "evidence.yaml"]
        versions = tuple((f.name, f.stat().st_mtime_ns) for f in files if f.exists())
        rules, brand, registry = _parse_pack(directory, versions)
        return cls(rules, brand, registry, today=today, claims=claims)

    # --- the gate -------------------------------------------------------------------------
    def check(self, content: Content) -> ContentVerdict:
        findings, backing = self._judge(content)
        if any(f.severity == "fail" for f in findings):
            verdict = "fail"
        elif findings:
            verdict = "needs_review"
        else:
            verdict = "pass"
        return ContentVerdict(
            verdict,  # type: ignore[arg-type]
            content.hash,
            tuple(f.as_dict() for f in findings),
            tuple(backing),
        )

    def findings(self, content: Content) -> list[Finding]:
        return self._judge(content)[0]

    def views(self, content: Content) -> list[View]:
        """Every piece of text of the content as the rules read it (what ``--explain`` shows):
        ad texts as written; page fields as rendered, with their alt/title/aria-label texts,
        the strings of their structured data and their contact links."""
        plain: list[tuple[str, str, str]] = []
        plain += [(f"headlines[{i}]", "headline", t) for i, t in enumerate(content.headlines)]
        plain += [(f"descriptions[{i}]", "description", t) for i, t in enumerate(content.descriptions)]
        plain += [(f"texts[{i}]", "text", t) for i, t in enumerate(content.texts)]
        markup = [(name, "field", value) for name, value in content.fields]
        views = []
        for field, kind, text in plain:
            if content.channel == "cms":
                markup.append((field, kind, text))
                continue
            views.append(View(field, kind, text, fold(text), tuple(range(len(text)))))
        for field, kind, value in markup:
            segments = [*render(value), *structured_data(value), *contact_links(value)]
            for segment in segments:
                name = field if segment.source == "body" else f"{field}[{segment.source}]"
                views.append(View(name, kind, value, fold(segment.text), segment.origin, segment.source))
            if field in _PLAIN_FIELDS and segments and segments[0].text != value:
                # Shown as written (a meta description in search results): judged as written too.
                views.append(
                    View(f"{field}[as written]", kind, value, fold(value), tuple(range(len(value))), "literal")
                )
        return views

    def _judge(self, content: Content) -> tuple[list[Finding], list[dict[str, object]]]:
        found: list[Finding] = []
        if content.locale not in self.rules:
            known = ", ".join(sorted(self.rules))
            message = (
                f"no copy rules for locale {content.locale!r} (have: {known}); the rules of every locale were applied"
            )
            found.append(Finding("locale", "needs_review", "-", 0, 0, content.locale, message))
        views = self.views(content)
        # What readers see as the copy: footnotes, disclaimers and sources count only there, never in
        # an image's alt text or in structured data.
        visible = "\n".join(v.folded.text for v in views if v.source == "body")
        backing: list[dict[str, object]] = []
        if content.channel == "google_ads":
            found += self._limits(content)
        found += self._concealed(content)
        if content.channel == "cms":
            found += self._active(content)
        for view in views:
            found += self._view_rules(view, content, visible, backing)
        if content.channel == "google_ads":  # each asset stands alone
            for view in views:
                found += self._disclaimer_rules([view], view.folded.text)
        else:
            found += self._disclaimer_rules([v for v in views if v.source == "body"], visible)
        return found, backing

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

    def _fields(self, content: Content) -> list[tuple[str, str]]:
        return [
            *((f"headlines[{i}]", t) for i, t in enumerate(content.headlines)),
            *((f"descriptions[{i}]", t) for i, t in enumerate(content.descriptions)),
            *((f"texts[{i}]", t) for i, t in enumerate(content.texts)),
            *content.fields,
        ]

    def _concealed(self, content: Content) -> list[Finding]:
        """Text that shows readers something other than what is written: direction overrides
        (the reader sees "beste" where "etseb" is written), and in pages hidden text and text
        that CSS writes. Stripping them silently would judge the wrong text."""
        found = []
        for name, value in self._fields(content):
            if content.channel == "cms":
                items = concealment(value)
            else:
                items = [
                    ActiveContent("direction_override", m.start(), m.end(), m.group())
                    for m in _DIRECTION_CONTROLS.finditer(value)
                ]
            for item in items[:_MAX_PER_RULE]:
                what = {
                    "hidden": "text hidden from readers",
                    "direction_override": "a writing-direction override (readers see the text reversed)",
                    "generated_text": "text written by CSS, which the copy rules cannot read",
                }.get(item.kind, item.kind.replace("_", " "))
                found.append(
                    Finding(
                        "concealed",
                        "fail",
                        name,
                        item.start,
                        item.end,
                        item.text,
                        f"{what}: copy must show readers exactly what it says",
                        "remove it and write the text plainly",
                    )
                )
        return found

    def _active(self, content: Content) -> list[Finding]:
        found = []
        for name, value in self._fields(content):
            for match in _DYNAMIC.finditer(value):
                found.append(
                    Finding(
                        "html.active_content",
                        "fail",
                        name,
                        match.start(),
                        match.end(),
                        match.group(),
                        "content WordPress inserts when it renders the page (a reusable block or an embed), "
                        "which the gate cannot check",
                        "paste the content itself into the page",
                    )
                )
            for item in active_content(value):
                if _structured_data(value, item):
                    continue
                found.append(
                    Finding(
                        "html.active_content",
                        "fail",
                        name,
                        item.start,
                        item.end,
                        item.text,
                        f"active content ({item.kind.replace('_', ' ')}) in a page: "
                        "it can run code, load text from elsewhere or send readers elsewhere",
                        "remove it; pages may carry text, images and ordinary links only",
                    )
                )
        return found

    def _view_rules(
        self, view: View, content: Content, visible: str, backing: list[dict[str, object]]
    ) -> list[Finding]:
        text = view.folded.text
        analysed = _Text(text)
        # Google serves an ad's assets separately: a footnote in one description does not qualify
        # a claim in a headline. A page is read as a whole.
        qualifying = text if content.channel == "google_ads" else visible
        footnoted = functools.cache(lambda: self._has_conditional_footnote(qualifying))  # asked once per field
        found: list[Finding] = []
        counts: dict[str, int] = {}
        beyond: dict[str, Severity] = {}  # rules past the cap, and the strictest severity among the rest

        def add(
            rule: str,
            severity: Severity,
            start: int,
            end: int,
            message: str,
            suggestion: str | None = None,
            *,
            pattern: str | None = None,
            evidence: str | None = None,
        ) -> None:
            counts[rule] = counts.get(rule, 0) + 1
            if counts[rule] > _MAX_PER_RULE:
                # Not reported one by one, but never lost: the verdict still counts the strictest.
                beyond[rule] = "fail" if "fail" in (severity, beyond.get(rule)) else severity
                return
            begin, stop, quote = view.locate(start, end)
            # The quote is built only for a finding that is reported: quoting every match of a
            # 100 KB compound word would make the check quadratic.
            message = message.replace(QUOTE, _said(quote, text[start:end]))
            found.append(
                Finding(rule, severity, view.field, begin, stop, quote, message, suggestion, pattern, evidence)
            )

        def matches(terms: list[_Term], group: str | None = None) -> Iterator[tuple[_Term, int, int, str]]:
            allowed = [m.span() for p in self._allowed.get(group or "", []) for m in p.finditer(text)]
            for term in terms:
                words: set[tuple[int, int]] = set()
                for match in term.regex.finditer(text):
                    start, end = match.start(), match.end()
                    if any(a <= start and end <= b for a, b in allowed):
                        continue
                    if term.compound:  # the whole compound word is the claim, judged once
                        start, end = analysed.word(start, end)
                        if (start, end) in words:
                            continue
                        words.add((start, end))
                    yield term, start, end, text[start:end]

        levels: tuple[tuple[Severity, str], ...] = (("fail", "fail"), ("needs_review", "review"))
        # The longest claim wins where claims overlap: "Best-Selling" is the review-level
        # "best-selling", not the superlative "best" inside it.
        claims = sorted(
            ((start, end, claim, term, severity) for severity, level in levels
             for term, start, end, claim in matches(self._superlatives[level], "superlatives")),
            key=lambda c: (c[0] - c[1], c[0]),
        )  # fmt: skip
        covered = bytearray(len(text) + 1)
        judged: set[tuple[int, int]] = set()  # one compound word matched by several terms is one claim
        for start, end, claim, term, severity in claims:
            if (start, end) in judged or (end > start and all(covered[start:end])):
                continue
            judged.add((start, end))
            covered[start:end] = b"\x01" * (end - start)
            low, high = analysed.sentence(start, end)
            self._superlative(claim, start, end, severity, term, text[low:high], content, backing, add)
        for severity, level in levels:
            for term, start, end, _ in matches(self._health[level], "health"):
                message = f"{QUOTE} is a health claim that advertising may not make"
                add(
                    "health",
                    severity,
                    start,
                    end,
                    message,
                    "describe the product's properties instead",
                    pattern=term.source,
                )
        for term, start, end, _ in matches(self._free, "free"):
            if analysed.near(start, end, self._conditions) or (_MARKED.match(text, end) and footnoted()):
                continue
            add(
                "free",
                "fail",
                start,
                end,
                f"{QUOTE} without its conditions next to it",
                "state the condition in the same sentence, e.g. “ab 50 € Bestellwert”",
                pattern=term.source,
            )
        for severity, level in levels:
            for term, start, end, _ in matches(self._green[level], "green"):
                if analysed.near(start, end, self._substantiation):
                    continue
                add(
                    "green",
                    severity,
                    start,
                    end,
                    f"{QUOTE} is a generic environmental claim without substantiation",
                    "name the certification or the measurable property in the same sentence",
                    pattern=term.source,
                )
        for term, start, end, _ in matches(self._price_claims, "price"):
            if analysed.near(start, end, self._references):
                continue
            add(
                "price_reduction",
                "fail",
                start,
                end,
                f"{QUOTE} announces a reduction without the reference price",
                "add the earlier price next to it, e.g. “statt 149 €”",
                pattern=term.source,
            )
        if self.claims is not None and view.source != "href":
            for fact in self.claims.check(text, analysed.sentence, content, self.today()):
                add(fact.rule, fact.severity, fact.start, fact.end, fact.message, fact.suggestion)
        for term, start, end, _ in matches(self._forbidden):
            add(
                "brand.forbidden",
                "fail",
                start,
                end,
                f"{QUOTE} is on the brand's list of forbidden phrases",
                "rephrase without it",
                pattern=term.source,
            )
        for match in _CAPS_WORD.finditer(text if view.source not in ("href", "json-ld") else ""):
            word = match.group()
            letters = sum(ch.isalpha() for ch in word)
            if letters > 4 and word not in self._allow_caps and not all(len(part) <= 4 for part in word.split("-")):
                quote = QUOTE
                add(
                    "caps",
                    "fail",
                    match.start(),
                    match.end(),
                    f"{quote} is written in capitals",
                    f"write “{word.capitalize()}”",
                )
        for match in _REPEATED.finditer(text):
            add(
                "punctuation.repeated",
                "fail",
                match.start(),
                match.end(),
                f"repeated punctuation “{match.group()}”",
                f"use a single “{match.group()[0]}”",
            )
        if view.kind == "description" and content.channel == "google_ads":
            exclamations = list(_EXCLAMATION_RUN.finditer(text))  # "!!" counts once: it is reported above
            if len(exclamations) > 1:
                second = exclamations[1]
                add(
                    "punctuation.exclamation_count",
                    "fail",
                    second.start(),
                    second.end(),
                    f"{len(exclamations)} “!” in one description; Google allows one",
                    "keep at most one exclamation mark",
                )
        if view.kind == "headline" and content.channel == "google_ads":
            for match in re.finditer("!", text):
                neighbours = text[max(0, match.start() - 1) : match.start()] + text[match.end() : match.end() + 1]
                if not any(ch in "!?" for ch in neighbours):  # a run like "!!" is reported once, above
                    add(
                        "punctuation.headline_exclamation",
                        "fail",
                        match.start(),
                        match.end(),
                        "Google does not allow “!” in headlines",
                        "remove the exclamation mark",
                    )
        rendered = view.folded.original
        for start, end, symbol in itertools.islice(_emoji_matches(rendered), _MAX_PER_RULE):
            begin, stop = view.origin[start], view.origin[end - 1] + 1
            name = unicodedata.name(symbol[0], "symbol")
            found.append(
                Finding(
                    "emoji",
                    "fail",
                    view.field,
                    begin,
                    stop,
                    view.written[begin:stop],
                    f"emoji or pictograph {name} in copy",
                    "remove it",
                )
            )
        for pii in list(find_pii(rendered))[:_MAX_PER_RULE]:
            begin, stop = view.origin[pii.start], view.origin[pii.end - 1] + 1
            found.append(
                Finding(
                    f"pii.{pii.kind}",
                    "fail",
                    view.field,
                    begin,
                    stop,
                    view.written[begin:stop],
                    f"personal data ({pii.kind}) in copy",
                    "remove it",
                )
            )
        for rule, severity in beyond.items():
            more = counts[rule] - _MAX_PER_RULE
            found.append(
                Finding(rule, severity, view.field, 0, 0, "", f"and {more} more findings of this rule in {view.field}")
            )
        return found

    def _has_conditional_footnote(self, visible: str) -> bool:
        """Whether the copy readers see has a footnote ("* ab 50 € …") that states a condition: what
        qualifies a claim marked with an asterisk (a bare asterisk does not)."""
        return any(any(c.search(note.group(1)) for c in self._conditions) for note in _FOOTNOTE.finditer(visible))

    def _superlative(
        self,
        claim: str,
        start: int,
        end: int,
        severity: Severity,
        term: _Term,
        here: str,
        content: Content,
        backing: list[dict[str, object]],
        add: Callable[..., None],
    ) -> None:
        """A superlative passes only with evidence for this claim and this product, valid today,
        named in the claim's own sentence (``here``: a source or a product in another sentence may
        belong to another claim)."""
        today = self.today()
        cited = set(content.evidence)
        subject = fold(content.subject).text
        problems: list[tuple[str, Severity, str, str, str]] = []  # rule, severity, message, suggestion, entry
        for evidence in self._evidence:
            entry = evidence.entry
            if not any(p.search(claim) for p in evidence.claims):
                continue
            names_source = any(p.search(here) for p in evidence.cite_as)
            by_reference = entry.id in cited or bool(cited & set(entry.refs))
            if not (names_source or by_reference):
                continue
            if entry.source_required and not names_source:
                problems.append(
                    (
                        "evidence.source",
                        "fail",
                        f"{QUOTE} cites {entry.id}, but the copy must name its source ({entry.source}) "
                        "next to the claim",
                        f"name the source in the same line, e.g. “{claim} laut {_source_name(entry)}”",
                        entry.id,
                    )
                )
                continue
            if (entry.valid_from and today < entry.valid_from) or (entry.valid_until and today > entry.valid_until):
                window = f"{entry.valid_from or '…'} to {entry.valid_until or '…'}"
                problems.append(
                    (
                        "evidence.expired",
                        "fail",
                        f"{QUOTE} rests on {entry.id} ({entry.source}), valid {window}, not today",
                        "remove the claim or register current evidence",
                        entry.id,
                    )
                )
                continue
            covers = ", ".join([*entry.products, *(s.strip("~") for s in entry.scope)])
            scope = self._scope(evidence, subject, here)
            if scope == "covered":
                backing.append({"claim": claim, "evidence": entry.id, "source": entry.source})
                return
            if scope == "other":
                problems.append(
                    (
                        "evidence.scope",
                        "fail",
                        f"{QUOTE}: {entry.id} ({entry.source}) covers {covers}, not what this copy advertises",
                        "use the claim only for the product the evidence covers",
                        entry.id,
                    )
                )
            else:
                problems.append(
                    (
                        "evidence.scope",
                        "needs_review",
                        f"{QUOTE}: {entry.id} covers {covers}; the copy does not say which product it advertises",
                        "name the product in the same line, or check it is the one the evidence covers",
                        entry.id,
                    )
                )
        if problems:
            rule, level, message, suggestion, entry_id = min(problems, key=lambda p: p[1] != "fail")
            add(rule, level, start, end, message, suggestion, pattern=term.source, evidence=entry_id)
            return
        add(
            "superlatives",
            severity,
            start,
            end,
            f"{QUOTE} is an unsubstantiated superlative",
            "remove it, or back it with an entry of the evidence registry and name its source",
            pattern=term.source,
        )

    def _scope(self, evidence: _Evidence, subject: str, here: str) -> str:
        """Whether the copy is about what ``evidence`` covers: "covered", "other" (it names a
        product or category the evidence does not cover), or "unknown" (it names none).

        What the copy advertises is its subject (an ad's ad group) when that names a product or
        category the evidence covers, or what the claim's own sentence names; a subject that names
        neither ("Trail Runners") is another product. Naming anything another entry covers, and
        this one does not, counts as another product too."""
        own = [*evidence.products, *evidence.scope]
        foreign = evidence.foreign
        if any(p.search(here) for p in foreign) or any(p.search(subject) for p in foreign):
            return "other"
        if any(p.search(subject) for p in own) or any(p.search(here) for p in own):
            return "covered"
        return "other" if subject.strip() else "unknown"

    def _disclaimer_rules(self, views: list[View], visible: str) -> list[Finding]:
        found = []
        for when, require, rule in self._disclaimers:
            if require.search(visible):
                continue
            for view in views:
                trigger = when.search(view.folded.text)
                if trigger is None:
                    continue
                begin, stop, quote = view.locate(trigger.start(), trigger.end())
                needed = rule.require.split("|")[0]
                found.append(
                    Finding(
                        "brand.disclaimer",
                        "fail",
                        view.field,
                        begin,
                        stop,
                        quote,
                        f"“{quote}” needs the disclaimer “{needed}”",
                        f"add “{needed}”",
                    )
                )
                break
        return found
