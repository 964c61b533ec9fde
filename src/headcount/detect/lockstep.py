"""Lockstep groups: actors who act on the same targets within a short window.

After CopyCatch (Beutel et al., WWW 2013) and SynchroTrap (Cao et al., CCS 2014):
two actors are in lockstep on a target when both act on it within `window_s` of
each other; a pair in lockstep on at least `min_common` targets, and on a large
enough share of what either of them does (Jaccard similarity), is linked; linked
components of at least `min_actors` are groups. Pairs are found per target with a
sliding window over its time-sorted events (compiled), so the work is the number
of near-simultaneous pairs, not all pairs; a cap bounds it on a hot target.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from headcount.detect.arrays import distinct_rows, flags
from headcount.detect.base import DEFAULT_MIN_SCORE, Detector, Progress
from headcount.detect.blocks import Candidate
from headcount.detect.log import ActionLog
from headcount.detect.scoring import Background


@njit(cache=True)
def _count_pairs(target: np.ndarray, ts: np.ndarray, window: int, per_event_cap: int) -> int:
    n, total, j = target.shape[0], 0, 0
    for i in range(n):
        j = i + 1
        while j < n and target[j] == target[i] and ts[j] - ts[i] <= window and j - i <= per_event_cap:
            j += 1
        total += j - i - 1
    return total


@njit(cache=True)
def _emit_pairs(actor: np.ndarray, target: np.ndarray, ts: np.ndarray, window: int,
                per_event_cap: int, out_a: np.ndarray, out_b: np.ndarray, out_t: np.ndarray) -> int:
    n, k = target.shape[0], 0
    for i in range(n):
        j = i + 1
        while j < n and target[j] == target[i] and ts[j] - ts[i] <= window and j - i <= per_event_cap:
            a, b = actor[i], actor[j]
            if a != b:
                out_a[k], out_b[k], out_t[k] = min(a, b), max(a, b), target[i]
                k += 1
            j += 1
    return k


class Lockstep(Detector):
    """Groups of actors repeatedly acting on the same targets at nearly the same time."""

    name = "lockstep"

    def __init__(self, window_s: int = 3600, min_common: int = 3, min_similarity: float = 0.1,
                 min_actors: int = 5, per_event_cap: int = 2_000, max_pairs: int = 40_000_000,
                 top: int = 10, min_score: float = DEFAULT_MIN_SCORE, refine: bool = True) -> None:
        self.window_s, self.min_common, self.min_similarity = window_s, min_common, min_similarity
        self.min_actors, self.per_event_cap, self.max_pairs = min_actors, per_event_cap, max_pairs
        self.top, self.min_score, self.refine = top, min_score, refine

    def pairs(self, log: ActionLog) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distinct (actor a < actor b, target) in lockstep."""
        order = np.lexsort((log.ts, log.target))
        actor, target, ts = log.actor[order], log.target[order], log.ts[order]
        cap = self.per_event_cap
        while _count_pairs(target, ts, self.window_s, cap) > self.max_pairs and cap > 10:
            cap //= 2  # a hot target: compare each event with fewer neighbours
        n = _count_pairs(target, ts, self.window_s, cap)
        out_a, out_b = np.empty(n, np.int32), np.empty(n, np.int32)
        out_t = np.empty(n, np.int32)
        k = _emit_pairs(actor, target, ts, self.window_s, cap, out_a, out_b, out_t)
        n_a, n_t = max(log.n_actors, 1), max(log.n_targets, 1)
        rows = distinct_rows([out_a[:k], out_b[:k], out_t[:k]], [n_a, n_a, n_t])
        return rows[0], rows[1], rows[2]

    def candidates(self, log: ActionLog, background: Background,
                   progress: Progress | None = None) -> list[Candidate]:
        a, b, t = self.pairs(log)
        if a.size == 0:
            return []
        pair = a.astype(np.int64) * log.n_actors + b  # sorted already: rows come out sorted
        change = np.flatnonzero(np.diff(pair)) + 1
        first = np.concatenate([[0], change])
        common = np.diff(np.concatenate([first, [pair.size]]))
        pa, pb = a[first], b[first]
        edges = distinct_rows([log.actor, log.target], [log.n_actors, log.n_targets])
        n_targets_of = np.bincount(edges[0], minlength=log.n_actors)
        similarity = common / (n_targets_of[pa] + n_targets_of[pb] - common)
        linked = (common >= self.min_common) & (similarity >= self.min_similarity)
        if progress:
            progress(self.name)
        if not linked.any():
            return []
        graph = coo_matrix((np.ones(int(linked.sum())), (pa[linked], pb[linked])),
                           shape=(log.n_actors, log.n_actors))
        _, label = connected_components(graph, directed=False)
        touched = np.unique(np.concatenate([pa[linked], pb[linked]]))
        sizes = np.bincount(label[touched], minlength=label.max() + 1)
        out = []
        for group in np.flatnonzero(sizes >= self.min_actors):
            members = touched[label[touched] == group]
            in_group = flags(members, log.n_actors)
            # the targets the group acted on together: those in lockstep pairs inside it
            inside = in_group[a] & in_group[b]
            targets = np.unique(t[inside])
            sel = in_group[log.actor] & np.isin(log.target, targets)
            start, end = int(log.ts[sel].min()), int(log.ts[sel].max())
            out.append(Candidate(members, targets, start, end, self.name,
                                 evidence={"window_s": self.window_s,
                                           "lockstep_coactions": int(inside.sum())}))
        return out
