"""Streaming detection (`detect.stream`): the incremental peel is the batch peel, at every step,
and bad input (late, replayed, flooding) changes neither that nor its speed."""

from __future__ import annotations

import random
import time

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from headcount.detect.stream import IncrementalPeel, SlidingGraph, peel_static

WINDOW = 1000.0

# (actor, target, ts) events in small spaces, so that pairs repeat and expire
events = st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7), st.integers(0, 3000)), max_size=80)


def batch_graph(log: list[tuple[int, int, int]], now: float) -> dict[int, dict[int, int]]:
    """The window's distinct pairs as the peel's graph, built from scratch."""
    adj: dict[int, dict[int, int]] = {}
    for a, t, ts in log:
        if now - WINDOW <= ts:
            u, v = 2 * a, 2 * t + 1
            adj.setdefault(u, {})[v] = 1
            adj.setdefault(v, {})[u] = 1
    return adj


@settings(max_examples=300, deadline=None)
@given(log=events, batches=st.integers(1, 6), clock=st.lists(st.integers(0, 3000), min_size=1, max_size=6))
def test_the_streamed_window_peels_as_a_batch_over_the_same_window(
        log: list[tuple[int, int, int]], batches: int, clock: list[int]) -> None:
    graph = SlidingGraph(WINDOW)
    seen: list[tuple[int, int, int]] = []
    cut = max(1, len(log) // batches)
    now = 0.0
    for i, start in enumerate(range(0, max(len(log), 1), cut)):
        part = log[start:start + cut]
        if part:
            arr = np.array(part, dtype=np.int64)
            graph.add(arr[:, 0], arr[:, 1], arr[:, 2].astype(np.float64))
            seen += [e for e in part if e[2] >= now - WINDOW]  # what arrives already too old is dropped
        now = max(now, float(clock[i % len(clock)]))
        graph.expire(now)
        graph.peel.refresh()
        expected = batch_graph(seen, now)
        order, peeled = peel_static(expected)
        assert graph.peel.order == order
        assert graph.peel.peeled() == peeled
        assert graph.peel.total == sum(len(nb) for nb in expected.values()) / 2


@settings(max_examples=300, deadline=None)
@given(log=events, batches=st.integers(1, 6), cap=st.integers(1, 40))
def test_the_event_cap_keeps_the_newest_and_peels_as_a_batch_over_them(
        log: list[tuple[int, int, int]], batches: int, cap: int) -> None:
    graph = SlidingGraph(1e9, max_events=cap)  # a window nothing leaves: only the cap expires
    added: list[tuple[int, int, int]] = []
    cut = max(1, len(log) // batches)
    for start in range(0, max(len(log), 1), cut):
        part = log[start:start + cut]
        if not part:
            continue
        arr = np.array(part, dtype=np.int64)
        graph.add(arr[:, 0], arr[:, 1], arr[:, 2].astype(np.float64))
        added += part
        kept = [e for e in added if e[2] >= graph.cutoff]  # the newest, whole seconds at a time
        newest = max(e[2] for e in added)
        assert graph.events == len(kept) and any(e[2] == newest for e in kept)
        assert len(kept) <= cap or all(e[2] == newest for e in kept)  # only one second alone exceeds it
        graph.peel.refresh()
        order, peeled = peel_static(batch_graph_all(kept))
        assert graph.peel.order == order and graph.peel.peeled() == peeled


def batch_graph_all(log: list[tuple[int, int, int]]) -> dict[int, dict[int, int]]:
    """Every distinct pair of `log` as the peel's graph."""
    adj: dict[int, dict[int, int]] = {}
    for a, t, _ in log:
        adj.setdefault(2 * a, {})[2 * t + 1] = 1
        adj.setdefault(2 * t + 1, {})[2 * a] = 1
    return adj


def test_insertions_and_deletions_keep_the_sequence_exact() -> None:
    for seed in range(300):
        rng = random.Random(seed)
        peel, edges = IncrementalPeel(), {}
        for _ in range(10):
            for _ in range(rng.randint(1, 10)):
                u, v = rng.sample(range(15), 2)
                key = (min(u, v), max(u, v))
                if edges.get(key) and rng.random() < 0.4:
                    peel.remove(u, v)
                    edges[key] -= 1
                else:
                    peel.add(u, v)
                    edges[key] = edges.get(key, 0) + 1
            peel.refresh()
            assert (peel.order, peel.peeled()) == peel_static(peel.adj)


def ring_events(rng: random.Random, now: float, n_background: int = 3000) -> np.ndarray:
    """Ordinary follows (a few each, popular targets) and a ring of 30 on each other's 30 accounts."""
    rows = []
    for _ in range(n_background):
        rows.append((rng.randrange(1000), int(rng.paretovariate(1.2)) % 2000, now - rng.random() * 500))
    for a in range(30):
        for t in range(30):
            if a != t:
                rows.append((5000 + a, 5000 + t, now - rng.random() * 60))
    return np.array(rows)


def densest_actors(graph: SlidingGraph) -> set[int]:
    dense = graph.candidate()
    assert dense is not None
    return set(dense.actors.tolist())


def test_late_and_out_of_order_events_are_expired_by_their_own_time() -> None:
    rng = random.Random(1)
    graph = SlidingGraph(WINDOW)
    rows = ring_events(rng, 10_000.0)
    rows = rows[np.random.default_rng(1).permutation(len(rows))]  # any arrival order
    graph.add(rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64), rows[:, 2])
    graph.expire(10_000.0)
    assert densest_actors(graph) == set(range(5000, 5030))
    late = np.array([[7, 7, 8_000.0], [8, 7, 9_100.0]])  # one already past the window, one not
    graph.add(late[:, 0].astype(np.int64), late[:, 1].astype(np.int64), late[:, 2])
    assert graph.dropped_late == 1 and (8 << 32 | 7) in graph.pairs
    graph.expire(10_200.0)  # the late one goes when its own time leaves the window
    assert (8 << 32 | 7) not in graph.pairs
    graph.expire(11_100.0)  # the ring's own time has passed too
    dense = graph.candidate()
    assert dense is None or not set(dense.actors.tolist()) & set(range(5000, 5030))
    assert graph.events == 0 and not graph.pairs and not graph.peel.adj


def test_replays_of_past_events_change_nothing() -> None:
    rng = random.Random(2)
    graph = SlidingGraph(WINDOW)
    rows = ring_events(rng, 10_000.0)
    graph.add(rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64), rows[:, 2])
    graph.expire(10_000.0)
    before = (densest_actors(graph), list(graph.peel.order))
    for _ in range(5):  # the same events again, with their old times
        graph.add(rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64), rows[:, 2])
    graph.peel.refresh()
    assert graph.peel.repeeled == 0  # no pair is new: nothing to peel again
    assert (densest_actors(graph), list(graph.peel.order)) == before
    graph.expire(11_001.0)  # and they expire together with the originals
    assert not any(v // 2 >= 5000 for v in graph.peel.adj)


def test_a_single_actor_flooding_neither_stalls_the_stream_nor_hides_the_ring() -> None:
    rng = random.Random(3)
    graph = SlidingGraph(WINDOW)
    rows = ring_events(rng, 10_000.0)
    graph.add(rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64), rows[:, 2])
    graph.expire(10_000.0)
    graph.candidate()
    flood = 50_000
    began = time.perf_counter()
    for chunk in range(10):  # one actor follows 50,000 accounts in ten rounds
        targets = np.arange(chunk * flood // 10, (chunk + 1) * flood // 10, dtype=np.int64) + 10_000
        graph.add(np.full(targets.size, 999_999, dtype=np.int64), targets, np.full(targets.size, 9_990.0))
        graph.expire(10_000.0)
        assert densest_actors(graph) >= set(range(5000, 5030))  # a star is not dense: the ring stays
    assert time.perf_counter() - began < 30  # bounded work per event, not a stall
    assert graph.deg_actor[999_999] == flood
