"""The status page's pictures as inline SVG: credits per day, and the last cycles as a strip.

No script and no external asset: each picture is an `<svg>` element with a `viewBox`, so it
scales to the width of a phone or a desktop, and a `<title>` per bar, which a browser shows
on hover and a screen reader reads. Every text that goes in is escaped here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# Colours of the outcomes (the page's legend uses the same ones).
OUTCOME_COLOURS = {
    "ok": "#1a7f37",
    "partial": "#bf8700",
    "failed": "#cf222e",
    "interrupted": "#8250df",
    "running": "#0969da",
    "skipped": "#8c959f",
}
BAR_COLOUR = "#0969da"
GRID_COLOUR = "#d0d7de"
TEXT_COLOUR = "#57606a"


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: its label under the axis (may be empty), its value and its hover text."""

    label: str
    value: float
    title: str


@dataclass(frozen=True, slots=True)
class Tick:
    """One cycle in the strip: its outcome (the colour), its height (0..1) and its hover text."""

    outcome: str
    height: float
    title: str


def bar_chart(bars: Sequence[Bar], *, label: str, width: int = 720, height: int = 170) -> str:
    """A bar chart with a light grid and the top value on the axis; an empty one says so."""
    top = max((b.value for b in bars), default=0.0)
    left, right, above, below = 40, 8, 12, 26
    plot_w, plot_h = width - left - right, height - above - below
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
    ]
    scale = _nice(top)
    for i in range(5):  # grid lines at 0, 1/4 .. 4/4 of the scale
        y = above + plot_h - plot_h * i / 4
        dashes = "" if i == 0 else ' stroke-dasharray="3 3"'  # the axis solid, the grid dashed
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{GRID_COLOUR}"'
            f' stroke-width="1"{dashes}/>'
        )
        if i in (0, 4):
            parts.append(
                f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="13"'
                f' fill="{TEXT_COLOUR}">{_number(scale * i / 4)}</text>'
            )
    if bars:
        slot = plot_w / len(bars)
        bar_w = max(1.0, slot * 0.7)
        for i, bar in enumerate(bars):
            x = left + i * slot + (slot - bar_w) / 2
            h = 0.0 if scale <= 0 else plot_h * bar.value / scale
            y = above + plot_h - h
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{max(h, 0):.1f}"'
                f' rx="1.5" fill="{BAR_COLOUR}" data-value="{_number(bar.value)}">'
                f"<title>{escape(bar.title)}</title></rect>"
            )
            if bar.label:
                parts.append(
                    f'<text x="{x + bar_w / 2:.1f}" y="{height - 6}" text-anchor="middle" font-size="13"'
                    f' fill="{TEXT_COLOUR}">{escape(bar.label)}</text>'
                )
    if top <= 0:
        parts.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{above + plot_h / 2:.1f}" text-anchor="middle"'
            f' font-size="13" fill="{TEXT_COLOUR}">no credits spent in these days</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def cycle_strip(ticks: Sequence[Tick], *, label: str, width: int = 720, height: int = 56) -> str:
    """The last cycles oldest to newest, one bar each, coloured by outcome, as tall as their duration."""
    parts = [
        f'<svg class="strip" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        f'<line x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}" stroke="{GRID_COLOUR}"/>',
    ]
    if ticks:
        slot = width / max(len(ticks), 20)  # a few cycles are not stretched across the whole width
        bar_w = max(1.0, slot * 0.72)
        for i, tick in enumerate(ticks):
            h = 6 + (height - 8) * min(max(tick.height, 0.0), 1.0)
            colour = OUTCOME_COLOURS.get(tick.outcome, TEXT_COLOUR)
            parts.append(
                f'<rect class="tick" x="{i * slot:.1f}" y="{height - 1 - h:.1f}" width="{bar_w:.1f}"'
                f' height="{h:.1f}" rx="1.5" fill="{colour}" data-outcome="{escape(tick.outcome)}">'
                f"<title>{escape(tick.title)}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _nice(top: float) -> float:
    """The axis' top: `top` rounded up to 1, 2, 2.5 or 5 times a power of ten (0 stays 1)."""
    if top <= 0:
        return 1.0
    power = 1.0
    while power * 10 <= top:
        power *= 10
    while power > top:
        power /= 10
    for step in (1, 2, 2.5, 5, 10):
        if top <= step * power:
            return step * power
    return 10 * power


def _number(value: float) -> str:
    return f"{value:g}" if value < 10_000 else f"{value / 1000:.0f}k"
