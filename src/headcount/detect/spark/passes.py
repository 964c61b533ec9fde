"""The detectors' heavy passes as Spark jobs; each yields the local engine's raw candidates.

- burst seeds: cells per (target, bucket) at every scale, their log-likelihood ratio
  against target popularity x bucket traffic, the best slot per target, the top
  `seeds_per_scale` targets (`local.BurstSeeds`);
- D-Cube: the (actor, target, bucket) tensor of each scale peeled in batch rounds
  (`peel.SparkDCube`);
- FRAUDAR: the actor x target graph with its fixed log weights, pruned to a safe core
  and peeled on the driver (`peel.SparkGreedy`);
- lockstep: near-simultaneous co-actions per target (`lockstep.Lockstep`), each
  event paired with the next events of its target within the window, capped per
  event exactly as the local engine caps them (the cap is chosen from a histogram
  of the per-event pair counts), pairs counted per actor pair, Jaccard-filtered;
  the linked pairs (few) are grouped into components on the driver.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from headcount.detect.blocks import Candidate
from headcount.detect.fraudar import Fraudar
from headcount.detect.local import BurstSeeds
from headcount.detect.lockstep import Lockstep
from headcount.detect.mzoom import DenseTensor
from headcount.detect.spark.background import SparkBackground, codes_frame
from headcount.detect.spark.peel import DRIVER_CELLS, Say, SparkDCube, SparkGreedy, log_weight


def burst_candidates(bg: SparkBackground, detector: BurstSeeds, width: int) -> list[Candidate]:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    per = max(1, width // bg.resolution_s)
    n_b = (bg.n_hours - 1) // per + 1
    bucket_mass = np.bincount(np.arange(bg.n_hours) // per, weights=bg.hour_mass, minlength=n_b)
    spark = bg.spark
    buckets = spark.createDataFrame([(int(b), float(m)) for b, m in enumerate(bucket_mass)],
                                    "bucket int, bmass double")
    tmass = spark.createDataFrame(
        _pandas({"target": np.flatnonzero(bg.target_mass).astype(np.int32),
                 "tmass": bg.target_mass[bg.target_mass > 0].astype(np.float64)}))
    slots = (bg.cells.withColumn("bucket", (F.col("hour") / F.lit(per)).cast("int"))
             .groupBy("target", "bucket").agg(F.count(F.lit(1)).cast("double").alias("observed"))
             .join(F.broadcast(buckets), "bucket").join(tmass, "target"))
    expected = F.col("tmass") * F.col("bmass") / F.lit(bg.total)
    obs = F.col("observed")
    llr = F.when(obs > expected, obs * F.log(obs / F.greatest(expected, F.lit(1e-12))) - obs + expected) \
        .otherwise(F.lit(0.0))
    ranked = slots.withColumn("llr", llr).filter(F.col("llr") > 0)
    best = ranked.withColumn("_r", F.row_number().over(
        Window.partitionBy("target").orderBy(F.col("llr").desc(), F.col("bucket"))))
    seeds = best.filter(F.col("_r") == 1).orderBy(F.col("llr").desc(), F.col("target")) \
        .limit(detector.seeds_per_scale).select("target", "bucket", "llr").collect()
    if not seeds:
        return []
    keys = spark.createDataFrame([(int(r["target"]), int(r["bucket"])) for r in seeds], "target int, bucket int")
    members = (bg.cells.withColumn("bucket", (F.col("hour") / F.lit(per)).cast("int"))
               .join(F.broadcast(keys), ["target", "bucket"]).select("target", "actor").distinct().toArrow())
    t_all = members.column("target").to_numpy()
    a_all = members.column("actor").to_numpy()
    out = []
    for r in seeds:
        t, b = int(r["target"]), int(r["bucket"])
        actors = np.unique(a_all[t_all == t]).astype(np.int64)
        h0, h1 = b * per, (b + 1) * per - 1
        start = bg.origin + h0 * bg.resolution_s
        end = bg.origin + (h1 + 1) * bg.resolution_s - 1
        out.append(Candidate(actors, np.array([t]), start, end, detector.name,
                             evidence={"bucket_s": width, "seed_llr": round(float(r["llr"]), 1)}))
    return out


def _pandas(columns: dict[str, np.ndarray]) -> Any:
    import pyarrow as pa

    return pa.table({k: pa.array(v) for k, v in columns.items()})


def tensor_cells(bg: SparkBackground, width: int) -> Any:
    """Distinct (actor, target, bucket) of one scale (from the hour cells when the width allows)."""
    from pyspark.sql import functions as F

    if width % bg.resolution_s == 0:
        per = width // bg.resolution_s
        return bg.cells.select("actor", "target", (F.col("hour") / F.lit(per)).cast("int").alias("bucket")).distinct()
    bucket = ((F.col("ts") - F.lit(bg.origin)) / F.lit(width)).cast("long").cast("int")
    return bg.encoded.events.select("actor", "target", bucket.alias("bucket")).distinct()


def dcube_candidates(bg: SparkBackground, detector: DenseTensor, width: int,
                     driver_cells: int = DRIVER_CELLS, say: Say | None = None) -> list[Candidate]:
    n_buckets = int((bg.encoded.ts_max - bg.origin) // width) + 1
    shape = (max(bg.encoded.n_actors, 1), max(bg.encoded.n_targets, 1), n_buckets)
    peeler = SparkDCube(tensor_cells(bg, width), ["actor", "target", "bucket"], shape, detector.measure,
                        eps=float(detector.batch_eps or 0.0), driver_cells=driver_cells, say=say)
    out = []
    for result in peeler.peel_many(detector.n_blocks):
        buckets = result.values[2]
        start = bg.origin + int(buckets.min()) * width
        end = bg.origin + (int(buckets.max()) + 1) * width - 1
        out.append(Candidate(result.values[0], result.values[1], start, end, detector.label,
                             evidence={"bucket_s": width, "peel_density": round(result.density, 3)}))
    return out


def fraudar_candidates(bg: SparkBackground, detector: Fraudar, driver_cells: int = DRIVER_CELLS,
                       say: Say | None = None) -> list[Candidate]:
    from pyspark.sql import functions as F

    edges = bg.cells.select("actor", "target").distinct()
    degree = edges.groupBy("target").agg(F.count(F.lit(1)).alias("_deg"))
    weighted = edges.join(degree, "target").withColumn("w", log_weight(F.col("_deg"), detector.c)).drop("_deg")
    shape = (max(bg.encoded.n_actors, 1), max(bg.encoded.n_targets, 1))
    peeler = SparkGreedy(weighted, shape, driver_cells=driver_cells, say=say)
    out = []
    for result in peeler.peel_many(detector.n_blocks):
        actors, targets = result.values[0], result.values[1]
        start, end = _span(bg, actors, targets)
        out.append(Candidate(actors, targets, start, end, detector.name,
                             evidence={"average_weighted_degree": round(result.density, 3)}))
    return out


def _block_ts(bg: SparkBackground, actors: np.ndarray, targets: np.ndarray) -> np.ndarray:
    from pyspark.sql import functions as F

    spark = bg.spark
    sel = bg.encoded.events.join(F.broadcast(codes_frame(spark, "actor", actors)), "actor", "left_semi") \
        .join(F.broadcast(codes_frame(spark, "target", targets)), "target", "left_semi")
    return sel.select("ts").toArrow().column(0).to_numpy()


def _span(bg: SparkBackground, actors: np.ndarray, targets: np.ndarray) -> tuple[int, int]:
    """FRAUDAR's window: the 2nd to 98th percentile of the block's events (`fraudar._span`)."""
    ts = _block_ts(bg, actors, targets)
    if ts.size == 0:
        return bg.encoded.ts_min, bg.encoded.ts_max
    lo, hi = np.quantile(ts, [0.02, 0.98]) if ts.size >= 50 else (ts.min(), ts.max())
    return int(lo), int(hi)


def lockstep_candidates(bg: SparkBackground, detector: Lockstep, say: Say | None = None) -> list[Candidate]:
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    enc, spark = bg.encoded, bg.spark
    window = int(detector.window_s)
    ev = enc.events.select("_row", "actor", "target", "ts")
    by_target = Window.partitionBy("target").orderBy("ts", "_row")
    upto = Window.partitionBy("target").orderBy("ts").rangeBetween(Window.unboundedPreceding, window)
    ranked = ev.withColumn("_r", F.row_number().over(by_target)) \
        .withColumn("_c", F.count(F.lit(1)).over(upto)) \
        .withColumn("_m", F.col("_c") - F.col("_r")).drop("_c")
    ranked = ranked.persist(StorageLevel.MEMORY_AND_DISK)
    cap = detector.per_event_cap
    hist = ranked.groupBy(F.least(F.col("_m"), F.lit(cap)).alias("m")).count().toArrow()
    m, n = hist.column("m").to_numpy().astype(np.int64), hist.column("count").to_numpy().astype(np.int64)

    def pairs_at(c: int) -> int:
        return int((np.minimum(m, c) * n).sum())

    while pairs_at(cap) > detector.max_pairs and cap > 10:
        cap //= 2  # a hot target: compare each event with fewer neighbours (as the local engine)
    if say:
        say(f"lockstep: {pairs_at(cap):,} near-simultaneous pairs (cap {cap})")
    first = ranked.filter(F.col("_m") > 0).select(
        "target", F.col("actor").alias("a1"),
        F.explode(F.sequence(F.col("_r") + 1, F.col("_r") + F.least(F.col("_m"), F.lit(cap)))).alias("_r"))
    second = ranked.select("target", "_r", F.col("actor").alias("a2"))
    pairs = first.join(second, ["target", "_r"]).filter(F.col("a1") != F.col("a2")).select(
        F.least("a1", "a2").alias("a"), F.greatest("a1", "a2").alias("b"), "target").distinct()
    path = f"{enc.scratch}/lockstep_pairs"
    pairs.write.mode("overwrite").parquet(path)
    ranked.unpersist()
    pairs = spark.read.parquet(path)
    n_targets_of = bg.cells.select("actor", "target").distinct().groupBy("actor").agg(
        F.count(F.lit(1)).alias("n"))
    common = pairs.groupBy("a", "b").agg(F.count(F.lit(1)).alias("common"))
    linked = (common.filter(F.col("common") >= detector.min_common)
              .join(n_targets_of.select(F.col("actor").alias("a"), F.col("n").alias("na")), "a")
              .join(n_targets_of.select(F.col("actor").alias("b"), F.col("n").alias("nb")), "b")
              .filter(F.col("common") / (F.col("na") + F.col("nb") - F.col("common")) >= detector.min_similarity)
              .select("a", "b").toArrow())
    pa_, pb_ = linked.column("a").to_numpy(), linked.column("b").to_numpy()
    if pa_.size == 0:
        return []
    n_a = max(enc.n_actors, 1)
    order = np.lexsort((pb_, pa_))
    pa_, pb_ = pa_[order], pb_[order]
    graph = coo_matrix((np.ones(pa_.size), (pa_, pb_)), shape=(n_a, n_a))
    _, label = connected_components(graph, directed=False)
    touched = np.unique(np.concatenate([pa_, pb_]))
    sizes = np.bincount(label[touched], minlength=label.max() + 1)
    groups = np.flatnonzero(sizes >= detector.min_actors)
    if groups.size == 0:
        return []
    members_of = {int(g): touched[label[touched] == g] for g in groups}
    member_rows = [(int(a), int(g)) for g, ms in members_of.items() for a in ms]
    gm = spark.createDataFrame(member_rows, "actor int, grp int")
    inside = (pairs.join(F.broadcast(gm.select(F.col("actor").alias("a"), F.col("grp").alias("ga"))), "a")
              .join(F.broadcast(gm.select(F.col("actor").alias("b"), F.col("grp").alias("gb"))), "b")
              .filter(F.col("ga") == F.col("gb")))
    per_group = inside.groupBy("ga", "target").agg(F.count(F.lit(1)).alias("k")).toArrow()
    g_col, t_col, k_col = (per_group.column(c).to_numpy() for c in ("ga", "target", "k"))
    gt = spark.createDataFrame([(int(g), int(t)) for g, t in zip(g_col, t_col)], "grp int, target int")
    spans = (enc.events.join(F.broadcast(gm), "actor").join(F.broadcast(gt), ["grp", "target"])
             .groupBy("grp").agg(F.min("ts").alias("start"), F.max("ts").alias("end")).collect())
    span = {int(r["grp"]): (int(r["start"]), int(r["end"])) for r in spans}
    out = []
    for group in groups:
        g = int(group)
        mine = g_col == g
        targets = np.unique(t_col[mine]).astype(np.int64)
        start, end = span[g]
        out.append(Candidate(members_of[g].astype(np.int64), targets, start, end, detector.name,
                             evidence={"window_s": detector.window_s,
                                       "lockstep_coactions": int(k_col[mine].sum())}))
    return out
