"""Memory of the service's streaming window: peak RSS for a window of N events.

    python bench/stream_memory.py                          # N = 1M, 3M, 10M; 2 windows for 1M and 3M
    python bench/stream_memory.py --sizes 1000000 --windows 2

Each size runs in a fresh child process (so `ru_maxrss` is that size's own peak). The
child builds the service's own `GroupWatch` (services/detection.py, default window:
`DEFAULT_WINDOW_S`, 7 days) and drives `GroupWatch.collect()` itself: the appends to
`_ts`/`_codes`, the vocabularies, `SlidingGraph.add` and the cut of the window and
`SlidingGraph.expire` as the clock advances. **Only the store read is replaced**: the
watch's `store` is a feed whose `read_actions` hands out generated `ActionRecord` rows
(the same rows a store returns), chunk by chunk. Traffic is ordinary follows: N/15
actors (uniform), N/60 targets with Zipf(0.9) popularity, a home network per 4 actors
and a device per actor (16-hex pseudonyms, as the service stores them), timestamps
spread evenly over the window, so after N events the window holds N and every further
event expires one.

Per size it reports the peak RSS and RSS per event, the raw event arrays' bytes
(actor, target int64 and ts float64: 24 bytes an event) and the ratio, the ingest rate
(events/s through `collect()`, the feed's row making excluded), one stream round as
`stream_tick` runs it (`graph.candidates(STREAM_CANDIDATES, min_score)`: the first after
the load peels the whole graph; a second after 2,000 more events, one second at
2,000 actions/s; only up to 3M events, above that it is as
costly as the first), and a `sys.getsizeof` walk splitting the memory into the graph's
dicts, its expiry buckets, the watch's arrays and the vocabularies. With `--windows 2`
it feeds a second window's worth while the first expires and compares the peak RSS
after each window (the boundedness check).

The stream's graph keeps the newest `HEADCOUNT_STREAM_MAX_EVENTS` events (250,000 by
default; the figure is in each run's record): run once as it is and once with
`HEADCOUNT_STREAM_MAX_EVENTS=0` (the whole window in the graph, as before the cap) to
compare a round's cost with and without it.

Writes bench/results/stream_memory.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 100_000
STEADY = 2_000  # events between the two timed rounds: one second at 2,000 actions/s
STEADY_UP_TO = 3_000_000  # a graph above this skips the second round: up to 3M it repeeled every vertex


def rss_mb() -> float:
    """Current resident set (VmRSS)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class Feed:
    """The watch's `store`: only `read_actions`, over the rows generated so far (a sliding list)."""

    def __init__(self) -> None:
        self.rows: list[Any] = []
        self.first = 1  # seq of rows[0]

    def push(self, rows: list[Any], keep: int) -> None:
        drop = max(0, len(self.rows) - keep)
        self.rows = self.rows[drop:] + rows
        self.first = self.rows[0].seq

    def read_actions(self, after_seq: int = 0, limit: int = 10_000) -> list[Any]:
        at = max(0, after_seq + 1 - self.first)
        return self.rows[at:at + limit]


class Traffic:
    """Ordinary follows for a window of `n` events, generated in chunks with numpy."""

    def __init__(self, n: int, window_s: float, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.actors, self.targets = max(n // 15, 1), max(n // 60, 1)
        w = 1.0 / np.arange(1, self.targets + 1) ** 0.9
        self.cdf = np.cumsum(w) / w.sum()
        self.step = window_s / n
        self.t0 = 1.7e9
        self.seq = 0
        self.salt = int(self.rng.integers(1 << 40))

    def arrays(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        actor = self.rng.integers(0, self.actors, k)
        target = np.searchsorted(self.cdf, self.rng.random(k))
        ts = self.t0 + (self.seq + np.arange(1, k + 1)) * self.step
        return actor, target, ts

    def rows(self, k: int) -> list[Any]:
        from headcount.store.base import ActionRecord

        actor, target, ts = self.arrays(k)
        s = self.salt
        out = []
        for a, t, when in zip(actor.tolist(), target.tolist(), ts.tolist(), strict=True):
            self.seq += 1
            out.append(ActionRecord(self.seq, when, "follow", f"p_{(a * 2654435761 ^ s) & 0xFFFFFFFFFFFF:012x}",
                                    f"@a{t}", None, 1, "allowed", 0.0, (),
                                    {"ip": f"{(a // 4 * 40503 ^ s) & 0xFFFFFFFFFFFFFFFF:016x}",
                                     "device": f"{(a * 97 ^ s) & 0xFFFFFFFFFFFFFFFF:016x}"}))
        return out


def deep_mb(watch: Any) -> dict[str, float]:
    """Bytes held by each part of the watch (`sys.getsizeof` of the containers and their int keys)."""
    g, p = watch.graph, watch.graph.peel
    size = sys.getsizeof
    adj = size(p.adj) + sum(size(nb) + size(v) + sum(size(u) for u in nb) for v, nb in p.adj.items())
    pairs = size(g.pairs) + sum(size(k) for k in g.pairs)
    peel = size(p.order) + size(p.pos) + 2 * sum(size(v) for v in p.pos) + p._peeled.nbytes + p._ids.nbytes
    degrees = sum(size(d) + sum(size(k) for k in d) for d in (g.deg_actor, g.deg_target))
    buckets = sum(c[0].nbytes + c[1].nbytes + c[2].nbytes for chunks in g._buckets.values() for c in chunks)
    arrays = watch._ts.nbytes + sum(c.nbytes for c in watch._codes.values())
    vocab = sum(size(v.index) + size(v.labels) + sum(size(s) for s in v.labels) for v in watch.vocab.values())
    mb = 2**20
    return {"graph_adjacency_mb": round(adj / mb, 1), "graph_pairs_mb": round(pairs / mb, 1),
            "graph_peel_sequence_mb": round(peel / mb, 1), "graph_degrees_mb": round(degrees / mb, 1),
            "graph_expiry_buckets_mb": round(buckets / mb, 1), "watch_arrays_mb": round(arrays / mb, 1),
            "vocabularies_mb": round(vocab / mb, 1)}


def timed_round(watch: Any) -> float:
    """One stream round's detection step, as `stream_tick` runs it."""
    from headcount.services.detection import STREAM_CANDIDATES

    began = time.perf_counter()
    with watch._lock:
        watch.graph.candidates(STREAM_CANDIDATES, watch.min_score)
    return time.perf_counter() - began


def child(n: int, windows: int, walk: bool) -> dict[str, Any]:
    """One size in this process: N events per window through the service's watch."""
    from headcount.services.detection import DEFAULT_WINDOW_S, GroupWatch

    base = rss_mb()
    feed = Feed()
    traffic = Traffic(n, DEFAULT_WINDOW_S)
    clock = {"now": traffic.t0}
    watch = GroupWatch(feed, clock=lambda: clock["now"])  # type: ignore[arg-type]
    out: dict[str, Any] = {"events_per_window": n, "window_s": DEFAULT_WINDOW_S, "actors": traffic.actors,
                           "targets": traffic.targets, "raw_arrays_mb": round(24 * n / 2**20, 1),
                           "baseline_rss_mb": round(base, 1), "stream_max_events": watch.graph.max_events,
                           "windows": []}
    for w in range(windows):
        ingest_s, fed = 0.0, 0
        while fed < n:
            k = min(CHUNK, n - fed)
            feed.push(traffic.rows(k), keep=20_000)
            clock["now"] = feed.rows[-1].ts
            began = time.perf_counter()
            watch.collect()
            ingest_s += time.perf_counter() - began
            fed += k
        gc.collect()
        rec: dict[str, Any] = {"window": w + 1, "events_in_window": len(watch), "graph_events": len(watch.graph),
                               "distinct_pairs": len(watch.graph.pairs),
                               "ingest_events_per_s": round(n / ingest_s), "ingest_s": round(ingest_s, 1),
                               "rss_after_ingest_mb": round(rss_mb(), 1)}
        rec["round_first_s"] = round(timed_round(watch), 2)
        rec["round_first_repeeled"] = watch.graph.peel.repeeled
        if len(watch.graph) <= STEADY_UP_TO:
            feed.push(traffic.rows(STEADY), keep=20_000)
            clock["now"] = feed.rows[-1].ts
            watch.collect()
            rec["round_steady_s"] = round(timed_round(watch), 2)
            rec["round_steady_repeeled"] = watch.graph.peel.repeeled
        rec["peak_rss_mb"] = round(peak_mb(), 1)
        rec["rss_mb"] = round(rss_mb(), 1)
        rec["peak_rss_per_event_b"] = round(rec["peak_rss_mb"] * 2**20 / n)
        rec["peak_over_raw_arrays"] = round(rec["peak_rss_mb"] / out["raw_arrays_mb"], 1)
        rec["peak_above_baseline_mb"] = round(rec["peak_rss_mb"] - base, 1)  # less the interpreter and imports
        rec["above_baseline_over_raw_arrays"] = round(rec["peak_above_baseline_mb"] / out["raw_arrays_mb"], 1)
        print(json.dumps(rec), file=sys.stderr, flush=True)
        if walk and w == windows - 1:
            rec["parts"] = deep_mb(watch)
            print(json.dumps(rec["parts"]), file=sys.stderr, flush=True)
        out["windows"].append(rec)
    if windows > 1:
        first, last = out["windows"][0], out["windows"][-1]
        out["peak_ratio_last_over_first"] = round(last["peak_rss_mb"] / first["peak_rss_mb"], 3)
        out["above_baseline_ratio_last_over_first"] = round(
            last["peak_above_baseline_mb"] / first["peak_above_baseline_mb"], 3)
        out["rss_ratio_last_over_first"] = round(last["rss_mb"] / first["rss_mb"], 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--windows", type=int, default=2, help="windows fed per size (2: the boundedness check)")
    parser.add_argument("--max-windows-events", type=int, default=3_000_000,
                        help="sizes above this feed one window only (time on a 2-core machine)")
    parser.add_argument("--no-walk", action="store_true", help="skip the getsizeof walk of the parts")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "stream_memory.json"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.windows, not args.no_walk)))
        return
    runs = []
    for n in args.sizes:
        windows = args.windows if n <= args.max_windows_events else 1
        cmd = [sys.executable, __file__, "--child", str(n), "--windows", str(windows)]
        if args.no_walk:
            cmd.append("--no-walk")
        began = time.perf_counter()
        done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
        if done.returncode:
            runs.append({"events_per_window": n, "failed": done.returncode})
            print(json.dumps(runs[-1]), flush=True)
            continue
        run = json.loads(done.stdout.strip().splitlines()[-1])
        run["wall_s"] = round(time.perf_counter() - began, 1)
        print(json.dumps(run), flush=True)
        runs.append(run)
    result = {"machine": {"cores": os.cpu_count()}, "command": " ".join(["python", "bench/stream_memory.py",
                                                                         *sys.argv[1:]]), "runs": runs}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
