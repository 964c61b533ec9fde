"""Streaming detection: the densest part of a sliding window, kept up to date event by event.

Greedy peeling (Charikar 2000; the engine under FRAUDAR) removes, one at a time, the
vertex of least remaining degree and keeps the densest state it passed (edges per
vertex). Spade (Jiang et al., VLDB 2023) observed that after an edge changes, the
peeling sequence stays the same up to the first step the change can matter, so
only the rest of it needs peeling again; DenseAlert (Shin et al., KDD 2017) keeps a
dense block of a sliding window the same way under insertions and the expiry of
old events. `IncrementalPeel` does this exactly, for insertions and deletions:

- an edge inserted at vertices u, v leaves every step before u's and v's positions
  alone (the vertices peeled earlier keep their degrees; u and v only gain);
- a vertex whose degree fell (an expired edge) or a new vertex can be peeled earlier
  than before: the first step at which its new degree undercuts the degree the old
  sequence peeled there is found from its neighbours' positions (a step function).

From the earliest such step on, the remaining vertices are peeled again with a heap.
Ties go to the smaller vertex id, so the sequence is a function of the graph alone:
`peel_static` on the same graph gives the same sequence (the tests check this).

`SlidingGraph` holds the window: each distinct (actor, target) pair of events within
`window_s` is an edge of a bipartite graph; repeats of a pair (replays) count once,
events are expired by their own time (late and out-of-order ones included), and
events already older than the window when they arrive are dropped.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from headcount.detect.base import Detector, Progress
from headcount.detect.blocks import Candidate, block_events
from headcount.detect.log import ActionLog
from headcount.detect.scoring import LN10, Background, log_choose, poisson_surprise


def _peel(adj: dict[int, dict[int, int]], vertices: Iterable[int]) -> tuple[list[int], list[int]]:
    """Greedy peel of the subgraph on `vertices`: (order, each vertex's degree when peeled).

    Degrees are integers, so the queue is a bucket per degree (a heap of ids each, for
    the smallest-id tie-break), the current bucket only ever stepping down by a change."""
    alive = set(vertices)
    degree: dict[int, int] = {}
    buckets: dict[int, list[int]] = {}
    for v in alive:
        nb = adj[v]
        d = sum(nb[u] for u in nb.keys() & alive)
        degree[v] = d
        buckets.setdefault(d, []).append(v)
    for bucket in buckets.values():
        heapq.heapify(bucket)
    order: list[int] = []
    peeled: list[int] = []
    cur = min(buckets, default=0)
    top = max(buckets, default=0)
    pop, push = heapq.heappop, heapq.heappush
    while alive:
        bucket = buckets.get(cur) or []
        if not bucket:
            cur += 1
            if cur > top:
                break
            continue
        v = pop(bucket)
        if v not in alive or degree[v] != cur:
            continue  # a stale entry: the vertex's degree fell since
        alive.discard(v)
        order.append(v)
        peeled.append(cur)
        for u, w in adj[v].items():
            if u in alive:
                du = degree[u] = degree[u] - w
                b = buckets.get(du)
                if b is None:
                    buckets[du] = [u]
                else:
                    push(b, u)
                if du < cur:
                    cur = du
    return order, peeled


def peel_static(adj: dict[int, dict[int, int]]) -> tuple[list[int], list[int]]:
    """The whole graph peeled from scratch (what `IncrementalPeel` must agree with)."""
    return _peel(adj, [v for v, nb in adj.items() if nb])


def densest_state(peeled: np.ndarray, total: int) -> tuple[int, float]:
    """(the step whose remaining vertices are densest, that density in edges per vertex)."""
    n = peeled.size
    if n == 0:
        return 0, 0.0
    removed = np.concatenate([[0.0], np.cumsum(peeled)[:-1]])
    density = (total - removed) / (n - np.arange(n))
    best = int(np.argmax(density))  # the first maximum: the largest of the densest states
    return best, float(density[best])


class IncrementalPeel:
    """Charikar's greedy peel of an undirected graph (integer edge weights), updated under edge changes."""

    def __init__(self) -> None:
        self.adj: dict[int, dict[int, int]] = {}
        self.order: list[int] = []
        self.pos: dict[int, int] = {}
        self._peeled = np.empty(0)
        self._ids = np.empty(0, dtype=np.int64)
        self.total = 0
        self._dirty: set[int] = set()
        #: vertices peeled again at the last refresh (the rest of the sequence was kept)
        self.repeeled = 0

    def add(self, u: int, v: int, w: int = 1) -> None:
        if u == v:
            return
        for a, b in ((u, v), (v, u)):
            nb = self.adj.setdefault(a, {})
            nb[b] = nb.get(b, 0) + w
        self.total += w
        self._dirty.add(u)
        self._dirty.add(v)

    def remove(self, u: int, v: int, w: int = 1) -> None:
        if v not in self.adj.get(u, {}):
            return
        for a, b in ((u, v), (v, u)):
            nb = self.adj[a]
            left = nb[b] - w
            if left <= 0:
                del nb[b]
                if not nb:
                    del self.adj[a]
            else:
                nb[b] = left
        self.total -= w
        self._dirty.add(u)
        self._dirty.add(v)

    def _undercut(self, c: int, nb: dict[int, int], hi: int) -> int:
        """The first step before `hi` at which `c` (new degree) would be peeled instead, else `hi`."""
        n = len(self.order)
        steps = sorted((self.pos.get(y, n), w) for y, w in nb.items())
        d = sum(w for _, w in steps)
        lo = 0
        for q, w in [*steps, (n, 0)]:
            top = min(q + 1, hi)  # neighbour at step q still counts at step q
            if lo < top:
                seg, ids = self._peeled[lo:top], self._ids[lo:top]
                hit = (seg > d) | ((seg == d) & (ids > c))
                if hit.any():
                    return lo + int(np.argmax(hit))
            d -= w
            lo = q + 1
            if lo >= hi:
                break
        return hi

    def refresh(self) -> None:
        """Bring the sequence up to date with the changes since the last call."""
        dirty, self._dirty = self._dirty, set()
        if not dirty:
            self.repeeled = 0
            return
        n = len(self.order)
        start = min((self.pos[c] for c in dirty if c in self.pos), default=n)
        for c in sorted(dirty, key=lambda x: self.pos.get(x, n)):
            nb = self.adj.get(c)
            if nb:
                start = min(start, self._undercut(c, nb, min(start, self.pos.get(c, n))))
        tail = {v for v in self.order[start:] if v in self.adj}
        tail.update(c for c in dirty if c in self.adj)
        order, peeled = _peel(self.adj, tail)
        for v in self.order[start:]:
            self.pos.pop(v, None)
        self.order = self.order[:start] + order
        for i, v in enumerate(order, start):
            self.pos[v] = i
        self._peeled = np.concatenate([self._peeled[:start], np.asarray(peeled, dtype=np.float64)])
        self._ids = np.concatenate([self._ids[:start], np.asarray(order, dtype=np.int64)])
        self.repeeled = len(order)

    def densest(self) -> tuple[list[int], float]:
        """The vertices of the densest state the peel passes through, and its density."""
        best, density = densest_state(self._peeled, self.total)
        return self.order[best:], density

    def peeled(self) -> list[int]:
        return [int(d) for d in self._peeled.tolist()]


@dataclass
class Dense:
    """A dense part of the window: actor and target codes, and its quick score."""

    actors: np.ndarray
    targets: np.ndarray
    density: float
    score: float  # log10 odds against independent pairing, less the cost of naming it
    edges: int
    expected: float


WIDTH_S = 60.0  # expiry buckets: a minute of event time each


class SlidingGraph:
    """The distinct (actor, target) pairs of a sliding window, peeled incrementally."""

    def __init__(self, window_s: float, max_events: int | None = None) -> None:
        self.window_s = window_s
        #: at most this many events are kept (the newest): a round's cost is bounded by it, not by
        #: the window's traffic. At 40 actions/s 250,000 events are 1.7 hours, at 2,000/s two
        #: minutes; a group forming more slowly than that is the full pass's to find
        self.max_events = max_events
        self.peel = IncrementalPeel()
        self.pairs: dict[int, int] = {}  # (actor << 32 | target) -> events in the window
        self.deg_actor: dict[int, int] = {}
        self.deg_target: dict[int, int] = {}
        self._buckets: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        self.cutoff = -math.inf
        self.events = 0
        self.dropped_late = 0  # events already past the window when they arrived

    def __len__(self) -> int:
        return self.events

    def add(self, actor: np.ndarray, target: np.ndarray, ts: np.ndarray) -> None:
        """Events as int codes and Unix seconds, in any order."""
        keep = ts >= self.cutoff
        self.dropped_late += int((~keep).sum())
        actor, target, ts = actor[keep].astype(np.int64), target[keep].astype(np.int64), ts[keep]
        if ts.size == 0:
            return
        bucket = np.floor(ts / WIDTH_S).astype(np.int64)
        order = np.argsort(bucket, kind="stable")
        actor, target, ts, bucket = actor[order], target[order], ts[order], bucket[order]
        cuts = np.flatnonzero(np.diff(bucket)) + 1
        for part in np.split(np.arange(ts.size), cuts):
            self._buckets.setdefault(int(bucket[part[0]]), []).append((ts[part], actor[part], target[part]))
        self.events += int(ts.size)
        pairs, peel = self.pairs, self.peel
        for a, t in zip(actor.tolist(), target.tolist(), strict=True):
            key = a << 32 | t
            n = pairs.get(key, 0)
            pairs[key] = n + 1
            if n == 0:
                self.deg_actor[a] = self.deg_actor.get(a, 0) + 1
                self.deg_target[t] = self.deg_target.get(t, 0) + 1
                peel.add(2 * a, 2 * t + 1)
        if self.max_events is not None and self.events > self.max_events:
            self._shed(self.events - self.max_events)

    def _shed(self, over: int) -> int:
        """Expire the `over` oldest events, whole seconds at a time (ties at the cut go too),
        but never the newest second: the cap holds unless one second alone is over it."""
        ts = np.concatenate([c[0] for chunks in self._buckets.values() for c in chunks])
        last_out = float(np.partition(ts, over - 1)[over - 1])
        newest = float(ts.max())
        return self._expire_before(newest if last_out >= newest else float(np.nextafter(last_out, math.inf)))

    def expire(self, now: float) -> int:
        """Forget events older than the window; returns how many."""
        return self._expire_before(now - self.window_s)

    def _expire_before(self, cutoff: float) -> int:
        """Forget every event before `cutoff`, and take no event older than it from now on."""
        self.cutoff = max(self.cutoff, cutoff)
        edge = math.floor(self.cutoff / WIDTH_S)
        gone = 0
        for b in sorted(k for k in self._buckets if k <= edge):
            chunks = self._buckets.pop(b)
            ts = np.concatenate([c[0] for c in chunks])
            actor = np.concatenate([c[1] for c in chunks])
            target = np.concatenate([c[2] for c in chunks])
            old = ts < self.cutoff
            if b == edge and not old.all():
                self._buckets[b] = [(ts[~old], actor[~old], target[~old])]
            gone += self._forget(actor[old], target[old])
        self.events -= gone
        return gone

    def _forget(self, actor: np.ndarray, target: np.ndarray) -> int:
        pairs, peel = self.pairs, self.peel
        for a, t in zip(actor.tolist(), target.tolist(), strict=True):
            key = a << 32 | t
            n = pairs[key] - 1
            if n:
                pairs[key] = n
                continue
            del pairs[key]
            for deg, v in ((self.deg_actor, a), (self.deg_target, t)):
                deg[v] -= 1
                if not deg[v]:
                    del deg[v]
            peel.remove(2 * a, 2 * t + 1)
        return int(actor.size)

    def candidate(self) -> Dense | None:
        """The densest part of the window, scored against independent pairing."""
        self.peel.refresh()
        members, density = self.peel.densest()
        return self._dense(members, density) if members else None

    def candidates(self, k: int = 3, min_score: float = 2.0) -> list[Dense]:
        """The densest part (incremental) and, while each one found is unlikely by chance, the
        densest of what is left without it (peeled afresh), up to `k` parts."""
        first = self.candidate()
        out = [] if first is None else [first]
        taken: set[int] = set() if first is None else set(self.peel.order[-(first.actors.size + first.targets.size):])
        while out and len(out) < k and out[-1].score >= min_score:
            order, peeled = _peel(self.peel.adj, [v for v in self.peel.adj if v not in taken])
            if not order:
                break
            best, density = densest_state(np.asarray(peeled, dtype=np.float64), sum(peeled))
            out.append(self._dense(order[best:], density))
            taken.update(order[best:])
        return out

    def _dense(self, members: list[int], density: float) -> Dense:
        vertices = np.asarray(members, dtype=np.int64)
        actors, targets = np.sort(vertices[vertices % 2 == 0] // 2), np.sort(vertices[vertices % 2 == 1] // 2)
        inside = set(targets.tolist())
        edges = sum(1 for a in actors.tolist() for v in self.peel.adj.get(2 * a, {}) if v // 2 in inside)
        n_pairs = max(len(self.pairs), 1)
        sum_a = float(sum(self.deg_actor[a] for a in actors.tolist()))
        sum_t = float(sum(self.deg_target[t] for t in targets.tolist()))
        expected = sum_a * sum_t / n_pairs  # independent pairing with the same degrees
        score = (poisson_surprise(edges, expected) - log_choose(len(self.deg_actor), actors.size)
                 - log_choose(len(self.deg_target), targets.size)) / LN10
        return Dense(actors, targets, density, float(score), edges, expected)


class Given(Detector):
    """Groups found elsewhere (the stream), judged like every detector's: scored against the
    log's background, trimmed to their core, tested for evidence beyond density."""

    name = "stream"

    def __init__(self, groups: list[tuple[np.ndarray, np.ndarray]], top: int = 10,
                 min_score: float = 2.0) -> None:
        self.groups, self.top, self.min_score = groups, top, min_score

    def candidates(self, log: ActionLog, background: Background,
                   progress: Progress | None = None) -> list[Candidate]:
        out = []
        for actor_labels, target_labels in self.groups:
            actors = _codes_of(log.actor_labels, actor_labels)
            targets = _codes_of(log.target_labels, target_labels)
            if actors.size == 0 or targets.size == 0:
                continue
            inside = block_events(log, actors, targets)
            if inside.any():
                ts = log.ts[inside]
                out.append(Candidate(actors, targets, int(ts.min()), int(ts.max()), self.name))
        return out


def _codes_of(labels: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The log's codes of the labels in `wanted` that it holds."""
    order = np.argsort(labels, kind="stable")
    at = np.searchsorted(labels[order], wanted)
    at = np.clip(at, 0, max(labels.size - 1, 0))
    found = labels.size > 0
    hit = (labels[order][at] == wanted) if found else np.zeros(len(wanted), dtype=bool)
    return np.unique(order[at[hit]]).astype(np.int64)
