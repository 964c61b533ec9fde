"""The sweep's scoring and baseline wrappers (bench/detect.py) on a small log with an obvious ring.

If the wrappers mistranslated codes to labels, every baseline figure would read 0;
a dense ring that both baselines must find guards against that.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("fraudar")
pytest.importorskip("networkx")

_spec = importlib.util.spec_from_file_location("bench_detect", Path(__file__).parents[2] / "bench" / "detect.py")
bench = importlib.util.module_from_spec(_spec)
sys.modules["bench_detect"] = bench  # dataclasses look their module up while the file runs
_spec.loader.exec_module(bench)  # type: ignore[union-attr]

from headcount.simulate.injection import inject  # noqa: E402


def test_best_match_picks_the_highest_f1_block() -> None:
    ring = frozenset(range(100, 200))
    blocks = [list(range(0, 50)), list(range(100, 150)), list(range(90, 200))]
    m = bench.best_match(blocks, ring)
    assert m.rank == 2 and m.blocks == 3 and m.size == 110
    assert m.recall == 1.0 and m.precision == pytest.approx(100 / 110)
    assert bench.best_match([], ring).f1 == 0.0


def test_baselines_find_an_obvious_ring() -> None:
    # a sparse background (4 events per actor), so the ring is the densest part of the graph
    inj = inject(density=0.9, camouflage="none", seed=3, n_actors=5_000, n_targets=2_000, n_events=20_000,
                 ring_actors=50, ring_targets=40)
    graph = bench.bipartite(inj.actor, inj.target)
    found, watch = bench.run_rgmining_fraudar(graph, blocks=2)
    assert bench.best_match(found, inj.ring_actors).f1 == 1.0
    assert watch.wall > 0 and watch.cpu > 0
    found, _ = bench.run_densest(graph)
    assert bench.best_match(found, inj.ring_actors).f1 == 1.0


def test_burst_labels_round_trip() -> None:
    assert [bench.burst_label(bench.parse_burst(t)) for t in ("1h", "6h", "3d")] == ["1h", "6h", "3d"]


def test_graph_fingerprint_tells_graphs_apart() -> None:
    a = inject(density=0.2, seed=1, burst_s=3600, n_actors=1_000, n_targets=300, n_events=5_000)
    b = inject(density=0.2, seed=1, burst_s=3 * 86_400, n_actors=1_000, n_targets=300, n_events=5_000)
    c = inject(density=0.5, seed=1, n_actors=1_000, n_targets=300, n_events=5_000)
    assert bench.bipartite(a.actor, a.target).key == bench.bipartite(b.actor, b.target).key
    assert bench.bipartite(a.actor, a.target).key != bench.bipartite(c.actor, c.target).key
