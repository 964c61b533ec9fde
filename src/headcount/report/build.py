"""Gather a pool's figures from the store and write them as one self-contained HTML page.

The page has inline CSS and inline SVG only, and a Content-Security-Policy that
forbids loading anything: it opens the same from a USB stick, an e-mail or a
laptop with no network.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any

from headcount.services.headcount import PoolHeadcount, pool_headcount
from headcount.store.base import Store
from headcount.types import Pool

from . import svg
from .contacts import Registrant, registrants

#: Bucket widths tried for the registrations chart, so that it has at most MAX_BARS bars.
BUCKETS_S = (60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400)
MAX_BARS = 96
TOP_GROUPS = 5
STORED_BLOCKS = 1_000


class ReportError(ValueError):
    """The report cannot be made; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass
class ReportData:
    pool: Pool
    headcount: PoolHeadcount
    bucket_s: int
    points: list[tuple[float, dict[str, int]]]
    blocks: list[dict[str, Any]]
    people: dict[str, Registrant] = field(default_factory=dict)
    generated_at: float = 0.0
    #: where the groups come from: "store" (the service's detection) or the name of a --blocks file
    blocks_source: str = "store"


def _timeline(store: Store, pool_id: str) -> tuple[int, list[tuple[float, dict[str, int]]]]:
    coarse = store.hold_timeline(pool_id, 3600, 0.0)
    if not coarse:
        return 3600, []
    span = max(b for b, _, _ in coarse) + 3600 - min(b for b, _, _ in coarse)
    bucket = next((b for b in BUCKETS_S if span / b <= MAX_BARS), BUCKETS_S[-1])
    by_start: dict[float, dict[str, int]] = {}
    for start, band, qty in store.hold_timeline(pool_id, bucket, 0.0):
        by_start.setdefault(start, {})[band] = qty
    first, last = min(by_start), max(by_start)
    points = []
    t = first
    while t <= last:  # dense: empty buckets show as gaps
        points.append((t, by_start.get(t, {})))
        t += bucket
    return bucket, points


def check_blocks(doc: Any) -> list[dict[str, Any]]:
    """Blocks as `headcount detect --out` or GET /v1/blocks give them, checked; most suspicious first."""
    blocks = doc.get("blocks") if isinstance(doc, dict) else None
    if not isinstance(blocks, list):
        raise ReportError("blocks", 'expected {"blocks": [...]} as written by `headcount detect --out`')
    for i, b in enumerate(blocks):
        if not isinstance(b, dict) or not isinstance(b.get("actors"), list):
            raise ReportError("blocks", f"block {i} has no list of actors")
        try:
            float(b.get("score", 0.0))
        except (TypeError, ValueError):
            raise ReportError("blocks", f"block {i} has a score that is not a number") from None
    return sorted(blocks, key=lambda b: -float(b.get("score", 0.0)))


def stored_blocks(store: Store, limit: int = STORED_BLOCKS) -> list[dict[str, Any]]:
    """The groups the service's detection stored, as GET /v1/blocks gives them; most suspicious first."""
    out = []
    for b in store.list_blocks(limit):
        item = b.to_json()
        item.update(detected_at=_iso(b.detected_at), updated_at=_iso(b.updated_at), start=_iso(b.start),
                    end=_iso(b.end), size=len(b.actors))
        out.append(item)
    return sorted(out, key=lambda b: -float(b["score"]))


def gather(store: Store, pool_id: str, *, blocks: Sequence[dict[str, Any]] | None = None,
           blocks_source: str | None = None, history: Sequence[str] | None = None,
           progress: Callable[[int], None] | None = None, now: float | None = None) -> ReportData:
    """Everything the report shows; `progress` is told how many action-log rows were read.

    The groups are the stored ones (the service's detection) unless `blocks` is given. Either
    way, members of the stored groups and of the given ones count as "in a group", so none
    of them is judged real.
    """
    now = time.time() if now is None else now
    pool = store.get_pool(pool_id, now)
    if pool is None:
        raise ReportError("pool", f"no pool {pool_id!r}")
    headcount = pool_headcount(store, pool_id, history=history, now=now)
    bucket, points = _timeline(store, pool_id)
    if blocks is None:
        blocks, blocks_source = stored_blocks(store), "store"
    members = set(store.block_members()) | {str(a) for b in blocks for a in b.get("actors", [])}
    people = registrants(store, pool_id, members, progress)
    return ReportData(pool, headcount, bucket, points, list(blocks), people, now,
                      blocks_source or "the given blocks")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _window(start: Any, end: Any) -> str:
    """'2026-11-23 14:28–16:28 UTC' within a day, both dates in full otherwise."""
    first, last = _when(start), _when(end)
    if first[:11] == last[:11] and first.endswith(" UTC") and last.endswith(" UTC"):
        return f"{first[:-4]}–{last[11:]}"
    return f"{first} – {last}"


def _when(value: Any) -> str:
    """A block's start or end (Unix seconds or ISO 8601) as 'YYYY-MM-DD HH:MM UTC'; other text as it is."""
    try:
        if isinstance(value, int | float):
            moment = datetime.fromtimestamp(float(value), UTC)
        else:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; color: #1d2433; max-width: 780px; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
.meta, .note { color: #697386; font-size: .85rem; }
.figures { display: flex; gap: 1.5rem; flex-wrap: wrap; margin: 1rem 0; }
.figures div { text-align: center; } .figures b { display: block; font-size: 1.4rem; }
.figures span { color: #697386; font-size: .8rem; }
svg.chart { width: 100%; height: auto; display: block; margin: .5rem 0; }
svg .label { font-size: 11px; fill: #697386; } svg .grid { stroke: #e6e9ee; }
rect.low { fill: #4c7bd9; } rect.medium { fill: #d69e2e; } rect.high { fill: #c53030; }
rect.registered { fill: #b8c0cc; } rect.interval { fill: #9bb7ee; } rect.expected { fill: #1d2433; }
line.capacity { stroke: #c53030; stroke-width: 2; stroke-dasharray: 5 3; } rect.score { fill: #c53030; }
.legend span { margin-right: 1rem; font-size: .8rem; color: #697386; }
.legend i { display: inline-block; width: .7rem; height: .7rem; margin-right: .25rem; }
.legend .low { background: #4c7bd9; } .legend .medium { background: #d69e2e; } .legend .high { background: #c53030; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; }
th { text-align: left; color: #697386; font-weight: 500; } td, th { padding: .25rem .4rem; border-top: 1px solid #e6e9ee; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
"""


def _figure(label: str, value: str) -> str:
    return f"<div><b>{escape(value)}</b><span>{escape(label)}</span></div>"


def _reasoning(d: ReportData) -> str:
    h = d.headcount.estimate
    pct = f"{h.level * 100:.0f}%"
    lo, hi = h.interval
    parts = [f"{h.registered:,} seats are registered in {escape(d.pool.name)} (capacity {d.pool.capacity:,})."]
    if h.method == "history":
        parts.append(f"Show-up rates per risk band were learned from the check-ins of {h.history_pools} earlier "
                     f"pool{'s' if h.history_pools != 1 else ''} ({escape(', '.join(d.headcount.history))}), "
                     "each band's rate shrunk towards the others and adjusted for how flooded each pool was.")
    else:
        parts.append("No earlier pool has check-ins yet, so the show-up rates are the model's prior: real people "
                     "come at about half, fakes almost never, and a risk score is read as a rough chance of "
                     "being fake. The interval is wide on purpose.")
    parts.append(f"About <b>{h.expected_real:,}</b> real people are expected; with {pct} probability between "
                 f"{lo:,} and {hi:,}.")
    if h.capacity:
        if hi < h.capacity:
            parts.append(f"Even the top of the interval leaves {h.capacity - hi:,} places empty: there is no need "
                         "for overflow space.")
        elif h.p_over_capacity:
            parts.append(f"The chance that more come than fit is {h.p_over_capacity:.1%}.")
    parts.append(f"{h.flagged_share:.0%} of the seats were flagged as risky (score 0.5 or more).")
    if h.uncertainty:
        part, share = max(h.uncertainty.items(), key=lambda kv: kv[1])
        names = {"parameter": "not knowing the show-up rates well yet", "pool_to_pool": "how much pools differ",
                 "chance": "chance (who of the registrants turns up)",
                 "calibration": "how far risk scores are from probabilities"}
        parts.append(f"Most of the uncertainty ({share:.0%}) comes from {names.get(part, part)}.")
    real = sum(1 for p in d.people.values() if p.real)
    grouped = sum(1 for p in d.people.values() if p.in_group)
    if d.people:
        parts.append(f"Of {len(d.people):,} registrants, {real:,} are judged real (low risk, in no detected group)"
                     + (f"; {grouped:,} belong to a coordinated group." if grouped else "."))
    return " ".join(parts)


def _evidence(b: dict[str, Any]) -> str:
    """A block's evidence in words: the pairs against chance and the detectors that saw it."""
    e = b.get("evidence") or {}
    parts = []
    try:
        cells, expected = float(e["cells"]), float(e["expected_cells"])
        lift = f" ({cells / expected:,.0f}×)" if expected > 0 else ""
        parts.append(f"{cells:,.0f} member–target pairs where chance gives {expected:,.0f}{lift}")
    except (KeyError, TypeError, ValueError):
        parts.extend(f"{k}: {v}" for k, v in list(e.items())[:3] if k != "detectors")
    detectors = e.get("detectors")
    if isinstance(detectors, list) and detectors:
        parts.append("seen by " + ", ".join(str(x) for x in detectors))
    return "; ".join(parts)


def _groups_section(d: ReportData) -> str:
    if not d.blocks:
        if d.blocks_source == "store":
            return ("<p class='note' id='no-groups'>The service's group detection has stored no coordinated "
                    "group (none found, or detection has not run on this store yet). "
                    "<code>--blocks blocks.json</code> from <code>headcount detect</code> gives groups "
                    "found elsewhere.</p>")
        return f"<p class='note' id='no-groups'>No coordinated group in {escape(d.blocks_source)}.</p>"
    top = d.blocks[:TOP_GROUPS]
    rows = []
    bars = []
    for i, b in enumerate(top, 1):
        actors = [str(a) for a in b.get("actors", [])]
        here = sum(1 for a in actors if a in d.people)
        score = float(b.get("score", 0.0))
        bars.append((f"group {i}", len(actors), score))
        evidence = _evidence(b)
        rows.append(f"<tr><td>{i}</td><td>{escape(str(b.get('detector', '')))}</td><td class='n'>{score:.2f}</td>"
                    f"<td class='n'>{len(actors):,}</td><td class='n'>{here:,}</td>"
                    f"<td class='n'>{len(b.get('targets', [])):,}</td>"
                    f"<td>{escape(_window(b.get('start', ''), b.get('end', '')))}</td>"
                    f"<td>{escape(evidence[:160])}</td></tr>")
    more = f"<p class='note'>and {len(d.blocks) - TOP_GROUPS} more</p>" if len(d.blocks) > TOP_GROUPS else ""
    source = ("detected by the service over its recent action log" if d.blocks_source == "store"
              else f"from {escape(d.blocks_source)}")
    members = len({str(a) for b in d.blocks for a in b.get("actors", [])})
    intro = (f"<p class='note' id='groups-source'>{len(d.blocks):,} group{'s' if len(d.blocks) != 1 else ''} "
             f"with {members:,} members, {source}; most suspicious first.</p>")
    return (intro + svg.groups_chart(bars) +
            "<table><tr><th>#</th><th>detector</th><th>score</th><th>members</th><th>registered here</th>"
            "<th>targets</th><th>when</th><th>evidence</th></tr>" + "".join(rows) + "</table>" + more)


def render_html(d: ReportData) -> str:
    h = d.headcount.estimate
    pct = f"{h.level * 100:.0f}%"
    generated = datetime.fromtimestamp(d.generated_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    band_rows = "".join(
        f"<tr><td>{escape(b.name)}</td><td class='n'>{b.registered:,}</td><td class='n'>{b.show_rate:.0%}</td>"
        f"<td class='n'>{b.show_rate_interval[0]:.0%}–{b.show_rate_interval[1]:.0%}</td>"
        f"<td class='n'>{b.expected:,.0f}</td></tr>" for b in h.bands if b.registered)
    shares = ", ".join(f"{k.replace('_', '-')} {v:.0%}" for k, v in h.uncertainty.items())
    legend = "".join(f"<span><i class='{b}'></i>{b} risk</span>" for b in svg.BANDS)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>headcount report: {escape(d.pool.name)}</title><style>{STYLE}</style></head>
<body>
<h1>{escape(d.pool.name)}</h1>
<p class="meta">pool <code>{escape(d.pool.id)}</code> · {escape(d.pool.kind)} · report made {generated} by headcount</p>
<div class="figures">{_figure("capacity", f"{d.pool.capacity:,}")}{_figure("registered seats", f"{h.registered:,}")}
{_figure("expected real", f"{h.expected_real:,}")}{_figure(f"{pct} interval", f"{h.interval[0]:,}–{h.interval[1]:,}")}
{_figure("checked in so far", f"{d.headcount.checked_in:,}")}</div>
<h2>What the numbers say</h2>
<p id="reasoning">{_reasoning(d)}</p>
<h2>Registrations over time, by risk band</h2>
{svg.registrations_chart(d.points, d.bucket_s)}
<div class="legend">{legend}</div>
<h2>Real headcount against capacity</h2>
{svg.headcount_chart(h.registered, h.expected_real, h.interval[0], h.interval[1], h.capacity, h.level)}
<table><tr><th>risk band</th><th>seats</th><th>show-up rate</th><th>{pct} interval</th><th>expected</th></tr>
{band_rows}</table>
<p class="note">Where the uncertainty comes from: {escape(shares) or "nothing registered yet"}.
Method: {escape(h.method)}; the model is described in docs/estimate.md.</p>
<h2>Coordinated groups</h2>
{_groups_section(d)}
</body></html>
"""
