"""Line charts as SVG, drawn on the server (no script, no other site): one series over days, with
marks on the days adpilot changed something. Every chart also carries its numbers as a table for a
screen reader (and anyone who wants the exact values)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from adpilot.app.web.html import Markup, tag

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 180, 8, 20, 12


@dataclass(frozen=True)
class Series:
    title: str
    days: Sequence[str]  # ISO dates, oldest first
    values: Sequence[float]  # one per day
    shown: Callable[[float], str]  # a value as a person reads it (money in its currency)


def line_chart(series: Series, marks: dict[str, list[str]], *, table_label: str) -> Markup:
    """``marks``: ISO date → what adpilot changed that day (each a line of the mark's tooltip)."""
    days, values = list(series.days), list(series.values)
    if not days:
        return Markup("")
    top = max(max(values), 0.0) or 1.0
    span_x = WIDTH - PAD_LEFT * 2
    span_y = HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(i: int) -> float:
        return PAD_LEFT + (span_x * i / (len(days) - 1) if len(days) > 1 else span_x / 2)

    def y(value: float) -> float:
        return PAD_TOP + span_y * (1 - max(value, 0.0) / top)

    points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    parts: list[Markup] = [
        tag("title", series.title),
        tag("line", x1=PAD_LEFT, y1=HEIGHT - PAD_BOTTOM, x2=WIDTH - PAD_LEFT, y2=HEIGHT - PAD_BOTTOM, class_="axis"),
        tag("text", series.shown(top), x=PAD_LEFT, y=PAD_TOP - 2, class_="label"),
        tag("text", days[0], x=PAD_LEFT, y=HEIGHT - 4, class_="label"),
        tag("text", days[-1], x=WIDTH - PAD_LEFT, y=HEIGHT - 4, class_="label end"),
    ]
    for i, day in enumerate(days):
        if day in marks:
            parts.append(
                tag(
                    "g",
                    tag("title", f"{day}: " + "; ".join(marks[day])),
                    tag("line", x1=f"{x(i):.1f}", y1=PAD_TOP, x2=f"{x(i):.1f}", y2=HEIGHT - PAD_BOTTOM, class_="mark"),
                    class_="change",
                )
            )
    parts.append(tag("polyline", points=points, class_="series"))
    svg = tag(
        "svg",
        parts,
        viewBox=f"0 0 {WIDTH} {HEIGHT}",
        role="img",
        aria_label=series.title,
        class_="chart",
    )
    rows = [
        tag("tr", tag("td", day), tag("td", series.shown(v)), tag("td", "; ".join(marks.get(day, []))))
        for day, v in zip(days, values, strict=True)
    ]
    numbers = tag("details", tag("summary", table_label), tag("div", tag("table", tag("tbody", rows)), class_="scroll"))
    return tag("figure", tag("figcaption", series.title), svg, numbers)
