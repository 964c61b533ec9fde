"""The ensemble: every detector on one shared background, one ranked list of blocks.

No single detector wins everywhere (DESIGN.md): FRAUDAR isolates medium rings that
multi-way peeling absorbs into a giant block; local search from burst seeds finds
sparse rings in a burst that FRAUDAR's time-blind graph misses; D-Cube's batch
peel over actor × target × time (× ip, device) sees blocks without a single hot
slot; lockstep grouping sees repeated near-simultaneous co-actions. Each
candidate is trimmed to its core and scored against the same background,
overlapping ones are merged, and only blocks that chance does not explain
(score >= min_score) are reported.
"""

from __future__ import annotations

from headcount.detect.base import DEFAULT_MIN_SCORE, Detector, Progress
from headcount.detect.blocks import Candidate
from headcount.detect.fraudar import Fraudar
from headcount.detect.local import BurstSeeds
from headcount.detect.lockstep import Lockstep
from headcount.detect.log import ActionLog
from headcount.detect.mzoom import DenseTensor
from headcount.detect.scoring import Background

LARGE_LOG = 3_000_000
DETECTORS = ("burst", "dcube", "fraudar", "lockstep")


class Ensemble(Detector):
    """Burst-seeded local search, D-Cube, FRAUDAR and lockstep grouping, merged and ranked."""

    name = "ensemble"

    def __init__(self, top: int = 10, min_score: float = DEFAULT_MIN_SCORE,
                 bucket_widths: tuple[int, ...] | None = None, n_blocks: int | None = None,
                 lockstep_window_s: int = 3600, detectors: tuple[str, ...] = DETECTORS,
                 refine: bool = True) -> None:
        self.top, self.min_score, self.bucket_widths, self.n_blocks = top, min_score, bucket_widths, n_blocks
        self.lockstep_window_s, self.detectors, self.refine = lockstep_window_s, detectors, refine

    def members(self, n_events: int) -> list[Detector]:
        # Blocks per scale: two on ordinary logs; one on huge ones (more than LARGE_LOG
        # events), where every scale still adds its own, to keep 10M events in minutes.
        # FRAUDAR, time-blind, takes one block more.
        n_blocks = self.n_blocks or (2 if n_events <= LARGE_LOG else 1)
        chosen: list[Detector] = []
        if "burst" in self.detectors:
            chosen.append(BurstSeeds(self.bucket_widths))
        if "dcube" in self.detectors:
            # time-blind modes stay out of the batch peel: their sort would cost more than
            # the peel; they are still reported as evidence of every block
            chosen.append(DenseTensor("suspiciousness", n_blocks, self.bucket_widths, use_modes=False,
                                      batch_eps=0.0))
        if "mzoom" in self.detectors:
            chosen.append(DenseTensor("suspiciousness", n_blocks, self.bucket_widths))
        if "fraudar" in self.detectors:
            chosen.append(Fraudar(n_blocks + 1))
        if "lockstep" in self.detectors:
            chosen.append(Lockstep(self.lockstep_window_s))
        return chosen

    def candidates(self, log: ActionLog, background: Background,
                   progress: Progress | None = None) -> list[Candidate]:
        return [c for detector in self.members(len(log))
                for c in detector.candidates(log, background, progress)]
