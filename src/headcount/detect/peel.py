"""Greedy peeling of a sparse tensor: the engine under FRAUDAR and M-Zoom.

Both papers peel the same way: start from the whole tensor, repeatedly delete
the attribute value (an actor, a target, a time bucket, ...) whose deletion
leaves the densest remainder, and keep the densest state seen. FRAUDAR (Hooi et
al., KDD 2016) is the two-mode case with log-weighted columns and the average
degree as density; M-Zoom (Shin et al., ECML-PKDD 2016) generalises it to N
modes and to the arithmetic, geometric and suspiciousness densities.

The loop runs compiled (numba) over one indexed min-heap per mode, keyed by each
value's remaining mass; masses only decrease, so updates are sift-ups:
O(nnz · modes · log V) time and O(nnz · modes + V) memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from headcount.detect.arrays import flags

ARITHMETIC, GEOMETRIC, SUSPICIOUSNESS, POISSON = 0, 1, 2, 3
MEASURES = {"arithmetic": ARITHMETIC, "geometric": GEOMETRIC, "suspiciousness": SUSPICIOUSNESS,
            "poisson": POISSON}


@njit(cache=True, inline="always")
def _log_choose(n: float, k: float) -> float:
    return math.lgamma(n + 1.0) - math.lgamma(k + 1.0) - math.lgamma(n - k + 1.0)


@njit(cache=True, inline="always")
def _density(measure: int, mass: float, sizes: np.ndarray, full_sizes: np.ndarray,
             full_mass: float, counts: np.ndarray, full_counts: np.ndarray) -> float:
    n = sizes.shape[0]
    for k in range(n):
        if counts[k] <= 0:
            return -np.inf
    if measure == ARITHMETIC:
        return mass / (counts.sum() / n)
    if measure == GEOMETRIC:
        log_volume = 0.0
        for k in range(n):
            log_volume += math.log(counts[k])
        return mass / math.exp(log_volume / n)
    expected = full_mass
    for k in range(n):
        expected *= sizes[k] / full_sizes[k]
    surprise = expected if mass <= 0.0 else mass * (math.log(mass / expected) - 1.0) + expected
    if measure == SUSPICIOUSNESS:
        return surprise
    if mass <= expected:
        surprise = 0.0
    for k in range(n):  # the cost of naming the block's members among all values
        surprise -= _log_choose(full_counts[k], counts[k])
    return surprise


@njit(cache=True, inline="always")
def _sift_up(heap: np.ndarray, pos: np.ndarray, key: np.ndarray, base: int, i: int) -> None:
    item = heap[base + i]
    while i > 0:
        parent = (i - 1) >> 1
        above = heap[base + parent]
        if key[above] <= key[item]:
            break
        heap[base + i] = above
        pos[above] = i
        i = parent
    heap[base + i] = item
    pos[item] = i


@njit(cache=True, inline="always")
def _sift_down(heap: np.ndarray, pos: np.ndarray, key: np.ndarray, base: int, i: int,
               size: int) -> None:
    item = heap[base + i]
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and key[heap[base + child + 1]] < key[heap[base + child]]:
            child += 1
        below = heap[base + child]
        if key[item] <= key[below]:
            break
        heap[base + i] = below
        pos[below] = i
        i = child
    heap[base + i] = item
    pos[item] = i


@njit(cache=True, nogil=True)
def _value_mass(cells: np.ndarray, weights: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, float]:
    """Each value's mass over the cells of positive weight (all modes, one array), and their total."""
    n_modes, nnz = cells.shape
    mass = np.zeros(offsets[n_modes])
    total = 0.0
    for e in range(nnz):
        w = weights[e]
        if w > 0.0:
            total += w
            for k in range(n_modes):
                mass[offsets[k] + cells[k, e]] += w
    return mass, total


@njit(cache=True, inline="always")
def _next_size(size: float, prior: float, by_prior: bool, left: int) -> float:
    if left == 0:
        return 0.0
    return size - prior if by_prior else size - 1.0


@njit(cache=True, nogil=True)
def _peel(cells: np.ndarray, weights: np.ndarray, offsets: np.ndarray, ptr: np.ndarray,
          members: np.ndarray, measure: int, full_sizes: np.ndarray, full_mass: float,
          prior: np.ndarray, steer: int):
    """Peel to nothing; return the removal order, the density after each step and the best step.

    `steer` is the measure that picks each removal; `measure` the one that judges the
    states passed (they differ only for the Poisson measure, whose own steering ties
    everywhere at the start, where every value has exactly its expected mass).

    With the Poisson measure a value's "size" is its prior mass (its activity in the
    whole log), the heap is keyed by mass / prior (the least enriched value goes first),
    and the density is the block's log-likelihood ratio against independent activity
    less the cost of naming its members: a scan statistic in nats that is negative for
    what chance alone explains.
    """
    n_modes, nnz = cells.shape
    n_values = offsets[n_modes]
    mass, total = _value_mass(cells, weights, offsets)
    by_prior = measure == POISSON
    ratio_key = steer == POISSON
    key = mass / prior if ratio_key else mass.copy()
    alive_entry = weights > 0.0
    heap = np.empty(n_values, dtype=np.int64)
    pos = np.full(n_values, -1, dtype=np.int64)
    heap_size = np.zeros(n_modes, dtype=np.int64)
    sizes = np.zeros(n_modes)
    counts = np.zeros(n_modes)
    for k in range(n_modes):
        base = offsets[k]
        for v in range(offsets[k + 1] - offsets[k]):
            g = base + v
            if mass[g] > 0.0:
                heap[base + heap_size[k]] = g
                pos[g] = heap_size[k]
                heap_size[k] += 1
                sizes[k] += prior[g] if by_prior else 1.0
        for i in range((heap_size[k] >> 1) - 1, -1, -1):
            _sift_down(heap, pos, key, base, i, heap_size[k])
        counts[k] = heap_size[k]
    full_counts = counts.copy()
    total0 = total
    steps = int(heap_size.sum())
    order = np.empty(steps, dtype=np.int64)
    density = np.empty(steps + 1)
    density[0] = _density(measure, total, sizes, full_sizes, full_mass, counts, full_counts)
    best, best_step = density[0], 0
    trial = sizes.copy()
    trial_counts = counts.copy()
    pick_trial = sizes.copy()
    pick_counts = counts.copy()
    for step in range(steps):
        pick, pick_density = -1, -np.inf
        for k in range(n_modes):
            if heap_size[k] == 0:
                continue
            g = heap[offsets[k]]
            trial[:] = sizes
            trial[k] -= prior[g] if by_prior else 1.0
            if by_prior and heap_size[k] == 1:
                trial[k] = 0.0
            trial_counts[:] = counts
            trial_counts[k] -= 1.0
            # The Poisson peel steers by the raw likelihood ratio and keeps the state with
            # the best penalised one: the penalty alone would stall on large early states.
            if ratio_key:
                d = _density(SUSPICIOUSNESS, total - mass[g], trial, full_sizes, full_mass,
                             trial_counts, full_counts)
            else:
                d = _density(steer, total - mass[g], trial_counts, full_counts, total0,
                             trial_counts, full_counts)
            if pick < 0 or d > pick_density or (d == pick_density and heap_size[k] > heap_size[pick]):
                pick, pick_density = k, d
                pick_trial = trial.copy()
                pick_counts = trial_counts.copy()
        base = offsets[pick]
        g = heap[base]
        last = heap[base + heap_size[pick] - 1]
        heap_size[pick] -= 1
        pos[g] = -1
        if heap_size[pick] > 0:
            heap[base] = last
            pos[last] = 0
            _sift_down(heap, pos, key, base, 0, heap_size[pick])
        for j in range(ptr[g], ptr[g + 1]):
            e = members[j]
            if not alive_entry[e]:
                continue
            alive_entry[e] = False
            w = weights[e]
            total -= w
            for k in range(n_modes):
                if k == pick:
                    continue
                h = offsets[k] + cells[k, e]
                mass[h] -= w
                key[h] = mass[h] / prior[h] if ratio_key else mass[h]
                if pos[h] >= 0:
                    _sift_up(heap, pos, key, offsets[k], pos[h])
        mass[g] = 0.0
        sizes[pick] = _next_size(sizes[pick], prior[g], by_prior, heap_size[pick])
        counts[pick] -= 1.0
        order[step] = g
        if by_prior:
            pick_density = _density(measure, total, pick_trial, full_sizes, full_mass,
                                    pick_counts, full_counts)
        density[step + 1] = pick_density
        if pick_density > best:
            best, best_step = pick_density, step + 1
    return order, density, best_step


@njit(cache=True, nogil=True)
def _dcube(cells: np.ndarray, weights: np.ndarray, offsets: np.ndarray, ptr: np.ndarray,
           members: np.ndarray, measure: int, full_sizes: np.ndarray, full_mass: float,
           prior: np.ndarray, eps: float):
    """D-Cube's batch peel (Shin et al., WSDM 2017): fewer, sequential passes.

    Each round picks the mode whose batch removal leaves the densest state and
    removes, least enriched first, every value of it whose key is at most (1 + eps)
    times the mode's average; each single removal's density is recorded exactly
    (values of one mode share no cell), so the best state is found as in M-Zoom.
    """
    n_modes, nnz = cells.shape
    n_values = offsets[n_modes]
    by_prior = measure == POISSON
    steer = SUSPICIOUSNESS if by_prior else measure
    mass, total = _value_mass(cells, weights, offsets)
    alive = mass > 0.0
    alive_entry = weights > 0.0
    sizes = np.zeros(n_modes)
    counts = np.zeros(n_modes)
    for k in range(n_modes):
        for g in range(offsets[k], offsets[k + 1]):
            if alive[g]:
                counts[k] += 1.0
                sizes[k] += prior[g] if by_prior else 1.0
    full_counts = counts.copy()
    steps = int(counts.sum())
    order = np.empty(steps, dtype=np.int64)
    density = np.empty(steps + 1)
    density[0] = _density(measure, total, sizes, full_sizes, full_mass, counts, full_counts)
    best, best_step, step = density[0], 0, 0
    trial = sizes.copy()
    trial_counts = counts.copy()
    batch = np.empty(n_values, dtype=np.int64)
    keys = np.empty(n_values)
    while step < steps:
        pick, pick_density, pick_threshold = -1, -np.inf, 0.0
        for k in range(n_modes):
            if counts[k] == 0:
                continue
            average = total / (sizes[k] if by_prior else counts[k])
            threshold = (1.0 + eps) * average
            removed_mass, removed_size, removed_count = 0.0, 0.0, 0.0
            for g in range(offsets[k], offsets[k + 1]):
                if alive[g]:
                    key = mass[g] / prior[g] if by_prior else mass[g]
                    if key <= threshold:
                        removed_mass += mass[g]
                        removed_size += prior[g] if by_prior else 1.0
                        removed_count += 1.0
            trial[:] = sizes
            trial_counts[:] = counts
            trial[k] = max(sizes[k] - removed_size, 0.0) if removed_count < counts[k] else 0.0
            trial_counts[k] -= removed_count
            d = _density(steer, total - removed_mass, trial, full_sizes, full_mass, trial_counts,
                         full_counts)
            if pick < 0 or d > pick_density:
                pick, pick_density, pick_threshold = k, d, threshold
        n_batch = 0
        for g in range(offsets[pick], offsets[pick + 1]):
            if alive[g]:
                key = mass[g] / prior[g] if by_prior else mass[g]
                if key <= pick_threshold:
                    batch[n_batch] = g
                    keys[n_batch] = key
                    n_batch += 1
        if n_batch == 0:  # only ties above a zero average: take the smallest
            lowest = -1
            for g in range(offsets[pick], offsets[pick + 1]):
                if alive[g] and (lowest < 0 or mass[g] < mass[lowest]):
                    lowest = g
            batch[0], keys[0], n_batch = lowest, 0.0, 1
        ranked = np.argsort(keys[:n_batch])
        for i in range(n_batch):
            g = batch[ranked[i]]
            alive[g] = False
            total -= mass[g]
            sizes[pick] = _next_size(sizes[pick], prior[g], by_prior, int(counts[pick]) - 1)
            counts[pick] -= 1.0
            order[step] = g
            step += 1
            density[step] = _density(measure, total, sizes, full_sizes, full_mass, counts, full_counts)
            if density[step] > best:
                best, best_step = density[step], step
        for i in range(n_batch):
            g = batch[i]
            for j in range(ptr[g], ptr[g + 1]):
                e = members[j]
                if alive_entry[e]:
                    alive_entry[e] = False
                    w = weights[e]
                    for k in range(n_modes):
                        if k != pick:
                            mass[offsets[k] + cells[k, e]] -= w
            mass[g] = 0.0
        for k in range(n_modes):  # values left without cells leave the block
            if k == pick:
                continue
            for g in range(offsets[k], offsets[k + 1]):
                if alive[g] and mass[g] <= 1e-12:
                    alive[g] = False
                    sizes[k] = _next_size(sizes[k], prior[g], by_prior, int(counts[k]) - 1)
                    counts[k] -= 1.0
                    order[step] = g
                    step += 1
                    density[step] = _density(measure, total, sizes, full_sizes, full_mass, counts,
                                             full_counts)
                    if density[step] > best:
                        best, best_step = density[step], step
        if counts.min() == 0:
            break
    return order[:step], density[: step + 1], best_step


@njit(cache=True, nogil=True)
def _index(cells: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every value, the cells holding it (a counting sort per mode, CSR layout)."""
    n_modes, nnz = cells.shape
    ptr = np.zeros(offsets[n_modes] + 1, dtype=np.int64)
    for k in range(n_modes):
        for e in range(nnz):
            ptr[offsets[k] + cells[k, e] + 1] += 1
    for g in range(offsets[n_modes]):
        ptr[g + 1] += ptr[g]
    fill = ptr[:-1].copy()
    members = np.empty(n_modes * nnz, dtype=np.int64)
    for k in range(n_modes):
        for e in range(nnz):
            g = offsets[k] + cells[k, e]
            members[fill[g]] = e
            fill[g] += 1
    return ptr, members


@dataclass(frozen=True)
class PeelResult:
    """The densest state a peel passed through: one value array per mode."""

    values: list[np.ndarray]
    density: float


class Tensor:
    """A sparse tensor of unique cells with weights, indexed for peeling."""

    def __init__(self, cells: np.ndarray, weights: np.ndarray, shape: tuple[int, ...]) -> None:
        self.cells = np.ascontiguousarray(cells, dtype=np.int32)
        self.weights = np.ascontiguousarray(weights, dtype=np.float64)
        self.shape = shape
        self.offsets = np.zeros(len(shape) + 1, dtype=np.int64)
        self.offsets[1:] = np.cumsum(shape)
        self.ptr, self.members = _index(self.cells, self.offsets)

    def marginals(self, weights: np.ndarray | None = None) -> np.ndarray:
        """Each value's mass, all modes in one array (indexed by `offsets`)."""
        w = self.weights if weights is None else weights
        return np.concatenate([np.bincount(self.cells[k], weights=w, minlength=s)
                               for k, s in enumerate(self.shape)])

    def peel(self, measure: str = "suspiciousness", weights: np.ndarray | None = None,
             prior: np.ndarray | None = None, batch_eps: float | None = None,
             steer: str | None = None) -> PeelResult:
        """The densest sub-tensor by greedy single-value deletion (M-Zoom).

        `prior` (Poisson measure only) is each value's expected activity, by default its
        mass in the full tensor: a block must be dense relative to its members' activity.
        """
        w = self.weights if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
        if not (w > 0).any():
            return PeelResult([np.empty(0, np.int64) for _ in self.shape], 0.0)
        code = MEASURES[measure]
        if code == POISSON:
            prior = self.marginals() if prior is None else prior
            prior = np.maximum(np.asarray(prior, dtype=np.float64), 1e-12)
            full_mass = float(self.weights.sum())
            full_sizes = np.full(len(self.shape), full_mass)
        else:
            prior = np.ones(int(self.offsets[-1]))
            full_sizes = np.array([np.count_nonzero(np.bincount(self.cells[k][w > 0], minlength=s))
                                   for k, s in enumerate(self.shape)], dtype=np.float64)
            full_mass = float(w.sum())
        if batch_eps is None:
            order, density, best_step = _peel(self.cells, w, self.offsets, self.ptr, self.members,
                                              code, full_sizes, full_mass, prior,
                                              MEASURES[steer or measure])
        else:
            order, density, best_step = _dcube(self.cells, w, self.offsets, self.ptr, self.members,
                                               code, full_sizes, full_mass, prior, batch_eps)
        removed = np.zeros(int(self.offsets[-1]), dtype=bool)
        removed[order[:best_step]] = True
        present = np.zeros(int(self.offsets[-1]), dtype=bool)
        for k in range(len(self.shape)):
            present[self.offsets[k] + self.cells[k][w > 0]] = True
        keep = present & ~removed
        values = [np.flatnonzero(keep[self.offsets[k]: self.offsets[k + 1]])
                  for k in range(len(self.shape))]
        return PeelResult(values, float(density[best_step]))

    def inside(self, values: list[np.ndarray]) -> np.ndarray:
        """Which cells lie inside the block given by one value set per mode."""
        mask = np.ones(self.cells.shape[1], dtype=bool)
        for k, chosen in enumerate(values):
            mask &= flags(chosen, self.shape[k])[self.cells[k]]
        return mask

    def peel_many(self, k: int, measure: str = "suspiciousness",
                  weights: np.ndarray | None = None, batch_eps: float | None = None,
                  steer: str | None = None) -> list[PeelResult]:
        """Up to k blocks: after each, its cells are taken out and the rest peeled again.

        `batch_eps` switches from M-Zoom's one-value-at-a-time peel to D-Cube's batches.
        """
        w = (self.weights if weights is None else weights).astype(np.float64, copy=True)
        prior = self.marginals(w) if measure == "poisson" else None
        out: list[PeelResult] = []
        for _ in range(k):
            result = self.peel(measure, w, prior, batch_eps, steer)
            if any(v.size == 0 for v in result.values):
                break
            if measure == "poisson" and result.density <= 0.0:
                break  # nothing left that chance does not explain
            out.append(result)
            w[self.inside(result.values)] = 0.0
        return out
