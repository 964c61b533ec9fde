"""`detect_all` on Spark: the heavy passes as Spark jobs, the candidates refined on the driver.

Where the line is: everything that touches every event or cell runs on Spark
(encoding and checks, the background model's cells and marginals, burst slots, the
peels' rounds, lockstep pairs, follow edges, mode statistics, the time distribution).
The driver keeps O(V) numbers (one mass per actor, target and hour) and, per
candidate, only the cells of its actors and targets (fetched on demand, see
`background.PartialBackground`) and, for the blocks it judges, their members'
events. A candidate is a few hundred to a few thousand values; the local engine's
own code (`Background.refine/score`, `blocks.merge`, `evidence.assess`,
`blocks.to_block`) then runs on those, so both engines make the same decisions.
Peels hand over to the driver once a tensor has at most `driver_cells` cells.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from headcount.detect.base import DEFAULT_MIN_SCORE, best_of, reportable
from headcount.detect.blocks import Candidate, merge, mode_evidence, to_block
from headcount.detect.detection import Detection
from headcount.detect.ensemble import DETECTORS, Ensemble
from headcount.detect.evidence import MISSING, Context, assess
from headcount.detect.fraudar import Fraudar
from headcount.detect.local import BurstSeeds
from headcount.detect.lockstep import Lockstep
from headcount.detect.log import DEFAULT_MAX_EVENTS, ActionLog
from headcount.detect.mzoom import DenseTensor, auto_scales
from headcount.detect.spark import follows as spark_follows
from headcount.detect.spark.background import PartialBackground, SparkBackground, codes_frame
from headcount.detect.spark.passes import (
    burst_candidates,
    dcube_candidates,
    fraudar_candidates,
    lockstep_candidates,
)
from headcount.detect.spark.peel import DRIVER_CELLS
from headcount.detect.spark.read import Encoded, encode, labels_of
from headcount.detect.spark.session import session, spark_errors

Progress = Callable[[str], None]


class Labels:
    """The labels of one column, fetched from Spark for the codes asked for (a lazy array)."""

    def __init__(self, encoded: Encoded, name: str) -> None:
        self.encoded, self.name = encoded, name
        self.shape = (encoded.sizes[name],)
        self.known: dict[int, Any] = {}

    def preload(self, codes: Any) -> None:
        wanted = [int(c) for c in np.unique(np.asarray(codes)) if int(c) not in self.known]
        if wanted:
            self.known.update(labels_of(self.encoded, self.name, np.array(wanted)))

    def __getitem__(self, index: Any) -> Any:
        if np.isscalar(index):
            code = int(np.asarray(index))
            self.preload([code])
            return self.known[code]
        codes = np.asarray(index)
        self.preload(codes)
        out = np.empty(codes.size, dtype=object)
        out[:] = [self.known[int(c)] for c in codes.ravel()]
        return out.reshape(codes.shape)


class Clock:
    """The log's time distribution: `np.searchsorted(clock, t)` as on the sorted timestamps."""

    def __init__(self, encoded: Encoded) -> None:
        table = encoded.events.groupBy("ts").count().orderBy("ts").toArrow()
        self.values = table.column("ts").to_numpy()
        self.cum = np.cumsum(table.column("count").to_numpy())
        self.size = int(self.cum[-1]) if self.cum.size else 0

    def searchsorted(self, v: Any, side: Literal["left", "right"] = "left", sorter: Any = None) -> np.ndarray:
        i = np.searchsorted(self.values, v, side=side)
        return np.where(i > 0, self.cum[np.maximum(i - 1, 0)], 0)


class SparkContext(Context):
    """`evidence.Context` whose whole-log statistics come from Spark."""

    def __init__(self, log: ActionLog, encoded: Encoded) -> None:
        super().__init__(log)
        self.encoded = encoded
        self._clock: Clock | None = None

    @property
    def sorted_ts(self) -> Any:
        if self._clock is None:
            self._clock = Clock(self.encoded)
        return self._clock

    def population(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        if name not in self._collision:
            enc = self.encoded
            size = enc.sizes[name]
            labels = enc.dictionaries[name]
            gone = labels.filter(F.lower(F.trim(F.col("label").cast("string"))).isin(list(MISSING))) \
                .select("code").toArrow().column(0).to_numpy()
            missing = np.zeros(size, dtype=bool)
            missing[gone] = True
            ev = enc.events.select("actor", F.col(name).alias("v"))
            if gone.size:
                ev = ev.join(F.broadcast(codes_frame(enc.spark, "v", gone)), "v", "left_anti")
            counts = ev.groupBy("actor", "v").agg(F.count(F.lit(1)).alias("n"))
            first = counts.withColumn("_r", F.row_number().over(
                Window.partitionBy("actor").orderBy(F.col("n").desc(), F.col("v")))).filter(F.col("_r") == 1)
            table = first.select("actor", "v").toArrow()
            modal = np.full(enc.n_actors, -1, dtype=np.int64)
            modal[table.column("actor").to_numpy()] = table.column("v").to_numpy()
            per_value = np.bincount(modal[modal >= 0], minlength=size).astype(np.float64)
            self._collision[name] = (modal, per_value, missing)
        return self._collision[name]


def sub_log(encoded: Encoded, actors: np.ndarray) -> ActionLog:
    """The events of the given actors, in the log's codes, as an `ActionLog` (labels fetched lazily)."""
    from pyspark.sql import functions as F

    frame = codes_frame(encoded.spark, "actor", actors)
    table = encoded.events.join(F.broadcast(frame), "actor", "left_semi").orderBy("_row") \
        .select("actor", "target", "ts", *encoded.modes).toArrow()

    def col(name: str, dtype: Any) -> np.ndarray:
        return table.column(name).to_numpy().astype(dtype)

    modes = {m: col(m, np.int32) for m in encoded.modes}
    return ActionLog(col("actor", np.int32), col("target", np.int32), col("ts", np.int64), modes,
                     Labels(encoded, "actor"), Labels(encoded, "target"),  # type: ignore[arg-type]
                     {m: Labels(encoded, m) for m in encoded.modes})  # type: ignore[misc]


def _refine_all(raw: list[Candidate], background: PartialBackground, refine: bool) -> list[Candidate]:
    """`Detector.fit`'s first half: each ring refined once (twins folded), on the partial background."""
    found: list[Candidate] = []
    for candidate in copy.deepcopy(raw):
        twin = next((f for f in found if f.score > 0 and f.overlap(candidate) >= 0.8
                     and candidate.actors.size <= 2 * f.actors.size), None)
        if twin is not None:
            if candidate.detector not in twin.evidence.setdefault("detectors", [twin.detector]):
                twin.evidence["detectors"].append(candidate.detector)
            continue
        found.append(best_of(background, candidate, refine))
    return found


class SparkEnsemble:
    """The ensemble of `Ensemble` with Spark doing the passes over the log."""

    def __init__(self, top: int = 10, min_score: float = DEFAULT_MIN_SCORE,
                 bucket_widths: tuple[int, ...] | None = None, detectors: tuple[str, ...] = DETECTORS,
                 driver_cells: int = DRIVER_CELLS, crowd_aware: bool = True) -> None:
        self.top, self.min_score, self.bucket_widths, self.detectors = top, min_score, bucket_widths, detectors
        self.driver_cells, self.crowd_aware = driver_cells, crowd_aware

    def stages(self, encoded: Encoded) -> int:
        widths = self.widths(encoded)
        return (len(widths) * sum(d in self.detectors for d in ("burst", "dcube", "mzoom"))
                + ("fraudar" in self.detectors) + ("lockstep" in self.detectors) + 4)

    def widths(self, encoded: Encoded) -> tuple[int, ...]:
        return self.bucket_widths or auto_scales(np.array([encoded.ts_min, encoded.ts_max]))

    def raw_candidates(self, bg: SparkBackground, progress: Progress) -> list[Candidate]:
        local = Ensemble(top=self.top, min_score=self.min_score, bucket_widths=self.bucket_widths,
                         detectors=self.detectors)
        widths = self.widths(bg.encoded)
        out: list[Candidate] = []
        for member in local.members(bg.encoded.n_events):
            if isinstance(member, BurstSeeds):
                for w in widths:
                    out += burst_candidates(bg, member, w)
                    progress(f"burst {w}s")
            elif isinstance(member, DenseTensor):
                if member.peels_modes and bg.encoded.modes:
                    raise ValueError("the Spark engine peels actor x target x time; use 'dcube', not 'mzoom'")
                for w in widths:
                    out += dcube_candidates(bg, member, w, self.driver_cells, progress)
                    progress(f"{member.label} {w}s")
            elif isinstance(member, Fraudar):
                out += fraudar_candidates(bg, member, self.driver_cells, progress)
                progress("fraudar")
            elif isinstance(member, Lockstep):
                out += lockstep_candidates(bg, member, progress)
                progress("lockstep")
        return out

    def fit(self, encoded: Encoded, progress: Progress | None = None) -> Detection:
        began = time.perf_counter()
        say = progress or (lambda _stage: None)
        bg = SparkBackground(encoded)
        say("background")
        raw = self.raw_candidates(bg, say)
        partial = bg.local()
        if raw:
            partial.fill(rows=np.unique(np.concatenate([c.actors for c in raw])))
        for _ in range(50):  # refine on the driver until every row and column it read was there
            found = _refine_all(raw, partial, True)
            if partial.complete:
                break
            partial.fill()
        say(f"refined ({partial.fetches} fetches, {partial.actor.size:,} cells on the driver)")
        ranked = [c for c in merge(found) if reportable(c, self.min_score)]
        judged_actors = np.unique(np.concatenate([c.actors for c in ranked])) if ranked else np.empty(0, np.int64)
        log = sub_log(encoded, judged_actors)
        ctx = SparkContext(log, encoded)
        kept: list[Candidate] = []
        rejected = 0
        for c in ranked:  # `base.judge`, on the Spark context
            if len(kept) >= self.top:
                break
            verdict = assess(ctx, c.actors, c.targets, c.start, c.end, c.score)
            c.evidence.update(verdict.evidence())
            if self.crowd_aware and verdict.score < self.min_score:
                rejected += 1
            else:
                kept.append(c)
        for c in kept:
            c.evidence.update(mode_evidence(log, c.actors, c.targets, c.start, c.end))
        blocks = [to_block(c, log) for c in kept]
        say("judged")
        rings, churners, ring_rejected = spark_follows.analyse(encoded, ctx, self.min_score, self.driver_cells)
        from headcount.detect.follows import with_rings

        blocks = with_rings(blocks, rings)[: self.top]
        say("follows")
        return Detection(blocks, churners, rejected + ring_rejected, time.perf_counter() - began)


def detect_path(path: str, *, top: int = 10, min_score: float = DEFAULT_MIN_SCORE,
                bucket_widths: tuple[int, ...] | None = None, detectors: tuple[str, ...] = DETECTORS,
                master: str | None = None, conf: dict[str, str] | None = None, fmt: str | None = None,
                max_events: int = DEFAULT_MAX_EVENTS, driver_cells: int = DRIVER_CELLS,
                progress: Progress | None = None, on_encoded: Callable[[Encoded, int], None] | None = None
                ) -> Detection:
    """Every finding in the log at `path` (CSV or Parquet, a file or a directory of parts)."""
    spark = session(master, conf)
    encoded = encode(spark, path, fmt, max_events)
    try:
        model = SparkEnsemble(top, min_score, bucket_widths, detectors, driver_cells)
        if on_encoded:
            on_encoded(encoded, model.stages(encoded))
        with spark_errors(path):
            return model.fit(encoded, progress)
    finally:
        encoded.close()


def detect_log(log: ActionLog, **kwargs: Any) -> Detection:
    """`detect_all` on Spark for an in-memory log (written to Parquet first; for tests and notebooks)."""
    import tempfile
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {"actor": log.actor_labels[log.actor], "target": log.target_labels[log.target], "ts": log.ts}
    columns.update({name: log.mode_labels[name][codes] for name, codes in log.modes.items()})
    with tempfile.TemporaryDirectory(prefix="headcount-log-") as tmp:
        path = Path(tmp) / "log.parquet"
        pq.write_table(pa.table(columns), path)
        return detect_path(str(path), **kwargs)
