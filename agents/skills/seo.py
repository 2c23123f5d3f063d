"""The SEO skill: audit published posts and pages, and propose the concrete fixes.

Checks: title length (≤ 60), meta description missing or too long (≤ 160), missing or
multiple H1, duplicate titles, thin content, missing JSON-LD (Article, FAQPage or Product,
generated from the page), broken internal links, and internal links between closely related
pages. A page's fixes are merged into one ``update_post`` proposal — every change to a live
page needs approval, so one approval per page is what a person should be asked for. Thin
content has no automatic fix; it is reported for a person or the creative role.

Relatedness is pluggable (:data:`Similarity`); the default is lexical (TF-IDF cosine), and
memory's embeddings replace it when configured.

Structured data goes where the configured SEO plugin keeps it (``wordpress.seo_fields``): the
companion plugin's ``json_ld`` field, printed in the page head — never into the post body; Yoast
SEO and Rank Math build their own schema graph, so no JSON-LD is proposed for them. Reading the
CMS through the Guard (:func:`read_posts`) fails loudly: a failed read is never an empty site.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse

from adpilot.agents.proposal import Proposal
from adpilot.policies.compliance import visible_text
from adpilot.tools.result import ToolResult
from adpilot.tools.wordpress import WpPost

if TYPE_CHECKING:
    from adpilot.tools.guard import Guard

TITLE_MAX = 60
META_MIN, META_MAX = 70, 160
THIN_WORDS = 300
RELATED_THRESHOLD = 0.12

Similarity = Callable[[Sequence[str]], list[list[float]]]
Severity = Literal["error", "warning", "info"]
# "field": propose JSON-LD as the post's json_ld field (the companion plugin prints it);
# "plugin": the SEO plugin (Yoast, Rank Math) builds the structured data itself.
StructuredData = Literal["field", "plugin"]

# A readable word list; SIM905 would rewrite it as one 400-character list literal.
_STOPWORDS = frozenset(
    """der die das und oder für mit von im in am an auf aus bei bis ein eine einer einen dem den des ist
    sind wir sie es zu zum zur nicht auch als wie was worauf noch nach über unter vom the and for with of
    a an to in on is are it this that your our""".split()  # noqa: SIM905
)
_WORD = re.compile(r"[a-zäöüß]{3,}")
_HREF = re.compile(r"<a\s[^>]*href=\"([^\"]+)\"[^>]*>(.*?)</a>", re.IGNORECASE | re.DOTALL)
_H1 = re.compile(r"<h1\b[^>]*>(.*?)</h1>", re.IGNORECASE | re.DOTALL)
_QUESTION = re.compile(r"<h[23][^>]*>([^<]*\?)\s*</h[23]>\s*<p>(.*?)</p>", re.IGNORECASE | re.DOTALL)
_PRICE = re.compile(r"(\d{1,5}(?:[.,]\d{2})?)\s?(?:€|EUR)")
_JSONLD = re.compile(r"<script[^>]+application/ld\+json", re.IGNORECASE)


@dataclass(frozen=True)
class SeoFinding:
    post_id: int
    check: str
    severity: Severity
    message: str
    fix: str | None = None


@dataclass
class SeoReport:
    findings: list[SeoFinding] = field(default_factory=list)
    proposals: list[Proposal] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.__dict__ for f in self.findings],
            "proposals": [p.as_dict() for p in self.proposals],
        }


class ReadFailed(Exception):
    """A read of the CMS failed: the audit cannot run (and must not report an empty site)."""

    def __init__(self, result: ToolResult, call_args: dict[str, Any]) -> None:
        error = result.error
        super().__init__(f"{result.tool} failed: {error.message if error else 'no answer'}")
        self.result = result
        self.call_args = call_args


async def read_posts(guard: Guard, role: str = "seo") -> list[WpPost]:
    """The published posts and pages, read through the Guard; :class:`ReadFailed` when a read
    fails (a post deleted between the list and its read is skipped)."""
    listed = await guard.call(role, "list_posts", {"status": "publish"})
    if not listed.ok:
        raise ReadFailed(listed, {"status": "publish"})
    posts = []
    for summary in listed.data:
        args = {"post_id": summary["post_id"]}
        got = await guard.call(role, "get_post", args)
        if not got.ok:
            if got.error is not None and got.error.type == "not_found":
                continue
            raise ReadFailed(got, args)
        data = got.data
        posts.append(
            WpPost(
                data["post_id"],
                data["type"],
                data["status"],
                data["title"],
                data["content"],
                data["excerpt"],
                data["slug"],
                data["meta_description"],
                data["link"],
                "",
                data.get("json_ld", ""),
            )
        )
    return posts


def _tokens(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]


def lexical_similarity(texts: Sequence[str]) -> list[list[float]]:
    """Cosine similarity of TF-IDF vectors; a stand-in until semantic embeddings are configured."""
    docs = [Counter(_tokens(t)) for t in texts]
    df = Counter(word for doc in docs for word in doc)
    n = len(docs)
    vectors = []
    for doc in docs:
        vector = {w: c * math.log((1 + n) / (1 + df[w])) + c for w, c in doc.items()}
        norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
        vectors.append({w: v / norm for w, v in vector.items()})
    return [[sum(a.get(w, 0.0) * v for w, v in b.items()) for b in vectors] for a in vectors]


def shorten_title(title: str, limit: int = TITLE_MAX) -> str:
    """Keep the part before a separator when it stands alone; else cut at a word boundary."""
    for separator in (" – ", " — ", " - ", ": ", " | "):
        head = title.split(separator)[0].strip()
        if separator in title and 15 <= len(head) <= limit:
            return head
    words, out = title.split(), ""
    for word in words:
        candidate = f"{out} {word}".strip()
        if len(candidate) > limit:
            break
        out = candidate
    return out


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def meta_description(post: WpPost, limit: int = META_MAX) -> str:
    """From the excerpt when it is long enough, else from the opening paragraph's sentences."""
    excerpt = " ".join(visible_text(post.excerpt).split())
    if META_MIN <= len(excerpt) <= limit:
        return excerpt
    paragraphs = re.findall(r"<p[^>]*>(.*?)</p>", post.content, re.IGNORECASE | re.DOTALL)
    source = " ".join(visible_text(p) for p in paragraphs) or visible_text(post.content)
    out = ""
    for sentence in _sentences(" ".join(source.split())):
        candidate = f"{out} {sentence}".strip()
        if len(candidate) > limit - 3:
            break
        out = candidate
    if len(out) < META_MIN and excerpt and len(f"{out} {excerpt}") <= limit:
        out = f"{out} {excerpt}".strip()
    if not out:
        out = " ".join(source.split())[: limit - 1].rsplit(" ", 1)[0] + "…"
    return out


def json_ld(post: WpPost, description: str, brand: str) -> dict[str, Any]:
    """Structured data for the page: FAQPage for Q&A, Product for a priced product, else Article."""
    questions = _QUESTION.findall(post.content)
    if len(questions) >= 2:
        return {
            "@context": "https://schema.org",
            "@type": "FAQPage",
            "mainEntity": [
                {
                    "@type": "Question",
                    "name": " ".join(visible_text(q).split()),
                    "acceptedAnswer": {"@type": "Answer", "text": " ".join(visible_text(a).split())},
                }
                for q, a in questions
            ],
        }
    price = _PRICE.search(visible_text(post.content))
    if post.type == "page" and price and "warenkorb" in post.content.lower():
        return {
            "@context": "https://schema.org",
            "@type": "Product",
            "name": post.title,
            "description": description,
            "brand": {"@type": "Brand", "name": brand},
            "offers": {"@type": "Offer", "price": price.group(1).replace(",", "."), "priceCurrency": "EUR"},
        }
    return {
        "@context": "https://schema.org",
        "@type": "Article",
        "headline": post.title[:110],
        "description": description,
        "mainEntityOfPage": post.link,
        "dateModified": post.modified,
        "publisher": {"@type": "Organization", "name": brand},
    }


def _internal_slug(href: str, site: str) -> str | None:
    parsed = urlparse(href)
    if parsed.scheme and f"{parsed.scheme}://{parsed.netloc}" != site:
        return None
    if parsed.scheme in ("mailto", "tel") or href.startswith("#"):
        return None
    path = parsed.path.strip("/")
    return path.split("/")[-1] if path else ""


def audit(
    posts: Sequence[WpPost],
    *,
    site: str,
    brand: str = "",
    similarity: Similarity = lexical_similarity,
    thin_words: int = THIN_WORDS,
    structured_data: StructuredData = "field",
) -> SeoReport:
    """Audit the published posts and pages; return findings and one proposal per page."""
    live = [p for p in posts if p.status == "publish"]
    slugs = {p.slug: p for p in live}
    report = SeoReport()
    titles = Counter(p.title.strip().casefold() for p in live)
    related = similarity([f"{p.title} {visible_text(p.content)}" for p in live]) if len(live) > 1 else []

    for index, post in enumerate(live):
        scores = [(related[index][j], other) for j, other in enumerate(live) if other.id != post.id] if related else []
        findings, proposal = _audit_post(
            post, slugs, titles, scores, site=site, brand=brand, thin_words=thin_words, structured_data=structured_data
        )
        report.findings.extend(findings)
        if proposal is not None:
            report.proposals.append(proposal)
    return report


def _audit_post(
    post: WpPost,
    slugs: dict[str, WpPost],
    titles: Counter[str],
    scores: list[tuple[float, WpPost]],
    *,
    site: str,
    brand: str,
    thin_words: int,
    structured_data: StructuredData = "field",
) -> tuple[list[SeoFinding], Proposal | None]:
    findings: list[SeoFinding] = []
    changes: dict[str, str] = {}
    content = post.content

    def found(check: str, severity: Severity, message: str, fix: str | None = None) -> None:
        findings.append(SeoFinding(post.id, check, severity, message, fix))

    if len(post.title) > TITLE_MAX:
        changes["title"] = shorten_title(post.title)
        found(
            "title_length",
            "warning",
            f"title has {len(post.title)} characters (> {TITLE_MAX})",
            f"title → “{changes['title']}”",
        )
    if titles[post.title.strip().casefold()] > 1:
        found("duplicate_title", "warning", f"title “{post.title}” is used by more than one page")
    description = post.meta_description.strip()
    if not description:
        description = changes["meta_description"] = meta_description(post)
        found("meta_missing", "error", "no meta description", f"meta description → “{description}”")
    elif len(description) > META_MAX:
        description = changes["meta_description"] = description[: META_MAX - 1].rsplit(" ", 1)[0] + "…"
        found(
            "meta_length",
            "warning",
            f"meta description has {len(post.meta_description)} characters (> {META_MAX})",
            f"meta description → “{description}”",
        )

    h1s = _H1.findall(content)
    if not h1s:
        content = f"<h1>{escape(changes.get('title', post.title), quote=False)}</h1>\n{content}"
        found("h1_missing", "error", "the page has no H1", "add an H1 with the title")
    elif len(h1s) > 1:
        first = content.lower().index("<h1") + 3
        tail = re.sub(r"<h1(\b[^>]*)>(.*?)</h1>", r"<h2\1>\2</h2>", content[first:], flags=re.IGNORECASE | re.DOTALL)
        content = content[:first] + tail
        found(
            "h1_multiple", "warning", f"the page has {len(h1s)} H1 headings", "turn every H1 after the first into an H2"
        )

    words = len(visible_text(post.content).split())
    if words < thin_words:
        found("thin_content", "warning", f"only {words} words (< {thin_words}); extend the page (no automatic fix)")

    for href, text in _HREF.findall(content):
        slug = _internal_slug(href, site)
        if slug and slug not in slugs:
            anchor = re.compile(rf"<a\s[^>]*href=\"{re.escape(href)}\"[^>]*>{re.escape(text)}</a>", re.IGNORECASE)
            content = anchor.sub(text, content)
            found("broken_link", "error", f"internal link to “{href}” leads nowhere", f"unlink “{visible_text(text)}”")

    linked = {_internal_slug(h, site) for h, _ in _HREF.findall(content)}
    for score, other in sorted(scores, key=lambda pair: (-pair[0], pair[1].id))[:1]:
        if score >= RELATED_THRESHOLD and other.slug not in linked:
            content += f'\n<p>Weiterlesen: <a href="/{other.slug}/">{escape(other.title, quote=False)}</a></p>'
            found(
                "link_suggestion",
                "info",
                f"closely related to “{other.title}” (similarity {score:.2f}) but does not link to it",
                f"link to /{other.slug}/",
            )

    if structured_data == "field" and not post.json_ld.strip() and not _JSONLD.search(content):
        data = json_ld(post, description, brand)
        # "<" escaped: page text quoted in the data can never end the block (or open a tag in it).
        changes["json_ld"] = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
        found("jsonld_missing", "warning", "no structured data (JSON-LD)", f"add {data['@type']} JSON-LD")

    if content != post.content:
        changes["content"] = content
    if not changes:
        return findings, None
    proposal = Proposal(
        role="seo",
        tool="update_post",
        args={"post_id": post.id, **changes},
        rationale="; ".join(f.message for f in findings if f.fix),
        evidence={"post": post.id, "link": post.link, "checks": [f.check for f in findings]},
        expected_impact="better snippets and crawlability in search results",
    )
    return findings, proposal
