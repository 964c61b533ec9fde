"""The null suite at scale: innocent crowds through the service's detection job, false blocks counted.

    python bench/stream_null.py                      # 50 seeds, both network variants
    python bench/stream_null.py --seeds 10 --variants shared
    python bench/stream_null.py --first-seed 1000 --variants shared --out /tmp/unseen.json

Each seed is an innocent follow log (`simulate.crowds.innocent_follows` at its default
sizes: 1,500-3,000 people, about 8-15k follows over two days, a flash crowd of 300-1,200,
households, choirs, a class of 25) replayed through `GroupWatch` on an SQLite store:
`stream_tick` every `--round-events` events, then the full pass (`testing.streamreplay`).
Every flagged actor is a false one (no ring is planted). Variants: `shared` (households
on their home network, half the class on the school's) and `own` (everyone on their own).

Prints, per variant, the seeds with any false block (stream, full pass, either) and the
false-blocked actors per 10,000 actors (median and worst over seeds), and which benign
patterns the false blocks' members belong to. Writes bench/results/stream_null.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from headcount.simulate.crowds import CrowdLog, innocent_follows
from headcount.testing.streamreplay import replay

ROOT = Path(__file__).resolve().parent.parent


def main_pattern(log: CrowdLog, actors: tuple[str, ...]) -> str:
    """The benign pattern most of a false block's members come from (the smaller one on a tie),
    without its number: 'household', 'class', 'flash_crowd', ... ('none' if no pattern holds them)."""
    members = set(actors)
    best = max(log.patterns.items(), key=lambda kv: (len(members & kv[1]), -len(kv[1])))
    return re.sub(r"_\d+$", "", best[0]) if members & best[1] else "none"


def run_seed(seed: int, shared: bool, round_events: int) -> dict[str, Any]:
    log = innocent_follows(seed, shared_networks=shared)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run = replay(log, Path(tmp) / "null.db", round_events)
    actors = len(set(log.actor))
    stream = {a for b in run.stream.values() for a in b.actors}
    full = {a for b in run.full for a in b.actors}
    return {"seed": seed, "events": len(log), "actors": actors, "rounds": run.rounds,
            "stream_blocks": len(run.stream), "full_blocks": len(run.full),
            "stream_false_actors": len(stream), "full_false_actors": len(full),
            "false_actors": len(stream | full),
            "per_10k": round(1e4 * len(stream | full) / actors, 2),
            "stream_per_10k": round(1e4 * len(stream) / actors, 2),
            "blocks": [{"detector": b.detector, "actors": len(b.actors), "targets": len(b.targets),
                        "from": "stream" if b in run.stream.values() else "full", "pattern": main_pattern(log, b.actors)}
                       for b in [*run.stream.values(), *run.full]],
            "seconds": round(time.perf_counter() - began, 2)}


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    rates, stream_rates = [r["per_10k"] for r in runs], [r["stream_per_10k"] for r in runs]
    patterns: Counter[str] = Counter()
    for r in runs:
        patterns.update({b["pattern"] for b in r["blocks"]})
    return {"seeds": len(runs),
            "seeds_with_false_block": sum(r["false_actors"] > 0 for r in runs),
            "seeds_with_stream_false_block": sum(r["stream_blocks"] > 0 for r in runs),
            "seeds_with_full_pass_false_block": sum(r["full_blocks"] > 0 for r in runs),
            "false_actors_per_10k_median": statistics.median(rates), "false_actors_per_10k_worst": max(rates),
            "stream_false_actors_per_10k_median": statistics.median(stream_rates),
            "stream_false_actors_per_10k_worst": max(stream_rates),
            "seeds_whose_false_blocks_hold_pattern": dict(patterns),
            "events_median": statistics.median(r["events"] for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds first..first+seeds-1 (seeds 0-49 were looked at while building the"
                             " evidence tests; 1000 and up were not)")
    parser.add_argument("--variants", nargs="+", default=["shared", "own"], choices=["shared", "own"])
    parser.add_argument("--round-events", type=int, default=250, help="events per stream round")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "stream_null.json"))
    args = parser.parse_args()
    result: dict[str, Any] = {"machine": {"cores": os.cpu_count()}, "round_events": args.round_events}
    for variant in args.variants:
        runs = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            run = run_seed(seed, variant == "shared", args.round_events)
            print(json.dumps({"variant": variant, **{k: v for k, v in run.items() if k != "blocks"}}), flush=True)
            runs.append(run)
        result[variant] = {"summary": summary(runs), "runs": runs}
        s = result[variant]["summary"]
        print(f"[{variant}] seeds with any false block: {s['seeds_with_false_block']}/{s['seeds']}"
              f" (stream {s['seeds_with_stream_false_block']}, full pass {s['seeds_with_full_pass_false_block']});"
              f" false-blocked actors per 10,000: median {s['false_actors_per_10k_median']},"
              f" worst {s['false_actors_per_10k_worst']}; patterns {s['seeds_whose_false_blocks_hold_pattern']}",
              flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
