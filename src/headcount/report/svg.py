"""Inline SVG charts as strings: the report must open with no script and no network.

They draw the same views as the dashboard (`headcount.services.views`): decisions
per bucket by outcome, seats per bucket by the policy's bands (expired or released
apart), and the headcount on a scale of its own with capacity marked, or noted off
scale when it is far beyond. Colours come from CSS classes in the report's <style>.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from .escaping import escape

OUTCOMES = ("allowed", "shortened", "challenged", "denied")
#: capacity beyond this many times the registrations (or the interval's top) is drawn off scale
FAR = 3


def _num(n: float) -> str:
    return f"{n:,.0f}"


def nice_top(n: float) -> float:
    """1, 2 or 5 times a power of ten, at least n (the dashboard's axis rule)."""
    if n <= 0:
        return 1.0
    p = 10 ** math.floor(math.log10(n))
    return next(m * p for m in (1, 2, 5, 10) if m * p >= n)


def _open(width: int, height: int, label: str, testid: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img"'
            f' aria-label="{escape(label)}" class="chart" data-chart="{testid}">')


def _rect(x: float, y: float, w: float, h: float, cls: str, tip: str) -> str:
    return (f'<rect x="{x:.2f}" y="{y:.2f}" width="{max(w, 0):.2f}" height="{max(h, 0):.2f}" class="{cls}">'
            f"<title>{escape(tip)}</title></rect>")


def _text(x: float, y: float, text: str, anchor: str = "start", cls: str = "label") -> str:
    return f'<text x="{x:.2f}" y="{y:.2f}" text-anchor="{anchor}" class="{cls}">{escape(text)}</text>'


def _clock(iso: str) -> str:
    return f"{iso[11:16]} UTC"


def columns(points: Sequence[dict[str, Any]], parts: Sequence[str], value: Callable[[dict[str, Any], str], int],
            top_value: int, label: str, testid: str, cls: Callable[[str], str], tip: Callable[[str], str]) -> str:
    """Stacked columns per time bucket with a y-axis (the dashboard's `columns`)."""
    width, height, left, bottom = 720, 200, 52, 30
    plot_w, plot_h = width - left - 8, height - bottom - 10
    out = [_open(width, height, label, testid)]
    if not points:
        return out[0] + _text(width / 2, height / 2, "no activity", "middle") + "</svg>"
    top = nice_top(top_value or 1)
    for frac in (0.0, 0.5, 1.0):
        y = 10 + plot_h * (1 - frac)
        out.append(f'<line x1="{left}" x2="{width - 8}" y1="{y:.2f}" y2="{y:.2f}" class="grid"/>')
        out.append(_text(left - 4, y + 4, _num(top * frac), "end"))
    bar_w = plot_w / len(points)
    for i, p in enumerate(points):
        y = 10 + plot_h
        for part in parts:
            n = value(p, part)
            if not n:
                continue
            h = plot_h * n / top
            out.append(_rect(left + i * bar_w + bar_w * 0.1, y - h, max(bar_w * 0.8, 0.8), h, cls(part),
                             f"{_clock(p['t'])}: {n:,} {tip(part)}"))
            y -= h
    out.append(_text(left, height - 8, f"{points[0]['t'][:10]} {_clock(points[0]['t'])}"))
    out.append(_text(width - 8, height - 8, _clock(points[-1]["t"]), "end"))
    return "".join(out) + "</svg>"


def decisions_chart(timeline: dict[str, Any], words: dict[str, str]) -> str:
    return columns(timeline["points"], OUTCOMES, lambda p, o: int(p["decisions"].get(o, 0)),
                   timeline["max_decisions"], "decisions over time by outcome", "decisions",
                   lambda o: o, lambda o: words.get(o, o))


def seats_chart(timeline: dict[str, Any]) -> str:
    bands = list(timeline["bands"])
    return columns(timeline["points"], [*bands, "lapsed"],
                   lambda p, b: int(p["lapsed"] if b == "lapsed" else p["seats"].get(b, 0)),
                   timeline["max_seats"], "seats held over time by risk band", "seats",
                   lambda b: "lapsed" if b == "lapsed" else f"band{bands.index(b)}",
                   lambda b: "expired or released" if b == "lapsed" else f"in band {b.replace('_', ' ')}")


def headcount_chart(registered: int, expected: int, lo: int, hi: int, capacity: int | None, level: float) -> str:
    """Registrations and expected real people on their own scale; capacity marked, or off scale."""
    width, height, left, right = 720, 120, 110, 24
    near = max(registered, hi, 1)
    # capacity on the scale when it is near; far beyond (an arena and a few registrations), off scale
    top = nice_top(max(near, capacity if capacity and capacity <= FAR * near else 0) * 1.1)
    plot_w = width - left - right

    def x(n: float) -> float:
        return left + plot_w * min(n, top) / top

    pct = f"{level * 100:.0f}%"
    out = [_open(width, height, "expected real people against registrations and capacity", "headcount")]
    for frac in (0.0, 0.5, 1.0):
        anchor = "start" if frac == 0 else "end" if frac == 1 else "middle"
        out.append(f'<line x1="{x(top * frac):.2f}" x2="{x(top * frac):.2f}" y1="6" y2="86" class="grid"/>')
        out.append(_text(x(top * frac), 100, _num(top * frac), anchor))
    out.append(_text(left - 8, 30, "registered", "end"))
    out.append(_rect(left, 16, x(registered) - left, 22, "registered", f"registered: {registered:,} seats"))
    out.append(_text(left - 8, 70, "real people", "end"))
    out.append(_rect(x(lo), 56, max(x(hi) - x(lo), 2), 22, "interval", f"{pct} interval: {lo:,}-{hi:,}"))
    out.append(_rect(x(expected) - 1.5, 50, 3, 34, "expected", f"expected real: {expected:,}"))
    if capacity and capacity <= top:
        out.append(f'<line x1="{x(capacity):.2f}" x2="{x(capacity):.2f}" y1="4" y2="90" class="capacity">'
                   f"<title>capacity: {capacity:,}</title></line>")
        out.append(_text(x(capacity), 116, f"capacity {capacity:,}", "middle", "label cap"))
    elif capacity:
        out.append(f'<path d="M{width - right - 4} 84 l6 -8 M{width - right + 2} 84 l6 -8" class="break"/>')
        out.append(_text(width - 2, 116, f"capacity {capacity:,} off scale →", "end", "label cap"))
    return "".join(out) + "</svg>"
