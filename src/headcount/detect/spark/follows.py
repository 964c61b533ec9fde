"""Follow-back rings and follow/unfollow churn on Spark (`detect.follows`, the same findings).

Churn needs, per (actor, target) pair in time order, each unfollow that closes an
open follow and how long that follow lasted. The open state after an event is just
whether it was a follow, so every unfollow is matched by window functions alone:
the run of follows since the pair's last unfollow opened at that run's first follow.
Rings: the distinct follow edges, the mutual ones by a self-join, their log-weighted
degrees, then the same safe-core pruning and driver peel as FRAUDAR
(`peel.SparkGreedy`), scored against independent following as the local engine does.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from headcount.detect.blocks import Block, plain
from headcount.detect.evidence import assess
from headcount.detect.follows import FOLLOW, UNFOLLOW, Churn
from headcount.detect.scoring import LN10, log_choose, poisson_surprise
from headcount.detect.spark.background import codes_frame
from headcount.detect.spark.peel import SparkGreedy, log_weight


def _verb_codes(encoded: Any) -> dict[str, int]:
    from pyspark.sql import functions as F

    rows = encoded.dictionaries["verb"].filter(F.col("label").cast("string").isin([FOLLOW, UNFOLLOW])).collect()
    return {str(r["label"]): int(r["code"]) for r in rows}


def churn(encoded: Any, verbs: dict[str, int], min_follows: int = 50, min_share: float = 0.5) -> list[Churn]:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    f, u = verbs.get(FOLLOW, -1), verbs.get(UNFOLLOW, -1)
    ev = encoded.events.filter(F.col("verb").isin([f, u])).select(
        "actor", "target", "ts", "_row", (F.col("verb") == f).alias("is_f"))
    pair = Window.partitionBy("actor", "target").orderBy("ts", "_row")
    before = pair.rowsBetween(Window.unboundedPreceding, -1)
    ev = ev.withColumn("grp", F.coalesce(F.sum(F.when(~F.col("is_f"), 1).otherwise(0)).over(before), F.lit(0)))
    opened = ev.filter("is_f").groupBy("actor", "target", "grp").agg(F.min("ts").alias("began"))
    undone = ev.filter(~F.col("is_f")).join(opened, ["actor", "target", "grp"]) \
        .select("actor", (F.col("ts") - F.col("began")).cast("double").alias("kept"))
    follows = ev.filter("is_f").groupBy("actor").agg(F.count(F.lit(1)).alias("follows"))
    per = undone.groupBy("actor").agg(F.count(F.lit(1)).alias("unfollows"),
                                      F.expr("percentile(kept, 0.5)").alias("median"))
    rows = (per.join(follows, "actor").filter(F.col("follows") >= min_follows)
            .filter(F.col("unfollows") / F.col("follows") >= min_share).collect())
    if not rows:
        return []
    from headcount.detect.spark.read import labels_of

    labels = labels_of(encoded, "actor", [r["actor"] for r in rows])
    out = [Churn(plain(labels[int(r["actor"])]), int(r["follows"]), int(r["unfollows"]), float(r["median"]))
           for r in rows]
    return sorted(out, key=lambda c: (c.unfollows, c.share), reverse=True)


def rings(encoded: Any, verbs: dict[str, int], min_score: float, driver_cells: int,
          n_blocks: int = 3, min_size: int = 3) -> list[Block]:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from headcount.detect.spark.read import _dense_codes

    spark = encoded.spark
    f = verbs.get(FOLLOW, -1)
    actor_l = encoded.dictionaries["actor"].select(F.col("code").alias("actor"),
                                                    F.col("label").cast("string").alias("src"))
    target_l = encoded.dictionaries["target"].select(F.col("code").alias("target"),
                                                      F.col("label").cast("string").alias("dst"))
    fol = encoded.events.filter(F.col("verb") == f).join(actor_l, "actor").join(target_l, "target") \
        .select("src", "dst", "ts")
    names = fol.select(F.col("src").alias("label")).union(fol.select(F.col("dst").alias("label"))).distinct() \
        .withColumn("_first", F.col("label"))
    codes, n_nodes = _dense_codes(names, spark)  # sorted labels, as np.unique gives them
    codes = codes.persist(StorageLevel.MEMORY_AND_DISK)
    ev = fol.join(codes.select(F.col("label").alias("src"), F.col("code").alias("s")), "src") \
        .join(codes.select(F.col("label").alias("dst"), F.col("code").alias("d")), "dst").select("s", "d", "ts")
    ev = ev.persist(StorageLevel.MEMORY_AND_DISK)
    edges = ev.select("s", "d").distinct().filter(F.col("s") != F.col("d")).persist(StorageLevel.MEMORY_AND_DISK)
    n_edges = float(edges.count())
    mutual = edges.alias("x").join(edges.alias("y"), (F.col("x.s") == F.col("y.d")) & (F.col("x.d") == F.col("y.s"))) \
        .filter(F.col("x.s") < F.col("x.d")).select(F.col("x.s").alias("a"), F.col("x.d").alias("b"))
    mutual = mutual.persist(StorageLevel.MEMORY_AND_DISK)
    if mutual.count() == 0:
        return []
    degree = mutual.select(F.col("a").alias("n")).union(mutual.select(F.col("b").alias("n"))) \
        .groupBy("n").agg(F.count(F.lit(1)).alias("deg"))
    cells = mutual.select(F.col("a").alias("r"), F.col("b").alias("c")) \
        .union(mutual.select(F.col("b").alias("r"), F.col("a").alias("c")))
    cells = cells.join(degree.withColumnRenamed("n", "c"), "c").withColumn("w", log_weight(F.col("deg"), 5.0)) \
        .select("r", "c", "w")
    out_deg = edges.groupBy("s").count()
    in_deg = edges.groupBy("d").count()
    blocks = []
    for result in SparkGreedy(cells, (n_nodes, n_nodes), "r", "c", driver_cells).peel_many(n_blocks):
        members = np.intersect1d(result.values[0], result.values[1])
        if members.size < min_size:
            continue
        m = F.broadcast(codes_frame(spark, "n", members))
        observed = float(mutual.join(m.withColumnRenamed("n", "a"), "a", "left_semi")
                         .join(m.withColumnRenamed("n", "b"), "b", "left_semi").count())
        o = out_deg.join(m.withColumnRenamed("n", "s"), "s").select("s", F.col("count").alias("o"))
        i = in_deg.join(m.withColumnRenamed("n", "d"), "d").select(F.col("d").alias("s"), F.col("count").alias("i"))
        both = o.join(i, "s").select((F.col("o") * F.col("i")).cast("double").alias("p")).toArrow().column(0).to_numpy()
        expected = (both.sum() ** 2 - (both ** 2).sum()) / 2.0 / n_edges ** 2
        score = (poisson_surprise(observed, expected) - log_choose(n_nodes, members.size)) / LN10
        if score < min_score:
            continue
        pairs = members.size * (members.size - 1) / 2
        span = ev.join(m.withColumnRenamed("n", "s"), "s", "left_semi").join(m.withColumnRenamed("n", "d"), "d", "left_semi") \
            .agg(F.min("ts"), F.max("ts")).first()
        named = codes.join(m.withColumnRenamed("n", "code"), "code").orderBy("code").select("label").collect()
        labels = np.array([r["label"] for r in named], dtype=object)
        blocks.append(Block(labels, labels, int(span[0]), int(span[1]), observed / pairs, float(score),
                            "follow_ring", int(observed), float(expected),
                            {"mutual_pairs": int(observed), "expected_pairs": round(float(expected), 3)}))
    for frame in (codes, ev, edges, mutual):
        frame.unpersist()
    return sorted(blocks, key=lambda blk: blk.score, reverse=True)


def _codes_of(encoded: Any, name: str, labels: list[str]) -> np.ndarray:
    from pyspark.sql import functions as F

    rows = encoded.dictionaries[name].filter(F.col("label").cast("string").isin(labels)).select("code").collect()
    return np.array(sorted(int(r["code"]) for r in rows), dtype=np.int64)


def analyse(encoded: Any, ctx: Any, min_score: float, driver_cells: int) -> tuple[list[Block], list[Churn], int]:
    """(follow rings that pass the evidence tests, churners, rings rejected) for a log with a verb column."""
    if "verb" not in encoded.modes:
        return [], [], 0
    verbs = _verb_codes(encoded)
    if FOLLOW not in verbs:
        return [], [], 0
    found = rings(encoded, verbs, min_score, driver_cells)
    churners = churn(encoded, verbs)
    if not found:
        return [], churners, 0
    from headcount.detect.spark.engine import SparkContext, sub_log

    kept = []
    for ring in found:  # `detection._judge_ring`: the ring's tests on its members' events
        names = [str(a) for a in ring.actors.tolist()]
        actors = _codes_of(encoded, "actor", names)
        targets = _codes_of(encoded, "target", names)
        rctx = SparkContext(sub_log(encoded, actors), encoded)
        rctx._clock, rctx._collision = ctx.sorted_ts, ctx._collision
        verdict = assess(rctx, actors, targets, ring.start, ring.end, ring.score)
        judged = replace(ring, evidence={**ring.evidence, **verdict.evidence()}, confidence=verdict.confidence)
        if float(judged.evidence.get("evidence_score", judged.score)) >= min_score:
            kept.append(judged)
    return kept, churners, len(found) - len(kept)
