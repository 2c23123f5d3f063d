"""Plain-text tables for terminal output (no heavy dependency on the CLI's start-up path)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence

MAX_WIDTH = 120  # never wider, whatever the terminal says
MIN_WIDTH = 40
ELLIPSIS = "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, align_right: Sequence[int] = ()) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        parts = [
            c.rjust(w) if i in align_right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def terminal_width() -> int:
    """The terminal's width (``COLUMNS`` when set), at most :data:`MAX_WIDTH`; 120 without a terminal."""
    columns = shutil.get_terminal_size((MAX_WIDTH, 24)).columns
    return max(MIN_WIDTH, min(MAX_WIDTH, columns or MAX_WIDTH))


def one_line(text: object) -> str:
    """Any text as one line: runs of whitespace (newlines too) become one space."""
    return " ".join(str(text).split())


def clip(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters: as it is when it fits, else a prefix of it cut at a
    word boundary (when one is near the end) and marked with "…"."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    if width == 1:
        return ELLIPSIS
    head = text[: width - 1]
    space = head.rfind(" ")
    if space >= (width - 1) * 2 // 3:
        head = head[:space]
    head = head.rstrip(" ,;:")
    return head + ELLIPSIS


def fit_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    width: int,
    flexible: Sequence[int] = (),
    align_right: Sequence[int] = (),
    minimum: int = 12,
) -> list[str]:
    """A plain-text table whose every line is at most ``width`` characters: the ``flexible`` columns
    (the widest first; the earlier a column is listed, the more room it keeps) give up room, their
    cells cut with "…"; then, on a very narrow terminal, the others too."""
    cells = [[one_line(h) for h in headers]] + [["" if c is None else one_line(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    gap = 2

    weight = {column: 1.0 + 0.3 * rank for rank, column in enumerate(flexible)}  # the first keeps the most

    def total() -> int:
        return sum(widths) + gap * (len(widths) - 1)

    for columns, floor in ((list(flexible), minimum), (list(range(len(headers))), 1)):
        while total() > width:
            candidates = [i for i in columns if widths[i] > max(floor, len(cells[0][i]) if floor > 1 else 1)]
            if not candidates:
                break
            widest = max(candidates, key=lambda i: widths[i] * weight.get(i, 1.0))
            widths[widest] -= 1
    lines = []
    for index, row in enumerate(cells):
        parts = []
        for i, (cell, w) in enumerate(zip(row, widths, strict=True)):
            shown = clip(cell, w)
            parts.append(shown.rjust(w) if i in align_right else shown.ljust(w))
        lines.append(clip((" " * gap).join(parts).rstrip(), width))
        if index == 0:
            lines.append(clip((" " * gap).join("-" * w for w in widths), width))
    return lines


def wrap_table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, width: int, room: int = 30) -> list[str]:
    """A table whose last column (a reason, a sentence) wraps onto as many lines as it needs, its
    continuation lines indented under it, so no line exceeds ``width`` and no sentence is cut. When
    the other columns leave less than ``room`` characters, they are cut instead (:func:`fit_table`)."""
    import textwrap

    cells = [[one_line(h) for h in headers]] + [["" if c is None else one_line(c) for c in row] for row in rows]
    fixed = [max(len(r[i]) for r in cells) for i in range(len(headers) - 1)]
    indent = sum(fixed) + 2 * len(fixed)
    if width - indent < room:
        return fit_table(headers, rows, width=width, flexible=(len(headers) - 1,))
    lines = []
    for index, row in enumerate(cells):
        head = "  ".join(cell.ljust(w) for cell, w in zip(row, fixed, strict=False))
        body = textwrap.wrap(row[-1], width - indent, break_long_words=True, break_on_hyphens=False) or [""]
        lines.append(f"{head}  {body[0]}".rstrip())
        lines += [" " * indent + more for more in body[1:]]
        if index == 0:
            lines.append("  ".join("-" * w for w in [*fixed, min(width - indent, max(len(r[-1]) for r in cells))]))
    return lines
