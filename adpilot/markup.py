"""WordPress HTML as a reader sees it, and the markup in it that runs code.

The compliance gate judges words, and markup hides words from a literal reading:
``gra<span>tis</span>``, ``Schn&auml;pp&shy;chen`` and ``be<!-- x -->ste`` each show a reader one
word, a claim may stand in an ``alt`` text only, and ``<img onerror=…>`` runs code without a
``<script>`` in sight. :func:`render` therefore tokenizes markup the way an HTML5 browser does (tags,
comments, raw-text elements, character references) and keeps, for every character it returns, the
index in the markup it came from, so that a finding can quote the original. :func:`active_content`
reports what would run code, navigate by itself, submit data or load a style sheet;
:func:`concealment` reports markup that hides text from a reader or changes what the reader reads;
:func:`structured_data` and :func:`contact_links` return text a reader meets outside the page body
(search results, a mail or phone link).

Standard library only. Malformed markup is read as a browser reads it: nothing here raises.
"""

from __future__ import annotations

import html
import json
import re
import string
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from html.entities import html5 as _HTML5
from typing import NamedTuple, TypeAlias

__all__ = [
    "ActiveContent",
    "Segment",
    "active_content",
    "concealment",
    "contact_links",
    "render",
    "structured_data",
]


@dataclass(frozen=True)
class Segment:
    """Text a reader sees, and where each of its characters stands in the markup.

    ``origin[i]`` is the markup index of the character that produced ``text[i]``: the character
    itself, the ``&`` of a character reference, the ``<`` of the tag a separating space stands for,
    or the first character of the run of whitespace a space stands for. (:func:`structured_data`
    maps every character to the opening quote of its JSON string; :func:`contact_links` a
    percent-decoded character to the "%" of its run of escapes.)
    """

    # "body", the attribute the text was read from ("alt", "title", "aria-label"; "title" also for
    # the text of a <title> element, hidden in a page yet shown by some themes), "json-ld" or "href"
    source: str
    text: str
    origin: tuple[int, ...]


@dataclass(frozen=True)
class ActiveContent:
    """Markup that runs code, navigates by itself, submits data, loads CSS or hides text."""

    # active_content: script | iframe | object | embed | form | event_handler | javascript_url
    # | meta_refresh | base | style_expression | stylesheet
    # concealment: hidden | direction_override | generated_text
    kind: str
    start: int  # markup[start:end] is the element or the attribute
    end: int
    text: str  # markup[start:end], cut to 80 characters


# Elements that break a line or show a box of their own: a tag of theirs separates words. Any other
# tag leaves a word whole: inline ones (span, b, a, …), unknown and custom ones ("gra<foo>tis</foo>",
# shown inline by browsers too), and those that show nothing at all: script, style, template, meta,
# link, title, noscript, source, audio, an empty picture or math, … ("be<style></style>ste" reads
# "beste"), and html, head and body, whose tags a browser ignores inside a page.
_BREAKING = frozenset(
    {"address", "article", "aside", "blockquote", "br", "caption", "center", "dd", "details", "dialog", "dir"}
    | {"div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5"}
    | {"h6", "header", "hgroup", "hr", "li", "legend", "listing", "main", "menu", "nav", "ol", "p", "pre"}
    | {"section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "xmp", "plaintext"}
    | {"img", "video", "canvas", "svg", "iframe", "frame", "frameset", "object", "embed", "applet", "input"}
    | {"button", "select", "option", "optgroup", "textarea", "meter", "progress", "marquee", "portal"}
    | {"fencedframe", "search"}
)
# Start tags that may close an element around a ruby or media element (an open <p>, <li>, <td>, …)
# and so end what _Undrawn drops: text after them is read, which errs on the side of the reader.
_HTML_SCOPE_ENDS = (_BREAKING - {"video", "canvas"}) | {"body", "html", "colgroup", "col", "frame"}
_ATTRIBUTE_TEXT = frozenset(
    {"alt", "title", "aria-label", "aria-description", "aria-valuetext", "aria-roledescription"}
)
# Elements whose text is never drawn, so that it neither splits a word nor stands beside it: in SVG
# (descriptions, metadata, paint servers, and what is drawn only by reference: defs, symbol, mask, …;
# concealment() reports a referenced container holding text), MathML annotations, the fallback of
# media elements, and ruby annotations (rt, rp; shown small above the word, not in it).
_SVG_UNDRAWN = frozenset({"desc", "metadata", "lineargradient", "radialgradient", "filter"})
_SVG_REFERENCED = frozenset({"defs", "symbol", "mask", "clippath", "pattern", "marker"})
_MATH_UNDRAWN = frozenset({"annotation", "annotation-xml"})
_FOREIGN_UNDRAWN = _SVG_UNDRAWN | _SVG_REFERENCED | _MATH_UNDRAWN
_MEDIA_FALLBACK = frozenset({"video", "audio", "canvas"})
_RUBY_TEXT = frozenset({"rt", "rp"})
_HTML_UNDRAWN = _MEDIA_FALLBACK | _RUBY_TEXT
_VOID = frozenset(
    {"area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "img", "input", "keygen", "link"}
    | {"meta", "param", "source", "track", "wbr"}
)
_PREFORMATTED = frozenset({"pre", "listing"})  # whitespace in them is shown as written
_SHADOW_ROOT = frozenset({"shadowrootmode", "shadowroot"})  # a declarative shadow root is shown
_SHADOW_MODES = frozenset({"open", "closed"})

# Elements whose content the tokenizer does not read as markup, up to their own end tag.
_RAW_TEXT = frozenset({"script", "style", "xmp", "iframe", "noembed", "noframes", "textarea", "title", "plaintext"})
_RAW_HIDDEN = frozenset({"script", "style", "iframe", "noembed", "noframes"})  # content is never shown
# RCDATA: character references count, tags do not. A <title> in the body is hidden by the browser's
# style sheet, but a theme may show it: its text is judged, as a Segment of its own ("title").
_RAW_DECODED = frozenset({"textarea", "title"})
_RAW_END = {name: re.compile(rf"</{name}[\t\n\f\r />]", re.IGNORECASE | re.ASCII) for name in _RAW_TEXT - {"plaintext"}}

_ELEMENT_KIND = {
    "script": "script",
    "iframe": "iframe",
    "frame": "iframe",
    "frameset": "iframe",
    "portal": "iframe",
    "fencedframe": "iframe",
    "object": "object",
    "applet": "object",
    "embed": "embed",
    "form": "form",
    "input": "form",
    "button": "form",
    "select": "form",
    "textarea": "form",
    "isindex": "form",
    "keygen": "form",
}
_URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "data", "xlink:href", "poster", "background", "lowsrc", "dynsrc"}
)
_SCRIPT_SCHEMES = ("javascript:", "vbscript:", "data:text/html")
_SVG_ANIMATIONS = frozenset({"animate", "set", "animatemotion", "animatetransform"})
_TARGET = "attributename"  # the attribute an SVG animation sets
_CSS_CODE = ("expression(", "javascript:", "vbscript:")
_CONTACT_SCHEMES = (
    *("mailto:", "tel:", "sms:", "callto:"),
    *("smsto:", "mms:", "fax:", "facetime:", "facetime-audio:", "skype:", "whatsapp:"),
)
# Messenger links that open a chat with a number or an account (after "http(s)://" and "www.").
_CONTACT_HOSTS = (
    *("wa.me/", "api.whatsapp.com/send", "web.whatsapp.com/send", "t.me/", "telegram.me/"),
    *("signal.me/", "m.me/"),
)
_WEB_SCHEME = re.compile(r"https?://(?:www\.)?")
_PERCENT_RUN = re.compile(r"(?:%[0-9a-fA-F]{2})+")
_NESTING = 4  # how deep active_content looks for markup inside attribute values, comments and raw text

_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)  # HTML folds ASCII case only
_TAG_NAME_END = re.compile(r"[\t\n\f\r />]")
_ATTRIBUTE_NAME_END = re.compile(r"[\t\n\f\r />=]")
_UNQUOTED_END = re.compile(r"[\t\n\f\r >]")
_NOT_SPACE = re.compile(r"[^\t\n\f\r ]")
_NOT_SPACE_OR_SLASH = re.compile(r"[^\t\n\f\r /]")
_COMMENT_END = re.compile(r"--!?>")
# html.unescape's own pattern, so that text decodes exactly as it would.
_CHARREF = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")
# A numeric reference, its leading zeros apart: html.unescape reads its digits with int(), which
# refuses more than 4,300 of them, so they are shortened to a reference that decodes the same.
_NUMERIC_REF = re.compile(r"&#(?:([xX])(0*)([0-9a-fA-F]*)|(0*)([0-9]*))")
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]+")
_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|\Z)", re.DOTALL)
_CSS_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[\t\n\f\r ]?|(.))", re.DOTALL)
_SPACE = " \t\n\f\r"  # ASCII whitespace, which a browser collapses
_SPACE_RUN = re.compile(r"[\t\n\f\r ]+")
_NEEDS_COLLAPSE = re.compile(r"[\t\n\f\r]| {2}")
_URL_SPACE = "".join(map(chr, range(0x21)))  # what a URL parser strips around a URL: controls, space
# Explicit embeddings and overrides (LRE, RLE, PDF, LRO, RLO) and isolates (LRI, RLI, FSI, PDI):
# they reorder what a reader sees ("‮sitarg" shows "gratis"); as characters or as references.
_BIDI_CONTROL = re.compile(
    r"[\u202a-\u202e\u2066-\u2069]"
    r"|&#0*(?:823[4-8]|829[4-7])(?![0-9]);?"
    r"|&#[xX]0*(?:202[a-eA-E]|206[6-9])(?![0-9a-fA-F]);?"
)
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_JSON_KEY_END = re.compile(r"[ \t\n\r]*:")
_JSON_SPACE = " \t\n\r"
_JSON_KEYWORD_KEYS = frozenset({"@context", "@id", "@vocab", "@base"})  # keys whose values are IRIs
_JSON_NOT_TEXT = re.compile(r"https?://[^\s]*|@[A-Za-z]+", re.IGNORECASE)  # a URL, a JSON-LD keyword


class _Attribute(NamedTuple):
    name: str  # ASCII-lowercased
    start: int  # markup[start:end] is the whole attribute, value and quotes included
    end: int
    value_start: int  # markup[value_start:value_end] is the raw value, without quotes
    value_end: int


class _Tag(NamedTuple):
    start: int
    end: int
    name: str  # ASCII-lowercased
    attributes: tuple[_Attribute, ...]
    is_end: bool
    closed: bool  # False: the markup ended inside the tag, which a browser then drops


class _Text(NamedTuple):
    start: int
    end: int
    element: str | None  # None for ordinary text, else the raw-text element holding it


class _Comment(NamedTuple):
    start: int
    end: int
    content_start: int
    content_end: int


class _CData(NamedTuple):
    """``<![CDATA[…]]>``: text in SVG and MathML (``<svg><text><![CDATA[gratis]]></text></svg>``), a
    bogus comment elsewhere. Read as text everywhere; :func:`concealment` reports one outside SVG
    and MathML, where the reader does not see what the gate reads."""

    start: int
    end: int
    content_start: int
    content_end: int


_Token: TypeAlias = _Tag | _Text | _Comment | _CData


def _skip_to(pattern: re.Pattern[str], markup: str, pos: int, hi: int) -> int:
    found = pattern.search(markup, pos, hi)
    return found.start() if found else hi


def _is_letter(char: str) -> bool:
    return char.isascii() and char.isalpha()


def _parse_tag(markup: str, start: int, pos: int, hi: int, *, is_end: bool) -> _Tag:
    """The tag at ``markup[start]``, its name starting at ``pos``; attributes as the HTML5 tokenizer reads them."""
    name_end = _skip_to(_TAG_NAME_END, markup, pos, hi)
    name = markup[pos:name_end].translate(_LOWER)
    pos = name_end
    attributes: list[_Attribute] = []
    while True:
        pos = _skip_to(_NOT_SPACE_OR_SLASH, markup, pos, hi)
        if pos >= hi:
            return _Tag(start, hi, name, tuple(attributes), is_end, closed=False)
        if markup[pos] == ">":
            return _Tag(start, pos + 1, name, tuple(attributes), is_end, closed=True)
        name_start = pos
        pos = _skip_to(_ATTRIBUTE_NAME_END, markup, pos + 1, hi)  # a leading "=" belongs to the name
        attribute_name = markup[name_start:pos].translate(_LOWER)
        value_start = value_end = end = pos
        equals = _skip_to(_NOT_SPACE, markup, pos, hi)
        if equals < hi and markup[equals] == "=":
            value = _skip_to(_NOT_SPACE, markup, equals + 1, hi)
            if value >= hi or markup[value] == ">":  # no value; a ">" still ends the tag
                value_start = value_end = end = pos = value
            elif markup[value] in "\"'":
                close = markup.find(markup[value], value + 1, hi)
                value_start, value_end = value + 1, close if close >= 0 else hi
                end = pos = close + 1 if close >= 0 else hi
            else:
                value_start, value_end = value, _skip_to(_UNQUOTED_END, markup, value, hi)
                end = pos = value_end
        attributes.append(_Attribute(attribute_name, name_start, end, value_start, value_end))


def _bogus_comment(markup: str, start: int, content_start: int, hi: int) -> _Comment:
    close = markup.find(">", content_start, hi)
    if close < 0:
        return _Comment(start, hi, content_start, hi)
    return _Comment(start, close + 1, content_start, close)


def _construct(markup: str, at: int, hi: int) -> _Token | None:
    """The tag or comment starting with the ``<`` at ``markup[at]``; None if that ``<`` is text."""
    following = markup[at + 1 : min(at + 3, hi)]
    if following[:1] and _is_letter(following[0]):
        return _parse_tag(markup, at, at + 1, hi, is_end=False)
    if following[:1] == "/":
        if following[1:] and _is_letter(following[1]):
            return _parse_tag(markup, at, at + 2, hi, is_end=True)
        if following[1:] == ">":  # "</>" is dropped
            return _Comment(at, at + 3, at + 2, at + 2)
        if not following[1:]:  # "</" at the end is text
            return None
        return _bogus_comment(markup, at, at + 2, hi)
    if following[:1] == "!":
        if markup.startswith("[CDATA[", at + 2, hi):
            cdata = at + 9
            cdata_end = markup.find("]]>", cdata, hi)
            if cdata_end < 0:
                return _CData(at, hi, cdata, hi)
            return _CData(at, cdata_end + 3, cdata, cdata_end)
        if not markup.startswith("--", at + 2, hi):  # <!DOCTYPE …> and the like
            return _bogus_comment(markup, at, at + 2, hi)
        content = at + 4
        if markup.startswith(">", content, hi):  # "<!-->"
            return _Comment(at, content + 1, content, content)
        if markup.startswith("->", content, hi):  # "<!--->"
            return _Comment(at, content + 2, content, content)
        close = _COMMENT_END.search(markup, content, hi)
        if close is None:
            return _Comment(at, hi, content, hi)
        return _Comment(at, close.end(), content, close.start())
    if following[:1] == "?":  # processing instructions are bogus comments in HTML
        return _bogus_comment(markup, at, at + 1, hi)
    return None


def _tokens(markup: str, lo: int, hi: int) -> Iterator[_Token]:
    """Tokenize ``markup[lo:hi]`` as HTML5 does; a raw-text start tag is always followed by its _Text."""
    pos = text_start = lo
    while (at := markup.find("<", pos, hi)) >= 0:
        token = _construct(markup, at, hi)
        if token is None:
            pos = at + 1
            continue
        if text_start < at:
            yield _Text(text_start, at, None)
        yield token
        pos = token.end
        if isinstance(token, _Tag) and token.closed and not token.is_end and token.name in _RAW_TEXT:
            end_tag = _RAW_END[token.name].search(markup, pos, hi) if token.name in _RAW_END else None
            content_end = end_tag.start() if end_tag else hi
            yield _Text(pos, content_end, token.name)
            pos = content_end
        text_start = pos
    if text_start < hi:
        yield _Text(text_start, hi, None)


def _decode(markup: str, lo: int, hi: int, *, attribute: bool) -> tuple[str, list[int]]:
    """``markup[lo:hi]`` with character references decoded as html.unescape does, and its origin.

    In an attribute value a browser leaves a reference without ";" alone when a letter, digit or "="
    follows it (``href="?a=1&copy=2"``); ``attribute=True`` does the same.
    """
    parts: list[str] = []
    origin: list[int] = []
    pos = lo
    for match in _CHARREF.finditer(markup, lo, hi):
        amp, end = match.span()
        parts.append(markup[pos:amp])
        origin.extend(range(pos, amp))
        pos = end
        name = match[1]
        if name[0] == "#":
            decoded = _unescape(match[0])
            parts.append(decoded)
            origin.extend([amp] * len(decoded))
            continue
        rest = end  # the part of the match a shorter, legacy name leaves undecoded
        replacement = _HTML5.get(name)
        if replacement is None:
            for length in range(len(name) - 1, 1, -1):
                if name[:length] in _HTML5:
                    replacement, rest = _HTML5[name[:length]], amp + 1 + length
                    break
        follower = markup[rest] if rest < end else ""
        if replacement is None or (attribute and (follower == "=" or (follower.isascii() and follower.isalnum()))):
            parts.append(markup[amp:end])
            origin.extend(range(amp, end))
            continue
        parts.append(replacement)
        origin.extend([amp] * len(replacement))
        parts.append(markup[rest:end])
        origin.extend(range(rest, end))
    parts.append(markup[pos:hi])
    origin.extend(range(pos, hi))
    return "".join(parts), origin


def _without_nul(text: str, origin: Sequence[int]) -> tuple[str, Sequence[int]]:
    """``text`` without U+0000, which the HTML parser drops from text ("be\\0ste" reads "beste")."""
    if "\x00" not in text:
        return text, origin
    kept = [i for i, char in enumerate(text) if char != "\x00"]
    return text.replace("\x00", ""), [origin[i] for i in kept]


def _is_blank(char: str) -> bool:
    """Whether ``char`` shows as a space between two words: ASCII whitespace or a Unicode space."""
    return char in _SPACE or unicodedata.category(char) == "Zs"


def _substituted(
    text: str, origin: Sequence[int], runs: re.Pattern[str], replace: Callable[[str], str]
) -> tuple[str, list[int]]:
    """``text`` with each match of ``runs`` replaced by ``replace(match)``, every character of a
    replacement mapped to the origin of the run's first character."""
    parts: list[str] = []
    kept: list[int] = []
    pos = 0
    for run in runs.finditer(text):
        parts.append(text[pos : run.start()])
        kept.extend(origin[pos : run.start()])
        replacement = replace(run[0])
        parts.append(replacement)
        kept.extend([origin[run.start()]] * len(replacement))
        pos = run.end()
    parts.append(text[pos:])
    kept.extend(origin[pos:])
    return "".join(parts), kept


def _collapsed(text: str, origin: Sequence[int]) -> tuple[str, list[int]]:
    """``text`` with each run of ASCII whitespace one space, mapped to the run's first character."""
    return _substituted(text, origin, _SPACE_RUN, lambda _: " ")


class _Body:
    """The body text being built, spaced as a browser shows it.

    One space where a block tag separates two words and none elsewhere; outside preformatted text
    a run of ASCII whitespace is one space, also across tags (``a <b> b</b>`` reads "a b").
    """

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.origin: list[int] = []
        self.last = ""
        self.space_at: int | None = None  # the "<" of the first block tag since the last character

    def block_tag(self, at: int) -> None:
        if self.space_at is None:
            self.space_at = at

    def add(self, text: str, origin: Sequence[int], *, collapse: bool) -> None:
        text, origin = _without_nul(text, origin)
        if collapse and _NEEDS_COLLAPSE.search(text):
            text, origin = _collapsed(text, origin)
        if collapse and text[:1] == " " and self.last and self.last in _SPACE:
            text, origin = text[1:], origin[1:]  # the space continues the one before it
        if not text:
            return
        if self.space_at is not None and self.last and not _is_blank(self.last) and not _is_blank(text[0]):
            self.parts.append(" ")
            self.origin.append(self.space_at)
        self.space_at = None
        self.parts.append(text)
        self.origin.extend(origin)
        self.last = text[-1]

    def segment(self) -> Segment:
        return Segment("body", "".join(self.parts), tuple(self.origin))


def _is_shadow_root(markup: str, tag: _Tag) -> bool:
    """Whether the template ``tag`` declares a shadow root, whose content a browser shows."""
    return any(a.name in _SHADOW_ROOT and _value(markup, a).translate(_LOWER) in _SHADOW_MODES for a in tag.attributes)


def _attribute_segment(markup: str, attribute: _Attribute) -> Segment:
    text, origin = _decode(markup, attribute.value_start, attribute.value_end, attribute=True)
    text, kept = _without_nul(text, origin)
    return Segment(attribute.name, text, tuple(kept))


class _Scope:
    """Open elements as a stack, with a count per name so that "is it open?" takes constant time."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.counts: dict[str, int] = {}

    def push(self, name: str) -> None:
        self.stack.append(name)
        self.counts[name] = self.counts.get(name, 0) + 1

    def pop(self) -> str:
        name = self.stack.pop()
        self.counts[name] -= 1
        return name

    def has(self, name: str) -> bool:
        return self.counts.get(name, 0) > 0

    def close(self, name: str) -> None:
        """Close ``name`` and what opened after it; if ``name`` is not open, it closes an element
        opened before the scope began (``<p><video></p>``): the whole scope ends."""
        if not self.has(name):
            self.clear()
        while self.stack and self.pop() != name:
            pass

    def clear(self) -> None:
        while self.stack:
            self.pop()


class _Undrawn:
    """Whether the text at hand is never drawn: inside _FOREIGN_UNDRAWN (in svg or math only: an
    HTML <desc> is an unknown, inline element), _MEDIA_FALLBACK, or an rt or rp inside a ruby.

    Every element opened inside such a scope is tracked, so that an end tag of an element opened
    before it, which a browser's tree builder lets close it too (``<p><video></p>gratis``), ends the
    scope; so do a breakout from foreign content and, in HTML, a block or table tag (which may close
    an open <p> or <li> around it). Each tag is pushed and popped at most once: linear time.
    """

    def __init__(self) -> None:
        self.foreign = 0  # svg and math depth, as _foreign_depth counts it
        self.in_foreign = _Scope()  # from the outermost undrawn foreign element on
        self.in_html = _Scope()  # from the outermost ruby or media element on

    def active(self) -> bool:
        return bool(self.in_foreign.stack) or any(self.in_html.has(name) for name in _HTML_UNDRAWN)

    def tag(self, markup: str, tag: _Tag) -> None:
        if not tag.closed:
            return
        self.foreign = _foreign_depth(markup, tag, self.foreign)
        name, scope = tag.name, self.in_foreign
        if not self.foreign:
            scope.clear()
        elif tag.is_end:
            if scope.stack:
                scope.close(name)
        elif markup[tag.end - 2] != "/" and (scope.stack or name in _FOREIGN_UNDRAWN):
            scope.push(name)
        if self.foreign and name not in ("svg", "math"):
            return
        scope = self.in_html
        if tag.is_end:
            if scope.stack:
                scope.close(name)
            return
        if name in _HTML_SCOPE_ENDS:
            scope.clear()
        if name in _RUBY_TEXT:
            while scope.stack and scope.stack[-1] in _RUBY_TEXT:  # an rt or rp ends the one before
                scope.pop()
            if scope.has("ruby"):
                scope.push(name)
        elif name == "ruby" or name in _MEDIA_FALLBACK or (scope.stack and name not in _VOID):
            scope.push(name)


def render(markup: str) -> list[Segment]:
    """The text of ``markup`` as a reader sees it: the body first, then every alt, title, aria-label, ….

    A tag of an inline element (span, b, a, …, or an unknown one) inside a word leaves the word
    whole, and so does one of an element that shows nothing (style, script, meta, …); a tag of a
    block element (p, div, br, li, img, …) separates words by one space. Outside pre, listing,
    textarea, xmp and plaintext a run of whitespace is one space. Comments, script, style and
    template content are not text (a declarative shadow root's is), CDATA is, and character
    references are decoded. Text that is never drawn is not text either: SVG desc, metadata, defs,
    symbol, mask, clipPath, pattern, marker, gradients and filters, MathML annotations, the fallback
    of video, audio and canvas, and ruby rt and rp (see _Undrawn). Attribute texts (alt, title,
    aria-label, aria-description, aria-valuetext, aria-roledescription), and the text of a <title>
    element, follow in document order, one Segment each.
    """
    body = _Body()
    attributes: list[Segment] = []
    templates: list[bool] = []  # one per open template: whether its content is inert
    inert = 0  # open inert templates: their content stays hidden until a script clones it
    preformatted = 0
    undrawn = _Undrawn()
    for token in _tokens(markup, 0, len(markup)):
        if isinstance(token, _Tag) and not inert and token.name != "template":  # inert content is apart
            undrawn.tag(markup, token)
        if isinstance(token, _Text):
            if inert or token.element in _RAW_HIDDEN or (undrawn.active() and token.element != "title"):
                continue
            if token.element == "title":
                text, origin = _decode(markup, token.start, token.end, attribute=False)
                text, origin = _collapsed(*_without_nul(text, origin))
                attributes.append(Segment("title", text, tuple(origin)))
            elif token.element is None or token.element in _RAW_DECODED:
                collapse = token.element is None and not preformatted
                body.add(*_decode(markup, token.start, token.end, attribute=False), collapse=collapse)
            else:  # xmp, plaintext: shown as written
                body.add(markup[token.start : token.end], range(token.start, token.end), collapse=False)
        elif isinstance(token, _CData):
            if not inert and not undrawn.active():
                content = range(token.content_start, token.content_end)
                body.add(markup[token.content_start : token.content_end], content, collapse=not preformatted)
        elif isinstance(token, _Tag) and token.closed:
            if token.name == "template":
                if not token.is_end:
                    templates.append(not _is_shadow_root(markup, token))
                    inert += templates[-1]
                elif templates:
                    inert -= templates.pop()
            if inert:
                continue
            if token.name in _BREAKING:
                body.block_tag(token.start)
            if token.name in _PREFORMATTED:
                preformatted = max(0, preformatted + (-1 if token.is_end else 1))
            if token.is_end:
                continue
            attributes.extend(_attribute_segment(markup, a) for a in token.attributes if a.name in _ATTRIBUTE_TEXT)
    return [body.segment(), *attributes]


def _squeeze(text: str) -> str:
    """Text as a URL or CSS parser compares it: ASCII whitespace and controls gone, ASCII lowercase."""
    return _CONTROL_OR_SPACE.sub("", text).translate(_LOWER)


def _is_script_url(value: str) -> bool:
    return _squeeze(value).startswith(_SCRIPT_SCHEMES)


def _css_unescape(match: re.Match[str]) -> str:
    if match[1] is None:
        return "" if match[2] == "\n" else match[2]
    code = int(match[1], 16)
    return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"


def _css_text(css: str) -> str:
    """CSS as its parser reads it: comments gone, escapes decoded, ASCII lowercase."""
    return _CSS_ESCAPE.sub(_css_unescape, _CSS_COMMENT.sub("", css)).translate(_LOWER)


def _css_runs_code(css: str) -> bool:
    """Whether CSS holds an IE expression() or a script URL, comments and escapes notwithstanding."""
    squeezed = _squeeze(_css_text(css))
    return any(marker in squeezed for marker in _CSS_CODE)


def _element_end(tokens: Sequence[_Token], index: int) -> int:
    """Where the raw-text element whose start tag is ``tokens[index]`` ends: after its end tag, if any."""
    end = tokens[index].end
    if index + 1 < len(tokens) and isinstance(content := tokens[index + 1], _Text) and content.element:
        end = content.end
        if index + 2 < len(tokens) and isinstance(close := tokens[index + 2], _Tag) and close.is_end:
            end = close.end
    return end


def _bounded(match: re.Match[str]) -> str:
    mark, zeros, digits = (match[1], match[2], match[3]) if match[1] else ("", match[4], match[5])
    if len(digits) > (6 if mark else 7):  # beyond U+10FFFF, which decodes as U+FFFD
        digits = "110000" if mark else "1114112"
    return f"&#{mark}{digits or zeros[:1]}"


def _unescape(text: str) -> str:
    """html.unescape(text), also when a numeric reference has thousands of digits."""
    return html.unescape(_NUMERIC_REF.sub(_bounded, text))


def _value(markup: str, attribute: _Attribute) -> str:
    return _unescape(markup[attribute.value_start : attribute.value_end])


def _judge_tag(markup: str, tag: _Tag, element_end: int, found: set[tuple[str, int, int]]) -> None:
    """Add what the start tag ``tag`` runs to ``found``; a script reports its element, up to ``element_end``."""
    kind = _ELEMENT_KIND.get(tag.name)
    if kind is not None:
        found.add((kind, tag.start, element_end if tag.name == "script" else tag.end))
    if tag.name == "style":  # CSS can hide text, write text (content: "…") and fetch more of it
        found.add(("stylesheet", tag.start, element_end))
    if tag.name == "link" and any(a.name == "href" for a in tag.attributes):  # any rel: stylesheet, import, …
        found.add(("stylesheet", tag.start, tag.end))
    if tag.name == "base":
        found.add(("base", tag.start, tag.end))
    if tag.name == "meta" and any(
        a.name == "http-equiv" and _squeeze(_value(markup, a)) == "refresh" for a in tag.attributes
    ):
        found.add(("meta_refresh", tag.start, tag.end))
    for attribute in tag.attributes:
        name, value = attribute.name, _value(markup, attribute)
        if name.startswith("on") and len(name) > 2:
            found.add(("event_handler", attribute.start, attribute.end))
        elif name in _URL_ATTRIBUTES and _is_script_url(value):
            found.add(("javascript_url", attribute.start, attribute.end))
        elif name == "style":
            css = _squeeze(_css_text(value))
            if any(marker in css for marker in _CSS_CODE):
                found.add(("style_expression", attribute.start, attribute.end))
            if "@import" in css:
                found.add(("stylesheet", attribute.start, attribute.end))
    if tag.name in _SVG_ANIMATIONS:
        _judge_animation(markup, tag, found)


def _judge_animation(markup: str, tag: _Tag, found: set[tuple[str, int, int]]) -> None:
    """SVG animation sets an attribute once loaded: ``<set attributeName="onclick" to=…>``, or
    ``<animate attributeName="href" values="javascript:…">``."""
    targets = {_squeeze(_value(markup, a)): a for a in tag.attributes if a.name == "attributename"}
    for target, attribute in targets.items():
        if target.startswith("on"):
            found.add(("event_handler", attribute.start, attribute.end))
    if not targets.keys() & _URL_ATTRIBUTES:
        return
    for attribute in tag.attributes:
        if attribute.name in ("to", "from", "by", "values") and any(
            _is_script_url(part) for part in _value(markup, attribute).split(";")
        ):
            found.add(("javascript_url", attribute.start, attribute.end))


def _scan(markup: str, lo: int, hi: int, depth: int, found: set[tuple[str, int, int]]) -> None:
    """Judge every tag of ``markup[lo:hi]``, then look for markup inside values, comments and raw text.

    A browser never parses those as markup here, but another parser, an editor's sanitizer or a
    later innerHTML may (``<noscript><p title="</noscript><img onerror=…>">``), so they count too.
    """
    tokens = list(_tokens(markup, lo, hi))
    for index, token in enumerate(tokens):
        inner: list[tuple[int, int]] = []
        if isinstance(token, _Tag):
            if not token.is_end:
                _judge_tag(markup, token, _element_end(tokens, index), found)
            inner = [(a.value_start, a.value_end) for a in token.attributes]
        elif isinstance(token, (_Comment, _CData)):
            inner = [(token.content_start, token.content_end)]
        elif token.element is not None:
            if token.element == "style" and _css_runs_code(markup[token.start : token.end]):
                found.add(("style_expression", tokens[index - 1].start, _element_end(tokens, index - 1)))
            inner = [(token.start, token.end)]
        if depth < _NESTING:
            for start, end in inner:
                if markup.find("<", start, end) >= 0:
                    _scan(markup, start, end, depth + 1, found)


def active_content(markup: str) -> list[ActiveContent]:
    """Everything in ``markup`` that runs code, navigates by itself, submits data or loads CSS, in
    markup order.

    Script-bearing elements, form controls, on* handlers, script URLs (``jav&#x61;script:``, tabs and
    case included), meta refresh, base, CSS expressions, and style sheets (<style>, <link href>,
    ``@import``): CSS can hide text, write text and fetch more of it. A JSON-LD script counts as a
    script; the caller decides whether it is data. A tag cut off by the end of the markup still
    counts: what follows it on the page may complete it.
    """
    found: set[tuple[str, int, int]] = set()
    _scan(markup, 0, len(markup), 0, found)
    return [
        ActiveContent(kind, start, end, markup[start:end][:80])
        for kind, start, end in sorted(found, key=lambda item: (item[1], item[2], item[0]))
    ]


# --- concealment ----------------------------------------------------------------------------------

_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[+-]?[0-9]+)?"
_LENGTH = re.compile(rf"([+-]?{_NUMBER})([a-z%]*)")
# calc() and its kin, token by token: a number and its unit, a function opening, an operator.
_MATH_TOKEN = re.compile(rf" *(?:({_NUMBER})([a-z%]*)|(calc|min|max|clamp)?\(|([-+*/,)]))")
_MATH_LIMIT = 64  # tokens; a longer expression is not evaluated
# Pixels per unit, for a page 1,000 pixels wide and a font of 16 pixels.
_ABSOLUTE = {"": 1.0, "px": 1.0, "pt": 4 / 3, "pc": 16.0, "in": 96.0, "cm": 96 / 2.54, "mm": 96 / 25.4, "q": 96 / 101.6}
_FONT_RELATIVE = frozenset({"em", "rem", "ex", "rex", "ch", "rch", "lh", "rlh", "cap", "rcap", "ic", "ric"})
_VIEWPORT = ("vw", "vh", "vi", "vb", "vmin", "vmax")  # also svw, dvh, cqw, …
_OFFSET_PROPERTIES = frozenset({"left", "top", "right", "bottom", "inset", "inset-inline", "inset-block"})
_OFFSET_PROPERTIES |= {"inset-inline-start", "inset-inline-end", "inset-block-start", "inset-block-end"}
_MARGINS = frozenset({"margin", "margin-left", "margin-top", "margin-right", "margin-bottom", "margin-inline-start"})
_SIZES = frozenset({"width", "height", "max-width", "max-height"})
_OVERFLOW = frozenset({"overflow", "overflow-x", "overflow-y"})
# Properties whose strings become text on the page (the last five inside @counter-style).
_GENERATING = frozenset({"content", "quotes", "list-style", "list-style-type", "symbols", "additive-symbols"})
_GENERATING |= {"prefix", "suffix", "pad", "negative"}
_GENERATING_SELECTORS = (":before", ":after", "@counter-style")  # ":before" finds "::before" too
_EMPTY_STRING = re.compile(r"\"[\t\n\f\r ]*\"|'[\t\n\f\r ]*'")
_IMPORTANT = re.compile(r"![\t\n\f\r ]*important[\t\n\f\r ]*\Z")
_COLOR_FUNCTION = re.compile(r"(?:rgba?|hsla?|hwb|lab|lch|oklab|oklch|color)\((.*)\)")
_TRANSPARENT_HEX = re.compile(r"#(?:[0-9a-f]{3}0|[0-9a-f]{6}00)")
_TRANSFORM = re.compile(r"(translate|scale|matrix)(x|y|z|3d)?\(")
_VAR_PASSES = 8  # nested var() fallbacks that are resolved
_VIEWPORT_LENGTH = re.compile(r"[0-9.][a-z]*v(?:w|h|i|b|min|max)(?![a-z])")
_RELATIVE_FONT = re.compile(r"[0-9.](?:r?em|r?ex|r?ch|%)(?![a-z])")
_PERCENTAGE = re.compile(rf"({_NUMBER})%")
_CSS_WIDE = frozenset({"", "none", "initial", "unset", "inherit", "revert", "revert-layer"})
_MASKS = frozenset(
    {"mask", "mask-image", "-webkit-mask", "-webkit-mask-image", "mask-border", "-webkit-mask-box-image"}
)
# Classes that hide text in WordPress themes and the common CSS frameworks.
_HIDING_CLASSES = frozenset(
    {"screen-reader-text", "sr-only", "visually-hidden", "visuallyhidden", "hidden", "d-none", "invisible"}
)
_TRANSFORM_REACH = 200  # characters of a transform function's arguments that are read
_CSS_BLOCK = re.compile(r"[{}]")
_CSS_LIST = re.compile(r"[\t\n\f\r ,/]+")
# Presentation attributes (SVG reads them as CSS: <text font-size="0">).
_PRESENTATION = frozenset({"display", "visibility", "opacity", "font-size"})
_SVG_TEXT = frozenset({"text", "tspan", "textpath"})
# Elements a browser's own style sheet hides whose text render() reads (a closed dialog too).
_HIDDEN_ELEMENTS = frozenset({"datalist", "rp", "noscript"})
# Start tags that end SVG and MathML content (and <font> with color, face or size).
_BREAKOUT = frozenset(
    {"b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt", "em", "embed", "h1"}
    | {"h2", "h3", "h4", "h5", "h6", "head", "hr", "i", "img", "li", "listing", "menu", "meta", "nobr", "ol"}
    | {"p", "pre", "ruby", "s", "small", "span", "strong", "strike", "sub", "sup", "table", "tt", "u", "ul"}
    | {"var"}
)


def _length(token: str) -> tuple[float, str] | None:
    """A CSS number with its unit ("-9999px" → (-9999.0, "px")); None for anything else."""
    match = _LENGTH.fullmatch(token)
    return (float(match[1]), match[2]) if match else None


def _pixels(number: float, unit: str, percent: float) -> float | None:
    if unit in _ABSOLUTE:
        return number * _ABSOLUTE[unit]
    if unit in _FONT_RELATIVE:
        return number * 16
    if unit == "%":
        return number * percent / 100
    if unit.endswith(_VIEWPORT) or unit.startswith("cq"):
        return number * 10
    return None


class _Math:
    """A CSS value as a number: a length in pixels (``percent`` pixels to 100%), or a plain number.

    Reads calc(), min(), max(), clamp(), + - * / and parentheses, so that ``calc(100px - 100px)``
    is 0 like ``0``. Anything else, or an expression of more than _MATH_LIMIT tokens, is None.
    """

    def __init__(self, value: str, percent: float) -> None:
        self.tokens: list[tuple[str, float]] = []  # ("n", number) | ("f", 0) function | (operator, 0)
        self.percent = percent
        pos = 0
        while pos < len(value) and len(self.tokens) <= _MATH_LIMIT:
            match = _MATH_TOKEN.match(value, pos)
            if match is None or match.end() == pos:
                break
            pos = match.end()
            if match[1] is not None:
                pixels = _pixels(float(match[1]), match[2], percent)
                self.tokens.append(("n", pixels) if pixels is not None else ("?", 0.0))
            elif match[0].endswith("("):
                self.tokens.append((match[3] or "(", 0.0))
            else:
                self.tokens.append((match[4], 0.0))
        self.complete = pos >= len(value.rstrip(" ")) and len(self.tokens) <= _MATH_LIMIT
        self.at = 0

    def value(self) -> float | None:
        if not self.complete:
            return None
        try:
            result = self._sum()
        except (ValueError, ZeroDivisionError, OverflowError, IndexError):
            return None
        return result if self.at == len(self.tokens) else None

    def _take(self, *kinds: str) -> str | None:
        if self.at < len(self.tokens) and self.tokens[self.at][0] in kinds:
            self.at += 1
            return self.tokens[self.at - 1][0]
        return None

    def _sum(self) -> float:
        total = self._product()
        while operator := self._take("+", "-"):
            total = total + self._product() if operator == "+" else total - self._product()
        return total

    def _product(self) -> float:
        total = self._unary()
        while operator := self._take("*", "/"):
            total = total * self._unary() if operator == "*" else total / self._unary()
        return total

    def _unary(self) -> float:
        if self._take("-"):
            return -self._unary()
        self._take("+")
        kind, number = self.tokens[self.at]
        self.at += 1
        if kind == "n":
            return number
        if kind not in ("(", "calc", "min", "max", "clamp"):
            raise ValueError(kind)
        arguments = [self._sum()]
        while self._take(","):
            arguments.append(self._sum())
        if not self._take(")"):
            raise ValueError("unclosed")
        if kind in ("(", "calc"):
            if len(arguments) != 1:
                raise ValueError(kind)
            return arguments[0]
        if kind == "clamp":
            low, preferred, high = arguments  # a ValueError when there are not three
            return max(low, min(preferred, high))
        return min(arguments) if kind == "min" else max(arguments)


def _measure(value: str, percent: float) -> float | None:
    """``value`` (whitespace-collapsed) in pixels, calc() and the like evaluated; None if unknown."""
    return _Math(value, percent).value()


def _parts(value: str) -> list[str]:
    """The space-separated parts of a (whitespace-collapsed) value, parentheses kept whole."""
    parts: list[str] = []
    depth = start = 0
    for at, char in enumerate(value):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == " " and not depth:
            parts.append(value[start:at])
            start = at + 1
    parts.append(value[start:])
    return [part for part in parts if part]


def _offscreen(value: str) -> bool:
    """Whether an offset moves text out of sight: -999px or less (-63em, -100%, -100vw), or 2000px
    or more (100vw or more) the other way."""
    pixels = _measure(value, 1000)
    if pixels is None:
        return False
    return pixels <= -999 or pixels >= 2000 or (pixels >= 1000 and _VIEWPORT_LENGTH.search(value) is not None)


def _tiny(value: str) -> bool:
    """Whether a font size is too small to read: under 6px (under 0.4em, 40%)."""
    pixels = _measure(value, 16)
    if pixels is None:
        return False
    return pixels < 6 or (pixels < 6.4 and _RELATIVE_FONT.search(value) is not None)


def _faint(value: str, limit: float = 0.1) -> bool:
    """Whether an opacity, alpha or scale value leaves text all but invisible: under ``limit``."""
    number = _measure(value, 1)
    return number is not None and number < limit


def _dim(value: str, limit: float = 0.2) -> bool:
    """Whether an opacity or alpha value is ``limit`` (20%) or less."""
    number = _measure(value, 1)
    return number is not None and number <= limit + 1e-9


def _transparent(color: str) -> bool:
    """Whether a (squeezed) CSS colour is all but transparent: the keyword, alpha 0.2 or less
    (#rgba, #rrggbbaa, rgba(), hsla(), … / alpha), or mostly transparent in a color-mix()."""
    if color == "transparent" or _TRANSPARENT_HEX.fullmatch(color):
        return True
    if len(color) in (5, 9) and color[0] == "#" and all(char in string.hexdigits for char in color[1:]):
        alpha = int(color[-1], 16) / 15 if len(color) == 5 else int(color[-2:], 16) / 255
        return alpha <= 0.2 + 1e-9
    if color.startswith("color-mix(") and "transparent" in color:
        after = color.partition("transparent")[2]
        share = _PERCENTAGE.match(after)
        if share:  # transparent 85%
            return float(share[1]) >= 80
        shares = _PERCENTAGE.findall(color)
        return bool(shares) and float(shares[0]) <= 20  # red 10%, transparent
    function = _COLOR_FUNCTION.fullmatch(color)
    if function is None:
        return False
    inner = function[1]
    if "/" in inner:
        return _dim(inner.rpartition("/")[2])
    parts = inner.split(",")
    return len(parts) == 4 and _dim(parts[3])


def _without_vars(value: str) -> str:
    """``value`` with each var(--name, fallback) replaced by its fallback (nothing without one), as
    a browser computes it when the custom property is not set; nested ones up to _VAR_PASSES deep."""
    for _ in range(_VAR_PASSES):
        at = value.find("var(")
        if at < 0:
            break
        parts: list[str] = []
        pos = 0
        while at >= 0:
            depth, comma, end = 0, -1, len(value)
            for index in range(at + 4, len(value)):
                char = value[index]
                if char == "(":
                    depth += 1
                elif char == ")":
                    if not depth:
                        end = index
                        break
                    depth -= 1
                elif char == "," and not depth and comma < 0:
                    comma = index
            parts.append(value[pos:at])
            parts.append(value[comma + 1 : end].strip(" ") if comma >= 0 else "")
            pos = end + 1
            at = value.find("var(", pos)
        parts.append(value[pos:])
        value = "".join(parts)
    return value


def _empty_polygon(value: str) -> bool:
    """Whether clip-path: polygon(…) encloses no area (every point alike, or all in one line)."""
    if not value.startswith("polygon("):
        return False
    points: list[tuple[float, float]] = []
    for point in value[len("polygon(") :].partition(")")[0].split(","):
        coordinates = [_measure(part, 1000) for part in point.split(" ") if part]
        if len(coordinates) == 1 and coordinates[0] is None:  # a fill rule
            continue
        if len(coordinates) != 2 or coordinates[0] is None or coordinates[1] is None:
            return False
        points.append((coordinates[0], coordinates[1]))
    area = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True))
    return abs(area) / 2 < 1


def _clips_all(value: str) -> bool:
    """Whether a clip-path leaves nothing to see: an empty shape, an empty polygon or rect, a path
    that draws no line, or a reference to an SVG clipPath (which cannot be judged here)."""
    squeezed = value.replace(", ", ",")
    if _empty_shape(value) or _empty_polygon(squeezed) or _empty_rect(value):
        return True
    if value.startswith("path("):
        return not any(char in "lhvcsqtaz" for char in value[len("path(") :].partition(")")[0])
    if value.startswith("xywh("):
        size = [_measure(part, 1000) for part in (_arguments(value, "xywh") or [])[2:4]]
        return any(number is not None and number <= 1 for number in size)
    return value.startswith("url(")


def _arguments(value: str, function: str) -> list[str] | None:
    """The arguments of ``function(…)`` at the start of a (whitespace-collapsed) CSS value."""
    if not value.startswith(function + "("):
        return None
    inner = value[len(function) + 1 :].partition(")")[0]
    return [part for part in _CSS_LIST.split(inner) if part]


def _empty_rect(value: str) -> bool:
    """Whether ``clip: rect(top, right, bottom, left)`` leaves nothing to see (rect(0 0 0 0))."""
    edges = _arguments(value, "rect")
    if edges is None:
        return False
    lengths = [_length(edge) for edge in edges]
    if len(lengths) != 4:
        return value.replace(" ", "").startswith("rect(0")
    top, right, bottom, left = lengths
    return bool((top and bottom and bottom[0] - top[0] <= 1) or (left and right and right[0] - left[0] <= 1))


def _empty_shape(value: str) -> bool:
    """Whether a clip-path leaves nothing to see: inset(50%), circle(0), ellipse(0 0)."""
    for shape in ("circle", "ellipse"):
        radii = _arguments(value, shape)
        if radii:
            radius = _length(radii[0])
            return radius is not None and radius[0] <= 0
    inset = _arguments(value, "inset")
    if not inset:
        return False
    if "round" in inset:
        inset = inset[: inset.index("round")]
    lengths = [_length(part) for part in inset[:4]]
    sides = [length for length in lengths if length is not None]
    if not sides or len(sides) != len(lengths):
        return value.replace(" ", "").startswith(("inset(50%", "inset(100%"))
    top = sides[0]
    right = sides[1] if len(sides) > 1 else top
    bottom = sides[2] if len(sides) > 2 else top
    left = sides[3] if len(sides) > 3 else right
    return _cut_away(top, bottom) or _cut_away(left, right)


def _cut_away(one: tuple[float, str], other: tuple[float, str]) -> bool:
    """Whether two opposite insets meet: together 100% or more, or one of 999 units."""
    percent = sum(number for number, unit in (one, other) if unit == "%")
    return percent >= 100 or any(number >= 999 for number, unit in (one, other) if unit != "%")


class _Block(NamedTuple):
    """What a declaration block says beside a declaration, which some declarations depend on."""

    positioned: bool  # position other than static, or none given (a class may set it)
    overflow_cut: bool  # overflow: hidden or clip
    text_clip: bool  # background-clip: text (transparent text is gradient text then)


_NO_BLOCK = _Block(positioned=True, overflow_cut=False, text_clip=False)


def _block(declarations: list[tuple[str, str]]) -> _Block:
    positions = [_squeeze(value) for name, value in declarations if name == "position"]
    return _Block(
        positioned=not positions or any(position != "static" for position in positions),
        overflow_cut=any(name in _OVERFLOW and _squeeze(value) in ("hidden", "clip") for name, value in declarations),
        text_clip=any(
            name in ("background-clip", "-webkit-background-clip") and "text" in value for name, value in declarations
        ),
    )


def _transform_functions(value: str) -> Iterator[tuple[str, str, list[str]]]:
    """Each translate…(), scale…() and matrix…() of a transform, its suffix ("x", "3d", …) and its
    comma-separated arguments."""
    pos = 0
    while function := _TRANSFORM.search(value, pos):
        depth = 0
        arguments: list[str] = []
        start = pos = function.end()
        for pos in range(start, min(len(value), start + _TRANSFORM_REACH)):
            char = value[pos]
            if char == "(":
                depth += 1
            elif char == ")" and depth:
                depth -= 1
            elif char in ",)" and not depth:
                arguments.append(value[start:pos].strip(" "))
                start = pos + 1
                if char == ")":
                    break
        yield function[1], function[2] or "", arguments
        pos += 1


def _transform_hides(value: str) -> bool:
    """Whether a transform moves text far away or shrinks it below a tenth on either axis."""
    for function, suffix, arguments in _transform_functions(value):
        if function == "translate" and any(_offscreen(argument) for argument in arguments):
            return True
        if function == "scale" and any(_faint(argument) for argument in arguments):
            return True
        if function == "matrix":
            numbers = [_measure(argument, 1000) for argument in arguments]
            if suffix == "" and len(numbers) == 6:
                x_axis, y_axis, moves = numbers[0:2], numbers[2:4], arguments[4:6]
            elif suffix == "3d" and len(numbers) == 16:
                x_axis, y_axis, moves = numbers[0:3], numbers[4:7], arguments[12:14]
            else:
                continue
            if any(_offscreen(move) for move in moves):
                return True
            for axis in (x_axis, y_axis):
                known = [number for number in axis if number is not None]
                if len(known) == len(axis) and sum(number * number for number in known) < 0.01:
                    return True
    return False


def _hides(name: str, value: str, block: _Block) -> bool:
    """Whether the declaration ``name: value`` of ``block`` hides its element's text from a reader."""
    squeezed = _squeeze(value)
    parts = _parts(value)
    if name == "display":
        return squeezed == "none"
    if name in ("visibility", "content-visibility"):
        return squeezed in ("hidden", "collapse")
    if name == "font-size":
        return _tiny(value)
    if name == "font":  # font: 0/0 a
        return any(_tiny(part.partition("/")[0]) for part in parts)
    if name == "opacity":
        return _dim(value)
    if name == "zoom":
        return _faint(value)
    if name in ("filter", "-webkit-filter"):
        for part in parts:
            function = _squeeze(part)
            if any(_dim(argument, 0.1) for argument in _arguments(function, "opacity") or ()):
                return True
            if any((_measure(argument, 16) or 0) >= 5 for argument in _arguments(function, "blur") or ()):
                return True
        return False
    if name in _MASKS:
        return squeezed not in _CSS_WIDE
    if name == "color":
        return _transparent(squeezed)
    if name == "-webkit-text-fill-color":  # transparent text with background-clip: text is gradient text
        return _transparent(squeezed) and not block.text_clip
    if name == "clip":
        return _empty_rect(value)
    if name == "clip-path":
        return _clips_all(value)
    if name == "text-indent":
        return bool(parts) and _offscreen(parts[0])
    if name in _MARGINS:
        return any(_offscreen(part) for part in parts)
    if name in _OFFSET_PROPERTIES:  # left: -9999px moves nothing in static position
        return block.positioned and any(_offscreen(part) for part in parts)
    if name in _SIZES:  # width: 0; overflow: hidden
        size = _measure(value, 1000)
        return block.overflow_cut and size is not None and size <= 2
    if name == "translate":
        return any(_offscreen(part) for part in parts)
    if name == "scale":
        return any(_faint(part) for part in parts)
    if name == "transform":
        return _transform_hides(value)
    return False


def _judge_block(declarations: list[tuple[str, str]], kinds: set[str]) -> None:
    """Add to ``kinds`` what one CSS declaration block does to text: hide it, override its direction,
    write it. Values come whitespace-collapsed and lowercase, without !important; every declaration
    counts, not only the last of its property (the one that wins may be !important)."""
    block = _block(declarations)
    for name, value in declarations:
        if name in _GENERATING:
            written = _EMPTY_STRING.sub("", value)
            if "'" in written or '"' in written or "attr(" in written:
                kinds.add("generated_text")
        if name == "unicode-bidi" and _squeeze(value).endswith("override"):  # bidi-, isolate-override
            kinds.add("direction_override")
        if _hides(name, value, block):
            kinds.add("hidden")


def _css_concealment(css: str) -> set[str]:
    """What CSS (a style attribute, or a style sheet) does to text: the kinds of :func:`concealment`."""
    text = _css_text(css)
    kinds: set[str] = set()
    squeezed = _squeeze(text)
    if any(selector in squeezed for selector in _GENERATING_SELECTORS):
        kinds.add("generated_text")
    for block in _CSS_BLOCK.split(text):
        if ":" not in block:
            continue
        declarations: list[tuple[str, str]] = []
        for declaration in block.split(";"):
            name, colon, value = declaration.partition(":")
            if colon:
                value = _IMPORTANT.sub("", _SPACE_RUN.sub(" ", value).strip(_SPACE)).strip(_SPACE)
                if "var(" in value:
                    value = _without_vars(value).strip(" ")
                declarations.append((_squeeze(name), value))
        _judge_block(declarations, kinds)
    return kinds


def _foreign_depth(markup: str, tag: _Tag, depth: int) -> int:
    """How many svg and math elements are open after ``tag``, roughly as the tree builder counts them.

    Roughly: a breakout tag (p, div, b, …) leaves them all, and HTML inside an integration point
    (foreignObject) is not told apart. Both errors count too few, so that CDATA which is text may be
    reported as hidden, which errs on the side of the reader.
    """
    if not tag.closed:
        return depth
    if tag.name in ("svg", "math"):
        if tag.is_end:
            return max(0, depth - 1)
        return depth if markup[tag.end - 2] == "/" else depth + 1
    font = tag.name == "font" and any(a.name in ("color", "face", "size") for a in tag.attributes)
    if not tag.is_end and (tag.name in _BREAKOUT or font):
        return 0
    if tag.is_end and tag.name in ("p", "br"):
        return 0
    return depth


def _judge_concealment(markup: str, tag: _Tag, found: set[tuple[str, int, int]]) -> None:
    """Add to ``found`` what the start tag ``tag`` does to the text a reader sees."""
    if tag.name == "bdo":
        found.add(("direction_override", tag.start, tag.end))
    if tag.name == "template" and _is_shadow_root(markup, tag):  # the host shows it instead of its children
        found.add(("hidden", tag.start, tag.end))
    if tag.name in _HIDDEN_ELEMENTS or (tag.name == "dialog" and all(a.name != "open" for a in tag.attributes)):
        found.add(("hidden", tag.start, tag.end))
    for attribute in tag.attributes:
        name = attribute.name
        if name in ("hidden", "popover"):  # a popover shows only when a script or button opens it
            found.add(("hidden", attribute.start, attribute.end))
        elif name == "class":
            if not _HIDING_CLASSES.isdisjoint(_value(markup, attribute).translate(_LOWER).split()):
                found.add(("hidden", attribute.start, attribute.end))
        elif tag.name == "svg" and name in ("width", "height"):
            size = _measure(_squeeze(_value(markup, attribute)), 1000)
            if size is not None and size < 1:
                found.add(("hidden", attribute.start, attribute.end))
        elif name == "style":
            for kind in _css_concealment(_value(markup, attribute)):
                found.add((kind, attribute.start, attribute.end))
        elif name in _PRESENTATION or (tag.name in _SVG_TEXT and name in ("fill", "fill-opacity")):
            value = _squeeze(_css_text(_value(markup, attribute)))
            if name == "fill":
                hides = value in ("none", "transparent") or _transparent(value)
            elif name == "fill-opacity":
                hides = _faint(value)
            else:
                hides = _hides(name, value, _NO_BLOCK)
            if hides:
                found.add(("hidden", attribute.start, attribute.end))


def concealment(markup: str) -> list[ActiveContent]:
    """Markup that hides text from a reader or changes what the reader reads, in markup order.

    The gate judges the text :func:`render` returns, which includes text a browser hides
    (``gra<span style="display:none">x</span>tis`` reads "gratis" to a reader, "graxtis" to the
    gate) and lacks text CSS writes (``content: "gratis"``) or reorders (an RLO character shows
    "sitarg" as "gratis"). Kinds: "hidden" (the hidden and popover attributes; display: none,
    visibility: hidden, font-size under 6px, opacity 0.2 or less, zoom or a scale or matrix under
    0.1, blur of 5px or more, colour alpha 0.2 or less, a clip or clip-path that leaves nothing (or
    refers to an SVG clipPath), any mask, a box of 2px or less with overflow cut, an indent, offset
    or translation 999px back or 2000px (100vw) on; var() read as its fallback; the classes
    screen-reader-text, sr-only, visually-hidden, hidden and their kin; an svg of width or height
    0; a declarative shadow root; datalist, rp, noscript and a closed dialog; text in SVG defs,
    symbol, mask, clipPath, pattern or marker, drawn only where referenced and left out of
    :func:`render`; CDATA outside SVG and MathML, which a browser shows as nothing),
    "direction_override" (<bdo>, unicode-bidi: bidi-override or isolate-override, the characters
    U+202A–U+202E and U+2066–U+2069 as written or as references) and "generated_text" (content,
    quotes, list-style strings, ::before and ::after, @counter-style). CSS is read as a browser
    reads it: comments, escapes, case and whitespace notwithstanding. aria-hidden hides nothing
    from sight and is not reported.
    """
    found: set[tuple[str, int, int]] = set()
    tokens = list(_tokens(markup, 0, len(markup)))
    foreign = 0
    undrawn = _Undrawn()
    referenced: _Tag | None = None  # the outermost open defs, symbol, mask, … (render() drops its text)
    for index, token in enumerate(tokens):
        if isinstance(token, _Tag):
            if not token.is_end:
                _judge_concealment(markup, token, found)
            foreign = _foreign_depth(markup, token, foreign)
            undrawn.tag(markup, token)
            if not undrawn.in_foreign.stack:
                referenced = None
            elif referenced is None and token.name in _SVG_REFERENCED and not token.is_end:
                referenced = token
        elif isinstance(token, _CData):
            if not foreign:
                found.add(("hidden", token.start, token.end))
            elif referenced is not None and token.content_start < token.content_end:
                found.add(("hidden", referenced.start, referenced.end))
        elif isinstance(token, _Text) and token.element == "style":
            for kind in _css_concealment(markup[token.start : token.end]):
                found.add((kind, tokens[index - 1].start, _element_end(tokens, index - 1)))
        elif (
            isinstance(token, _Text)
            and referenced is not None
            and token.element is None
            and _NOT_SPACE.search(markup, token.start, token.end)  # text drawn only where it is used
        ):
            found.add(("hidden", referenced.start, referenced.end))
    for match in _BIDI_CONTROL.finditer(markup):
        found.add(("direction_override", match.start(), match.end()))
    return [
        ActiveContent(kind, start, end, markup[start:end][:80])
        for kind, start, end in sorted(found, key=lambda item: (item[1], item[2], item[0]))
    ]


# --- text beside the body -------------------------------------------------------------------------


def _script_type(markup: str, tag: _Tag) -> str:
    types = [_value(markup, a) for a in tag.attributes if a.name == "type"]
    return types[0].strip(_SPACE).translate(_LOWER) if types else ""


def structured_data(markup: str) -> list[Segment]:
    """The strings of every JSON-LD block, one Segment ("json-ld") each, in markup order.

    Search engines show schema.org data (a product's description, an offer, a review) in their
    results, so the gate judges it as text a reader meets. A block counts when its body parses as
    JSON; its string values (not keys, nor values that are wholly a URL or a JSON-LD keyword, nor
    the values of "@context", "@id", "@vocab" and "@base") are joined by newlines, and every
    character maps to the opening quote of its string in the markup (a newline to the next one's).
    """
    segments: list[Segment] = []
    tokens = list(_tokens(markup, 0, len(markup)))
    for index, token in enumerate(tokens[:-1]):
        content = tokens[index + 1]
        if not (
            isinstance(token, _Tag)
            and token.name == "script"
            and not token.is_end
            and isinstance(content, _Text)
            and content.element == "script"
            and _script_type(markup, token) == "application/ld+json"
        ):
            continue
        try:
            json.loads(markup[content.start : content.end])
        except (ValueError, RecursionError):
            continue
        parts: list[str] = []
        origin: list[int] = []
        key = ""
        for literal in _JSON_STRING.finditer(markup, content.start, content.end):
            text = json.loads(literal[0])
            if _JSON_KEY_END.match(markup, literal.end(), content.end):
                key = text
                continue
            before = literal.start() - 1
            while before > content.start and markup[before] in _JSON_SPACE:  # each run is walked once
                before -= 1
            if key in _JSON_KEYWORD_KEYS and markup[before] == ":":
                continue  # "@type": "Product", "@id": "#org"
            if not text.strip() or _JSON_NOT_TEXT.fullmatch(text):
                continue
            if parts:
                parts.append("\n")
                origin.append(literal.start())
            parts.append(text)
            origin.extend([literal.start()] * len(text))
        segments.append(Segment("json-ld", "".join(parts), tuple(origin)))
    return segments


def contact_links(markup: str) -> list[Segment]:
    """The address of every mail, phone, SMS or messenger link, one Segment ("href") each: the
    schemes of _CONTACT_SCHEMES, and web links that open a chat (wa.me, t.me, signal.me, m.me, …).

    A reader who follows ``<a href="tel:…">Hotline</a>`` meets a number the body never shows, and
    the gate judges contact details (whose number, whose address) like any other text. The value
    is decoded as a browser decodes it, without the whitespace around it, and then percent-decoded
    (``tel:%2B49%20176…`` is the number a phone dials); each character maps into the markup like an
    attribute's text, a percent-decoded one to the "%" its run of escapes starts with.
    """
    segments: list[Segment] = []
    for token in _tokens(markup, 0, len(markup)):
        if not isinstance(token, _Tag) or token.is_end or token.name not in ("a", "area"):
            continue
        for attribute in token.attributes:
            if attribute.name not in ("href", "xlink:href"):
                continue
            text, origin = _decode(markup, attribute.value_start, attribute.value_end, attribute=True)
            text, kept = _without_nul(text, origin)
            lo = len(text) - len(text.lstrip(_URL_SPACE))
            hi = max(lo, len(text.rstrip(_URL_SPACE)))
            address = _squeeze(text[lo:hi])
            web = _WEB_SCHEME.match(address)
            if address.startswith(_CONTACT_SCHEMES) or (web and address.startswith(_CONTACT_HOSTS, web.end())):
                segments.append(Segment("href", *_percent_decoded(text[lo:hi], kept[lo:hi])))
    return segments


def _percent_decoded(text: str, origin: Sequence[int]) -> tuple[str, tuple[int, ...]]:
    """``text`` with its %XX escapes decoded as UTF-8 (as urllib.parse.unquote does), each decoded
    character mapped to the origin of the "%" its run starts with."""
    decoded, kept = _substituted(
        text, origin, _PERCENT_RUN, lambda run: bytes.fromhex(run.replace("%", "")).decode("utf-8", "replace")
    )
    return decoded, tuple(kept)
