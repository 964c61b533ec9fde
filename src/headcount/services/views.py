"""What staff see, computed once for the dashboard, the API and the report.

One source in Python for the risk bands (the policy's, never a chart's own
cut-offs), the time buckets, the timelines (seats by band, decisions by outcome),
the flood state, the headcount, and the coordinated groups in plain words. The
dashboard (`GET /v1/dashboard`) and `headcount report` both render these dicts, so
they show the same figures in the same words.

    from headcount.services.views import Views
    views = Views(store, policy)
    views.dashboard(now=time.time())          # every pool, the groups, the bands
    views.pool(pool_id, now=time.time())      # one pool, as the report shows it
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from headcount.estimate import Bands
from headcount.policy import Band, Policy
from headcount.services.decisions import ACTION_SCOPE, OUTCOMES, REFUSALS
from headcount.services.headcount import PoolHeadcount, pool_headcount
from headcount.services.lottery import LotteryService
from headcount.store.base import Store
from headcount.store.blocks import StoredBlock
from headcount.store.decisions import BUCKET_S, DecisionCount, SeatRow
from headcount.types import Pool

#: bucket widths (multiples of the stored minute) tried so that a timeline has at most MAX_BARS bars
BUCKETS_S = (60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400)
MAX_BARS = 72
#: a pool with a decision in the last this many seconds is "live now"
ACTIVE_S = 15 * 60
#: the time zone every view writes times in (the dashboard says so next to each time)
ZONE = "UTC"

REASON_WORDS = {
    "email_invalid": "invalid e-mail address", "email_disposable": "throwaway e-mail domain",
    "email_machine_made": "machine-made e-mail address", "email_alias": "alias of another mailbox",
    "phone_unparsable": "phone number that is not a number", "phone_impossible": "impossible phone number",
    "phone_invalid": "invalid phone number", "phone_voip": "virtual (VoIP) phone number",
    "phone_toll_free": "toll-free number", "phone_premium": "premium-rate number",
    "phone_shared_cost": "shared-cost number", "phone_pager": "pager number", "phone_uan": "company (UAN) number",
    "phone_unknown_type": "number of unknown type", "phone_fictional": "fictional phone number",
    "ip_invalid": "invalid network address", "ip_not_public": "private network address",
    "ua_automation": "scripted client (automation)", "ua_missing": "no browser identification",
    "no_contact": "no e-mail, phone or account", "velocity_network": "too many from one network",
    "velocity_phone_block": "too many from one block of phone numbers",
    "pool_flooded": "the pool is being flooded", "coordinated_group": "member of a coordinated group",
    "challenge": "asked to pass a challenge", "challenge_passed": "passed a challenge",
    "identity_fanout_device": "one device behind many mailboxes or numbers",
    "identity_fanout_aliases": "many spellings of one mailbox",
    "identity_fanout_mailbox": "one mailbox used from many devices",
    "identity_fanout_number": "one phone number behind many devices or mailboxes",
    "identity_fanout_block": "many numbers from one block of a thousand",
    "abandoned_holds": "earlier holds left to lapse", "abandoned_repeatedly": "holds left to lapse again and again",
    "claims_verified": "someone else's verified e-mail or number", "trusted": "trusted (confirmed before)",
    "email_typo": "mistyped e-mail domain (asked to correct)", "phone_typo": "mistyped phone number (asked to correct)",
}

OUTCOME_WORDS = {"allowed": "allowed", "shortened": "short hold", "challenged": "challenged", "denied": "refused"}

DETECTOR_WORDS = {
    "burst": "a burst on the same targets", "lockstep": "acting in lockstep (the same targets, the same minutes)",
    "fraudar": "a dense cluster of actions (FRAUDAR)", "dcube": "a dense block over time and networks (D-Cube)",
    "mzoom": "a dense block (M-Zoom)", "follow_ring": "following each other (a follow-back ring)",
    "churn": "following and unfollowing en masse",
}


def reason_words(reason: str) -> str:
    return REASON_WORDS.get(reason, reason.replace("_", " "))


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def pick_bucket(span_s: float) -> int:
    """The bucket width for a timeline over `span_s` seconds: the same for dashboard and report."""
    return next((b for b in BUCKETS_S if span_s / b <= MAX_BARS), BUCKETS_S[-1])


def duration_words(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    if minutes < 90:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = seconds / 3600
    if hours < 48:
        return f"{hours:.1f}".rstrip("0").rstrip(".") + " hours"
    return f"{hours / 24:.0f} days"


def band_outcome(band: Band) -> str:
    if band.challenge:
        return "challenged"
    if band.deny:
        return "denied"
    if band.ttl_factor < 1.0 or band.actor_cap is not None:
        return "shortened"
    return "allowed"


def band_words(band: Band) -> str:
    if band.challenge:
        after = band.on_pass.replace("_", " ") if band.on_pass else ""
        return f"a challenge first, then {after}" if after else "a challenge first"
    if band.deny:
        return "refused"
    parts = []
    if band.ttl_factor < 1.0:
        parts.append(f"{band.ttl_factor:g} × the hold time")
    if band.actor_cap is not None:
        parts.append(f"{band.actor_cap} at a time")
    return ", ".join(parts) or "the pool's hold time and per-person limit"


def bands_view(policy: Policy) -> list[dict[str, Any]]:
    """The policy's bands, lowest first: name, score range, what a request in it gets."""
    out, low = [], 0.0
    for band in policy.bands:
        high = band.below if band.below is not None else 1.0
        out.append({"name": band.name, "from": low, "below": band.below, "outcome": band_outcome(band),
                    "words": band_words(band), "range": f"{low:g}–{high:g}"})
        low = high
    return out


def confidence_words(c: float) -> str:
    if c >= 0.99:
        return "almost certainly coordinated"
    if c >= 0.9:
        return "very likely coordinated"
    if c >= 0.7:
        return "likely coordinated"
    return "possibly coordinated"


@dataclass(frozen=True)
class Flood:
    on: bool
    since: float | None
    share: float | None  # this process's share of risky registrations in the pool's window
    flooded_decisions: int

    def to_dict(self) -> dict[str, Any]:
        return {"on": self.on, "since": iso(self.since) if self.since else None,
                "share": None if self.share is None else round(self.share, 3),
                "flooded_decisions": self.flooded_decisions}


class Views:
    """The views over one store and policy; `floods` is the guard's `FloodWatch` when there is one."""

    def __init__(self, store: Store, policy: Policy, *, floods: Any = None,
                 pending: Callable[[], object] | None = None, clock: Callable[[], float] = time.time,
                 lottery: LotteryService | None = None) -> None:
        self.store = store
        #: lottery pools' registrations, wins, waitlist and estimate (the service's `Headcount.lottery`)
        self.lottery = lottery
        self.policy = policy
        self.bands = Bands.from_policy(policy)
        self.floods = floods
        #: called before reading (the service's `DecisionLog.flush`), so counts include this process's latest
        self.pending = pending
        self.clock = clock

    # the parts ---------------------------------------------------------------------------
    def _read_counts(self, pool_ids: Sequence[str] | None) -> tuple[list[DecisionCount], list[SeatRow]]:
        if self.pending is not None:
            self.pending()
        now = self.clock()
        counts = self.store.decision_counts(0.0, pool_ids)
        seats = self.store.seat_timeline(self.bands.edges, BUCKET_S, 0.0, now, pool_ids)
        return counts, seats

    def flood(self, pool_id: str, counts: Iterable[DecisionCount]) -> Flood:
        """Flood mode as the guard's `FloodWatch` says (this process), since the first decision of the
        current run of flooded decisions in the log (every process)."""
        rows = [c for c in counts if c.reason == "" and c.pool_id == pool_id]
        flooded = [c for c in rows if c.flooded]
        calm = [c for c in rows if not c.flooded]
        last_on = max((c.last_ts for c in flooded), default=None)
        last_off = max((c.last_ts for c in calm), default=None)
        live = self.floods.flooded(pool_id) if self.floods is not None else None
        on = bool(live) if live is not None else (last_on is not None and (last_off is None or last_on > last_off))
        since = None
        if on and flooded:
            run = [c.first_ts for c in flooded if last_off is None or c.last_ts >= last_off]
            since = min(run) if run else min(c.first_ts for c in flooded)
        if on and since is None and self.floods is not None:  # this process's decisions not in the log yet
            since = self.floods.since(pool_id)
        share = self.floods.share(pool_id) if self.floods is not None else None
        return Flood(on, since, share, sum(c.n for c in flooded))

    def decisions(self, counts: Iterable[DecisionCount], pool_id: str) -> dict[str, Any]:
        """Decisions in a pool by outcome, band and reason (the reasons of refusals first)."""
        by_outcome = dict.fromkeys(OUTCOMES, 0)
        by_band = {b.name: 0 for b in self.policy.bands}
        reasons: dict[str, int] = {}
        refused_reasons: dict[str, int] = {}
        last = None
        for c in counts:
            if c.pool_id != pool_id:
                continue
            if c.reason == "":
                by_outcome[c.outcome] = by_outcome.get(c.outcome, 0) + c.n
                by_band[c.band] = by_band.get(c.band, 0) + c.n
                last = c.last_ts if last is None else max(last, c.last_ts)
            else:
                reasons[c.reason] = reasons.get(c.reason, 0) + c.n
                if c.outcome in REFUSALS:
                    refused_reasons[c.reason] = refused_reasons.get(c.reason, 0) + c.n
        top = sorted(refused_reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        return {
            "total": sum(by_outcome.values()), "refused": sum(by_outcome[o] for o in REFUSALS),
            "by_outcome": by_outcome, "by_band": by_band,
            "top_reasons": [{"reason": r, "words": reason_words(r), "refusals": n} for r, n in top],
            "reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
            "last": iso(last) if last else None, "last_ts": last,
        }

    def timeline(self, counts: Iterable[DecisionCount], seats: Iterable[SeatRow], pool_id: str,
                 until: float, bucket_s: int | None = None) -> dict[str, Any]:
        """Per bucket: seats placed by band (still registered) and lapsed, and decisions by outcome."""
        names = list(self.bands.names)
        seat_rows = [s for s in seats if s.pool_id == pool_id]
        dec_rows = [c for c in counts if c.pool_id == pool_id and c.reason == ""]
        starts = [s.bucket for s in seat_rows] + [c.bucket for c in dec_rows]
        if not starts:
            return {"bucket_s": bucket_s or BUCKETS_S[0], "zone": ZONE, "bands": names, "outcomes": list(OUTCOMES),
                    "points": [], "max_seats": 0, "max_decisions": 0}
        first = min(starts)
        bucket = bucket_s or pick_bucket(max(until, max(starts) + BUCKET_S) - first)
        first = (first // bucket) * bucket
        last = (max(until - 1, max(starts)) // bucket) * bucket
        n = int((last - first) // bucket) + 1
        points: list[dict[str, Any]] = [{"t": iso(first + i * bucket), "ts": first + i * bucket, "seats": dict.fromkeys(names, 0),
                   "lapsed": 0, "decisions": dict.fromkeys(OUTCOMES, 0)} for i in range(n)]
        for s in seat_rows:
            p = points[int((s.bucket - first) // bucket)]
            if s.live:
                p["seats"][names[min(s.band, len(names) - 1)]] += s.seats
            else:
                p["lapsed"] += s.seats
        for c in dec_rows:
            p = points[int((c.bucket - first) // bucket)]
            p["decisions"][c.outcome] = p["decisions"].get(c.outcome, 0) + c.n
        return {"bucket_s": bucket, "zone": ZONE, "bands": names, "outcomes": list(OUTCOMES), "points": points,
                "max_seats": max(sum(p["seats"].values()) + p["lapsed"] for p in points),
                "max_decisions": max(sum(p["decisions"].values()) for p in points)}

    def headcount(self, pool_id: str, now: float, history: Sequence[str] | None = None) -> dict[str, Any]:
        return self.headcount_of(pool_id, now, history)[1]

    def headcount_of(self, pool_id: str, now: float,
                     history: Sequence[str] | None = None) -> tuple[PoolHeadcount, dict[str, Any]]:
        """The estimate under the policy's bands, and its view (with the reasoning in words)."""
        h = pool_headcount(self.store, pool_id, bands=self.bands, history=history, now=now)
        out = h.to_dict()
        e = h.estimate
        out["level"] = e.level
        source = (f"show-up rates learned from {e.history_pools} earlier pool{'s' if e.history_pools != 1 else ''}"
                  " with check-ins" if e.method == "history"
                  else "no earlier check-ins yet: the model's prior (wide on purpose)")
        band, last = self._flag_band()
        flagged = f"{round(100 * e.flagged_share)}% of registered seats in the {band} band{'' if last else ' or above'}"
        out["why"] = f"{source}; {flagged}."
        return h, out

    def _flag_band(self) -> tuple[str, bool]:
        """The lowest band the estimate counts as flagged, and whether it is the last one."""
        i = int(next((k for k, f in enumerate(self.bands.flagged) if f), len(self.bands) - 1))
        return self.bands.names[i].replace("_", " "), i == len(self.bands) - 1

    # groups ----------------------------------------------------------------------------
    def group(self, block: StoredBlock | dict[str, Any], pools: dict[str, Pool]) -> dict[str, Any]:
        """A detected group in plain words, with the pools among its targets."""
        b = block.to_json() if isinstance(block, StoredBlock) else dict(block)
        actors = [str(a) for a in b.get("actors", [])]
        targets = [str(t) for t in b.get("targets", [])]
        evidence = b.get("evidence") or {}
        start, end = _seconds(b.get("start")), _seconds(b.get("end"))
        touched = [t for t in targets if t in pools]
        others = [t for t in targets if t not in pools]
        if touched:
            kinds = {pools[t].kind for t in touched}
            what = "seats" if kinds == {"event"} else "items" if kinds == {"stock"} else "seats and items"
            did = (f"held {what} in the same {len(touched)} pool{'s' if len(touched) != 1 else ''}"
                   + (f" and acted on {len(others)} other targets" if others else ""))
        else:
            did = f"acted on the same {len(targets)} targets"
        words = f"{len(actors):,} accounts {did}"
        if start is not None and end is not None:
            words += f" within {duration_words(end - start)}"
        networks = _distinct(evidence, "ip")
        if networks:
            words += f" from {networks} network{'s' if networks != 1 else ''}"
        confidence = float(evidence.get("confidence", 1.0))
        detectors = [str(b.get("detector", ""))] + [d for d in evidence.get("detectors", []) if d != b.get("detector")]
        lift = ""
        try:
            cells, expected = float(evidence["cells"]), float(evidence["expected_cells"])
            if expected > 0:
                lift = f"{cells:,.0f} member–target pairs where chance gives {expected:,.0f}"
        except (KeyError, TypeError, ValueError):
            pass
        return {
            "id": b.get("id"), "size": len(actors), "targets": targets, "pools": touched,
            "pool_names": [pools[t].name for t in touched], "other_targets": others,
            "start": iso(start) if start is not None else b.get("start"),
            "end": iso(end) if end is not None else b.get("end"),
            "window": _window(start, end), "words": words,
            "confidence": round(confidence, 4), "confidence_words": confidence_words(confidence),
            "seen_by": list(dict.fromkeys(_detector_words(d) for d in detectors if d)),
            "evidence_words": lift, "score": b.get("score"),
            "detected_at": iso(v) if (v := _seconds(b.get("detected_at"))) is not None else None,
            "members_sample": [a.split(":")[-1][:8] for a in actors[:3]],
        }

    # the whole page ------------------------------------------------------------------------
    def pool_views(self, pools: Sequence[Pool], now: float, blocks: Sequence[Any] = (),
                   history: Sequence[str] | None = None, all_pools: Sequence[Pool] | None = None,
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(pool views in the dashboard's order, group views), from two reads of the log for all pools.

        `all_pools`: the pools a group's targets are matched against (default `pools`)."""
        ids = [p.id for p in pools] if all_pools is not None else None
        counts, seats = self._read_counts(ids)
        by_id = {p.id: p for p in (all_pools if all_pools is not None else pools)}
        groups = [self.group(b, by_id) for b in blocks]
        groups.sort(key=lambda g: (-float(g["confidence"]), -int(g["size"])))
        out = []
        for p in pools:
            hc = self.headcount(p.id, now, history)
            finished = bool(hc and hc.get("checked_in"))
            decisions = self.decisions(counts, p.id)
            flood = self.flood(p.id, counts)
            last_seat = max((s.bucket + BUCKET_S for s in seats if s.pool_id == p.id), default=None)
            activity = max(v for v in (decisions["last_ts"], last_seat, p.created_at) if v is not None)
            until = now if not finished else activity
            view: dict[str, Any] = {
                **p.staff_view(), "name": p.name, "kind": p.kind,
                "status": "finished" if finished else "live",
                "active": (now - activity) < ACTIVE_S, "last_activity": iso(activity),
                "headcount": hc, "decisions": decisions, "flood": flood.to_dict(),
                "timeline": self.timeline(counts, seats, p.id, until),
                "groups": [g["id"] for g in groups if p.id in g["pools"]],
            }
            lottery = self.lottery.dashboard(p.id, now) if self.lottery is not None else None
            if lottery is not None:
                lottery["closes_at"] = iso(lottery["closes_at"])
                lottery["drawn_at"] = iso(lottery["drawn_at"]) if lottery["drawn_at"] else None
                view["lottery"] = lottery
            out.append(view)
        out.sort(key=lambda v: (v["status"] == "finished", not v["flood"]["on"], not v["active"],
                                -_seconds(v["last_activity"])))  # type: ignore[operator]
        return out, groups

    def dashboard(self, pools: Sequence[Pool], blocks: Sequence[Any], now: float) -> dict[str, Any]:
        views, groups = self.pool_views(pools, now, blocks)
        in_pools = {g for v in views for g in v["groups"]}
        actions = self._action_decisions()
        return {
            "generated_at": iso(now), "zone": ZONE, "bands": bands_view(self.policy), "outcomes": list(OUTCOMES),
            "outcome_words": OUTCOME_WORDS,
            "totals": {"refused": sum(v["decisions"]["refused"] for v in views),
                       "decisions": sum(v["decisions"]["total"] for v in views),
                       "flooded_pools": [v["id"] for v in views if v["flood"]["on"]]},
            "pools": views, "groups": groups,
            "groups_elsewhere": [g["id"] for g in groups if g["id"] not in in_pools],
            "actions": actions,
        }

    def _action_decisions(self) -> dict[str, Any]:
        counts = [c for c in self.store.decision_counts(0.0) if c.pool_id.startswith(ACTION_SCOPE)]
        verbs = sorted({c.pool_id for c in counts})
        return {v.removeprefix(ACTION_SCOPE): self.decisions(counts, v) for v in verbs}

    def public(self, pools: Sequence[Pool]) -> dict[str, Any]:
        """What anyone may see: names and lights."""
        return {"pools": [{"id": p.id, "name": p.name, "kind": p.kind, "light": p.light} for p in pools],
                "lights": {"green": "plenty left", "yellow": "going fast", "red": "almost gone or gone"}}


def _detector_words(name: str) -> str:
    """A detector's name in words; variants such as `dcube-suspiciousness` by their family."""
    return DETECTOR_WORDS.get(name) or DETECTOR_WORDS.get(name.split("-")[0], name)


def _distinct(evidence: dict[str, Any], name: str) -> int:
    items = evidence.get(name)
    if isinstance(items, list):  # the members' most used values; "-" is none given
        return len([i for i in items if isinstance(i, dict) and str(i.get("value", "-")) not in ("", "-")])
    shared = evidence.get(f"shared_{name}")
    if isinstance(shared, dict) and isinstance(shared.get("distinct"), int | float):
        return int(shared["distinct"])
    return 0


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _window(start: float | None, end: float | None) -> str:
    """'2026-12-02 14:28–16:28 UTC (2 hours)', both dates in full across days."""
    if start is None or end is None:
        return ""
    a, b = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
    span = duration_words(end - start)
    if a.date() == b.date():
        return f"{a:%Y-%m-%d %H:%M}–{b:%H:%M} {ZONE} ({span})"
    return f"{a:%Y-%m-%d %H:%M} – {b:%Y-%m-%d %H:%M} {ZONE} ({span})"
