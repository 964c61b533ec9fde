"""Blocks: what a detector reports, in codes while working and in labels at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from headcount.detect.arrays import flags
from headcount.detect.log import ActionLog


@dataclass
class Candidate:
    """A block in codes: actors, targets and a time window [start, end] (Unix seconds)."""

    actors: np.ndarray
    targets: np.ndarray
    start: int
    end: int
    detector: str
    score: float = float("-inf")
    events: int = 0
    expected: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)

    def overlap(self, other: Candidate) -> float:
        """Share of the smaller block's actors that the other one also holds."""
        if self.actors.size == 0 or other.actors.size == 0:
            return 0.0
        common = np.intersect1d(self.actors, other.actors, assume_unique=True).size
        return common / min(self.actors.size, other.actors.size)


@dataclass(frozen=True)
class Block:
    """A coordinated group: who, on what, when, how dense, how unlikely by chance.

    `score` is log10 of the odds against chance after paying for the choice of the
    block's members and window (see `scoring`); 0 means chance explains it as well.
    """

    actors: np.ndarray
    targets: np.ndarray
    start: int
    end: int
    density: float
    score: float
    detector: str
    events: int
    expected: float
    evidence: dict[str, Any]
    confidence: float = 1.0  # calibrated: see `evidence.confidence`

    def to_dict(self) -> dict[str, Any]:
        return {
            "actors": [plain(a) for a in self.actors],
            "targets": [plain(t) for t in self.targets],
            "start": _iso(self.start),
            "end": _iso(self.end),
            "density": round(self.density, 4),
            "score": round(self.score, 2),
            "confidence": round(self.confidence, 4),
            "detector": self.detector,
            "events": self.events,
            "expected": round(self.expected, 3),
            "evidence": self.evidence,
        }


def plain(value: Any) -> Any:
    """Plain Python values all the way down (JSON writers reject numpy scalars)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in value]
    return value


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(int(ts), UTC).isoformat().replace("+00:00", "Z")


def block_events(log: ActionLog, actors: np.ndarray, targets: np.ndarray,
                 start: int | None = None, end: int | None = None) -> np.ndarray:
    """Which events of the log are the block's: its actors on its targets (in its window)."""
    inside = flags(actors, log.n_actors)[log.actor] & flags(targets, log.n_targets)[log.target]
    if start is not None:
        inside &= log.ts >= start
    if end is not None:
        inside &= log.ts <= end
    return inside


def mode_evidence(log: ActionLog, actors: np.ndarray, targets: np.ndarray, start: int, end: int,
                  top: int = 5) -> dict[str, object]:
    """The most frequent values of each extra mode among the block's events, with their share."""
    if not log.modes:
        return {}
    inside = block_events(log, actors, targets, start, end)
    n = int(inside.sum())
    out: dict[str, object] = {}
    for name, codes in log.modes.items():
        if n == 0:
            continue
        counts = np.bincount(codes[inside], minlength=log.mode_labels[name].shape[0])
        best = np.argsort(counts)[::-1][:top]
        best = best[counts[best] > 0]
        out[name] = [{"value": plain(log.mode_labels[name][v]), "share": round(counts[v] / n, 3)}
                     for v in best]
    return out


def exact_span(candidate: Candidate, log: ActionLog) -> tuple[int, int]:
    """The first and last event of the block's actors on its targets in its window.

    Scoring works on hour cells; the reported window is the events' own, to the second.
    """
    ts = log.ts[block_events(log, candidate.actors, candidate.targets, candidate.start, candidate.end)]
    return (int(ts.min()), int(ts.max())) if ts.size else (candidate.start, candidate.end)


def to_block(candidate: Candidate, log: ActionLog) -> Block:
    """Translate codes back to the log's labels."""
    cells = max(1, candidate.actors.size * candidate.targets.size)
    start, end = exact_span(candidate, log)
    return Block(
        actors=log.actor_labels[np.sort(candidate.actors)],
        targets=log.target_labels[np.sort(candidate.targets)],
        start=start, end=end,
        density=min(1.0, candidate.evidence.get("pairs", candidate.events) / cells),
        score=float(candidate.score), detector=candidate.detector,
        events=candidate.events, expected=float(candidate.expected), evidence=plain(candidate.evidence),
        confidence=float(candidate.evidence.get("confidence", 1.0)),
    )


def split_apart(candidate: Candidate, log: ActionLog) -> list[Candidate]:
    """The candidate's connected parts: groups that share no target in its window.

    Density per member does not change when two disjoint rings are taken together, so a
    peel can return both as one block; the people of one have done nothing with the
    other, and a staff review, a dismissal or a refusal must be able to tell them apart.
    """
    inside = block_events(log, candidate.actors, candidate.targets, candidate.start, candidate.end)
    actor, target = log.actor[inside], log.target[inside]
    if actor.size == 0:
        return [candidate]
    actors, a_index = np.unique(actor, return_inverse=True)
    targets, t_index = np.unique(target, return_inverse=True)
    n = actors.size + targets.size
    graph = coo_matrix((np.ones(actor.size, dtype=np.int8), (a_index, actors.size + t_index)), shape=(n, n))
    n_parts, label = connected_components(graph, directed=False)
    if n_parts == 1:
        return [candidate]
    return [Candidate(actors[label[:actors.size] == part], targets[label[actors.size:] == part],
                      candidate.start, candidate.end, candidate.detector, evidence=dict(candidate.evidence))
            for part in range(n_parts)]


def merge(candidates: list[Candidate], threshold: float = 0.5) -> list[Candidate]:
    """Keep the best-scoring of each group of overlapping candidates, best first.

    Overlap is measured on actors (the share of the smaller block), so a block seen
    by several detectors is reported once, with every detector that saw it.
    """
    kept: list[Candidate] = []
    for candidate in sorted(candidates, key=lambda c: c.score, reverse=True):
        twin = next((k for k in kept if k.overlap(candidate) >= threshold), None)
        if twin is None:
            candidate.evidence.setdefault("detectors", [candidate.detector])
            kept.append(candidate)
        elif candidate.detector not in twin.evidence["detectors"]:
            twin.evidence["detectors"].append(candidate.detector)
    return kept
