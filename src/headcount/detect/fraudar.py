"""FRAUDAR (Hooi et al., KDD 2016): camouflage-resistant dense blocks on actor × target.

Edges into a target are weighted 1 / log(degree + c), so that popular targets, which
camouflage and honest activity both reach, count little; then nodes are peeled
greedily by weighted degree and the densest state (average weighted degree) is kept.
Blocks are found one after another, each taken out of the graph before the next.
"""

from __future__ import annotations

import numpy as np

from headcount.detect.arrays import distinct_rows
from headcount.detect.base import DEFAULT_MIN_SCORE, Detector, Progress
from headcount.detect.blocks import Candidate, block_events
from headcount.detect.log import ActionLog
from headcount.detect.peel import Tensor
from headcount.detect.scoring import Background


def bipartite(log: ActionLog) -> np.ndarray:
    """Distinct (actor, target) edges as a 2 × E array."""
    return distinct_rows([log.actor, log.target], [log.n_actors, log.n_targets])


class Fraudar(Detector):
    """Greedy peeling of the log-weighted bipartite graph."""

    name = "fraudar"

    def __init__(self, n_blocks: int = 3, c: float = 5.0, top: int = 10,
                 min_score: float = DEFAULT_MIN_SCORE, refine: bool = True) -> None:
        self.n_blocks, self.c, self.top, self.min_score, self.refine = n_blocks, c, top, min_score, refine

    def peel(self, log: ActionLog) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """The raw FRAUDAR blocks: (actor codes, target codes, average weighted degree)."""
        edges = bipartite(log)
        degree = np.bincount(edges[1], minlength=log.n_targets)
        weights = 1.0 / np.log(degree[edges[1]] + self.c)
        tensor = Tensor(edges, weights, (log.n_actors, log.n_targets))
        return [(r.values[0], r.values[1], r.density)
                for r in tensor.peel_many(self.n_blocks, "arithmetic")]

    def candidates(self, log: ActionLog, background: Background,
                   progress: Progress | None = None) -> list[Candidate]:
        out = []
        for actors, targets, density in self.peel(log):
            start, end = _span(log, actors, targets)
            out.append(Candidate(actors, targets, start, end, self.name,
                                 evidence={"average_weighted_degree": round(density, 3)}))
        if progress:
            progress(self.name)
        return out


def _span(log: ActionLog, actors: np.ndarray, targets: np.ndarray) -> tuple[int, int]:
    """The window holding the bulk (2nd to 98th percentile) of the block's events."""
    ts = log.ts[block_events(log, actors, targets)]
    if ts.size == 0:
        return int(log.ts.min()), int(log.ts.max())
    lo, hi = np.quantile(ts, [0.02, 0.98]) if ts.size >= 50 else (ts.min(), ts.max())
    return int(lo), int(hi)
