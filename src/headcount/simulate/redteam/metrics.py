"""What a replay means: the issue's figures per cell, and the bars they are held to."""

from __future__ import annotations

from collections import Counter
from typing import Any

from headcount.simulate.redteam.replay import ReplayResult
from headcount.simulate.redteam.scenarios import World

#: The bars of issue 12: (metric, "min"/"max", limit).
BARS: dict[str, tuple[str, float]] = {
    "real_served": ("min", 0.99),
    "fake_tell_share": ("max", 0.03),
    "cart_time_avg_share": ("max", 0.10),
    "cart_peak_share": ("max", 0.20),
    "flash_refused": ("max", 0.005),
    "estimate_rel_error": ("max", 0.15),
    "victims_lost": ("max", 0.0),
}
#: Metrics reported per half as the worst cell, with which direction is worse.
WORST: dict[str, str] = {**{k: d for k, (d, _) in BARS.items()}, "indistinguishable_share": "max"}


def attacker_share_over_time(result: ReplayResult, pool: str, capacity: int, step: float = 0.25
                             ) -> tuple[float, float]:
    """Fakes' held quantity as a share of stock over the window: (time average, peak).

    Attributed on the client side by label: a fake's hold counts from when it was
    granted until it expires (activists never pay; a confirmed one counts for good). One the
    server took back early still counts until its expiry: the replay does not see when.
    """
    t0, t1 = result.window
    holds = [h for h in result.holds if h.pool == pool and h.label == "fake"]
    if t1 <= t0 or capacity <= 0:
        return 0.0, 0.0
    shares: list[float] = []
    t = t0
    while t <= t1:
        held = sum(h.quantity for h in holds if h.start <= t and (h.confirmed_at is not None or t < h.expires))
        shares.append(held / capacity)
        t += step
    return sum(shares) / len(shares), max(shares)


def cell_metrics(world: World, result: ReplayResult) -> dict[str, Any]:
    """Per-cell figures: real people served (and refused, by reason), fakes' share of
    capacity (with a tell, and indistinguishable apart with what they would get as real
    people), cart shares over time, the flash crowd's refusals, the estimate's error and
    the lockout's victims; each bar marked pass or miss."""
    scenario = world.cell.scenario
    real = world.real()
    per_person: dict[str, bool] = {}
    reasons: Counter[str] = Counter()
    by_kind: dict[str, list[bool]] = {}
    for e in real:
        rs = [result.results.get((e.uid, p)) for p in e.products]
        served = all(r is not None and r.served for r in rs)
        per_person[e.uid] = served
        by_kind.setdefault(e.kind, []).append(served)
        if not served:
            reasons.update((r.reason if r else None) or "not sent" for r in rs if r is None or not r.served)
    n_real = max(1, len(real))
    m: dict[str, Any] = {
        "real_people": len(real), "fakes": len(world.fakes()), "capacity": world.capacity,
        "real_served": sum(per_person.values()) / n_real,
        "real_refused_by_reason": dict(reasons.most_common()),
        "real_served_by_kind": {k: round(sum(v) / len(v), 4) for k, v in sorted(by_kind.items())},
        "requests": result.requests, "seconds": round(result.seconds, 1), "server_errors": result.errors[:5],
        "verification": result.verification,
    }
    fakes = {e.uid: e for e in world.fakes()}
    if scenario == "rally":
        limit = world.pools[0].per_actor_limit
        t_end = result.window[1]
        seats_tell = seats_indist = 0
        for h in result.holds:
            if h.label != "fake" or h.taken_back or not (h.confirmed_at is not None or h.expires > t_end):
                continue
            if h.tell:
                seats_tell += h.quantity
            else:
                seats_indist += h.quantity
        as_real = sum(min(e.quantity, limit) for e in fakes.values() if not e.tell)
        m["fake_tell_share"] = seats_tell / world.capacity
        m["indistinguishable_share"] = seats_indist / world.capacity
        m["indistinguishable_share_as_real"] = min(1.0, as_real / world.capacity)
        m["fakes_with_tell"] = sum(e.tell for e in fakes.values())
        true_turnout = sum(result.results[(e.uid, "main")].seats for e in real
                           if e.shows and (e.uid, "main") in result.results and result.results[(e.uid, "main")].served)
        m["true_turnout"] = true_turnout
        est = result.estimate or {}
        if "expected_real" in est and true_turnout:
            m["estimate_expected_real"] = est["expected_real"]
            m["estimate_interval"] = est.get("interval")
            m["estimate_rel_error"] = abs(float(est["expected_real"]) - true_turnout) / true_turnout
        else:
            m["estimate_error"] = str(est)[:300]
        victims = [e for e in real if any(f.victim == e.uid for f in fakes.values())]
        if victims:
            lost = [v for v in victims if not per_person[v.uid]]
            m["victims"] = len(victims)
            m["victims_lost"] = len(lost)
            m["victims_refused_first"] = sum(
                1 for v in victims if (r := result.results.get((v.uid, "main"))) and r.first_reason)
            m["verified_victims_lost"] = sum(
                1 for v in lost if (r := result.results.get((v.uid, "main"))) and r.verified)
    elif scenario == "carts":
        avg, peak = attacker_share_over_time(result, world.pools[0].id, world.capacity)
        m["cart_time_avg_share"], m["cart_peak_share"] = avg, peak
        samples = [s for s in result.samples if s[1] == world.pools[0].id]
        m["server_held_peak_share"] = max((s[2] + s[3]) / world.capacity for s in samples) if samples else None
    else:
        m["flash_refused"] = 1 - m["real_served"]
        tried = [r for r in result.results.values()]
        m["flash_holds_refused"] = sum(not r.served for r in tried) / max(1, len(tried))
        del m["real_served"]  # the flash crowd has its own, stricter bar
    m["bars"] = {k: {"value": m[k], "limit": lim, "pass": (m[k] >= lim if d == "min" else m[k] <= lim)}
                 for k, (d, lim) in BARS.items() if m.get(k) is not None}
    return m


def worst_cells(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """For each metric, the worst cell of `rows` (each {"cell", "half", "metrics"}), not the mean."""
    out: dict[str, dict[str, Any]] = {}
    for metric, direction in WORST.items():
        have = [r for r in rows if r["metrics"].get(metric) is not None]
        if not have:
            continue
        pick = min if direction == "min" else max
        w = pick(have, key=lambda r: r["metrics"][metric])
        bar = BARS.get(metric)
        ok = None if bar is None else (w["metrics"][metric] >= bar[1] if bar[0] == "min" else w["metrics"][metric] <= bar[1])
        out[metric] = {"cell": w["cell"], "value": w["metrics"][metric], "pass": ok,
                       "limit": bar[1] if bar else None, "cells": len(have),
                       "misses": sum(1 for r in have if bar and not r["metrics"]["bars"][metric]["pass"])}
    return out
