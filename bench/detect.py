"""Coordinated-group detection against injected rings, the baselines, the null case and speed (issue 4).

    python bench/detect.py                  # the sweep: 5 densities x 3 bursts x 4 camouflages x 3 seeds
    python bench/detect.py --quick          # one small subset (a minute or two)
    python bench/detect.py --jobs 2 --baselines fraudar densest --seeds 0 1 2
    python bench/detect.py --null-seeds 10  # background only: no block may reach the reporting threshold
    python bench/detect.py --null-suite held  # innocent crowds (5 kinds x 10 held-back seeds): 0 blocks
    python bench/detect.py --speed          # vs rgmining-fraudar on one 1M-edge graph; 10M events through Ensemble

The sweep injects a ring of 200 actors x 50 targets into 300,000 background events
(`headcount.simulate.injection`) and scores, per detector, the best of its top 5
blocks by actor-level F1 against the ring. Baselines, in the same run and on the
same logs: `rgmining-fraudar` (the original FRAUDAR greedy, log-weighted columns,
several blocks by removing each found block's edges) and networkx's greedy++
densest subgraph (one block) on the actor-target bipartite graph. Both ignore time,
so they run once per (density, camouflage, seed): the generator keeps the graph
identical across burst lengths and this script checks it. Times are wall seconds
(and CPU seconds in the JSON) of each method alone, input encoding included. With
--jobs > 1 cells run in parallel and wall times include the contention.

Cost on the 2-core machine (2026-11-23, one 300k-event cell, CPU seconds):
rgmining-fraudar 5 blocks 8-10 s (1 block 3.4 s), greedy++ 1 round 8-11 s (3 rounds
19 s), headcount's Ensemble 1-2 s per burst. One seed of the full grid (20 graphs,
60 runs of ours) took 9.5 minutes with --jobs 1, so 3 seeds take about 30 minutes,
about 15 with --jobs 2 on an otherwise idle machine. --speed takes about 3 minutes.

Results go to --out (default bench/results/detect.json); each mode updates its own key.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import inspect
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from headcount.simulate.injection import (
    BURSTS,
    CAMOUFLAGE,
    DAY,
    DENSITIES,
    HOUR,
    InjectionParams,
    background,
    inject,
    write_log,
)

BASELINES = ("fraudar", "densest")
SHORT = {"headcount": "headcount", "rgmining-fraudar": "rgmining-fraudar", "greedy++": "nx greedy++"}
TOP = 5
console = Console(width=None if sys.stdout.isatty() else 150)


# ---------------------------------------------------------------- scoring

@dataclass(frozen=True)
class Match:
    """The best block of a method against the ring, actor level."""

    precision: float
    recall: float
    f1: float
    rank: int  # 0-based rank of the best block among the method's blocks; -1 if none
    size: int  # actors in that block
    blocks: int  # blocks the method reported


def best_match(blocks: Iterable[Iterable[int]], ring: frozenset[int]) -> Match:
    """Highest-F1 block: the sweep asks whether the ring is among the top blocks, not at rank 1."""
    best = Match(0.0, 0.0, 0.0, -1, 0, 0)
    n = 0
    for rank, actors in enumerate(blocks):
        n += 1
        members = set(actors)
        hit = len(members & ring)
        if not hit:
            continue
        p, r = hit / len(members), hit / len(ring)
        f1 = 2 * p * r / (p + r)
        if f1 > best.f1:
            best = Match(p, r, f1, rank, len(members), 0)
    return Match(best.precision, best.recall, best.f1, best.rank, best.size, n)


def burst_label(seconds: int) -> str:
    return f"{seconds // DAY}d" if seconds % DAY == 0 else f"{seconds // HOUR}h"


def parse_burst(text: str) -> int:
    """'1h', '6h', '3d' or seconds."""
    unit = {"h": HOUR, "d": DAY, "s": 1}.get(text[-1].lower())
    return int(float(text[:-1]) * unit) if unit else int(text)


# ---------------------------------------------------------------- methods

class Stopwatch:
    """Wall and CPU seconds of this process: on a shared machine CPU time is the steadier figure."""

    wall: float = 0.0
    cpu: float = 0.0

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self._wall, time.process_time() - self._cpu

    def plus(self, other: Stopwatch) -> Stopwatch:
        total = Stopwatch()
        total.wall, total.cpu = self.wall + other.wall, self.cpu + other.cpu
        return total


_warm = False


def _warm_up() -> None:
    """Compile the detectors' hot loops once per process, so no cell pays for it."""
    global _warm
    if not _warm:
        small = inject(density=0.5, seed=99, n_actors=2_000, n_targets=500, n_events=20_000,
                       ring_actors=20, ring_targets=10)
        run_ours(small.actor, small.target, small.ts, small.ip)
        _warm = True


def run_ours(actor: np.ndarray, target: np.ndarray, ts: np.ndarray, ip: np.ndarray,
             **params: Any) -> tuple[list[np.ndarray], Stopwatch, Any]:
    """headcount's Ensemble(top=5): its blocks' actor labels, the time, the fitted model."""
    from headcount.detect import ActionLog, Ensemble

    with Stopwatch() as watch:
        log = ActionLog.from_arrays(actor=actor, target=target, ts=ts, extra={"ip": ip})
        model = Ensemble(top=TOP, **params).fit(log)
    return [np.asarray(b.actors) for b in model.blocks_[:TOP]], watch, model


@dataclass(frozen=True)
class Graph:
    """The deduplicated actor x target graph in codes, with the labels of the codes."""

    actor_labels: np.ndarray
    target_labels: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    watch: Stopwatch  # what building it cost; charged to each baseline

    @property
    def key(self) -> str:
        """A fingerprint of the edge set in labels, to check that two logs have the same graph."""
        digest = hashlib.sha1(np.ascontiguousarray(self.actor_labels[self.rows]).tobytes())
        digest.update(np.ascontiguousarray(self.target_labels[self.cols]).tobytes())
        return digest.hexdigest()


def bipartite(actor: np.ndarray, target: np.ndarray) -> Graph:
    with Stopwatch() as watch:
        actor_labels, a = np.unique(actor, return_inverse=True)
        target_labels, t = np.unique(target, return_inverse=True)
        edges = np.unique(a.astype(np.int64) * target_labels.size + t)
        rows, cols = edges // target_labels.size, edges % target_labels.size
    return Graph(actor_labels, target_labels, rows, cols, watch)


def run_rgmining_fraudar(graph: Graph, blocks: int = TOP) -> tuple[list[np.ndarray], Stopwatch]:
    """rgmining-fraudar's FRAUDAR greedy (log-weighted columns), `blocks` blocks.

    Called at `fraudar.export.greedy.detectMultiple`, the package's own entry that
    `ReviewGraph.update` uses after writing the graph to a temporary text file and
    parsing it back; skipping that round trip is the baseline's fastest path.
    """
    import scipy.sparse as sp
    from fraudar.export import greedy

    with Stopwatch() as watch:
        shape = (graph.actor_labels.size, graph.target_labels.size)
        matrix = sp.coo_matrix((np.ones(graph.rows.size, dtype=np.int64), (graph.rows, graph.cols)),
                               shape=shape).tocsr()
        with contextlib.redirect_stdout(io.StringIO()):  # it prints its progress
            found = greedy.detectMultiple(matrix, greedy.logWeightedAveDegree, blocks)
    return [graph.actor_labels[sorted(rows)] for (rows, _cols), _score in found], watch.plus(graph.watch)


def run_densest(graph: Graph, iterations: int = 1) -> tuple[list[np.ndarray], Stopwatch]:
    """networkx greedy++ densest subgraph on the bipartite graph; its actor nodes are the block."""
    import networkx as nx

    with Stopwatch() as watch:
        n_actors = graph.actor_labels.size
        g = nx.Graph()
        g.add_edges_from(zip(graph.rows.tolist(), (graph.cols + n_actors).tolist()))
        _density, nodes = nx.approximation.densest_subgraph(g, iterations, method="greedy++")
        actors = np.array(sorted(n for n in nodes if n < n_actors), dtype=np.int64)
    return [graph.actor_labels[actors]], watch.plus(graph.watch)


# ---------------------------------------------------------------- the sweep

@dataclass(frozen=True)
class Unit:
    """One graph: a density, a camouflage and a seed, run at every burst length."""

    density: float
    camouflage: str
    seed: int
    bursts: tuple[int, ...]
    baselines: tuple[str, ...]
    fraudar_blocks: int
    densest_iterations: int


def run_unit(unit: Unit) -> list[dict[str, Any]]:
    """Ours at every burst; each baseline once, on the graph all bursts share."""
    _warm_up()
    rows: list[dict[str, Any]] = []
    shared: dict[str, tuple[Match, Stopwatch]] = {}
    graph_key = None
    for burst in unit.bursts:
        inj = inject(InjectionParams(density=unit.density, burst_s=burst, camouflage=unit.camouflage,
                                     seed=unit.seed))
        cell = {"density": unit.density, "burst_s": burst, "burst": burst_label(burst),
                "camouflage": unit.camouflage, "seed": unit.seed, "events": len(inj)}
        blocks, watch, _ = run_ours(inj.actor, inj.target, inj.ts, inj.ip)
        rows.append(cell | {"method": "headcount", "seconds": round(watch.wall, 3), "cpu_s": round(watch.cpu, 3)}
                    | match_dict(best_match((b.tolist() for b in blocks), inj.ring_actors)))
        if unit.baselines:
            graph = bipartite(inj.actor, inj.target)
            if graph_key is None:
                graph_key = graph.key
                if "fraudar" in unit.baselines:
                    found, secs = run_rgmining_fraudar(graph, unit.fraudar_blocks)
                    shared["rgmining-fraudar"] = (best_match((b.tolist() for b in found), inj.ring_actors), secs)
                if "densest" in unit.baselines:
                    found, secs = run_densest(graph, unit.densest_iterations)
                    shared["greedy++"] = (best_match((b.tolist() for b in found), inj.ring_actors), secs)
            elif graph.key != graph_key:
                raise RuntimeError(f"the graph changed with the burst length in {cell}; "
                                   "baselines cannot be shared across bursts")
            for method, (match, secs) in shared.items():
                rows.append(cell | {"method": method, "seconds": round(secs.wall, 3), "cpu_s": round(secs.cpu, 3),
                                    "shared_across_bursts": True}
                            | match_dict(match))
    return rows


def match_dict(m: Match) -> dict[str, Any]:
    return {"precision": round(m.precision, 4), "recall": round(m.recall, 4), "f1": round(m.f1, 4),
            "best_rank": m.rank, "best_size": m.size, "blocks": m.blocks}


def _pool(jobs: int) -> ProcessPoolExecutor:
    # Each worker gets its share of the cores for numba's threads; spawn, not fork,
    # because forking after a threaded runtime has started can deadlock.
    os.environ.setdefault("NUMBA_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
    return ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"))


def run_units(units: list[Unit], jobs: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("sweep", total=len(units))
        if jobs <= 1:
            outputs: Iterable[tuple[Unit, list[dict[str, Any]]]] = ((u, run_unit(u)) for u in units)
            for unit, out in outputs:
                rows += out
                progress.console.print(unit_line(unit, out))
                progress.advance(task)
        else:
            with _pool(jobs) as pool:
                futures = {pool.submit(run_unit, u): u for u in units}
                for future in as_completed(futures):
                    out = future.result()
                    rows += out
                    progress.console.print(unit_line(futures[future], out))
                    progress.advance(task)
    return rows


def unit_line(unit: Unit, rows: list[dict[str, Any]]) -> str:
    ours = " ".join(f"{r['burst']}:{r['f1']:.2f}({r['seconds']:.1f}s)" for r in rows if r["method"] == "headcount")
    base = {r["method"]: r for r in rows if r["method"] != "headcount"}
    others = " ".join(f"{m} {r['f1']:.2f}({r['seconds']:.1f}s)" for m, r in base.items())
    return f"d={unit.density:<4} {unit.camouflage:<8} seed {unit.seed}: ours {ours}  {others}"


def summarise(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per cell (density, burst, camouflage): mean and min F1 and mean time per method."""
    groups: dict[tuple[float, int, str], dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        groups[(r["density"], r["burst_s"], r["camouflage"])][r["method"]].append(r)
    cells = []
    for (density, burst, camo), methods in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], CAMOUFLAGE.index(kv[0][2]))):
        cell: dict[str, Any] = {"density": density, "burst": burst_label(burst), "burst_s": burst,
                                "camouflage": camo, "methods": {}}
        for method, rs in methods.items():
            f1 = [r["f1"] for r in rs]
            cell["methods"][method] = {"f1_mean": round(float(np.mean(f1)), 4), "f1_min": round(min(f1), 4),
                                       "seconds_mean": round(float(np.mean([r["seconds"] for r in rs])), 3),
                                       "cpu_s_mean": round(float(np.mean([r["cpu_s"] for r in rs])), 3),
                                       "seeds": len(rs)}
        baseline = [v["f1_mean"] for m, v in cell["methods"].items() if m != "headcount"]
        ours = cell["methods"].get("headcount", {}).get("f1_mean", 0.0)
        cell["best_baseline_f1"] = max(baseline) if baseline else None
        cell["ours_at_least_best_baseline"] = None if not baseline else ours >= max(baseline) - 1e-9
        cells.append(cell)
    dense = [c for c in cells if c["density"] >= 0.1]
    won = [c for c in dense if c["methods"]["headcount"]["f1_mean"] >= 0.9]
    compared = [c for c in cells if c["ours_at_least_best_baseline"] is not None]
    summary = {
        "cells": len(cells),
        "density>=0.1 cells": len(dense),
        "density>=0.1 cells with ours F1>=0.9 (mean over seeds)": len(won),
        "density>=0.1 cells with ours F1>=0.9 in every seed": sum(c["methods"]["headcount"]["f1_min"] >= 0.9 for c in dense),
        "cells compared with baselines": len(compared),
        "cells with ours >= best baseline": sum(bool(c["ours_at_least_best_baseline"]) for c in compared),
        "missed (density>=0.1, ours F1<0.9)": [f"{c['density']}/{c['burst']}/{c['camouflage']}" for c in dense if c not in won],
        "behind a baseline": [f"{c['density']}/{c['burst']}/{c['camouflage']}" for c in compared
                              if not c["ours_at_least_best_baseline"]],
    }
    return cells, summary


def print_cells(cells: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    methods = [m for m in ("headcount", "rgmining-fraudar", "greedy++") if any(m in c["methods"] for c in cells)]
    table = Table(title="Best of the top 5 blocks, actor-level F1 (mean over seeds; min in brackets) and seconds")
    for name in ("density", "burst", "camouflage"):
        table.add_column(name, no_wrap=True)
    for m in methods:
        table.add_column(f"{SHORT[m]} F1", justify="right", no_wrap=True)
        table.add_column("s", justify="right", no_wrap=True)
    if len(methods) > 1:
        table.add_column("ours >= best", justify="center", no_wrap=True)
    for c in cells:
        row = [str(c["density"]), c["burst"], c["camouflage"]]
        for m in methods:
            v = c["methods"].get(m)
            row += ([f"{v['f1_mean']:.3f} ({v['f1_min']:.2f})", f"{v['seconds_mean']:.1f}"] if v else ["", ""])
        if len(methods) > 1:
            row.append({True: "yes", False: "NO", None: ""}[c["ours_at_least_best_baseline"]])
        table.add_row(*row)
    console.print(table)
    for key, value in summary.items():
        console.print(f"{key}: {value}")


def sweep(args: argparse.Namespace) -> dict[str, Any]:
    units = [Unit(d, camo, seed, tuple(args.bursts), tuple(args.baselines), args.fraudar_blocks,
                  args.densest_iterations)
             for d in args.densities for camo in args.camouflage for seed in args.seeds]
    console.print(f"{len(units)} graphs x {len(args.bursts)} bursts = {len(units) * len(args.bursts)} runs of ours; "
                  f"baselines {', '.join(args.baselines) or 'none'} once per graph; {args.jobs} job(s)")
    start = time.perf_counter()
    rows = run_units(units, args.jobs)
    cells, summary = summarise(rows)
    print_cells(cells, summary)
    return {"args": {k: v for k, v in vars(args).items() if k != "out"}, "seconds": round(time.perf_counter() - start, 1),
            "summary": summary, "cells": cells, "rows": rows}


# ---------------------------------------------------------------- null: background only

def null_case(seeds: int) -> dict[str, Any]:
    """Background only: the top block's score per seed and the blocks at the reporting threshold."""
    from headcount.detect import Ensemble

    threshold = float(Ensemble().min_score)
    # see every block, not only reported ones, when the Ensemble lets us lower its threshold
    params = {"min_score": float("-inf")} if "min_score" in inspect.signature(Ensemble).parameters else {}
    _warm_up()
    rows = []
    table = Table(title=f"Background only (no ring): Ensemble(top={TOP}), reporting threshold {threshold}")
    for name in ("seed", "top score", "blocks >= threshold", "top block actors x targets", "seconds"):
        table.add_column(name, justify="right")
    for seed in range(seeds):
        bg = background(seed=seed)
        _, watch, model = run_ours(bg.actor, bg.target, bg.ts, bg.ip, **params)
        seconds = watch.wall
        scores = [float(b.score) for b in model.blocks_]
        top = model.blocks_[0] if model.blocks_ else None
        row = {"seed": seed, "top_score": max(scores) if scores else None,
               "blocks_at_threshold": sum(s >= threshold for s in scores), "seconds": round(seconds, 2),
               "top_block": None if top is None else {"actors": int(np.size(top.actors)), "targets": int(np.size(top.targets)),
                                                       "detector": top.detector}}
        rows.append(row)
        table.add_row(str(seed), "none" if row["top_score"] is None else f"{row['top_score']:.2f}",
                      str(row["blocks_at_threshold"]),
                      "" if top is None else f"{np.size(top.actors)} x {np.size(top.targets)} ({top.detector})",
                      f"{seconds:.1f}")
    console.print(table)
    flagged = sum(r["blocks_at_threshold"] > 0 for r in rows)
    console.print(f"seeds with a block at or above {threshold}: {flagged} of {seeds}")
    return {"threshold": threshold, "seeds": seeds, "seeds_with_block": flagged, "rows": rows}


# ---------------------------------------------------------------- null suite: innocent crowds

# Fixed before any tuning: seeds 0-9 of each kind were looked at while developing,
# seeds 100-109 are held back and are the reported figures.
NULL_TRAIN_SEEDS = tuple(range(10))
NULL_HELD_SEEDS = tuple(range(100, 110))
NULL_KINDS = ("zipf", "amazon", "flash", "popular_follow", "weekly")
# the real background: ../shared/data beside the checkout (or any folder above it)
AMAZON = next((p / "shared" / "data" / "amazon_art.edgelist" for p in Path(__file__).resolve().parents
               if (p / "shared" / "data" / "amazon_art.edgelist").exists()),
              Path("/work/shared/data/amazon_art.edgelist"))


def _own(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct values: each real person's own network or device."""
    return rng.permutation(np.arange(10_000_000, 10_000_000 + 4 * n))[:n]


def null_log(kind: str, seed: int) -> dict[str, np.ndarray]:
    """One innocent log: actor, target, ts and extra modes (ip, device, verb)."""
    rng = np.random.default_rng([seed, 77])
    if kind == "amazon":
        raw = np.loadtxt(AMAZON, comments="%", delimiter=",", dtype=np.int64)
        users = np.unique(raw[:, 0])
        keep = np.isin(raw[:, 0], rng.choice(users, int(users.size * 0.9), replace=False))
        raw = raw[keep]
        return {"actor": raw[:, 0], "target": raw[:, 1], "ts": raw[:, 3]}
    if kind == "zipf":
        bg = background(seed=seed)
        return {"actor": bg.actor, "target": bg.target, "ts": bg.ts, "ip": bg.ip.astype(np.int64),
                "device": bg.actor * 7 + 1}
    if kind == "flash":  # 1,000-5,000 real people on 1-5 launched targets within minutes
        bg = background(n_actors=10_000, n_targets=2_000, n_events=150_000, seed=seed)
        n, k = int(rng.integers(1_000, 5_001)), int(rng.integers(1, 6))
        launched = rng.choice(2_000, k, replace=False)
        old = rng.random(n) < 0.6  # most are regulars, the rest new accounts
        who = np.where(old, rng.integers(0, 10_000, n), 10_000 + np.arange(n))
        picks = rng.random((n, k)) < 0.6
        picks[np.arange(n), rng.integers(0, k, n)] = True
        pi, pj = np.nonzero(picks)
        at = int(bg.ts.min()) + int(rng.integers(2 * DAY, 28 * DAY))
        ts = at + np.minimum(rng.exponential(120.0, pi.size), 1800).astype(np.int64)
        ip, dev = _own(rng, n), _own(rng, n)
        home = bg.ip.astype(np.int64)
        return {"actor": np.concatenate([bg.actor, who[pi]]), "target": np.concatenate([bg.target, launched[pj]]),
                "ts": np.concatenate([bg.ts, ts]), "ip": np.concatenate([home, ip[pi]]),
                "device": np.concatenate([bg.actor * 7 + 1, dev[pi]])}
    if kind == "popular_follow":  # ordinary accounts follow popular ones; a few mass followers
        from headcount.simulate.social import follows

        t = follows(accounts=20_000, ring=0, mass_followers=10, seed=seed).table
        return {"actor": np.asarray(t["actor"]), "target": np.asarray(t["target"]), "ts": np.asarray(t["ts"]),
                "ip": np.asarray(t["ip"]), "verb": np.asarray(t["verb"])}
    if kind == "weekly":  # a community of 30-80 meets every week: that week's event and the forum
        bg = background(n_actors=10_000, n_targets=2_000, n_events=150_000, seed=seed)
        size = int(rng.integers(30, 81))
        members = rng.choice(10_000, size, replace=False)
        t0 = int(bg.ts.min()) + int(rng.integers(0, 7)) * DAY + 19 * HOUR
        a, g, ts = [], [], []
        for week in range(4):
            came = members[rng.random(size) < 0.8]
            for target in (5_000 + week, 9_999):
                a.append(came)
                g.append(np.full(came.size, target))
                ts.append(t0 + week * 7 * DAY + rng.integers(0, 2 * HOUR, came.size))
        a_, g_, t_ = np.concatenate(a), np.concatenate(g), np.concatenate(ts)
        homes = dict(zip(range(10_000), bg.networks[:, 0].astype(np.int64)))
        return {"actor": np.concatenate([bg.actor, a_]), "target": np.concatenate([bg.target, g_]),
                "ts": np.concatenate([bg.ts, t_]),
                "ip": np.concatenate([bg.ip.astype(np.int64), np.array([homes[int(x)] for x in a_])]),
                "device": np.concatenate([bg.actor * 7 + 1, a_ * 7 + 1])}
    raise ValueError(f"kind: one of {', '.join(NULL_KINDS)}, not {kind!r}")


def run_null(kind: str, seed: int) -> dict[str, Any]:
    """Every finding `detect_all` reports on one innocent log (there should be none)."""
    from headcount.detect import ActionLog
    from headcount.detect.detection import detect_all

    cols = null_log(kind, seed)
    extra = {k: v for k, v in cols.items() if k not in ("actor", "target", "ts")}
    with Stopwatch() as watch:
        log = ActionLog.from_arrays(cols["actor"], cols["target"], cols["ts"], extra)
        found = detect_all(log, top=TOP)
    return {"kind": kind, "seed": seed, "events": len(log), "blocks": len(found.blocks),
            "found": [{"detector": b.detector, "actors": int(np.size(b.actors)), "targets": int(np.size(b.targets)),
                       "score": round(b.score, 2), "confidence": round(b.confidence, 4)} for b in found.blocks],
            "rejected_dense": found.rejected, "churners": len(found.churn), "seconds": round(watch.wall, 2)}


def null_suite(split: str, kinds: list[str]) -> dict[str, Any]:
    """Innocent logs of every kind over the split's seeds: 0 blocks is the bar."""
    seeds = NULL_HELD_SEEDS if split == "held" else NULL_TRAIN_SEEDS
    _warm_up()
    rows = [run_null(kind, seed) for kind in kinds for seed in seeds]
    table = Table(title=f"Null suite ({split} seeds {seeds[0]}-{seeds[-1]}): blocks reported at the threshold")
    for name in ("kind", "logs", "events (median)", "logs with a block", "blocks", "dense candidates rejected",
                 "churners listed", "seconds (median)"):
        table.add_column(name, justify="right")
    for kind in kinds:
        rs = [r for r in rows if r["kind"] == kind]
        table.add_row(kind, str(len(rs)), f"{int(statistics.median(r['events'] for r in rs)):,}",
                      str(sum(r["blocks"] > 0 for r in rs)), str(sum(r["blocks"] for r in rs)),
                      str(sum(r["rejected_dense"] for r in rs)), str(sum(r["churners"] for r in rs)),
                      f"{statistics.median(r['seconds'] for r in rs):.1f}")
    console.print(table)
    for r in rows:
        if r["blocks"]:
            console.print(f"  {r['kind']} seed {r['seed']}: {r['found']}")
    return {"split": split, "seeds": list(seeds), "kinds": kinds, "blocks": sum(r["blocks"] for r in rows),
            "rows": rows}


# ---------------------------------------------------------------- speed

def million_edges(n_edges: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The first n_edges distinct (actor, target) pairs of a background log scaled to keep 15 events per actor."""
    n_events = int(n_edges * 1.15)
    bg = background(n_actors=n_events // 15, n_targets=n_events // 60, n_events=n_events, seed=seed)
    pair = bg.actor * (n_events // 60) + bg.target
    _, first = np.unique(pair, return_index=True)
    if first.size < n_edges:
        raise RuntimeError(f"only {first.size:,} distinct edges; raise the event count")
    keep = np.sort(first)[:n_edges]
    return bg.actor[keep], bg.target[keep], bg.ts[keep], bg.ip[keep]


_CHILD = r"""
import json, resource, sys, time
start = time.perf_counter()
import pyarrow.parquet as pq
from headcount.detect import ActionLog, Ensemble
imported = time.perf_counter()
log = ActionLog.from_table(pq.read_table(sys.argv[1]), sys.argv[1])
loaded = time.perf_counter()
model = Ensemble().fit(log)
done = time.perf_counter()
print(json.dumps({"import_s": imported - start, "read_s": loaded - imported, "fit_s": done - loaded,
                  "blocks": [sorted(int(a) for a in b.actors) for b in model.blocks_[:5]],
                  "scores": [float(b.score) for b in model.blocks_[:5]],
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def speed(repeats: int, big_events: int, fraudar_blocks: int | None,
          big_actors: int | None = None, big_targets: int | None = None) -> dict[str, Any]:
    """(a) ours vs rgmining-fraudar on one 1M-edge graph; (b) a big log through Ensemble in a child."""
    from headcount.detect import ActionLog, Fraudar

    result: dict[str, Any] = {}
    actor, target, ts, ip = million_edges(1_000_000)
    ours_model = Fraudar()
    blocks = fraudar_blocks or int(getattr(ours_model, "n_blocks", 1))
    console.print(f"(a) 1,000,000 edges, {np.unique(actor).size:,} actors x {np.unique(target).size:,} targets; "
                  f"{blocks} block(s) each, median of {repeats}")
    _warm_up()
    Fraudar().fit(ActionLog.from_arrays(actor=actor[:20_000], target=target[:20_000], ts=ts[:20_000]))  # compile
    ours, theirs = [], []
    for i in range(repeats):
        start = time.perf_counter()
        Fraudar().fit(ActionLog.from_arrays(actor=actor, target=target, ts=ts))
        ours.append(time.perf_counter() - start)
        _, secs = run_rgmining_fraudar(bipartite(actor, target), blocks)
        theirs.append(secs.wall)
        console.print(f"  run {i + 1}: headcount Fraudar {ours[-1]:.2f}s, rgmining-fraudar {theirs[-1]:.2f}s")
    ratio = statistics.median(theirs) / statistics.median(ours)
    console.print(f"  median: headcount {statistics.median(ours):.2f}s, rgmining-fraudar "
                  f"{statistics.median(theirs):.2f}s: {ratio:.1f}x faster (target >= 5x)")
    result["fraudar_1M"] = {"edges": 1_000_000, "blocks": blocks, "headcount_s": ours, "rgmining_s": theirs,
                            "speedup": round(ratio, 2)}

    scale = big_events / 300_000  # by default the sweep's shape scaled up: 15 events per actor
    params = InjectionParams(density=0.2, burst_s=6 * HOUR, camouflage="popular", seed=0,
                             n_actors=big_actors or int(20_000 * scale),
                             n_targets=big_targets or int(5_000 * scale), n_events=big_events)
    inj = inject(params)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_log(Path(tmp) / "big.parquet", inj.table())
        console.print(f"(b) {len(inj):,} events ({params.n_actors:,} actors x {params.n_targets:,} targets, "
                      f"a 200 x 50 ring at density 0.2 in 6 h with popular camouflage) from Parquet, "
                      f"Ensemble() in a child process")
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True)
        wall = time.perf_counter() - start
    if proc.returncode != 0:
        console.print(proc.stderr[-3000:])
        raise RuntimeError("the big run failed")
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    children_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    match = best_match(child.pop("blocks"), inj.ring_actors)
    console.print(f"  wall {wall:.1f}s (read+encode {child['read_s']:.1f}s, fit {child['fit_s']:.1f}s), "
                  f"peak RSS {child['maxrss_mb']:.0f} MB (target: < 120 s, < 4096 MB); ring F1 {match.f1:.3f}")
    result["big_log"] = {"events": len(inj), "actors": params.n_actors, "targets": params.n_targets,
                         "wall_s": round(wall, 2), **{k: round(v, 2) if isinstance(v, float) else v for k, v in child.items()},
                         "children_maxrss_mb": round(children_rss, 1), "ring_f1": round(match.f1, 4)}
    return result


# ---------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--densities", type=float, nargs="+", default=list(DENSITIES))
    ap.add_argument("--bursts", type=parse_burst, nargs="+", default=list(BURSTS), help="1h 6h 3d or seconds")
    ap.add_argument("--camouflage", nargs="+", choices=CAMOUFLAGE, default=list(CAMOUFLAGE))
    ap.add_argument("--baselines", nargs="*", choices=BASELINES, default=list(BASELINES),
                    help="which baselines to run (none: --baselines with no value)")
    ap.add_argument("--fraudar-blocks", type=int, default=TOP, help="blocks rgmining-fraudar detects per graph")
    ap.add_argument("--densest-iterations", type=int, default=1, help="greedy++ rounds (1 is Charikar's peeling)")
    ap.add_argument("--quick", action="store_true", help="one small subset: densities 0.1 0.5, 6h, none and popular, seed 0")
    ap.add_argument("--jobs", type=int, default=1, help="processes over graphs (the machine has 2 cores)")
    ap.add_argument("--null-seeds", type=int, default=0, help="background only, this many seeds")
    ap.add_argument("--null-suite", choices=("train", "held"), help="innocent crowds of every kind, 0 blocks expected")
    ap.add_argument("--null-kinds", nargs="+", choices=NULL_KINDS, default=list(NULL_KINDS))
    ap.add_argument("--speed", action="store_true", help="the speed figures instead of the sweep")
    ap.add_argument("--speed-repeats", type=int, default=3)
    ap.add_argument("--speed-events", type=int, default=10_000_000)
    ap.add_argument("--speed-actors", type=int, help="actors in the big log (default: 15 events per actor)")
    ap.add_argument("--speed-targets", type=int, help="targets in the big log (default: a quarter of the actors)")
    ap.add_argument("--sweep", action="store_true", help="run the sweep too when --null-seeds or --speed is given")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "detect.json"))
    args = ap.parse_args(argv)
    if args.quick:
        args.densities, args.bursts, args.camouflage, args.seeds = [0.1, 0.5], [6 * HOUR], ["none", "popular"], [0]

    out = Path(args.out)
    results: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    if args.sweep or not (args.null_seeds or args.speed or args.null_suite):
        results["sweep"] = sweep(args)
    if args.null_seeds:
        results["null"] = null_case(args.null_seeds)
    if args.null_suite:
        results[f"null_suite_{args.null_suite}"] = null_suite(args.null_suite, args.null_kinds)
    if args.speed:
        results["speed"] = speed(args.speed_repeats, args.speed_events, None, args.speed_actors, args.speed_targets)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=float))
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
