"""The background model on Spark, and the part of it the driver refines candidates with.

Spark computes the log's distinct (hour, actor, target) cells and their marginals
(each actor's, target's and hour's share): O(V) numbers the driver keeps. The cells
themselves stay on Spark. `Background.refine` and `Background.score` (the local
engine's code, unchanged) only ever read the cells of a candidate's actors (rows)
and of its targets (columns); `PartialBackground` holds just those, records every
row or column the code asked for and did not have, and `fill` fetches the missing
ones in one Spark job. The driver reruns the refinement until nothing is missing,
so its result is the local engine's exactly, at the cost of a few small fetches.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from headcount.detect.arrays import flags
from headcount.detect.blocks import Candidate
from headcount.detect.scoring import Background

RESOLUTION_S = 3600


def to_numpy(df: Any, size: int, key: str, value: str, dtype: Any = np.float64) -> np.ndarray:
    """A dense array of `value` indexed by the integer column `key` (a small collect via Arrow)."""
    table = df.select(key, value).toArrow()
    out = np.zeros(size, dtype=dtype)
    if table.num_rows:
        out[table.column(key).to_numpy()] = table.column(value).to_numpy()
    return out


def codes_frame(spark: Any, name: str, codes: np.ndarray) -> Any:
    """A one-column DataFrame of int codes (broadcast it in joins)."""
    import pyarrow as pa

    return spark.createDataFrame(pa.table({name: pa.array(np.asarray(codes, dtype=np.int32))}))


class SparkBackground:
    """Cells and marginals of the encoded log, on Spark."""

    def __init__(self, encoded: Any, resolution_s: int = RESOLUTION_S) -> None:
        from pyspark.sql import functions as F

        self.encoded, self.spark, self.resolution_s = encoded, encoded.spark, resolution_s
        self.origin = encoded.ts_min
        self.n_hours = int((encoded.ts_max - self.origin) // resolution_s) + 1
        hour = ((F.col("ts") - F.lit(self.origin)) / F.lit(resolution_s)).cast("long").cast("int")
        path = f"{encoded.scratch}/cells"
        (encoded.events.select(hour.alias("hour"), "actor", "target").distinct()
         .write.mode("overwrite").parquet(path))
        self.cells = self.spark.read.parquet(path)
        n_a, n_t = max(encoded.n_actors, 1), max(encoded.n_targets, 1)
        self.actor_mass = to_numpy(self.cells.groupBy("actor").count(), n_a, "actor", "count")
        self.target_mass = to_numpy(self.cells.groupBy("target").count(), n_t, "target", "count")
        self.hour_mass = to_numpy(self.cells.groupBy("hour").count(), self.n_hours, "hour", "count")
        self.total = float(self.hour_mass.sum())

    def local(self) -> PartialBackground:
        return PartialBackground(self)


class PartialBackground(Background):
    """`Background` over the fetched rows and columns of the cell table, with global marginals."""

    def __init__(self, source: SparkBackground) -> None:  # no call to Background.__init__: no log here
        self.source = source
        self.resolution_s, self.origin = source.resolution_s, source.origin
        self.actor_mass, self.target_mass, self.hour_mass = source.actor_mass, source.target_mass, source.hour_mass
        self.total = source.total
        self.hour_cum = np.concatenate([[0.0], np.cumsum(self.hour_mass)])
        self.n_actors = int(np.count_nonzero(self.actor_mass))
        self.n_targets = int(np.count_nonzero(self.target_mass))
        self.n_hours = source.n_hours
        self.hour = np.empty(0, np.int32)
        self.actor = np.empty(0, np.int32)
        self.target = np.empty(0, np.int32)
        self.have_rows = np.zeros(self.actor_mass.size, dtype=bool)
        self.have_cols = np.zeros(self.target_mass.size, dtype=bool)
        self.want_rows: set[int] = set()
        self.want_cols: set[int] = set()
        self.fetches = 0

    # -- what the local code reads, recorded -------------------------------------------
    def _need_rows(self, actors: np.ndarray) -> None:
        actors = np.asarray(actors, dtype=np.int64)
        missing = actors[~self.have_rows[actors]]
        self.want_rows.update(missing.tolist())

    def _need_cols(self, targets: np.ndarray) -> None:
        targets = np.asarray(targets, dtype=np.int64)
        missing = targets[~self.have_cols[targets]]
        self.want_cols.update(missing.tolist())

    def score(self, c: Candidate) -> Candidate:
        if not (self.have_rows[c.actors].all() or self.have_cols[c.targets].all()):
            self._need_rows(c.actors)
        return super().score(c)

    def _beyond_chance(self, side: np.ndarray, other: np.ndarray, chosen: np.ndarray,
                       side_mass: np.ndarray, other_mass: np.ndarray, f_w: float) -> np.ndarray:
        if other_mass is self.actor_mass:
            self._need_rows(chosen)
        else:
            self._need_cols(chosen)
        return super()._beyond_chance(side, other, chosen, side_mass, other_mass, f_w)

    def _add_likely_members(self, actors: np.ndarray, targets: np.ndarray, start: int, end: int) -> np.ndarray:
        self._need_cols(targets)
        return super()._add_likely_members(actors, targets, start, end)

    # -- fetching ------------------------------------------------------------------------
    @property
    def complete(self) -> bool:
        return not self.want_rows and not self.want_cols

    def fill(self, rows: np.ndarray | None = None, cols: np.ndarray | None = None) -> int:
        """Fetch the wanted (and given) rows and columns in one job; the number of cells added."""
        from pyspark.sql import functions as F

        rows_set = set(self.want_rows) | set(np.asarray(rows if rows is not None else [], dtype=np.int64).tolist())
        cols_set = set(self.want_cols) | set(np.asarray(cols if cols is not None else [], dtype=np.int64).tolist())
        new_rows = np.array(sorted(r for r in rows_set if not self.have_rows[r]), dtype=np.int64)
        new_cols = np.array(sorted(c for c in cols_set if not self.have_cols[c]), dtype=np.int64)
        self.want_rows.clear()
        self.want_cols.clear()
        if new_rows.size == 0 and new_cols.size == 0:
            return 0
        spark, cells = self.source.spark, self.source.cells
        wanted = None
        if new_rows.size:
            r = codes_frame(spark, "actor", new_rows).withColumn("_r", F.lit(True))
            cells = cells.join(F.broadcast(r), "actor", "left")
            wanted = F.col("_r").isNotNull()
        if new_cols.size:
            c = codes_frame(spark, "target", new_cols).withColumn("_c", F.lit(True))
            cells = cells.join(F.broadcast(c), "target", "left")
            wanted = F.col("_c").isNotNull() if wanted is None else (wanted | F.col("_c").isNotNull())
        table = cells.filter(wanted).select("hour", "actor", "target").toArrow()
        hour = table.column("hour").to_numpy().astype(np.int32)
        actor = table.column("actor").to_numpy().astype(np.int32)
        target = table.column("target").to_numpy().astype(np.int32)
        fresh = ~(self.have_rows[actor] | self.have_cols[target])  # not already held
        self.have_rows[new_rows] = True
        self.have_cols[new_cols] = True
        hour = np.concatenate([self.hour, hour[fresh]])
        actor = np.concatenate([self.actor, actor[fresh]])
        target = np.concatenate([self.target, target[fresh]])
        order = np.lexsort((target, actor, hour))  # hour-major, as Background keeps them
        self.hour, self.actor, self.target = hour[order], actor[order], target[order]
        self.fetches += 1
        return int(fresh.sum())


def inside_cells(bg: PartialBackground, actors: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Which held cells lie in the block (for tests)."""
    return flags(actors, bg.actor_mass.size)[bg.actor] & flags(targets, bg.target_mass.size)[bg.target]
