"""Backtest of the real-headcount estimate: interval coverage and error vs the naive guess.

    python bench/estimate.py [--events 200] [--seeds 1 2 3 4 5 6 7 8 9 10] [--level 0.9]

For each seed, simulates `events` organisers (5-30 earlier pools each, a new pool
of 300 to 1M registrations with 0-95% fakes) and scores the estimate's interval
coverage and its median absolute error against registrations x the historical
show-up rate. Prints each seed and the medians across seeds; writes
bench/results/estimate.json. Also scores the no-history prior on the same events.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from headcount.estimate import Bands, count_registrations, estimate_headcount
from headcount.estimate.backtest import score_events
from headcount.estimate.simulate import simulate_events


def _prior_only(events: list, bands: Bands, level: float) -> dict[str, float]:
    inside, err = [], []
    for ev in events:
        cur = ev.current
        res = estimate_headcount(count_registrations(bands, cur.scores, cur.quantities), [], bands=bands,
                                 level=level)
        inside.append(res.interval[0] <= cur.turnout <= res.interval[1])
        err.append(abs(res.expected_real - cur.turnout))
    naive = [abs(ev.naive - ev.current.turnout) for ev in events]
    return {"coverage": float(np.mean(inside)), "mae_ratio": float(np.median(err) / np.median(naive))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 11)))
    ap.add_argument("--level", type=float, default=0.9)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "estimate.json"))
    args = ap.parse_args()
    bands = Bands()
    rows = []
    print(f"{'seed':>5} {'events':>6} {'coverage':>9} {'MAE':>9} {'MAE naive':>10} {'ratio':>6} "
          f"{'rel width':>9} {'below':>5} {'above':>5}  prior-only cov/ratio")
    for seed in args.seeds:
        t0 = time.perf_counter()
        events = simulate_events(args.events, seed)
        res = score_events(events, bands=bands, level=args.level, seed=seed)
        prior = _prior_only(events, bands, args.level)
        row = res.to_dict() | {"prior_only": prior, "seconds": round(time.perf_counter() - t0, 1)}
        rows.append(row)
        print(f"{seed:>5} {res.events:>6} {res.coverage:>9.3f} {res.mae:>9.0f} {res.mae_naive:>10.0f} "
              f"{res.mae_ratio:>6.3f} {res.median_rel_width:>9.2f} {res.miss_low:>5} {res.miss_high:>5}"
              f"  {prior['coverage']:.3f}/{prior['mae_ratio']:.3f}", flush=True)
    summary = {
        "coverage_median": statistics.median(r["coverage"] for r in rows),
        "coverage_min": min(r["coverage"] for r in rows),
        "coverage_max": max(r["coverage"] for r in rows),
        "mae_ratio_median": statistics.median(r["mae_ratio"] for r in rows),
        "mae_ratio_max": max(r["mae_ratio"] for r in rows),
        "target": "coverage in [0.85, 0.95], MAE ratio <= 0.5",
    }
    print(f"median over {len(rows)} seeds: coverage {summary['coverage_median']:.3f} "
          f"(range {summary['coverage_min']:.3f}-{summary['coverage_max']:.3f}), "
          f"MAE ratio {summary['mae_ratio_median']:.3f} (worst {summary['mae_ratio_max']:.3f})")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"level": args.level, "events_per_seed": args.events, "seeds": rows,
                               "summary": summary}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
