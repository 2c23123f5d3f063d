"""WordPress HTML as a reader sees it, and the markup in it that runs code.

The compliance gate judges words, and markup hides words from a literal reading:
``gra<span>tis</span>``, ``Schn&auml;pp&shy;chen`` and ``be<!-- x -->ste`` each show a reader one
word, a claim may stand in an ``alt`` text only, and ``<img onerror=…>`` runs code without a
``<script>`` in sight. :func:`render` therefore tokenizes markup the way an HTML5 browser does (tags,
comments, raw-text elements, character references) and keeps, for every character it returns, the
index in the markup it came from, so that a finding can quote the original. :func:`active_content`
reports what would run code, navigate by itself or submit data.

Standard library only. Malformed markup is read as a browser reads it: nothing here raises.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html.entities import html5 as _HTML5
from typing import NamedTuple, TypeAlias

__all__ = ["ActiveContent", "Segment", "active_content", "render"]


@dataclass(frozen=True)
class Segment:
    """Text a reader sees, and where each of its characters stands in the markup.

    ``origin[i]`` is the markup index of the character that produced ``text[i]``: the character
    itself, the ``&`` of a character reference, or the ``<`` of the tag a separating space stands for.
    """

    source: str  # "body", or the attribute the text was read from: "alt", "title", "aria-label"
    text: str
    origin: tuple[int, ...]


@dataclass(frozen=True)
class ActiveContent:
    """Markup that runs code, navigates by itself or submits data."""

    # script | iframe | object | embed | form | event_handler | javascript_url | meta_refresh | base
    # | style_expression
    kind: str
    start: int  # markup[start:end] is the element or the attribute
    end: int
    text: str  # markup[start:end], cut to 80 characters


# Elements that break a line: a tag of theirs separates words. Any other tag, inline (span, b, a, …)
# or unknown and custom ("gra<foo>tis</foo>", shown inline by browsers too), leaves a word whole.
_BREAKING = frozenset(
    {"address", "article", "aside", "blockquote", "body", "br", "caption", "center", "col", "colgroup", "dd"}
    | {"details", "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hgroup", "hr", "html", "li", "legend", "listing"}
    | {"main", "menu", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th"}
    | {"thead", "tr", "ul", "xmp", "plaintext", "img", "picture", "video", "audio", "source", "track", "canvas"}
    | {"svg", "math", "iframe", "frame", "frameset", "object", "embed", "applet", "input", "button", "select"}
    | {"option", "optgroup", "textarea", "meter", "progress", "output", "area", "map", "noscript", "script"}
    | {"style", "template", "title", "meta", "link", "base", "marquee", "portal", "fencedframe", "noembed"}
    | {"noframes", "slot", "search"}
)
_ATTRIBUTE_TEXT = frozenset({"alt", "title", "aria-label"})

# Elements whose content the tokenizer does not read as markup, up to their own end tag.
_RAW_TEXT = frozenset({"script", "style", "xmp", "iframe", "noembed", "noframes", "textarea", "title", "plaintext"})
_RAW_HIDDEN = frozenset({"script", "style", "iframe", "noembed", "noframes"})  # content is never shown
# RCDATA: character references count, tags do not. A <title> in the body is hidden by the browser's
# style sheet, but a theme may show it: its text is judged.
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
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]+")
_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|\Z)", re.DOTALL)
_CSS_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[\t\n\f\r ]?|(.))", re.DOTALL)


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


_Token: TypeAlias = _Tag | _Text | _Comment


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
        if not markup.startswith("--", at + 2, hi):  # <!DOCTYPE …>, <![CDATA[…]]> and the like
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
            decoded = html.unescape(match[0])
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


class _Body:
    """The body text being built: one space where a block tag separates two words, none elsewhere."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.origin: list[int] = []
        self.last = ""
        self.space_at: int | None = None  # the "<" of the first block tag since the last character

    def block_tag(self, at: int) -> None:
        if self.space_at is None:
            self.space_at = at

    def add(self, text: str, origin: Sequence[int]) -> None:
        if not text:
            return
        if self.space_at is not None and self.last and not self.last.isspace() and not text[0].isspace():
            self.parts.append(" ")
            self.origin.append(self.space_at)
        self.space_at = None
        self.parts.append(text)
        self.origin.extend(origin)
        self.last = text[-1]

    def segment(self) -> Segment:
        return Segment("body", "".join(self.parts), tuple(self.origin))


def render(markup: str) -> list[Segment]:
    """The text of ``markup`` as a reader sees it: the body first, then every alt, title and aria-label.

    A tag of an inline element (span, b, a, …, or an unknown one) inside a word leaves the word
    whole; a tag of a block element (p, div, br, li, img, …) separates words by one space. Comments,
    script, style and template content are not text, and character references are decoded.
    Attribute texts follow in document order, one Segment each.
    """
    body = _Body()
    attributes: list[Segment] = []
    template_depth = 0  # template content is inert until a script clones it
    for token in _tokens(markup, 0, len(markup)):
        if isinstance(token, _Text):
            if template_depth or token.element in _RAW_HIDDEN:
                continue
            if token.element is None or token.element in _RAW_DECODED:
                body.add(*_decode(markup, token.start, token.end, attribute=False))
            else:  # xmp, plaintext: shown as written
                body.add(markup[token.start : token.end], range(token.start, token.end))
        elif isinstance(token, _Tag) and token.closed:
            if token.name == "template":
                template_depth = max(0, template_depth + (-1 if token.is_end else 1))
            if token.name in _BREAKING:
                body.block_tag(token.start)
            if token.is_end or template_depth:
                continue
            for attribute in token.attributes:
                if attribute.name in _ATTRIBUTE_TEXT:
                    text, origin = _decode(markup, attribute.value_start, attribute.value_end, attribute=True)
                    attributes.append(Segment(attribute.name, text, tuple(origin)))
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


def _css_runs_code(css: str) -> bool:
    """Whether CSS holds an IE expression() or a script URL, comments and escapes notwithstanding."""
    css = _CSS_ESCAPE.sub(_css_unescape, _CSS_COMMENT.sub("", css))
    squeezed = _squeeze(css)
    return any(marker in squeezed for marker in _CSS_CODE)


def _element_end(tokens: Sequence[_Token], index: int) -> int:
    """Where the raw-text element whose start tag is ``tokens[index]`` ends: after its end tag, if any."""
    end = tokens[index].end
    if index + 1 < len(tokens) and isinstance(content := tokens[index + 1], _Text) and content.element:
        end = content.end
        if index + 2 < len(tokens) and isinstance(close := tokens[index + 2], _Tag) and close.is_end:
            end = close.end
    return end


def _value(markup: str, attribute: _Attribute) -> str:
    return html.unescape(markup[attribute.value_start : attribute.value_end])


def _judge_tag(markup: str, tag: _Tag, element_end: int, found: set[tuple[str, int, int]]) -> None:
    """Add what the start tag ``tag`` runs to ``found``; a script reports its element, up to ``element_end``."""
    kind = _ELEMENT_KIND.get(tag.name)
    if kind is not None:
        found.add((kind, tag.start, element_end if tag.name == "script" else tag.end))
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
        elif name == "style" and _css_runs_code(value):
            found.add(("style_expression", attribute.start, attribute.end))
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
        elif isinstance(token, _Comment):
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
    """Everything in ``markup`` that runs code, navigates by itself or submits data, in markup order.

    Script-bearing elements, form controls, on* handlers, script URLs (``jav&#x61;script:``, tabs and
    case included), meta refresh, base, and CSS expressions. A tag cut off by the end of the markup
    still counts: what follows it on the page may complete it.
    """
    found: set[tuple[str, int, int]] = set()
    _scan(markup, 0, len(markup), 0, found)
    return [
        ActiveContent(kind, start, end, markup[start:end][:80])
        for kind, start, end in sorted(found, key=lambda item: (item[1], item[2], item[0]))
    ]
