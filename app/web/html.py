"""Building HTML safely without a template engine: every text is escaped unless it is :class:`Markup`.

``tag("a", "Tom & Lena", href="/x?a=1&b=2")`` → ``<a href="/x?a=1&amp;b=2">Tom &amp; Lena</a>``. Only
what these functions build is Markup; text from a request, the audit log or a platform is always
escaped on its way into a page.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

_VOID = frozenset({"input", "br", "meta", "link", "hr", "img"})


class Markup(str):
    """HTML that is safe as it is (built here)."""


def esc(value: Any) -> Markup:
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[Any]) -> Markup:
    return Markup("".join(esc(p) for p in parts))


def tag(element: str, /, *children: Any, **attrs: Any) -> Markup:
    """An element: attributes by keyword (``class_`` → ``class``, ``aria_label`` → ``aria-label``;
    True → a bare attribute, False or None → left out), children escaped unless Markup."""
    parts = [element]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        attr = key.rstrip("_").replace("_", "-")
        parts.append(attr if value is True else f'{attr}="{esc(value)}"')
    opening = f"<{' '.join(parts)}>"
    if element in _VOID:
        return Markup(opening)
    return Markup(f"{opening}{join(_flat(children))}</{element}>")


def _flat(children: Iterable[Any]) -> Iterable[Any]:
    for child in children:
        if isinstance(child, list | tuple):
            yield from _flat(child)
        elif child is not None:
            yield child


def table(headers: list[Any], rows: Iterable[list[Any]], *, caption: str | None = None) -> Markup:
    """A table that scrolls sideways on a narrow screen instead of breaking the page."""
    head = tag("thead", tag("tr", [tag("th", h, scope="col") for h in headers]))
    body = tag("tbody", [tag("tr", [tag("td", cell) for cell in row]) for row in rows])
    return tag("div", tag("table", tag("caption", caption) if caption else None, head, body), class_="scroll")


def hidden(name: str, value: str) -> Markup:
    return tag("input", type="hidden", name=name, value=value)
