"""Follows: "#massfollowing" churn and follow-back rings.

Mass-following accounts follow thousands, collect follow-backs, then unfollow.
Two views of a follow log (`verb` is follow or unfollow; actors and targets are
accounts of one namespace):

- **Churn** per actor: how many follows were undone, and how fast. Real people
  rarely unfollow most of what they followed within days.
- **Follow-back rings**: accounts that follow each other. Mutual follows form an
  undirected graph; its densest part is peeled greedily (FRAUDAR's engine, with
  log-weighted degrees), and scored against independent following (i follows j
  with probability out_i in_j / E, so i and j follow each other with the product
  of both ways) less the cost of naming the ring's members, in the same log10
  units as every other block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headcount.detect.arrays import distinct_rows
from headcount.detect.base import DEFAULT_MIN_SCORE
from headcount.detect.blocks import Block, plain
from headcount.detect.log import ActionLog
from headcount.detect.peel import Tensor
from headcount.detect.scoring import LN10, log_choose, poisson_surprise

FOLLOW, UNFOLLOW = "follow", "unfollow"


@dataclass(frozen=True)
class Churn:
    actor: object
    follows: int
    unfollows: int  # follows undone (an unfollow after a follow of the same target)
    median_keep_s: float  # how long an undone follow lasted, median

    @property
    def share(self) -> float:
        return self.unfollows / self.follows if self.follows else 0.0

    def to_dict(self) -> dict[str, object]:
        return {"actor": self.actor, "follows": self.follows, "unfollows": self.unfollows,
                "share": round(self.share, 3), "median_keep_s": round(self.median_keep_s, 1)}


def churn(actor: np.ndarray, target: np.ndarray, ts: np.ndarray, verb: np.ndarray,
          min_follows: int = 50, min_share: float = 0.5) -> list[Churn]:
    """Actors who followed at least `min_follows` and undid at least `min_share` of them."""
    verb = np.asarray(verb).astype(str)
    is_follow, is_unfollow = verb == FOLLOW, verb == UNFOLLOW
    codes_a, labels = _codes(actor)
    codes_t, _ = _codes(target)
    n_t = int(codes_t.max()) + 1 if codes_t.size else 1
    pair = codes_a.astype(np.int64) * n_t + codes_t
    follow_at: dict[int, float] = {}
    first = np.argsort(ts, kind="stable")
    undone: dict[int, list[float]] = {}
    follows = np.bincount(codes_a[is_follow], minlength=labels.size)
    for i in first:  # a single pass in time order; dictionaries are per pair
        if is_follow[i]:
            follow_at.setdefault(int(pair[i]), float(ts[i]))
        elif is_unfollow[i]:
            began = follow_at.pop(int(pair[i]), None)
            if began is not None:
                undone.setdefault(int(codes_a[i]), []).append(float(ts[i]) - began)
    out = []
    for a, kept in undone.items():
        if follows[a] >= min_follows and len(kept) / follows[a] >= min_share:
            out.append(Churn(plain(labels[a]), int(follows[a]), len(kept), float(np.median(kept))))
    return sorted(out, key=lambda c: (c.unfollows, c.share), reverse=True)


def follow_rings(actor: np.ndarray, target: np.ndarray, ts: np.ndarray, verb: np.ndarray | None = None,
                 n_blocks: int = 3, min_score: float = DEFAULT_MIN_SCORE, min_size: int = 3) -> list[Block]:
    """Dense groups of accounts that follow each other, most surprising first."""
    keep = np.ones(np.asarray(actor).shape[0], dtype=bool) if verb is None else \
        np.asarray(verb).astype(str) == FOLLOW
    names = np.concatenate([np.asarray(actor)[keep].astype(str), np.asarray(target)[keep].astype(str)])
    codes, labels = _codes(names)
    n = int(keep.sum())
    src, dst, when = codes[:n], codes[n:], np.asarray(ts)[keep]
    edges = distinct_rows([src, dst], [labels.size, labels.size])
    edges = edges[:, edges[0] != edges[1]]
    forward = edges[0].astype(np.int64) * labels.size + edges[1]
    backward = edges[1].astype(np.int64) * labels.size + edges[0]
    mutual = np.isin(forward, backward) & (edges[0] < edges[1])
    a, b = edges[0][mutual], edges[1][mutual]
    if a.size == 0:
        return []
    degree = np.bincount(np.concatenate([a, b]), minlength=labels.size).astype(np.float64)
    out_deg = np.bincount(edges[0], minlength=labels.size).astype(np.float64)
    in_deg = np.bincount(edges[1], minlength=labels.size).astype(np.float64)
    n_edges = float(edges.shape[1])
    # both directions as cells of a square matrix: peeling rows and columns in step
    cells = np.stack([np.concatenate([a, b]), np.concatenate([b, a])])
    weights = 1.0 / np.log(degree[cells[1]] + 5.0)
    tensor = Tensor(cells, weights, (labels.size, labels.size))
    n_nodes = int(labels.size)  # the ring is named among every account in the log
    blocks = []
    for result in tensor.peel_many(n_blocks, "arithmetic"):
        members = np.intersect1d(result.values[0], result.values[1])
        if members.size < min_size:
            continue
        inside = np.isin(a, members) & np.isin(b, members)
        observed = float(inside.sum())
        both = out_deg[members] * in_deg[members]  # pair i, j: both_i * both_j / E^2
        expected = (both.sum() ** 2 - (both ** 2).sum()) / 2.0 / n_edges ** 2
        score = (poisson_surprise(observed, expected) - log_choose(n_nodes, members.size)) / LN10
        if score < min_score:
            continue
        pairs = members.size * (members.size - 1) / 2
        span = when[np.isin(src, members) & np.isin(dst, members)]
        blocks.append(Block(labels[members], labels[members], int(span.min()), int(span.max()),
                            observed / pairs, float(score), "follow_ring", int(observed), float(expected),
                            {"mutual_pairs": int(observed), "expected_pairs": round(float(expected), 3)}))
    return sorted(blocks, key=lambda blk: blk.score, reverse=True)


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels, codes = np.unique(np.asarray(values), return_inverse=True)
    return codes.astype(np.int32), labels


def with_rings(blocks: list[Block], rings: list[Block], overlap: float = 0.5) -> list[Block]:
    """The blocks and the follow rings no block already holds, most suspicious first.

    A ring another detector also found is named in that block's evidence instead of
    being listed twice.
    """
    out = list(blocks)
    for ring in rings:
        members = set(ring.actors.tolist())
        twin = next((b for b in out if len(members & set(b.actors.tolist()))
                     >= overlap * min(len(members), len(b.actors))), None)
        if twin is None:
            out.append(ring)
        else:
            seen = twin.evidence.setdefault("detectors", [twin.detector])
            if ring.detector not in seen:
                seen.append(ring.detector)
            twin.evidence.setdefault("mutual_pairs", ring.evidence["mutual_pairs"])
    return sorted(out, key=lambda b: b.score, reverse=True)


def analyse_log(log: ActionLog, min_score: float = DEFAULT_MIN_SCORE) -> tuple[list[Block], list[Churn]]:
    """Follow rings and churners of a log with a `verb` column (nothing without follows)."""
    if "verb" not in log.modes:
        return [], []
    verb = log.mode_labels["verb"].astype(str)[log.modes["verb"]]
    if not (verb == FOLLOW).any():
        return [], []
    actor, target = log.actor_labels[log.actor], log.target_labels[log.target]
    return follow_rings(actor, target, log.ts, verb, min_score=min_score), churn(actor, target, log.ts, verb)
