"""Overbooking: as many tickets as keep P(attendance > capacity) at or under the risk."""

from __future__ import annotations

import numpy as np

from headcount.allocation import tickets
from headcount.estimate import BandCounts, Bands


def history(rate: float, pools: int = 8, seats: int = 2000, seed: int = 1) -> list[BandCounts]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(pools):
        r = np.clip(rate + rng.normal(0, 0.02), 0.05, 0.99)
        n = len(Bands())
        reg, came = np.zeros(n), np.zeros(n)
        reg[0], came[0] = seats, rng.binomial(seats, r)
        out.append(BandCounts(reg, came, reg.copy()))
    return out


def test_demand_that_fits_needs_no_estimate() -> None:
    ob = tickets(100, [1] * 80, [0.0] * 80, [])
    assert ob.tickets == 80 and ob.method == "fits" and "everyone eligible wins" in ob.reason()


def test_overbooks_within_the_risk_and_says_why() -> None:
    bands = Bands()
    ob = tickets(1000, [1] * 5000, [0.0] * 5000, history(0.7), bands=bands, risk=0.05)
    assert 1000 < ob.tickets < 1000 / 0.7  # more than capacity, less than capacity / show rate
    assert ob.p_over_capacity <= 0.05
    assert ob.p_over_next is not None and ob.p_over_next > 0.05
    assert ob.method == "history" and ob.history_pools == 8
    assert f"{ob.tickets} tickets for 1000 places" in ob.reason()


def test_more_risk_more_tickets_and_zero_risk_none_over() -> None:
    h = history(0.6)
    five = tickets(1000, [1] * 5000, [0.0] * 5000, h, risk=0.05).tickets
    ten = tickets(1000, [1] * 5000, [0.0] * 5000, h, risk=0.10).tickets
    assert ten >= five > 1000
    assert tickets(1000, [1] * 5000, [0.0] * 5000, h, risk=0.0).tickets == 1000
