"""One detection: the ensemble, follow-back rings and follow/unfollow churn in one call.

The CLI and the service's job both call `detect_all`, so a finding one reports the
other acts on. Follow rings pass the same evidence tests as every other block
(`evidence.assess`: together in time, crowd moments need shared infrastructure).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from headcount.detect.base import DEFAULT_MIN_SCORE, Progress
from headcount.detect.blocks import Block
from headcount.detect.ensemble import DETECTORS, Ensemble
from headcount.detect.evidence import Context, assess
from headcount.detect.follows import Churn, analyse_log, with_rings
from headcount.detect.log import ActionLog
from headcount.detect.stream import Given


@dataclass
class Detection:
    """What `detect_all` found: blocks most suspicious first, churners, dense ones rejected."""

    blocks: list[Block]
    churn: list[Churn] = field(default_factory=list)
    rejected: int = 0  # dense candidates whose evidence beyond density did not hold
    seconds: float = 0.0


def _judge_ring(ctx: Context, log: ActionLog, ring: Block) -> Block:
    """A follow ring's tests, on its members' follows of each other."""
    # rings name accounts as text (actors and targets are one namespace there)
    actor_code = {str(v): i for i, v in enumerate(log.actor_labels.tolist())}
    target_code = {str(v): i for i, v in enumerate(log.target_labels.tolist())}
    actors = np.array(sorted({actor_code[str(a)] for a in ring.actors.tolist() if str(a) in actor_code}),
                      dtype=np.int64)
    targets = np.array(sorted({target_code[str(t)] for t in ring.targets.tolist() if str(t) in target_code}),
                       dtype=np.int64)
    verdict = assess(ctx, actors, targets, ring.start, ring.end, ring.score)
    return replace(ring, evidence={**ring.evidence, **verdict.evidence()}, confidence=verdict.confidence)


def judge_groups(log: ActionLog, groups: list[tuple[np.ndarray, np.ndarray]], top: int = 10,
                 min_score: float = DEFAULT_MIN_SCORE) -> Detection:
    """Groups found by the streaming path (actor and target labels of `log`), judged as the
    batch judges its own candidates: the same background, trimming and evidence tests."""
    began = time.perf_counter()
    if len(log) == 0 or not groups:
        return Detection([])
    model = Given(groups, top=top, min_score=min_score).fit(log)
    return Detection(model.blocks_, [], len(model.rejected_), time.perf_counter() - began)


def detect_all(log: ActionLog, top: int = 10, min_score: float = DEFAULT_MIN_SCORE,
               bucket_widths: tuple[int, ...] | None = None, detectors: tuple[str, ...] = DETECTORS,
               progress: Progress | None = None, engine: str = "local") -> Detection:
    """Every finding in the log that chance and crowds do not explain.

    `engine="spark"` runs the same detection with Apache Spark (`headcount.detect.spark`,
    the `spark` extra); for logs on disk, `detect.spark.detect_path` reads them there."""
    if engine == "spark":
        from headcount.detect.spark import detect_log

        return detect_log(log, top=top, min_score=min_score, bucket_widths=bucket_widths,
                          detectors=detectors, progress=progress)
    if engine != "local":
        raise ValueError(f"engine: 'local' or 'spark', not {engine!r}")
    began = time.perf_counter()
    if len(log) == 0:
        return Detection([])
    model = Ensemble(top=top, min_score=min_score, bucket_widths=bucket_widths, detectors=detectors)
    model.fit(log, progress=progress)
    rings, churners = analyse_log(log, min_score)
    ctx = Context(log)
    judged = [_judge_ring(ctx, log, r) for r in rings]
    kept = [r for r in judged if float(r.evidence.get("evidence_score", r.score)) >= min_score]
    blocks = with_rings(model.blocks_, kept)[:top]
    return Detection(blocks, churners, len(model.rejected_) + len(judged) - len(kept),
                     time.perf_counter() - began)
