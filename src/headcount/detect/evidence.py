"""Evidence beyond density, and the calibrated confidence it gives a block.

Density alone cannot tell a ring from what real crowds do: a launch or a drop puts
thousands of people on a few targets within minutes, a post going viral or a
popular account gaining followers makes the same targets hot for everyone, a
recurring community meets every week, and people with the same taste review the
same products over years. Each of these is dense against independent activity
(the score's null), and none is a coordinated group. A block is reported only
when every test it needs rejects what such crowds do, each in the score's units
(log10 odds against chance):

- **density** (`Candidate.score`): far more cells than independent activity predicts.
- **together** (synchrony): the members acted in one stretch of time, not each in
  their own session spread over the log (co-interest, recurring taste). Members
  whose block actions mostly fall within one day are together; otherwise the scan
  statistic of their median times against the log's own time distribution
  (Kulldorff-style, a binomial tail times the number of windows) must reject
  independent timing.
- **crowd**: a block all of whose moments (stretches of activity split by
  gaps of `MOMENT_GAP_S`) are on at most `CROWD_TARGETS` effective targets is what a
  crowd reacting to one moment looks like (a launch, a drop, a weekly meeting).
  Such a block, and one of fewer than `FEW_ACTORS` members (a handful of heavy
  users or mass followers overlapping on popular targets), needs **shared infrastructure**: more members sharing a network or a
  device (their most used one within the block) than members drawn at random
  from the log would, a birthday-collision count against a Poisson mean. Only
  members whose block value is also their most used one in the whole log count:
  a class on its school's wi-fi for a day, or colleagues on the office network,
  spend the rest of the log on networks of their own; a farm's accounts live on
  the farm. Up to
  `HOUSEHOLD` members on one value are what a household shares (a home's wi-fi, a
  family's tablet): only members beyond that count as collisions.

The block's evidence score is the weakest of the tests it needs; its confidence is
the posterior probability that it is not chance at even prior odds,
1 / (1 + 10^-score): the score pays for the choice of members and window already,
so 10^score is the odds against the best block chance alone would produce.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import binom, poisson

from headcount.detect.blocks import block_events
from headcount.detect.log import ActionLog

DAY = 86_400
TOGETHER_S = DAY  # members whose block actions (80% of them) fall within a day acted together
TOGETHER_SHARE = 0.8
MOMENT_GAP_S = 6 * 3600  # a quiet stretch this long ends a moment
CROWD_TARGETS = 6.0  # a moment on at most this many effective targets is what one crowd does
MAX_CROWD_MOMENTS = 3  # more moments than this must recur at one phase to be a community
PHASE_LOCK = 0.95  # mean resultant length of the moments' phases: within about +-2 h a week
FEW_ACTORS = 5  # fewer members than this need shared infrastructure too (heavy users, mass followers)
#: members one network or device value may have before sharing it is evidence: a household's
#: wi-fi or a family's tablet (households of more than six are rare), not a farm
HOUSEHOLD = 6
#: modes of a log that say what was done, not where from: no evidence of shared infrastructure
NOT_INFRASTRUCTURE = frozenset({"verb"})
MISSING = frozenset({"", "-", "none", "null", "nan"})


def confidence(score: float) -> float:
    """Posterior probability the block is not chance, at even prior odds (see module)."""
    if score >= 30:
        return 1.0
    return 1.0 / (1.0 + 10.0 ** (-score))


@dataclass
class Assessment:
    """The tests a block needed and their scores (log10 odds against the crowd)."""

    score: float
    confidence: float
    crowd_like: bool
    tests: dict[str, float]
    facts: dict[str, Any]

    def evidence(self) -> dict[str, Any]:
        return {"confidence": round(self.confidence, 4), "evidence_score": round(self.score, 2),
                "crowd_like": self.crowd_like,
                "tests": {k: (round(v, 2) if math.isfinite(v) else ("pass" if v > 0 else "fail"))
                          for k, v in self.tests.items()},
                **self.facts}


class Context:
    """What the tests need from the whole log, computed once per log and on demand."""

    def __init__(self, log: ActionLog) -> None:
        self.log = log
        self._sorted_ts: np.ndarray | None = None
        self._collision: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    @property
    def sorted_ts(self) -> np.ndarray:
        if self._sorted_ts is None:
            self._sorted_ts = np.sort(self.log.ts)
        return self._sorted_ts

    def missing(self, name: str) -> np.ndarray:
        """Which codes of a mode stand for "no value" (the service logs '-' when absent)."""
        labels = self.log.mode_labels[name]
        return np.array([str(v).strip().lower() in MISSING for v in labels], dtype=bool)

    def population(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(each actor's most used value of a mode, actors per value, the missing codes)."""
        if name not in self._collision:
            log = self.log
            missing = self.missing(name)
            modal = modal_values(log.actor, log.modes[name], log.n_actors, missing)
            counts = np.bincount(modal[modal >= 0], minlength=missing.size).astype(np.float64)
            self._collision[name] = (modal, counts, missing)
        return self._collision[name]

    def collision_rate(self, name: str, outside: np.ndarray) -> tuple[float, np.ndarray]:
        """(chance two random actors other than the block's share their most used value, missing codes).

        The block's own members are left out: a farm of 2,000 on 8 networks would otherwise
        make sharing look ordinary."""
        modal, counts, missing = self.population(name)
        own = modal[outside]
        counts = counts - np.bincount(own[own >= 0], minlength=counts.size)
        n = counts.sum()
        rate = 1.0 if n < 2 else float((counts * (counts - 1)).sum() / (n * (n - 1.0)))
        return rate, missing


def modal_values(actor: np.ndarray, value: np.ndarray, n_actors: int, missing: np.ndarray) -> np.ndarray:
    """Each actor's most used non-missing value (-1 for none)."""
    keep = ~missing[value]
    a, v = actor[keep].astype(np.int64), value[keep].astype(np.int64)
    out = np.full(n_actors, -1, dtype=np.int64)
    if a.size == 0:
        return out
    n_v = int(value.max()) + 1
    pair, counts = np.unique(a * n_v + v, return_counts=True)
    pa, pv = pair // n_v, pair % n_v
    order = np.lexsort((-counts, pa))  # per actor, the most used value first
    first = np.ones(order.size, dtype=bool)
    first[1:] = pa[order][1:] != pa[order][:-1]
    out[pa[order][first]] = pv[order][first]
    return out


def member_medians(actor: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """The median time of each actor's events (one per distinct actor)."""
    order = np.lexsort((ts, actor))
    a, t = actor[order], ts[order]
    starts = np.flatnonzero(np.concatenate([[True], a[1:] != a[:-1]]))
    ends = np.concatenate([starts[1:], [a.size]])
    return t[(starts + ends - 1) // 2].astype(np.float64)


def together(ctx: Context, medians: np.ndarray) -> tuple[float, float]:
    """(log10 odds that the members' timing is not independent, the span holding 80% of them)."""
    k = medians.size
    if k < 2:
        return 0.0, 0.0
    m = max(2, math.ceil(TOGETHER_SHARE * k))
    t = np.sort(medians)
    span = float((t[m - 1:] - t[: k - m + 1]).min())
    if span <= TOGETHER_S:
        return math.inf, span
    ref = ctx.sorted_ts
    u = np.searchsorted(ref, t, side="right") / ref.size  # the log's own clock: cycles, trends
    width = max(float((u[m - 1:] - u[: k - m + 1]).min()), 1.0 / ref.size)
    log_p = binom.logsf(m - 1, k, min(1.0, 2.0 * width)) + math.log(1.0 / width)
    return max(0.0, -log_p / math.log(10.0)), span


def moments(ts: np.ndarray, target: np.ndarray) -> tuple[list[float], np.ndarray]:
    """(effective number of targets, exp of the entropy, of each moment; the moments' starts)."""
    order = np.argsort(ts, kind="stable")
    t, g = ts[order], target[order]
    cut = np.flatnonzero(np.diff(t) > MOMENT_GAP_S) + 1
    out = []
    for part in np.split(g, cut):
        counts = np.unique(part, return_counts=True)[1].astype(np.float64)
        p = counts / counts.sum()
        out.append(float(np.exp(-(p * np.log(p)).sum())))
    return out, t[np.concatenate([[0], cut])].astype(np.float64)


def recurring(starts: np.ndarray) -> bool:
    """Few moments, or moments at one phase of the week or day: what a community's meetings do.

    The same members at several moments of no common phase is lockstep (CopyCatch), not a crowd."""
    if starts.size <= MAX_CROWD_MOMENTS:
        return True
    for period in (7 * DAY, DAY):
        phase = np.mod(starts, period) / period * 2 * np.pi
        if np.hypot(np.cos(phase).mean(), np.sin(phase).mean()) >= PHASE_LOCK:
            return True
    return False


def shared_infrastructure(ctx: Context, actor: np.ndarray, mode_values: dict[str, np.ndarray]
                          ) -> tuple[float, dict[str, Any]]:
    """log10 odds that the members share networks or devices beyond chance (best mode)."""
    best, facts = 0.0, {}
    names = [n for n in mode_values if n in ctx.log.modes and n not in NOT_INFRASTRUCTURE]
    members = np.unique(actor)
    for name in names:
        rate, missing = ctx.collision_rate(name, members)
        usual = ctx.population(name)[0][members]
        at_block = modal_values(actor, mode_values[name], ctx.log.n_actors, missing)[members]
        # a member counts where the block's value is also where they usually are: pupils on the
        # school's wi-fi for one day, an office's staff at lunch, live their lives elsewhere; a
        # farm's accounts live on the farm
        have = at_block[(at_block >= 0) & (at_block == usual)]
        k = have.size
        if k < 2:
            continue
        # a home's network or a family's tablet is shared by its household: only members past
        # HOUSEHOLD on one value are sharing that households do not explain
        _, per_value = np.unique(have, return_counts=True)
        collisions = int(np.maximum(per_value - HOUSEHOLD, 0).sum())
        expected = max(k * (k - 1) / 2.0 * rate, 1e-12)
        log_p = float(poisson.logsf(collisions - 1, expected)) if collisions > 0 else 0.0
        odds = max(0.0, -log_p / math.log(10.0) - math.log10(max(len(names), 1)))
        facts[f"shared_{name}"] = {"members": int(k), "elsewhere": int((at_block >= 0).sum()) - int(k),
                                   "collisions": int(collisions),
                                   "expected": round(expected, 3)}
        best = max(best, odds)
    return best, facts


def assess(ctx: Context, actors: np.ndarray, targets: np.ndarray, start: int, end: int,
           density_score: float) -> Assessment:
    """Every test the block needs, on its events in its window."""
    log = ctx.log
    inside = block_events(log, actors, targets, start, end)
    a, t, ts = log.actor[inside], log.target[inside], log.ts[inside]
    if a.size == 0:
        return Assessment(-math.inf, 0.0, False, {"density": density_score}, {})
    sync, span = together(ctx, member_medians(a, ts))
    moment_targets, starts = moments(ts, t)
    crowd_like = max(moment_targets) <= CROWD_TARGETS and recurring(starts)
    tests = {"density": float(density_score), "together": sync}
    facts: dict[str, Any] = {"members_span_s": round(span, 1), "moments": len(moment_targets),
                             "targets_per_moment": round(max(moment_targets), 2)}
    infra, infra_facts = shared_infrastructure(ctx, a, {n: c[inside] for n, c in log.modes.items()})
    facts.update(infra_facts)
    if crowd_like or np.unique(a).size < FEW_ACTORS:  # a handful of heavy users overlap on popular targets
        tests["shared_infrastructure"] = infra
    score = min(tests.values())
    return Assessment(score, confidence(score), crowd_like, tests, facts)
