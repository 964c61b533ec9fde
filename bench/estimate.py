"""Backtest of the real-headcount estimate: coverage, width and misses per seed, on a fixed split.

    python bench/estimate.py --half held-back          # what is reported (seeds 101-103, settings A and B)
    python bench/estimate.py --half tune               # what the model was tuned on (settings A, seeds 1-3)
    python bench/estimate.py --half today              # the issue's generator, seeds 1-3 and 101-103
    python bench/estimate.py --events 200 --seeds 1 2 3 [--settings today|A|B]   # any seeds by hand

The split is fixed in `headcount.estimate.backtest` (TUNE, HELD_BACK). Every
seed is scored twice: with the check-in history (`returning` seats per band;
settings A and B generate it) and without it (band counts only, what the
service reads today). Per seed: coverage of the 90% interval, median
(hi - lo) / truth, misses below (estimate high) / above (estimate low), median
relative error, the oracle's width and coverage (an interval that knows every
label and each earlier pool's real show-up rate: a floor for the width), and the
bar (coverage 0.85-0.95, width <= 0.5, misses within 2:1). Prints the worst seed
per half, writes bench/results/estimate.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from headcount.estimate import Bands
from headcount.estimate.backtest import (
    BAR,
    BAR_COVERAGE,
    HELD_BACK,
    TODAY_HALVES,
    TUNE,
    Half,
    score_events,
)
from headcount.estimate.simulate import SETTINGS, simulate_events


def _worst(rows: list[dict]) -> dict:
    """The seed farthest from the bar: coverage outside the range first, then width, then lean."""
    def badness(r: dict) -> tuple[float, float, float]:
        lo_c, hi_c = BAR_COVERAGE
        cov = max(lo_c - r["coverage"], r["coverage"] - hi_c, 0.0)
        lean = max(r["miss_low"], 1) / max(r["miss_high"], 1)
        return (cov, r["median_rel_width"], max(lean, 1 / lean))
    return max(rows, key=badness)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--half", choices=["tune", "held-back", "today", "all"])
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--seeds", type=int, nargs="+")
    ap.add_argument("--settings", choices=sorted(SETTINGS), default="today")
    ap.add_argument("--level", type=float, default=0.9)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "estimate.json"))
    args = ap.parse_args()
    if args.half and args.seeds:
        ap.error("--half and --seeds: give one of them")
    if args.half == "tune":
        halves = TUNE
    elif args.half == "held-back":
        halves = HELD_BACK
    elif args.half == "today":
        halves = TODAY_HALVES
    elif args.half == "all":
        halves = TUNE + HELD_BACK + TODAY_HALVES
    else:
        halves = (Half(f"by hand ({args.settings})", SETTINGS[args.settings], tuple(args.seeds or (1, 2, 3))),)
    bands = Bands()
    out: dict[str, object] = {"level": args.level, "events_per_seed": args.events, "bar": BAR, "halves": []}
    print(f"{'half':<20} {'gen':>5} {'seed':>5} {'evid':>5} {'coverage':>9} {'rel width':>9} "
          f"{'below':>5} {'above':>5} {'rel err':>7} {'MAE/naive':>9} {'oracle w/cov':>12}  bar")
    for half in halves:
        rows: list[dict] = []
        for seed in half.seeds:
            t0 = time.perf_counter()
            events = simulate_events(args.events, seed, settings=half.settings)
            for evidence in ((True, False) if half.settings.returning is not None else (False,)):
                res = score_events(events, bands=bands, level=args.level, seed=seed, evidence=evidence,
                                   settings=half.settings.name)
                row = res.to_dict() | {"seconds": round(time.perf_counter() - t0, 1)}
                rows.append(row)
                print(f"{half.name:<20} {half.settings.name:>5} {seed:>5} {'yes' if evidence else 'no':>5} "
                      f"{res.coverage:>9.3f} {res.median_rel_width:>9.2f} {res.miss_low:>5} {res.miss_high:>5} "
                      f"{res.median_rel_error:>7.3f} {res.mae_ratio:>9.3f} "
                      f"{res.oracle_median_rel_width:>6.2f}/{res.oracle_coverage:.2f}  "
                      f"{'meets' if res.meets_bar else 'MISSES'}", flush=True)
        summary = {}
        for evidence in (True, False):
            sub = [r for r in rows if r["evidence"] == evidence]
            if sub:
                w = _worst(sub)
                summary["with_history" if evidence else "band_counts_only"] = {
                    "worst_seed": w["seed"], "coverage_range": [min(r["coverage"] for r in sub),
                                                                max(r["coverage"] for r in sub)],
                    "median_rel_width_max": max(r["median_rel_width"] for r in sub),
                    "seeds_meeting_bar": sum(r["meets_bar"] for r in sub), "seeds": len(sub),
                }
                print(f"  {half.name}, {'with check-in history' if evidence else 'band counts only'}: worst seed "
                      f"{w['seed']} (coverage {w['coverage']:.3f}, width {w['median_rel_width']:.2f}, "
                      f"misses {w['miss_low']}/{w['miss_high']}); "
                      f"{summary['with_history' if evidence else 'band_counts_only']['seeds_meeting_bar']}"
                      f"/{len(sub)} seeds meet the bar")
        out["halves"].append({"half": half.name, "settings": half.settings.name, "seeds": rows,  # type: ignore[union-attr]
                              "summary": summary})
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
