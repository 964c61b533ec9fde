"""Peeling on Spark: D-Cube's batch rounds, and core pruning for the greedy (FRAUDAR) peel.

**D-Cube** (Shin, Hooi, Faloutsos, WSDM 2017) is already the shape of Bahmani, Kumar
and Vassilvitskii's parallel peel (PVLDB 2012): each round removes, from one mode,
every value whose mass is at most (1 + eps) times the mode's average. A round here is
one `groupBy` per mode over the alive cells (each value's mass), a histogram of those
masses collected to the driver (a few thousand numbers), and a left-anti join that
takes the batch's cells out. The histogram is all the driver needs to pick the mode
and to record the density after every single removal, exactly as the local
`peel._dcube` does (values of one mode share no cell); the removed values themselves
are collected so the best state can be rebuilt. Once the alive cells fit under
`driver_cells`, the remaining rounds run on the driver in the local engine's
compiled `_dcube`, started from that state with the full tensor's sizes and mass, so
its densities are the same numbers.

**FRAUDAR** (Hooi et al., KDD 2016) peels one node at a time, the node of least
weighted degree, which has no parallel form that keeps its result. Its column
weights 1/log(d + c) are computed once, in Spark, from each target's degree in the
whole graph (as in the paper: the weights never change during the peel), and stay
fixed. What Spark does is prune the graph to its weighted tau-core (every node of
weighted degree >= tau, found by BKV-style rounds that drop every node below tau at
once). The greedy peel passes through the tau-core exactly (outside nodes always
have the least degree), and if tau <= mass(core)/|core| no state before it can be
denser than the core itself (each removed node took less than tau: a mediant bound),
so the greedy's best state lies inside the core. tau is raised to the core's
mass/size while the core is too large for the driver and the bound holds; the driver
then runs the local compiled peel on the core and finds exactly the local block.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from headcount.detect.peel import MEASURES, PeelResult, Tensor, _dcube, _density

DRIVER_CELLS = 3_000_000  # tensors this small are peeled on the driver
Say = Callable[[str], None]


def _collect_cells(df: Any, columns: list[str], weight: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    table = df.select(*columns, *([weight] if weight else [])).toArrow()
    cells = np.stack([table.column(c).to_numpy().astype(np.int32) for c in columns]) if table.num_rows \
        else np.empty((len(columns), 0), np.int32)
    w = table.column(weight).to_numpy().astype(np.float64) if weight else np.ones(cells.shape[1])
    return cells, w


@dataclass
class _Round:
    mode: int
    batch: np.ndarray          # codes removed from `mode`, in removal order
    dead: list[np.ndarray]     # per other mode, codes left without cells, in code order


class SparkDCube:
    """D-Cube (batch_eps) peel of a cell DataFrame whose columns are the modes (weights 1)."""

    def __init__(self, cells: Any, modes: list[str], shape: tuple[int, ...], measure: str = "suspiciousness",
                 eps: float = 0.0, driver_cells: int = DRIVER_CELLS, say: Say | None = None) -> None:
        self.cells, self.modes, self.shape = cells, modes, shape
        self.measure, self.code, self.eps = measure, MEASURES[measure], eps
        self.driver_cells, self.say = driver_cells, say
        self.rounds_on_spark = 0

    def peel_many(self, k: int) -> list[PeelResult]:
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        alive = self.cells.persist(StorageLevel.MEMORY_AND_DISK)
        out: list[PeelResult] = []
        for i in range(k):
            n = alive.count()
            if n == 0:
                break
            if n <= self.driver_cells:  # small enough: the local peel for every block left, one collect
                cells, w = _collect_cells(alive, self.modes)
                out += Tensor(cells, w, self.shape).peel_many(k - i, self.measure, batch_eps=self.eps)
                break
            result = self._peel(alive)
            if any(v.size == 0 for v in result.values):
                break
            out.append(result)
            inside = alive
            for name, values in zip(self.modes, result.values):
                frame = _codes(alive.sparkSession, name, values)
                inside = inside.join(F.broadcast(frame) if values.size <= 2_000_000 else frame, name, "left_semi")
            rest = alive.join(inside.select(*self.modes), self.modes, "left_anti").localCheckpoint(eager=True)
            alive.unpersist()
            alive = rest
        alive.unpersist()
        return out

    def _histograms(self, alive: Any) -> tuple[list[Any], list[np.ndarray], list[np.ndarray]]:
        """Per mode: the (value, mass) table on Spark, and its masses' histogram (mass, count)."""
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        tables, masses, counts = [], [], []
        for name in self.modes:
            t = alive.groupBy(name).agg(F.count(F.lit(1)).cast("double").alias("mass"))
            t = t.persist(StorageLevel.MEMORY_AND_DISK)
            h = t.groupBy("mass").count().orderBy("mass").toArrow()
            tables.append(t)
            masses.append(h.column("mass").to_numpy())
            counts.append(h.column("count").to_numpy().astype(np.float64))
        return tables, masses, counts

    def _peel(self, cells0: Any) -> PeelResult:
        """One block by D-Cube rounds on Spark, the tail on the driver; the best state's values."""
        from pyspark.sql import functions as F

        n_modes = len(self.modes)
        code, eps = self.code, self.eps
        tables, masses, hist = self._histograms(cells0)
        counts = np.array([h.sum() for h in hist])
        total = float((masses[0] * hist[0]).sum())
        sizes = counts.copy()
        full_sizes, full_mass, full_counts = counts.copy(), total, counts.copy()

        def density(mass: float, cnt: np.ndarray) -> float:
            return float(_density(code, mass, cnt, full_sizes, full_mass, cnt, full_counts))

        best, best_at = density(total, sizes), (0, 0)  # (round index, removals within it)
        rounds: list[_Round] = []
        alive = cells0
        while True:
            n_alive = int(total)
            if n_alive <= self.driver_cells:
                break
            # pick the mode whose batch removal leaves the densest state (peel._dcube's rule)
            pick, pick_d, pick_thr = -1, -np.inf, 0.0
            for k in range(n_modes):
                if counts[k] == 0:
                    continue
                thr = (1.0 + eps) * total / counts[k]
                low = masses[k] <= thr
                rm_mass, rm_count = float((masses[k][low] * hist[k][low]).sum()), float(hist[k][low].sum())
                trial = counts.copy()
                trial[k] = counts[k] - rm_count
                d = density(total - rm_mass, trial)
                if pick < 0 or d > pick_d:
                    pick, pick_d, pick_thr = k, d, thr
            name = self.modes[pick]
            batch = tables[pick].filter(F.col("mass") <= pick_thr)
            got = batch.orderBy("mass", name).toArrow()
            if got.num_rows == 0:  # only ties above a zero average: the smallest value
                got = tables[pick].orderBy("mass", name).limit(1).toArrow()
            b_codes = got.column(name).to_numpy().astype(np.int64)
            b_mass = got.column("mass").to_numpy()
            step_mass = total - np.cumsum(b_mass)
            for i in range(b_codes.size):
                cnt = counts.copy()
                cnt[pick] -= i + 1
                d = density(float(step_mass[i]), cnt)
                if d > best:
                    best, best_at = d, (len(rounds), i + 1)
            total = float(step_mass[-1])
            counts[pick] -= b_codes.size
            frame = _codes(alive.sparkSession, name, b_codes)
            nxt = alive.join(F.broadcast(frame) if b_codes.size <= 2_000_000 else frame, name, "left_anti")
            nxt = nxt.localCheckpoint(eager=True)
            old_tables = tables
            tables, masses, hist = self._histograms(nxt)
            dead: list[np.ndarray] = []
            removed = b_codes.size
            for k in range(n_modes):
                if k == pick:
                    dead.append(np.empty(0, np.int64))
                    continue
                gone = old_tables[k].select(self.modes[k]).join(tables[k].select(self.modes[k]),
                                                                 self.modes[k], "left_anti")
                d_codes = np.sort(gone.toArrow().column(0).to_numpy().astype(np.int64))
                for i in range(d_codes.size):
                    cnt = counts.copy()
                    cnt[k] -= i + 1
                    d = density(total, cnt)
                    if d > best:
                        best, best_at = d, (len(rounds), removed + i + 1)
                counts[k] -= d_codes.size
                removed += d_codes.size
                dead.append(d_codes)
            for t in old_tables:
                t.unpersist()
            if alive is not cells0:
                alive.unpersist()
            alive = nxt
            rounds.append(_Round(pick, b_codes, dead))
            self.rounds_on_spark += 1
            if self.say:
                self.say(f"dcube round {len(rounds)}: {int(total):,} cells left")
            if counts.min() == 0:
                break
        # the tail on the driver: the local compiled peel from this state
        tail_best, tail_removed = -np.inf, np.empty(0, np.int64)
        tail_shape = None
        if counts.min() > 0 and total > 0:
            cells, w = _collect_cells(alive, self.modes)
            tensor = Tensor(cells, w, self.shape)
            order, dens, step = _dcube(tensor.cells, w, tensor.offsets, tensor.ptr, tensor.members, code,
                                       full_sizes, full_mass, np.ones(int(tensor.offsets[-1])), eps)
            tail_best, tail_removed, tail_shape = float(dens[step]), order[:step], tensor
        for t in tables:
            t.unpersist()
        # rebuild the best state's values
        removed = [np.zeros(s, dtype=bool) for s in self.shape]
        if tail_shape is not None and tail_best > best:
            upto = (len(rounds), 0)
        else:
            upto = best_at
        for r, rnd in enumerate(rounds):
            if r > upto[0] or (r == upto[0] and upto[1] == 0):
                break
            limit = upto[1] if r == upto[0] else None
            taken = 0
            for k, codes in [(rnd.mode, rnd.batch)] + [(k, rnd.dead[k]) for k in range(n_modes) if k != rnd.mode]:
                for c in codes:
                    if limit is not None and taken >= limit:
                        break
                    removed[k][c] = True
                    taken += 1
        present = [np.zeros(s, dtype=bool) for s in self.shape]
        table = cells0.select(*self.modes)
        for k, name in enumerate(self.modes):  # every value that had a cell at the start
            present[k][tables_codes(table, name)] = True
        values = [np.flatnonzero(present[k] & ~removed[k]) for k in range(n_modes)]
        density_out = best
        if tail_shape is not None and tail_best > best:
            off = tail_shape.offsets
            for g in tail_removed:
                k = int(np.searchsorted(off, g, side="right") - 1)
                removed[k][int(g - off[k])] = True
            values = [np.flatnonzero(present[k] & ~removed[k]) for k in range(n_modes)]
            density_out = tail_best
        if alive is not cells0:
            alive.unpersist()
        return PeelResult(values, float(density_out))


def tables_codes(df: Any, name: str) -> np.ndarray:
    return df.select(name).distinct().toArrow().column(0).to_numpy().astype(np.int64)


def _codes(spark: Any, name: str, codes: np.ndarray) -> Any:
    from headcount.detect.spark.background import codes_frame

    return codes_frame(spark, name, codes)


class SparkGreedy:
    """FRAUDAR's greedy peel (arithmetic average weighted degree) of an edge DataFrame (a, b, w)."""

    def __init__(self, edges: Any, shape: tuple[int, int], a: str = "actor", b: str = "target",
                 driver_cells: int = DRIVER_CELLS, say: Say | None = None, max_rounds: int = 60) -> None:
        self.edges, self.shape, self.a, self.b = edges, shape, a, b
        self.driver_cells, self.say, self.max_rounds = driver_cells, say, max_rounds
        self.taus: list[float] = []

    def _stats(self, edges: Any) -> tuple[int, float, int]:
        from pyspark.sql import functions as F

        row = edges.agg(F.count(F.lit(1)).alias("n"), F.sum("w").alias("m"),
                        F.countDistinct(self.a).alias("na"), F.countDistinct(self.b).alias("nb")).first()
        return int(row["n"]), float(row["m"] or 0.0), int(row["na"]) + int(row["nb"])

    def core(self, edges: Any, tau: float) -> Any:
        """The weighted tau-core: drop every node of weighted degree < tau until none is left."""
        from pyspark.sql import functions as F

        current, n = edges, None
        for _ in range(self.max_rounds):
            da = current.groupBy(self.a).agg(F.sum("w").alias("_d")).filter(F.col("_d") >= tau).select(self.a)
            db = current.groupBy(self.b).agg(F.sum("w").alias("_d")).filter(F.col("_d") >= tau).select(self.b)
            # a checkpoint each round: the plan would otherwise hold every earlier round three times
            nxt = current.join(da, self.a, "left_semi").join(db, self.b, "left_semi").localCheckpoint(eager=True)
            m = nxt.count()
            current = nxt
            if m == n:
                break
            n = m
        return current

    def prune(self, edges: Any) -> Any:
        """The smallest safe core (see the module): its edges hold the greedy's best state."""
        n, mass, nodes = self._stats(edges)
        safe = edges
        while n > self.driver_cells and nodes > 0:
            tau = mass / nodes
            candidate = self.core(safe, tau)
            c_n, c_mass, c_nodes = self._stats(candidate)
            if c_nodes == 0 or tau > c_mass / c_nodes or c_n >= n:
                break  # the bound no longer holds (or nothing shrank): keep the last safe core
            self.taus.append(tau)
            safe, n, mass, nodes = candidate, c_n, c_mass, c_nodes
            if self.say:
                self.say(f"fraudar core tau={tau:.3g}: {n:,} edges")
        return safe

    def peel_many(self, k: int) -> list[PeelResult]:
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        remaining = self.edges.persist(StorageLevel.MEMORY_AND_DISK)
        out: list[PeelResult] = []
        for i in range(k):
            if remaining.count() <= self.driver_cells:  # small enough: the local peel, one collect
                cells, w = _collect_cells(remaining, [self.a, self.b], "w")
                out += Tensor(cells, w, self.shape).peel_many(k - i, "arithmetic")
                break
            core = self.prune(remaining)
            cells, w = _collect_cells(core, [self.a, self.b], "w")
            if not (w > 0).any():
                break
            result = Tensor(cells, w, self.shape).peel("arithmetic")
            if any(v.size == 0 for v in result.values):
                break
            out.append(result)
            sa, sb = _codes(remaining.sparkSession, self.a, result.values[0]), \
                _codes(remaining.sparkSession, self.b, result.values[1])
            inside = remaining.join(F.broadcast(sa), self.a, "left_semi").join(F.broadcast(sb), self.b, "left_semi")
            rest = remaining.join(inside.select(self.a, self.b), [self.a, self.b], "left_anti") \
                .localCheckpoint(eager=True)
            remaining.unpersist()
            remaining = rest
        remaining.unpersist()
        return out


def log_weight(degree: Any, c: float) -> Any:
    from pyspark.sql import functions as F

    return F.lit(1.0) / F.log(degree + F.lit(c))


__all__ = ["DRIVER_CELLS", "SparkDCube", "SparkGreedy", "log_weight", "math"]
