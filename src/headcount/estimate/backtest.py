"""Backtest: run the estimate over simulated events whose true turnout is known.

Scores are coverage of the interval (share of events whose true turnout lies
inside it) and the median absolute error against the naive planner's guess
(registrations x the historical overall show-up rate).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .bands import Bands, count_registrations
from .model import estimate_headcount
from .prior import Prior
from .simulate import SimEvent, simulate_events


@dataclass(frozen=True)
class BacktestResult:
    events: int
    seed: int
    coverage: float  # share of events with lo <= truth <= hi
    mae: float  # median absolute error of expected_real
    mae_naive: float  # ... of registrations x historical show-up rate
    mae_ratio: float  # mae / mae_naive
    median_rel_width: float  # median (hi - lo) / max(truth, 1)
    coverage_by_fake_share: dict[str, float]
    miss_low: int  # truth below the interval
    miss_high: int  # truth above it

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def score_events(events: list[SimEvent], *, bands: Bands | None = None, level: float = 0.9,
                 prior: Prior | None = None, seed: int = -1) -> BacktestResult:
    bands = bands or Bands()
    inside, err, err_naive, width, share, low, high = [], [], [], [], [], 0, 0
    for ev in events:
        history = [count_registrations(bands, p.scores, p.quantities, p.came) for p in ev.history]
        cur = ev.current
        res = estimate_headcount(count_registrations(bands, cur.scores, cur.quantities), history,
                                 bands=bands, level=level, prior=prior)
        truth = cur.turnout
        lo, hi = res.interval
        inside.append(lo <= truth <= hi)
        low += truth < lo
        high += truth > hi
        err.append(abs(res.expected_real - truth))
        err_naive.append(abs(ev.naive - truth))
        width.append((hi - lo) / max(truth, 1))
        share.append(cur.fake_share)
    inside_a, share_a = np.array(inside), np.array(share)
    by_share = {}
    for a, b in ((0.0, 0.3), (0.3, 0.6), (0.6, 0.8), (0.8, 1.0)):
        m = (share_a >= a) & (share_a < b)
        if m.any():
            by_share[f"{a:.1f}-{b:.1f}"] = float(inside_a[m].mean())
    mae, mae_naive = float(np.median(err)), float(np.median(err_naive))
    return BacktestResult(
        events=len(events), seed=seed, coverage=float(inside_a.mean()), mae=mae, mae_naive=mae_naive,
        mae_ratio=mae / mae_naive if mae_naive > 0 else float("nan"),
        median_rel_width=float(np.median(width)), coverage_by_fake_share=by_share,
        miss_low=int(low), miss_high=int(high),
    )


def run_backtest(events: int = 200, seed: int = 1, *, max_size: int = 1_000_000,
                 max_history_size: int = 60_000, bands: Bands | None = None, level: float = 0.9,
                 prior: Prior | None = None) -> BacktestResult:
    """Simulate `events` events from `seed` and score the estimate on them."""
    evs = simulate_events(events, seed, max_size=max_size, max_history_size=max_history_size)
    return score_events(evs, bands=bands, level=level, prior=prior, seed=seed)
