"""Dense sub-tensors over actor × target × time × any other mode (M-Zoom / D-Cube).

Shin, Hooi and Faloutsos (M-Zoom, ECML-PKDD 2016; D-Cube, WSDM 2017) find several
dense blocks by peeling attribute values greedily and taking each block out before
the next. Time enters as buckets of one width; since a ring's burst can last an
hour or days, the log is cut at several widths (chosen from its span) and every
scale is peeled, one value at a time (M-Zoom) or in D-Cube's batches
(`batch_eps`). Densities: arithmetic, geometric, suspiciousness (the default), and
"poisson": suspiciousness against each value's own activity, penalised for the
choice of members (the ensemble's score). A whole-tensor peel of a large log tends
to drift into a giant block before it reaches a small ring; the ensemble therefore
also grows blocks from burst seeds (`local.BurstSeeds`).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from headcount.detect.arrays import distinct_rows
from headcount.detect.base import DEFAULT_MIN_SCORE, Detector, Progress
from headcount.detect.blocks import Candidate
from headcount.detect.log import ActionLog
from headcount.detect.peel import MEASURES, Tensor
from headcount.detect.scoring import Background

SCALES_S = (3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400)
MIN_BUCKETS, MAX_BUCKETS = 4, 50_000


def auto_scales(ts: np.ndarray) -> tuple[int, ...]:
    """Bucket widths that cut the log's span into a useful number of buckets."""
    span = int(ts.max() - ts.min()) + 1
    chosen = tuple(w for w in SCALES_S if MIN_BUCKETS <= span / w <= MAX_BUCKETS)
    return chosen or (max(1, span // MIN_BUCKETS),)


class DenseTensor(Detector):
    """M-Zoom peeling of (actor, target, time bucket, extra modes), several blocks per scale."""

    name = "mzoom"

    def __init__(self, measure: str = "suspiciousness", n_blocks: int = 3,
                 bucket_widths: tuple[int, ...] | None = None, use_modes: bool = True,
                 batch_eps: float | None = None, top: int = 10,
                 min_score: float = DEFAULT_MIN_SCORE, refine: bool = True) -> None:
        if measure not in MEASURES:
            raise ValueError(f"measure: expected one of {', '.join(MEASURES)}, got {measure!r}")
        self.measure, self.n_blocks, self.bucket_widths = measure, n_blocks, bucket_widths
        self.use_modes, self.top, self.min_score, self.refine = use_modes, top, min_score, refine
        self.batch_eps = batch_eps

    @property
    def label(self) -> str:
        return f"{'dcube' if self.batch_eps is not None else 'mzoom'}-{self.measure}"

    @property
    def peels_modes(self) -> bool:
        """Extra modes join the peel under the size-based measures only.

        An ip or device is nearly a function of its actor; the Poisson measure's null
        assumes independent modes, so there they would make any actor set look dense.
        They are reported as evidence instead.
        """
        return self.use_modes and self.measure != "poisson"

    def tensor(self, log: ActionLog, width: int) -> tuple[Tensor, int]:
        origin = int(log.ts.min())
        bucket = ((log.ts - origin) // width).astype(np.int64)
        columns = [log.actor, log.target, bucket]
        shape = [log.n_actors, log.n_targets, int(bucket.max()) + 1]
        if self.peels_modes:
            for name, codes in log.modes.items():
                columns.append(codes)
                shape.append(int(log.mode_labels[name].shape[0]))
        cells = distinct_rows(columns, shape)
        return Tensor(cells, np.ones(cells.shape[1]), tuple(shape)), origin

    def scale(self, log: ActionLog, width: int) -> list[Candidate]:
        """The blocks of one time scale."""
        tensor, origin = self.tensor(log, width)
        out = []
        for result in tensor.peel_many(self.n_blocks, self.measure, batch_eps=self.batch_eps):
            buckets = result.values[2]
            evidence = {"bucket_s": width, "peel_density": round(result.density, 3)}
            start = origin + int(buckets.min()) * width
            end = origin + (int(buckets.max()) + 1) * width - 1
            out.append(Candidate(result.values[0], result.values[1], start, end,
                                 self.label, evidence=evidence))
        return out

    def candidates(self, log: ActionLog, background: Background,
                   progress: Progress | None = None) -> list[Candidate]:
        # The peel runs compiled without the GIL: one thread per core over the scales.
        widths = self.bucket_widths or auto_scales(log.ts)
        out: list[Candidate] = []
        with ThreadPoolExecutor(max_workers=min(len(widths), os.cpu_count() or 1)) as pool:
            for width, found in zip(widths, pool.map(lambda w: self.scale(log, w), widths)):
                out.extend(found)
                if progress:
                    progress(f"{self.label} {width}s")
        return out
