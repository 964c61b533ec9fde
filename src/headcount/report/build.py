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
from typing import Any

from headcount.policy import Policy
from headcount.services.headcount import PoolHeadcount
from headcount.services.views import OUTCOME_WORDS, Views, bands_view
from headcount.store.base import Store
from headcount.types import Pool

from . import svg
from .contacts import Registrant, registrants
from .escaping import escape

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
    #: the pool as the dashboard shows it (`Views.pool_views`): decisions, flood, timeline, headcount
    view: dict[str, Any]
    #: the groups in the dashboard's words (`Views.group`), most suspicious first
    groups: list[dict[str, Any]]
    blocks: list[dict[str, Any]]
    bands: list[dict[str, Any]]
    people: dict[str, Registrant] = field(default_factory=dict)
    generated_at: float = 0.0
    #: where the groups come from: "store" (the service's detection) or the name of a --blocks file
    blocks_source: str = "store"

    @property
    def bucket_s(self) -> int:
        return int(self.view["timeline"]["bucket_s"])


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
           progress: Callable[[int], None] | None = None, now: float | None = None,
           policy: Policy | None = None) -> ReportData:
    """Everything the report shows; `progress` is told how many action-log rows were read.

    The groups are the stored ones (the service's detection) unless `blocks` is given. Either
    way, members of the stored groups and of the given ones count as "in a group", so none
    of them is judged real.
    """
    now = time.time() if now is None else now
    pool = store.get_pool(pool_id, now)
    if pool is None:
        raise ReportError("pool", f"no pool {pool_id!r}")
    policy = policy or Policy.load()
    views = Views(store, policy, clock=lambda: now)  # type: ignore[arg-type,return-value]
    if blocks is None:
        blocks, blocks_source = stored_blocks(store), "store"
    pool_views, groups = views.pool_views([pool], now, blocks, history=history,
                                          all_pools=store.list_pools(now))
    headcount, _ = views.headcount_of(pool_id, now, history)
    members = set(store.block_members()) | {str(a) for b in blocks for a in b.get("actors", [])}
    first = policy.bands[0].below
    people = registrants(store, pool_id, members, progress, real_below=first if first is not None else 1.0)
    return ReportData(pool, headcount, pool_views[0], groups, list(blocks), bands_view(policy), people, now,
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
.meta, .note { color: #5f6b7e; font-size: .85rem; }
.figures { display: flex; gap: 1.5rem; flex-wrap: wrap; margin: 1rem 0; }
.figures div { text-align: center; } .figures b { display: block; font-size: 1.4rem; white-space: nowrap; }
.figures span { color: #5f6b7e; font-size: .8rem; } .figures .alarm b { color: #c53030; }
.flood { background: #c53030; color: #fff; padding: .15rem .55rem; border-radius: 4px; font-weight: 700; font-size: .85rem; }
svg.chart { width: 100%; height: auto; display: block; margin: .5rem 0; }
svg .label { font-size: 11px; fill: #5f6b7e; } svg .label.cap { fill: #c53030; } svg .grid { stroke: #e3e6eb; }
svg .break { stroke: #c53030; stroke-width: 1.5; }
rect.allowed, i.allowed { fill: #4c7bd9; background: #4c7bd9; } rect.shortened, i.shortened { fill: #d69e2e; background: #d69e2e; }
rect.challenged, i.challenged { fill: #805ad5; background: #805ad5; } rect.denied, i.denied { fill: #c53030; background: #c53030; }
rect.band0, i.band0 { fill: #4c7bd9; background: #4c7bd9; } rect.band1, i.band1 { fill: #d69e2e; background: #d69e2e; }
rect.band2, i.band2 { fill: #c53030; background: #c53030; } rect.band3, i.band3 { fill: #702459; background: #702459; }
rect.lapsed, i.lapsed { fill: #cfd5de; background: #cfd5de; }
rect.registered { fill: #a9b3c2; } rect.interval { fill: #9bb7ee; } rect.expected { fill: #1d2433; }
line.capacity { stroke: #c53030; stroke-width: 2; stroke-dasharray: 5 3; }
.legend span { margin-right: 1rem; font-size: .8rem; color: #5f6b7e; white-space: nowrap; }
.legend i { display: inline-block; width: .7rem; height: .7rem; margin-right: .25rem; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; }
th { text-align: left; color: #5f6b7e; font-weight: 500; } td, th { padding: .25rem .4rem; border-top: 1px solid #e3e6eb; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
"""


def _figure(label: str, value: str, name: str = "", cls: str = "") -> str:
    attrs = (f" data-figure='{escape(name)}'" if name else "") + (f" class='{cls}'" if cls else "")
    return f"<div{attrs}><b>{escape(value)}</b><span>{escape(label)}</span></div>"


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
    flagged = escape(d.view["headcount"]["why"].split("; ")[-1].rstrip("."))
    parts.append(f"{flagged[0].upper()}{flagged[1:]}.")
    dec = d.view["decisions"]
    if dec["total"]:
        top = ", ".join(f"{r['words']} ({r['refusals']:,})" for r in dec["top_reasons"][:3])
        parts.append(f"The guard decided {dec['total']:,} requests here and refused {dec['refused']:,}"
                     + (f", most often for: {escape(top)}." if top else "."))
    flood = d.view["flood"]
    if flood["on"]:
        parts.append(f"The pool is in flood mode since {_when(flood['since'])}.")
    if h.uncertainty:
        part, share = max(h.uncertainty.items(), key=lambda kv: kv[1])
        names = {"parameter": "not knowing the show-up rates well yet", "pool_to_pool": "how much pools differ",
                 "chance": "chance (who of the registrants turns up)",
                 "calibration": "how far risk scores are from probabilities"}
        parts.append(f"Most of the uncertainty ({share:.0%}) comes from {names.get(part, part)}.")
    real = sum(1 for p in d.people.values() if p.real)
    grouped = sum(1 for p in d.people.values() if p.in_group)
    if d.people:
        parts.append(f"Of {len(d.people):,} registrants, {real:,} are judged real (every hold in the policy's first band, in no detected group)"
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
    if not d.groups:
        if d.blocks_source == "store":
            return ("<p class='note' id='no-groups'>The service's group detection has stored no coordinated "
                    "group (none found, or detection has not run on this store yet). "
                    "<code>--blocks blocks.json</code> from <code>headcount detect</code> gives groups "
                    "found elsewhere.</p>")
        return f"<p class='note' id='no-groups'>No coordinated group in {escape(d.blocks_source)}.</p>"
    here_first = sorted(d.groups, key=lambda g: d.pool.id not in g["pools"])  # this pool's groups first
    rows = []
    for i, g in enumerate(here_first[:TOP_GROUPS], 1):
        here = sum(1 for b in d.blocks if b.get("id") == g["id"] for a in b.get("actors", []) if str(a) in d.people)
        rows.append(f"<tr data-group='{escape(str(g['id']))}'><td>{i}</td><td>{escape(g['words'])}</td>"
                    f"<td>{escape(g['confidence_words'])}</td><td class='n'>{g['size']:,}</td>"
                    f"<td class='n'>{here:,}</td><td>{escape(g['window'])}</td>"
                    f"<td>{escape(g['evidence_words'] or '')}{'; ' if g['evidence_words'] else ''}"
                    f"seen as {escape('; '.join(g['seen_by']))}</td></tr>")
    more = f"<p class='note'>and {len(d.groups) - TOP_GROUPS} more</p>" if len(d.groups) > TOP_GROUPS else ""
    source = ("detected by the service over its recent action log" if d.blocks_source == "store"
              else f"from {escape(d.blocks_source)}")
    members = len({str(a) for b in d.blocks for a in b.get("actors", [])})
    in_pool = sum(1 for g in d.groups if d.pool.id in g["pools"])
    intro = (f"<p class='note' id='groups-source'>{len(d.groups):,} group{'s' if len(d.groups) != 1 else ''} "
             f"with {members:,} members, {source}; {in_pool:,} touched this pool (listed first).</p>")
    return (intro + "<table><tr><th>#</th><th>what they did</th><th>how sure</th><th>members</th>"
            "<th>registered here</th><th>when</th><th>evidence</th></tr>" + "".join(rows) + "</table>" + more)


def _legend(items: list[tuple[str, str]]) -> str:
    return "<div class='legend'>" + "".join(f"<span><i class='{c}'></i>{escape(t)}</span>" for c, t in items) + "</div>"


def render_html(d: ReportData) -> str:
    """The report as one HTML page: inline CSS and SVG, nothing to load."""
    h = d.headcount.estimate
    v = d.view
    dec, flood, timeline = v["decisions"], v["flood"], v["timeline"]
    pct = f"{h.level * 100:.0f}%"
    generated = datetime.fromtimestamp(d.generated_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    band_rows = "".join(
        f"<tr><td>{escape(b.name.replace('_', ' '))}</td><td class='n'>{b.registered:,}</td>"
        f"<td class='n'>{b.show_rate:.0%}</td>"
        f"<td class='n'>{b.show_rate_interval[0]:.0%}–{b.show_rate_interval[1]:.0%}</td>"
        f"<td class='n'>{b.expected:,.0f}</td></tr>" for b in h.bands if b.registered)
    shares = ", ".join(f"{k.replace('_', '-')} {v:.0%}" for k, v in h.uncertainty.items())
    bands = [(f"band{i}", f"{b['name'].replace('_', ' ')} (score {b['range']}): {b['words']}")
             for i, b in enumerate(d.bands)]
    outcomes = [(o, OUTCOME_WORDS.get(o, o)) for o in svg.OUTCOMES]
    lapsed = sum(int(p["lapsed"]) for p in timeline["points"])
    lapsed_note = (f"<p class='note'>The columns add up to {h.registered + lapsed:,}: {h.registered:,} still held "
                   f"or confirmed, {lapsed:,} expired or released.</p>" if lapsed else "")
    flood_html = (f"<p><span class='flood' id='flood'>FLOOD MODE since {escape(_when(flood['since']))}</span></p>"
                  if flood["on"] else "")
    what = "items in carts or sold" if d.pool.kind == "stock" else "seats registered"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>headcount report: {escape(d.pool.name)}</title><style>{STYLE}</style></head>
<body>
<h1>{escape(d.pool.name)}</h1>
<p class="meta">pool <code>{escape(d.pool.id)}</code> · {escape(d.pool.kind)} · report made {generated} by headcount
· times in UTC</p>
{flood_html}
<div class="figures">{_figure("real people expected", f"{h.expected_real:,}", "hc-expected")}
{_figure(f"{pct} interval", f"{h.interval[0]:,}–{h.interval[1]:,}", "hc-interval")}
{_figure(what, f"{h.registered:,}", "hc-registered")}{_figure("capacity", f"{d.pool.capacity:,}", "capacity")}
{_figure("checked in so far", f"{d.headcount.checked_in:,}", "checked-in")}</div>
<div class="figures">{_figure("decisions", f"{dec['total']:,}", "decisions-total")}
{_figure("refused", f"{dec['refused']:,}", "refusals", "alarm" if dec["refused"] else "")}
{_figure("short holds", f"{dec['by_outcome'].get('shortened', 0):,}", "shortened")}</div>
<h2>What the numbers say</h2>
<p id="reasoning">{_reasoning(d)}</p>
<h2>Real headcount against registrations and capacity</h2>
{svg.headcount_chart(h.registered, h.expected_real, h.interval[0], h.interval[1], h.capacity, h.level)}
<table><tr><th>risk band</th><th>seats</th><th>show-up rate</th><th>{pct} interval</th><th>expected</th></tr>
{band_rows}</table>
<p class="note">Where the uncertainty comes from: {escape(shares) or "nothing registered yet"}.
Method: {escape(h.method)}; the model is described in docs/estimate.md.</p>
<h2>Decisions per {timeline["bucket_s"] // 60:,}-minute bucket, by outcome</h2>
{svg.decisions_chart(timeline, OUTCOME_WORDS)}
{_legend(outcomes)}
<h2>{"Items" if d.pool.kind == "stock" else "Seats"} held per {timeline["bucket_s"] // 60:,}-minute bucket, by risk band</h2>
{svg.seats_chart(timeline)}
{_legend([*bands, ("lapsed", "expired or released (not counted)")])}
{lapsed_note}
<h2>Coordinated groups</h2>
{_groups_section(d)}
</body></html>
"""
