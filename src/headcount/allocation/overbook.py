"""How many tickets a lottery may issue for a venue: overbooking the estimate can stand behind.

Not everyone who wins comes. The real-headcount estimate (`headcount.estimate`)
learns each risk band's show-up rate, with an interval, from earlier pools'
check-ins; it is read at the pool's own flood level (the whole registration set,
refused ones included: how flooded a pool is says how many fakes hide in each band).
Issuing tickets to the first `k` parties of the draw order, attendance is each
band's seats times its rate, the bands moving together within their intervals (a
good or a bad night for everyone) plus chance turnout by party, so
`P(attendance > capacity)` is known for every `k`: `tickets` takes the largest
`k` within the organiser's risk. It never issues fewer seats than the capacity
(then nobody can be over) nor more than the eligible demand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from headcount.estimate import BandCounts, Bands, HeadcountEstimate, estimate_headcount

DEFAULT_RISK = 0.05


@dataclass(frozen=True)
class Overbooking:
    """The number of tickets and why."""

    capacity: int
    tickets: int
    risk: float
    demand: int  # eligible seats asked for
    p_over_capacity: float  # predicted for `tickets`
    p_over_next: float | None  # predicted for one more party's seats (why not more)
    expected_attendance: int | None
    interval: tuple[int, int] | None
    method: str  # "history", "prior", "fits" (demand fits: no estimate needed), "none" (risk 0)
    history_pools: int
    show_rates: dict[str, float] = field(default_factory=dict)

    @property
    def extra(self) -> int:
        return max(0, self.tickets - self.capacity)

    def reason(self) -> str:
        if self.method == "fits":
            return (f"all {self.demand} eligible seats fit the {self.capacity} places: everyone eligible wins,"
                    " no overbooking needed")
        if self.method == "none":
            return f"overbooking is off (risk 0): {self.tickets} tickets for {self.capacity} places"
        rates = ", ".join(f"{k} {v:.2f}" for k, v in self.show_rates.items())
        src = (f"show-up rates learned from {self.history_pools} earlier pool(s) ({rates})"
               if self.method == "history" else f"no earlier pool with check-ins: the prior's show-up rates ({rates})")
        nxt = "" if self.p_over_next is None else f"; one more party would make it {self.p_over_next:.1%}"
        if self.tickets >= self.demand:
            nxt = "; that is every eligible seat"
        return (f"{self.tickets} tickets for {self.capacity} places ({self.extra} over): with {src},"
                f" expected attendance {self.expected_attendance} (interval {list(self.interval or ())}),"
                f" P(attendance > {self.capacity}) = {self.p_over_capacity:.1%} <= {self.risk:.0%}{nxt}")

    def to_dict(self) -> dict[str, object]:
        return {"capacity": self.capacity, "tickets": self.tickets, "extra": self.extra, "risk": self.risk,
                "demand": self.demand, "p_over_capacity": round(self.p_over_capacity, 5),
                "p_over_next": None if self.p_over_next is None else round(self.p_over_next, 5),
                "expected_attendance": self.expected_attendance,
                "interval": None if self.interval is None else list(self.interval),
                "method": self.method, "history_pools": self.history_pools,
                "show_rates": {k: round(v, 5) for k, v in self.show_rates.items()}, "reason": self.reason()}


def tickets(capacity: int, quantities: Sequence[int], scores: Sequence[float], history: Sequence[BandCounts], *,
            bands: Bands | None = None, risk: float = DEFAULT_RISK, pool: BandCounts | None = None,
            level: float = 0.9) -> Overbooking:
    """How many seats to issue for `capacity` places, given the draw order's quantities and risk scores.

    `quantities` and `scores` are the eligible entries in draw order; `history` the earlier
    pools' band counts with check-ins (as `estimate_headcount` takes them); `pool` the whole
    registration set's band counts (refused ones included: how flooded the pool is decides
    each band's share of fakes, so the band rates are read at the pool's flood level; default:
    the eligible entries alone).

    Attendance of the first `k` parties: each band's seats times its show-up rate, the bands
    moving together within their `level` intervals (a good or a bad night for everyone) plus
    chance turnout by party; `P(attendance > capacity)` under a normal approximation.
    """
    if not 0 <= risk < 1:
        raise ValueError("risk must be within [0, 1)")
    bands = bands or Bands()
    q = np.asarray(quantities, dtype=np.int64)
    s = np.asarray(scores, dtype=float)
    demand = int(q.sum())
    if demand <= capacity:
        return Overbooking(capacity, demand, risk, demand, 0.0, None, None, None, "fits", 0)
    if risk == 0:
        return Overbooking(capacity, capacity, risk, demand, 0.0, None, None, None, "none", 0)
    idx = bands.index(s)
    n = len(bands)
    if pool is None:
        reg = np.bincount(idx, weights=q, minlength=n).astype(float)
        sq = np.bincount(idx, weights=q.astype(float) ** 2, minlength=n)
        pool = BandCounts(reg, None, sq)
    est: HeadcountEstimate = estimate_headcount(pool, history, bands=bands, level=level)
    rate = np.array([b.show_rate for b in est.bands])
    lo = np.array([b.show_rate_interval[0] for b in est.bands])
    hi = np.array([b.show_rate_interval[1] for b in est.bands])
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    band_sd = (hi - lo) / (2.0 * z)
    r, sd_r = rate[idx], band_sd[idx]
    qf = q.astype(float)
    cum = np.cumsum(q)
    mean = np.cumsum(qf * r)
    systematic = np.cumsum(qf * sd_r)  # bands move together: their spreads add
    chance = np.cumsum(qf**2 * r * (1.0 - r))
    sd = np.sqrt(systematic**2 + chance)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_over = np.where(cum <= capacity, 0.0,
                          stats.norm.sf((capacity + 0.5 - mean) / np.where(sd > 0, sd, np.inf)))
    p_over = np.where((sd == 0) & (cum > capacity), (mean > capacity + 0.5).astype(float), p_over)
    ok = p_over <= risk
    # the largest prefix within the risk (P grows with the prefix; take the first crossing)
    bad = np.flatnonzero(~ok)
    k = int(bad[0]) if bad.size else int(q.size)  # parties 0..k-1 win
    seats = max(capacity, int(cum[k - 1]) if k > 0 else 0)
    k = int(np.searchsorted(cum, seats, side="right"))
    p_here = float(p_over[k - 1]) if k > 0 else 0.0
    p_next = float(p_over[k]) if k < q.size else None
    m = float(mean[k - 1]) if k > 0 else 0.0
    half = z * (float(sd[k - 1]) if k > 0 else 0.0)
    rates = {b.name: b.show_rate for b, w in zip(est.bands, np.bincount(idx[:k], minlength=n)) if w > 0}
    return Overbooking(capacity, seats, risk, demand, p_here, p_next, round(m),
                       (max(0, math.floor(m - half)), math.ceil(m + half)), est.method, est.history_pools, rates)
