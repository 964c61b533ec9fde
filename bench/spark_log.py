"""A big action log as a directory of Parquet parts, one part at a time (never the whole log in memory).

    python bench/spark_log.py /tmp/log-10m --events 10000000
    python bench/spark_log.py /tmp/log-10m --single /tmp/log-10m.parquet   # one file, for the local engine

Each part is an independent background (`simulate.injection.background`: lognormal
actor activity, Zipf target popularity, a daily cycle, home networks) over one actor
and target universe (15 events per actor, 60 per target on average, as bench/detect.py's
speed log); part 0 carries an injected ring (200 new accounts x 50 targets, density 0.2,
a 6-hour burst, popular-target camouflage). `DIR.truth.json` beside the directory names the ring.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

PART_EVENTS = 2_000_000


def truth(parts: Path) -> Path:
    """Where the ring of a generated log is named: beside the parts' directory, not in it."""
    return parts.parent / f"{parts.name}.truth.json"


def write_parts(out: Path, events: int, part_events: int = PART_EVENTS, seed: int = 0) -> Path:
    import pyarrow.parquet as pq

    from headcount.simulate.injection import background, inject, log_table

    out.mkdir(parents=True, exist_ok=True)
    n_actors, n_targets = max(1_000, events // 15), max(200, events // 60)
    n_parts = max(1, -(-events // part_events))
    for i in range(n_parts):
        n = min(part_events, events - i * part_events)
        if i == 0:
            inj = inject(density=0.2, burst_s=6 * 3600, camouflage="popular", seed=seed, n_actors=n_actors,
                         n_targets=n_targets, n_events=n)
            table = inj.table()
            truth(out).write_text(json.dumps(inj.truth()))
        else:
            bg = background(n_actors=n_actors, n_targets=n_targets, n_events=n, seed=seed * 1000 + i)
            table = log_table(bg.actor, bg.target, bg.ts, bg.ip)
        pq.write_table(table, out / f"part-{i:05d}.parquet")
        del table
    return out


def single_file(parts: Path, path: Path) -> Path:
    """The parts as one Parquet file, streamed a part at a time (the local engine reads one file)."""
    import pyarrow.parquet as pq

    files = sorted(parts.glob("part-*.parquet"))
    writer = None
    for f in files:
        table = pq.read_table(f)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
        del table
    if writer is not None:
        writer.close()
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--part-events", type=int, default=PART_EVENTS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--single", type=Path, help="also write the parts as one file here")
    args = ap.parse_args()
    write_parts(args.out, args.events, args.part_events, args.seed)
    if args.single:
        single_file(args.out, args.single)


if __name__ == "__main__":
    main()
