"""Local search from burst seeds: the (target, time) slots that chance does not explain.

Greedy peeling from the whole tensor has to remove every background value before
any ring value to isolate a small ring, and on a large log it does not (a known
failure of whole-tensor peeling: it drifts into a giant block). M-Biz, the local
search of the M-Zoom journal version (Shin, Hooi, Faloutsos, TKDD 2018), climbs
from seeds instead. Our seeds are slots (target, time bucket) with far more cells
than the target's popularity and the bucket's traffic predict; each seed (its
actors, its target, its bucket) is grown and trimmed by significance
(`Background.refine`) into a block. A ring shows as many such slots, all leading
to the same block, which the ensemble then merges.
"""

from __future__ import annotations

import numpy as np

from headcount.detect.base import DEFAULT_MIN_SCORE, Detector, Progress
from headcount.detect.blocks import Candidate
from headcount.detect.log import ActionLog
from headcount.detect.mzoom import auto_scales
from headcount.detect.scoring import Background


class BurstSeeds(Detector):
    """Blocks grown from the most surprising (target, bucket) slots at several time scales."""

    name = "burst"

    def __init__(self, bucket_widths: tuple[int, ...] | None = None, seeds_per_scale: int = 8,
                 top: int = 10, min_score: float = DEFAULT_MIN_SCORE, refine: bool = True) -> None:
        self.bucket_widths, self.seeds_per_scale = bucket_widths, seeds_per_scale
        self.top, self.min_score, self.refine = top, min_score, refine

    def slots(self, background: Background, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every occupied slot's target, bucket and log-likelihood ratio against its expectation."""
        per = max(1, width // background.resolution_s)
        bucket = background.hour // per
        n_b = int(bucket.max()) + 1
        key = background.target.astype(np.int64) * n_b + bucket
        counts = np.bincount(key)
        occupied = np.flatnonzero(counts)
        observed = counts[occupied].astype(np.float64)
        target, slot_bucket = occupied // n_b, occupied % n_b
        bucket_mass = np.bincount(bucket, minlength=n_b).astype(np.float64)
        expected = background.target_mass[target] * bucket_mass[slot_bucket] / background.total
        llr = np.where(observed > expected,
                       observed * np.log(observed / np.maximum(expected, 1e-12)) - observed + expected, 0.0)
        return target, slot_bucket, llr

    def candidates(self, log: ActionLog, background: Background,
                   progress: Progress | None = None) -> list[Candidate]:
        out: list[Candidate] = []
        for width in self.bucket_widths or auto_scales(log.ts):
            target, bucket, llr = self.slots(background, width)
            per = max(1, width // background.resolution_s)
            seen_targets: set[int] = set()
            for i in np.argsort(llr)[::-1]:
                if len(seen_targets) >= self.seeds_per_scale or llr[i] <= 0:
                    break
                if int(target[i]) in seen_targets:
                    continue
                seen_targets.add(int(target[i]))
                h0, h1 = int(bucket[i]) * per, (int(bucket[i]) + 1) * per - 1
                span = background.window(h0, h1)
                actors = np.unique(background.actor[span][background.target[span] == target[i]])
                start = background.origin + h0 * background.resolution_s
                end = background.origin + (h1 + 1) * background.resolution_s - 1
                out.append(Candidate(actors, np.array([target[i]]), start, end, self.name,
                                     evidence={"bucket_s": width, "seed_llr": round(float(llr[i]), 1)}))
            if progress:
                progress(f"{self.name} {width}s")
        return out
