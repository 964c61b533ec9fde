"""Inline SVG charts as strings: the report must open with no script and no network.

Colours come from CSS classes defined in the report's own <style>, so the charts
print and read the same as the dashboard's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

BANDS = ("low", "medium", "high")


def _num(n: float) -> str:
    return f"{n:,.0f}"


def _open(width: int, height: int, label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img"'
            f' aria-label="{escape(label)}" class="chart">')


def _rect(x: float, y: float, w: float, h: float, cls: str, tip: str) -> str:
    return (f'<rect x="{x:.2f}" y="{y:.2f}" width="{max(w, 0):.2f}" height="{max(h, 0):.2f}" class="{cls}">'
            f"<title>{escape(tip)}</title></rect>")


def _text(x: float, y: float, text: str, anchor: str = "start", cls: str = "label") -> str:
    return f'<text x="{x:.2f}" y="{y:.2f}" text-anchor="{anchor}" class="{cls}">{escape(text)}</text>'


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def registrations_chart(points: Sequence[tuple[float, dict[str, int]]], bucket_s: int) -> str:
    """Stacked bars of seats registered per time bucket, by risk band."""
    width, height, left, bottom = 720, 240, 48, 36
    plot_w, plot_h = width - left - 8, height - bottom - 10
    out = [_open(width, height, "registrations over time by risk band")]
    if not points:
        return out[0] + _text(width / 2, height / 2, "no registrations", "middle") + "</svg>"
    top = max(1, max(sum(c.get(b, 0) for b in BANDS) for _, c in points))
    bar_w = plot_w / len(points)
    for frac in (0.0, 0.5, 1.0):  # gridlines with their value
        y = 10 + plot_h * (1 - frac)
        out.append(f'<line x1="{left}" x2="{width - 8}" y1="{y:.2f}" y2="{y:.2f}" class="grid"/>')
        out.append(_text(left - 4, y + 4, _num(top * frac), "end"))
    for i, (start, counts) in enumerate(points):
        y = 10 + plot_h
        for band in BANDS:
            h = plot_h * counts.get(band, 0) / top
            if h <= 0:
                continue
            out.append(_rect(left + i * bar_w + bar_w * 0.1, y - h, bar_w * 0.8, h, band,
                             f"{_clock(start)} UTC: {counts[band]:,} seats, {band} risk"))
            y -= h
    out.append(_text(left, height - 14, f"{_clock(points[0][0])} UTC"))
    out.append(_text(width - 8, height - 14, f"{_clock(points[-1][0])} UTC", "end"))
    out.append(_text(left + plot_w / 2, height - 14, f"seats per {bucket_s // 60:,}-minute bucket", "middle"))
    return "".join(out) + "</svg>"


def headcount_chart(registered: int, expected: int, lo: int, hi: int, capacity: int | None,
                    level: float) -> str:
    """Registrations, expected real attendance with its interval, and the capacity line."""
    width, height, left = 720, 150, 110
    top = max(1, capacity or 0, registered, hi) * 1.05
    plot_w = width - left - 20

    def x(n: float) -> float:
        return left + plot_w * n / top

    pct = f"{level * 100:.0f}%"
    out = [_open(width, height, "expected real attendance against registrations and capacity")]
    out.append(_text(left - 8, 34, "registered", "end"))
    out.append(_rect(left, 20, x(registered) - left, 22, "registered", f"registered: {registered:,} seats"))
    out.append(_text(x(registered) + 4, 36, _num(registered)))
    out.append(_text(left - 8, 84, "expected real", "end"))
    out.append(_rect(x(lo), 70, max(x(hi) - x(lo), 1), 22, "interval", f"{pct} interval: {lo:,}-{hi:,}"))
    out.append(_rect(x(expected) - 1.5, 64, 3, 34, "expected", f"expected real: {expected:,}"))
    out.append(_text(x(hi) + 4, 86, f"{expected:,} ({lo:,}-{hi:,})"))
    if capacity:
        out.append(f'<line x1="{x(capacity):.2f}" x2="{x(capacity):.2f}" y1="10" y2="112" class="capacity">'
                   f"<title>capacity: {capacity:,}</title></line>")
        out.append(_text(x(capacity), 128, f"capacity {capacity:,}", "middle"))
    return "".join(out) + "</svg>"


def groups_chart(groups: Sequence[tuple[str, int, float]]) -> str:
    """One bar per group: its score, with the member count written beside it."""
    width, row = 720, 26
    height = 12 + row * max(len(groups), 1)
    out = [_open(width, height, "coordinated groups by score")]
    best = max((s for _, _, s in groups), default=1.0) or 1.0
    longest = 380  # leaves room for the label beside the longest bar
    for i, (name, members, score) in enumerate(groups):
        y = 8 + i * row
        out.append(_text(150, y + 14, name, "end"))
        out.append(_rect(158, y, longest * score / best, row - 8, "score", f"{name}: score {score:.2f}"))
        out.append(_text(158 + longest * score / best + 6, y + 14, f"{members:,} members, score {score:.2f}"))
    return "".join(out) + "</svg>"
