"""The compliance gate's interface: what content is checked and the verdict bound to it.

The Guard calls a :class:`ContentGate` on exactly the content a publishing call would
publish; the verdict carries the hash of that content, so an approval or an audit row can
never be reused for different text. Until rule packs are loaded, :class:`NoRulesGate` answers
``needs_review`` for everything: no content passes unchecked.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Verdict = Literal["pass", "needs_review", "fail"]
Channel = Literal["google_ads", "cms"]


@dataclass(frozen=True)
class Content:
    channel: Channel
    locale: str = "de"
    headlines: tuple[str, ...] = ()
    descriptions: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()  # CMS: (field name, text) pairs, in a fixed order
    complete_ad: bool = False  # count limits apply only to a whole ad
    evidence: tuple[str, ...] = ()  # evidence registry ids (or references) cited for claims in the content
    subject: str = ""  # what the content advertises (ad group, product): evidence must cover it
    account: str = ""  # the Google Ads account it runs in: picks the market of the product feed
    market: str = ""  # the market (DE, AT, …) whose feed facts claims must match; "" from the account

    @property
    def hash(self) -> str:
        payload = json.dumps(
            [
                self.channel,
                self.locale,
                self.headlines,
                self.descriptions,
                self.texts,
                self.fields,
                self.complete_ad,
                self.evidence,
                self.subject,
                # Only when set: the hash of content without them stays what it was.
                *([self.account, self.market] if self.account or self.market else []),
            ],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class ContentVerdict:
    verdict: Verdict
    content_hash: str
    findings: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    backing: tuple[dict[str, Any], ...] = field(default_factory=tuple)  # evidence entries that backed claims

    def summary(self) -> str:
        if not self.findings:
            return f"compliance verdict {self.verdict}"
        messages = "; ".join(str(f.get("message", f.get("rule", "?"))) for f in self.findings[:5])
        return f"compliance verdict {self.verdict}: {messages}"


class ContentGate(Protocol):
    def check(self, content: Content) -> ContentVerdict: ...


class NoRulesGate:
    """Stands in until compliance rule packs exist: every piece of content needs a human."""

    def check(self, content: Content) -> ContentVerdict:
        finding = {"rule": "compliance.unconfigured", "message": "no compliance rules are loaded; a person must review"}
        return ContentVerdict("needs_review", content.hash, (finding,))
