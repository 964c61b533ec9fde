"""How unlikely a block is against the background, and trimming a block to its core.

The background is independent activity: a cell (actor, target, hour) is expected
with probability proportional to the actor's activity × the target's popularity ×
the hour's traffic (the degree-corrected null of CrossSpot, Jiang et al. 2015).
A block's evidence is its Poisson log-likelihood ratio against that expectation;
its score subtracts the cost of choosing its members and window among all that
could have been chosen (log-binomial counts), so the greedy search cannot make a
block out of chance alone: background blocks score below zero.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln
from scipy.stats import poisson

from headcount.detect.arrays import distinct, distinct_rows, flags
from headcount.detect.blocks import Candidate
from headcount.detect.log import ActionLog

LN10 = math.log(10.0)


def log_choose(n: float, k: float) -> float:
    return float(gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1))


def poisson_surprise(observed: float, expected: float) -> float:
    """Log-likelihood ratio of `observed` counts against a Poisson mean (0 when not above it)."""
    if observed <= expected or observed <= 0:
        return 0.0
    return observed * (math.log(observed / max(expected, 1e-300)) - 1.0) + expected


class Background:
    """The log's distinct (actor, target, hour) cells and each value's share of them."""

    def __init__(self, log: ActionLog, resolution_s: int = 3600) -> None:
        self.resolution_s = resolution_s
        self.origin = int(log.ts.min())
        hour = ((log.ts - self.origin) // resolution_s).astype(np.int64)
        n_hours = int(hour.max()) + 1
        n_a, n_t = max(log.n_actors, 1), max(log.n_targets, 1)
        # hour-major order: a window of the log is one contiguous slice
        self.hour, self.actor, self.target = distinct_rows([hour, log.actor, log.target],
                                                           [n_hours, n_a, n_t])
        self.total = float(self.actor.size)
        self.actor_mass = np.bincount(self.actor, minlength=n_a).astype(np.float64)
        self.target_mass = np.bincount(self.target, minlength=n_t).astype(np.float64)
        self.hour_mass = np.bincount(self.hour, minlength=n_hours).astype(np.float64)
        self.hour_cum = np.concatenate([[0.0], np.cumsum(self.hour_mass)])
        self.n_actors = int(np.count_nonzero(self.actor_mass))
        self.n_targets = int(np.count_nonzero(self.target_mass))
        self.n_hours = n_hours

    def hours(self, start: int, end: int) -> tuple[int, int]:
        lo = max(0, (start - self.origin) // self.resolution_s)
        hi = min(self.n_hours - 1, (end - self.origin) // self.resolution_s)
        return int(lo), int(max(lo, hi))

    def window_share(self, h0: int, h1: int) -> float:
        return (self.hour_cum[h1 + 1] - self.hour_cum[h0]) / self.total

    def window(self, h0: int, h1: int) -> slice:
        """The cells of hours h0..h1 (cells are sorted by hour)."""
        return slice(int(np.searchsorted(self.hour, h0, "left")),
                     int(np.searchsorted(self.hour, h1, "right")))

    def score(self, c: Candidate) -> Candidate:
        """Fill in the candidate's events, expectation and score (log10 odds against chance)."""
        h0, h1 = self.hours(c.start, c.end)
        is_a = flags(c.actors, self.actor_mass.size)
        is_t = flags(c.targets, self.target_mass.size)
        span = self.window(h0, h1)
        actor, target = self.actor[span], self.target[span]
        inside = is_a[actor] & is_t[target]
        observed = float(np.count_nonzero(inside))
        f_a = self.actor_mass[c.actors].sum() / self.total
        f_t = self.target_mass[c.targets].sum() / self.total
        expected = self.total * f_a * f_t * self.window_share(h0, h1)
        windows = self.n_hours * (self.n_hours + 1) / 2
        cost = (log_choose(self.n_actors, c.actors.size) + log_choose(self.n_targets, c.targets.size)
                + math.log(windows))
        c.events, c.expected = int(observed), expected
        c.score = (poisson_surprise(observed, expected) - cost) / LN10
        pairs = distinct(actor[inside].astype(np.int64) * self.target_mass.size + target[inside])
        c.evidence.update({"pairs": int(pairs.size), "cells": int(observed),
                           "expected_cells": round(expected, 3)})
        return c

    def _significant(self, counts: np.ndarray, expected: np.ndarray) -> np.ndarray:
        """Values whose count in the block is beyond chance, given that they are in it at all.

        Conditioning on at least one cell means only the values that touch the block are
        tested, and the Bonferroni bound runs over those few, not over the whole log.
        """
        touching = counts > 0
        eligible = int(np.count_nonzero(touching))
        if eligible == 0:
            return touching
        mu = np.maximum(expected[touching], 1e-12)
        m = counts[touching]
        log_p = poisson.logsf(m - 1, mu) - poisson.logsf(0, mu)
        keep = np.zeros_like(touching)
        keep[np.flatnonzero(touching)] = (m >= 2) & (log_p + math.log(eligible) < 0.0)
        return keep

    def _beyond_chance(self, side: np.ndarray, other: np.ndarray, chosen: np.ndarray,
                       side_mass: np.ndarray, other_mass: np.ndarray, f_w: float) -> np.ndarray:
        """Values of one side (targets, say) with more cells from the chosen values of the
        other side (the block's actors) in the window than chance predicts."""
        from_chosen = flags(chosen, other_mass.size)[other]
        counts = np.bincount(side[from_chosen], minlength=side_mass.size)
        share = other_mass[chosen].sum() / self.total
        return np.flatnonzero(self._significant(counts, side_mass * share * f_w))

    def refine(self, c: Candidate, rounds: int = 6) -> Candidate:
        """Grow and trim a block to the targets, actors and window that carry it.

        Each round keeps the targets with a significant count from the block's actors
        in its window, then the actors with a significant count on those targets, then
        sets the window to where the core's cells lie (1st to 99th percentile), looking
        one window-length to each side so that a seed's bucket can grow to the burst.
        """
        actors, targets, start, end = c.actors, c.targets, c.start, c.end
        for _ in range(rounds):
            h0, h1 = self.hours(start, end)
            span = self.window(h0, h1)
            actor, target = self.actor[span], self.target[span]
            f_w = self.window_share(h0, h1)
            new_targets = self._beyond_chance(target, actor, actors, self.target_mass, self.actor_mass, f_w)
            if new_targets.size == 0:
                break
            new_actors = self._beyond_chance(actor, target, new_targets, self.actor_mass, self.target_mass, f_w)
            if new_actors.size == 0:
                break
            is_a = flags(new_actors, self.actor_mass.size)
            is_t = flags(new_targets, self.target_mass.size)
            reach = h1 - h0 + 1
            wide = self.window(max(0, h0 - reach), h1 + reach)
            core = is_a[self.actor[wide]] & is_t[self.target[wide]]
            hours = self.hour[wide][core]
            lo, hi = np.quantile(hours, [0.01, 0.99]) if hours.size >= 20 else (hours.min(), hours.max())
            new_start = self.origin + int(lo) * self.resolution_s
            new_end = self.origin + (int(hi) + 1) * self.resolution_s - 1
            stable = (np.array_equal(new_actors, actors) and np.array_equal(new_targets, targets)
                      and (new_start, new_end) == (start, end))
            actors, targets, start, end = new_actors, new_targets, new_start, new_end
            if stable:
                break
        if actors.size and targets.size:
            actors = self._add_likely_members(actors, targets, start, end)
        refined = Candidate(actors, targets, start, end, c.detector, evidence=dict(c.evidence))
        return self.score(refined)

    def _add_likely_members(self, actors: np.ndarray, targets: np.ndarray, start: int, end: int) -> np.ndarray:
        """Add the actors more likely members than background, by Bayes' rule on their count.

        A member's cells on the block's targets in its window are Poisson with the block's
        rate per member; a bystander's with its chance expectation. One cell in a tight
        burst on unpopular targets is then evidence enough, which no significance test on
        a single count can say; the prior odds are the block's share of all actors.
        """
        h0, h1 = self.hours(start, end)
        span = self.window(h0, h1)
        actor, target = self.actor[span], self.target[span]
        is_t = flags(targets, self.target_mass.size)
        counts = np.bincount(actor[is_t[target]], minlength=self.actor_mass.size).astype(np.float64)
        rate = counts[actors].sum() / actors.size
        touching = np.flatnonzero(counts > 0)
        mu = np.maximum(self.actor_mass[touching] * (self.target_mass[targets].sum() / self.total)
                        * self.window_share(h0, h1), 1e-12)
        m = counts[touching]
        prior = actors.size / max(self.n_actors - actors.size, 1)  # touching is the evidence, not the prior
        log_odds = m * np.log(rate / mu) - rate + mu + math.log(prior)
        return np.union1d(actors, touching[log_odds > 0.0])
