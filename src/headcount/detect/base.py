"""What every detector shares: the scikit-learn shape and the path from candidates to blocks."""

from __future__ import annotations

from collections.abc import Callable

from headcount.detect.blocks import Block, Candidate, merge, mode_evidence, split_apart, to_block
from headcount.detect.evidence import Context, assess
from headcount.detect.log import ActionLog
from headcount.detect.scoring import Background

# Blocks scoring below this (log10 odds against chance, after paying for the choice of
# members and window) are not reported; calibrated on background-only logs (bench/detect.py).
DEFAULT_MIN_SCORE = 2.0
# A group is several actors on several targets, with far more cells than expected:
# one hot target is a flash crowd (a door opening, a viral video), not a ring, and a
# huge block only slightly denser than chance is popularity the null model misses.
MIN_ACTORS, MIN_TARGETS, MIN_LIFT = 3, 2, 3.0

Progress = Callable[[str], None]


class Detector:
    """Parameters in `__init__`, work in `fit`, results in `blocks_` (most suspicious first)."""

    name = "detector"
    top: int = 10
    min_score: float = DEFAULT_MIN_SCORE
    refine: bool = True
    #: also require evidence beyond density (timing, crowd moments, shared networks): `evidence`
    crowd_aware: bool = True
    #: the results of `fit` (set there; declared here so that their types are known)
    candidates_: list[Candidate]
    blocks_: list[Block]
    rejected_: list[Candidate]

    def candidates(self, log: ActionLog, background: Background,
                   progress: Progress | None = None) -> list[Candidate]:
        raise NotImplementedError

    def fit(self, log: ActionLog, background: Background | None = None,
            progress: Progress | None = None) -> Detector:
        if len(log) == 0:
            self.candidates_, self.blocks_, self.rejected_ = [], [], []
            return self
        background = background or Background(log)
        if progress:
            progress("background")
        found: list[Candidate] = []
        for candidate in self.candidates(log, background, progress):
            # seeds of one ring lead to the same block: refine each ring once
            twin = next((f for f in found if f.score > 0 and f.overlap(candidate) >= 0.8
                         and candidate.actors.size <= 2 * f.actors.size), None)
            if twin is not None:
                if candidate.detector not in twin.evidence.setdefault("detectors", [twin.detector]):
                    twin.evidence["detectors"].append(candidate.detector)
                continue
            best = best_of(background, candidate, self.refine)
            parts = split_apart(best, log)
            found.extend(parts if len(parts) == 1 else [background.score(part) for part in parts])
        if progress:
            progress("scoring")
        ranked = [c for c in merge(found) if reportable(c, self.min_score)]
        self.candidates_ = found
        kept, self.rejected_ = judge(log, ranked, self.top, self.min_score, self.crowd_aware)
        for c in kept:  # what the extra modes (ip, device, ...) say, for the reported only
            c.evidence.update(mode_evidence(log, c.actors, c.targets, c.start, c.end))
        self.blocks_ = [to_block(c, log) for c in kept]
        return self


def judge(log: ActionLog, ranked: list[Candidate], top: int, min_score: float,
          crowd_aware: bool = True) -> tuple[list[Candidate], list[Candidate]]:
    """(the top blocks whose evidence beyond density holds, those dense ones it did not).

    Each candidate gets its tests and calibrated confidence in its evidence."""
    ctx = Context(log)
    kept: list[Candidate] = []
    rejected: list[Candidate] = []
    for c in ranked:
        if len(kept) >= top:
            break
        verdict = assess(ctx, c.actors, c.targets, c.start, c.end, c.score)
        c.evidence.update(verdict.evidence())
        if crowd_aware and verdict.score < min_score:
            rejected.append(c)
        else:
            kept.append(c)
    return kept, rejected


def reportable(c: Candidate, min_score: float) -> bool:
    return (c.score >= min_score and c.actors.size >= MIN_ACTORS and c.targets.size >= MIN_TARGETS
            and c.events >= MIN_LIFT * c.expected)


def best_of(background: Background, candidate: Candidate, refine: bool) -> Candidate:
    """The candidate as found or refined to its core, whichever is less likely by chance."""
    raw = background.score(candidate)
    if not refine:
        return raw
    refined = background.refine(raw)
    return refined if refined.score >= raw.score else raw
