"""How many tickets a lottery may issue for a venue: overbooking the estimate can stand behind.

Not everyone who wins comes. The real-headcount estimate (`headcount.estimate`)
learns each risk band's show-up rate from earlier pools' check-ins and gives the
predictive chance that more than `capacity` come. Issuing `T` tickets means the
first `T` seats of the draw order win, so their band mix is known; `tickets`
finds the largest `T` whose `P(attendance > capacity)` stays at or under the
organiser's risk (bisection: the chance grows with `T`). It never issues fewer
than the capacity (then nobody can be over) nor more than the eligible demand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

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


class _Prefix:
    """Band counts of the first seats of the draw order, by cumulative sums."""

    def __init__(self, bands: Bands, quantities: np.ndarray, scores: np.ndarray) -> None:
        self.bands = bands
        self.cum = np.cumsum(quantities)
        idx = bands.index(scores)
        n = len(bands)
        self.by_band = np.zeros((n, quantities.size + 1))
        self.sq_by_band = np.zeros((n, quantities.size + 1))
        for b in range(n):
            sel = (idx == b).astype(float)
            self.by_band[b, 1:] = np.cumsum(sel * quantities)
            self.sq_by_band[b, 1:] = np.cumsum(sel * quantities.astype(float) ** 2)

    def counts(self, seats: int) -> BandCounts:
        k = int(np.searchsorted(self.cum, seats, side="right"))  # parties that fit entirely
        return BandCounts(self.by_band[:, k].copy(), None, self.sq_by_band[:, k].copy())

    def next_seats(self, seats: int) -> int | None:
        k = int(np.searchsorted(self.cum, seats, side="right"))
        return int(self.cum[k]) if k < self.cum.size else None


def tickets(capacity: int, quantities: Sequence[int], scores: Sequence[float], history: Sequence[BandCounts], *,
            bands: Bands | None = None, risk: float = DEFAULT_RISK) -> Overbooking:
    """How many seats to issue for `capacity` places, given the draw order's quantities and risk scores.

    `quantities` and `scores` are the eligible entries in draw order; `history` the earlier
    pools' band counts with check-ins (as `estimate_headcount` takes them).
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
    prefix = _Prefix(bands, q, s)

    def estimate(seats: int) -> HeadcountEstimate:
        return estimate_headcount(prefix.counts(seats), history, bands=bands, capacity=capacity)

    def p(seats: int) -> float:
        value = estimate(seats).p_over_capacity
        return 0.0 if value is None else float(value)

    lo, hi = capacity, demand  # p(lo) == 0 <= risk; find the largest seats with p <= risk
    if p(hi) <= risk:
        lo = hi
    else:
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if p(mid) <= risk:
                lo = mid
            else:
                hi = mid
    est = estimate(lo)
    nxt = prefix.next_seats(lo)
    p_next = p(nxt) if nxt is not None and nxt > lo else None
    rates = {b.name: b.show_rate for b in est.bands if b.registered > 0}
    return Overbooking(capacity, lo, risk, demand, float(est.p_over_capacity or 0.0), p_next, est.expected_real,
                       est.interval, est.method, est.history_pools, rates)
