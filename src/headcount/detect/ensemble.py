"""The ensemble: every detector on one shared background, one ranked list of blocks.

No single detector wins everywhere (DESIGN.md): FRAUDAR isolates medium rings that
multi-way peeling absorbs into a giant block, multi-way peeling finds sparse rings
in a burst that FRAUDAR's time-blind graph misses, and lockstep grouping sees
repeated near-simultaneous co-actions. Each candidate is trimmed to its core and
scored against the same background, overlapping ones are merged, and only blocks
that chance does not explain (score >= min_score) are reported.
"""

from __future__ import annotations

from headcount.detect.base import DEFAULT_MIN_SCORE, Detector, Progress
from headcount.detect.blocks import Candidate
from headcount.detect.fraudar import Fraudar
from headcount.detect.lockstep import Lockstep
from headcount.detect.log import ActionLog
from headcount.detect.mzoom import DenseTensor
from headcount.detect.scoring import Background


class Ensemble(Detector):
    """FRAUDAR, M-Zoom (Poisson) at several time scales and lockstep grouping, merged."""

    name = "ensemble"

    def __init__(self, top: int = 10, min_score: float = DEFAULT_MIN_SCORE,
                 bucket_widths: tuple[int, ...] | None = None, n_blocks: int = 3,
                 lockstep_window_s: int = 3600, detectors: tuple[str, ...] = ("mzoom", "fraudar", "lockstep"),
                 refine: bool = True) -> None:
        self.top, self.min_score, self.bucket_widths, self.n_blocks = top, min_score, bucket_widths, n_blocks
        self.lockstep_window_s, self.detectors, self.refine = lockstep_window_s, detectors, refine

    def members(self) -> list[Detector]:
        chosen: list[Detector] = []
        if "mzoom" in self.detectors:
            chosen.append(DenseTensor("poisson", self.n_blocks, self.bucket_widths))
        if "fraudar" in self.detectors:
            chosen.append(Fraudar(self.n_blocks))
        if "lockstep" in self.detectors:
            chosen.append(Lockstep(self.lockstep_window_s))
        return chosen

    def candidates(self, log: ActionLog, background: Background,
                   progress: Progress | None = None) -> list[Candidate]:
        return [c for detector in self.members() for c in detector.candidates(log, background, progress)]
