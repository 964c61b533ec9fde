"""Dense sub-tensors over actor × target × time × any other mode (M-Zoom / D-Cube).

Shin, Hooi and Faloutsos (M-Zoom, ECML-PKDD 2016; D-Cube, WSDM 2017) find several
dense blocks by peeling attribute values greedily and taking each block out before
the next. Time enters as buckets of one width; since a ring's burst can last an
hour or days, the log is cut at several widths (chosen from its span) and every
scale is peeled. Densities: arithmetic, geometric, suspiciousness (size-based),
and the default "poisson": suspiciousness against each value's own activity,
penalised for the choice of members, which does not mistake popular targets or
busy hours for a block.
"""

from __future__ import annotations

import numpy as np

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

    def __init__(self, measure: str = "poisson", n_blocks: int = 3,
                 bucket_widths: tuple[int, ...] | None = None, use_modes: bool = True,
                 top: int = 10, min_score: float = DEFAULT_MIN_SCORE, refine: bool = True) -> None:
        if measure not in MEASURES:
            raise ValueError(f"measure: expected one of {', '.join(MEASURES)}, got {measure!r}")
        self.measure, self.n_blocks, self.bucket_widths = measure, n_blocks, bucket_widths
        self.use_modes, self.top, self.min_score, self.refine = use_modes, top, min_score, refine

    def tensor(self, log: ActionLog, width: int) -> tuple[Tensor, int]:
        origin = int(log.ts.min())
        bucket = ((log.ts - origin) // width).astype(np.int64)
        columns = [log.actor, log.target, bucket]
        shape = [log.n_actors, log.n_targets, int(bucket.max()) + 1]
        if self.use_modes:
            for name, codes in log.modes.items():
                columns.append(codes)
                shape.append(int(log.mode_labels[name].shape[0]))
        cells = np.unique(np.stack(columns).astype(np.int64), axis=1)
        return Tensor(cells, np.ones(cells.shape[1]), tuple(shape)), origin

    def candidates(self, log: ActionLog, background: Background,
                   progress: Progress | None = None) -> list[Candidate]:
        out = []
        for width in self.bucket_widths or auto_scales(log.ts):
            tensor, origin = self.tensor(log, width)
            for result in tensor.peel_many(self.n_blocks, self.measure):
                buckets = result.values[2]
                evidence = {"bucket_s": width, "peel_density": round(result.density, 3)}
                for k, name in enumerate(log.modes if self.use_modes else (), start=3):
                    values = log.mode_labels[name][result.values[k][:5]]
                    evidence[name] = [v.item() if isinstance(v, np.generic) else v for v in values]
                out.append(Candidate(result.values[0], result.values[1],
                                     origin + int(buckets.min()) * width,
                                     origin + (int(buckets.max()) + 1) * width - 1,
                                     f"{self.name}-{self.measure}", evidence=evidence))
            if progress:
                progress(f"{self.name} {width}s")
        return out
