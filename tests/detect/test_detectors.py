"""Detectors against logs with known truth: rings are found, chance is not reported."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headcount.detect import ActionLog, DenseTensor, Ensemble, Fraudar, Lockstep
from headcount.detect.peel import Tensor
from headcount.simulate.injection import inject

SMALL = dict(n_actors=4_000, n_targets=1_000, n_events=60_000, ring_actors=60, ring_targets=20)


def f1(found: set[int], truth: frozenset[int]) -> float:
    tp = len(found & truth)
    return 0.0 if tp == 0 else 2 * tp / (len(found) + len(truth))


def best_f1(blocks, truth) -> float:
    return max((f1({int(a) for a in b.actors}, truth) for b in blocks), default=0.0)


def log_of(inj, with_ip: bool = True) -> ActionLog:
    return ActionLog.from_arrays(inj.actor, inj.target, inj.ts, {"ip": inj.ip} if with_ip else None)


@pytest.mark.parametrize("camouflage", ["none", "random", "popular", "hijacked"])
@pytest.mark.parametrize("burst_s", [3600, 3 * 86400])
def test_ensemble_finds_the_ring(camouflage: str, burst_s: int) -> None:
    inj = inject(density=0.3, burst_s=burst_s, camouflage=camouflage, seed=3, **SMALL)
    model = Ensemble(top=5).fit(log_of(inj))
    assert model.blocks_, "the ring was not reported"
    assert best_f1(model.blocks_, inj.ring_actors) >= 0.9
    top = model.blocks_[0]
    assert top.start <= inj.burst[1] and top.end >= inj.burst[0]
    assert set(int(t) for t in top.targets) <= set(inj.ring_targets) | set(range(1_000))


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_background_alone_reports_nothing(seed: int) -> None:
    inj = inject(density=0.3, seed=seed, **SMALL)
    background = ~np.isin(inj.actor, list(inj.ring_actors))
    log = ActionLog.from_arrays(inj.actor[background], inj.target[background], inj.ts[background])
    model = Ensemble().fit(log)
    assert model.blocks_ == []
    assert all(c.score < model.min_score for c in model.candidates_)


def test_fraudar_finds_a_planted_block_in_a_random_graph() -> None:
    rng = np.random.default_rng(5)
    actors = rng.integers(0, 2_000, 8_000)
    targets = rng.integers(0, 800, 8_000)
    ring_a, ring_t = np.meshgrid(np.arange(2_000, 2_040), np.arange(800, 815))
    keep = rng.random(ring_a.size) < 0.6
    log = ActionLog.from_arrays(np.concatenate([actors, ring_a.ravel()[keep]]),
                                np.concatenate([targets, ring_t.ravel()[keep]]),
                                rng.integers(0, 10**6, 8_000 + int(keep.sum())))
    raw = Fraudar(n_blocks=1).peel(log)
    found = set(log.actor_labels[raw[0][0]].tolist())
    assert f1(found, frozenset(range(2_000, 2_040))) >= 0.9


def test_lockstep_groups_actors_acting_together() -> None:
    rng = np.random.default_rng(8)
    n = 30_000
    actors, targets = rng.integers(0, 3_000, n), rng.integers(0, 2_000, n)
    ts = rng.integers(0, 30 * 86400, n)
    group, hits = np.arange(3_000, 3_030), rng.choice(2_000, 8, replace=False)
    ga, gt = np.meshgrid(group, hits)
    moment = {t: rng.integers(0, 30 * 86400) for t in hits}
    gts = np.array([moment[t] + rng.integers(0, 600) for t in gt.ravel()])
    log = ActionLog.from_arrays(np.concatenate([actors, ga.ravel()]), np.concatenate([targets, gt.ravel()]),
                                np.concatenate([ts, gts]))
    model = Lockstep(window_s=900).fit(log)
    assert model.blocks_
    assert f1({int(a) for a in model.blocks_[0].actors}, frozenset(group.tolist())) >= 0.95


def test_dense_tensor_measures_all_run_and_rank_the_ring_first() -> None:
    inj = inject(density=0.5, burst_s=3600, seed=4, **SMALL)
    log = log_of(inj, with_ip=False)
    for measure in ("poisson", "arithmetic", "geometric", "suspiciousness"):
        model = DenseTensor(measure=measure, bucket_widths=(3600,), min_score=-math.inf).fit(log)
        assert model.candidates_ and all(c.actors.size for c in model.candidates_), measure
    assert best_f1(DenseTensor().fit(log).blocks_, inj.ring_actors) >= 0.95


def _reference_peel(cells: np.ndarray, weights: np.ndarray, shape: tuple[int, ...]) -> float:
    """The M-Zoom greedy (arithmetic density) written plainly: the best density it passes."""
    alive = [set(np.unique(cells[k][weights > 0]).tolist()) for k in range(len(shape))]
    entries = [tuple(cells[:, e]) for e in range(cells.shape[1]) if weights[e] > 0]
    w = {tuple(cells[:, e]): weights[e] for e in range(cells.shape[1]) if weights[e] > 0}

    def mass(k: int, v: int) -> float:
        return sum(w[c] for c in entries if c[k] == v and all(c[j] in alive[j] for j in range(len(shape))))

    def density() -> float:
        total = sum(w[c] for c in entries if all(c[j] in alive[j] for j in range(len(shape))))
        return total / (sum(len(a) for a in alive) / len(shape))

    best = density()
    while all(alive):
        k, v = min(((k, v) for k in range(len(shape)) for v in alive[k]), key=lambda kv: mass(*kv))
        alive[k].discard(v)
        if all(alive):
            best = max(best, density())
    return best


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_compiled_peel_reaches_the_reference_greedy_density(data: st.DataObject) -> None:
    shape = (data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6)), data.draw(st.integers(1, 3)))
    all_cells = list(itertools.product(*(range(s) for s in shape)))
    chosen = data.draw(st.lists(st.sampled_from(all_cells), min_size=1, max_size=25, unique=True))
    cells = np.array(chosen, dtype=np.int32).T
    # generic weights: no two values tie, so both greedy paths are the same path
    weights = np.random.default_rng(data.draw(st.integers(0, 2**32))).uniform(1.0, 2.0, len(chosen))
    result = Tensor(cells, weights, shape).peel("arithmetic")
    assert result.density == pytest.approx(_reference_peel(cells, weights, shape), rel=1e-9)
    inside = Tensor(cells, weights, shape).inside(result.values)
    assert weights[inside].sum() / (sum(v.size for v in result.values) / 3) == pytest.approx(result.density)


def _follow_log(seed: int = 1):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    n, e = 3_000, 30_000
    a, t = rng.integers(0, n, e), rng.zipf(1.5, e) % n
    ts, verb = rng.integers(0, 30 * 86400, e), np.full(e, "follow")
    ring = np.arange(n, n + 25)
    ra, rb = np.meshgrid(ring, ring)
    pick = (ra != rb) & (rng.random(ra.shape) < 0.7)
    churner_targets = rng.choice(n, 200, replace=False)
    parts = [(a, t, ts, verb), (ra[pick], rb[pick], rng.integers(0, 86400, int(pick.sum())), np.full(int(pick.sum()), "follow")),
             (np.full(200, n + 500), churner_targets, 86400 + rng.integers(0, 3600, 200), np.full(200, "follow")),
             (np.full(180, n + 500), churner_targets[:180], 3 * 86400 + rng.integers(0, 3600, 180), np.full(180, "unfollow"))]
    return [np.concatenate([p[i] for p in parts]) for i in range(4)], set(ring.tolist())


def test_follow_back_ring_and_churn() -> None:
    from headcount.detect.follows import churn, follow_rings

    (actor, target, ts, verb), ring = _follow_log()
    rings = follow_rings(actor, target, ts, verb)
    found = {int(x) for x in rings[0].actors}
    assert len(rings) == 1 and found <= ring and len(found) >= 23
    churners = churn(actor, target, ts, verb)
    assert [c.actor for c in churners] == [3_500]
    assert churners[0].unfollows == 180 and 86400 < churners[0].median_keep_s < 3 * 86400


def test_follow_analyses_report_nothing_on_random_follows() -> None:
    from headcount.detect.follows import churn, follow_rings

    rng = np.random.default_rng(3)
    actor, target = rng.integers(0, 3_000, 30_000), rng.zipf(1.5, 30_000) % 3_000
    ts, verb = rng.integers(0, 10**6, 30_000), np.full(30_000, "follow")
    assert follow_rings(actor, target, ts, verb) == [] and churn(actor, target, ts, verb) == []


@pytest.mark.parametrize("detector", ["ensemble", "fraudar"])
def test_two_rings_in_one_window_are_two_blocks(detector: str) -> None:
    """Two disjoint rings at the same hour have the same density per member as the pair
    taken together; the people of one must not be reported (or dismissed) with the other."""
    rng = np.random.default_rng(8)
    n = 6_000
    actor = list(rng.integers(0, 1_500, n))
    target = list(rng.integers(0, 400, n))
    ts = list(rng.integers(0, 7 * 86400, n))
    rings = [(range(10_000, 10_030), range(1_000, 1_010)), (range(20_000, 20_030), range(2_000, 2_010))]
    for members, targets in rings:
        for a, t in itertools.product(members, targets):
            actor.append(a)
            target.append(t)
            ts.append(3 * 86400 + int(rng.integers(0, 1200)))
    log = ActionLog.from_arrays(np.array(actor), np.array(target), np.array(ts))
    model = (Ensemble(top=5) if detector == "ensemble" else Fraudar(3)).fit(log)
    found = [{int(a) for a in b.actors} for b in model.blocks_]
    for members, _ in rings:
        assert set(members) in found, f"ring {members} not reported on its own: {[len(f) for f in found]}"
    assert not any(f >= set(rings[0][0]) | set(rings[1][0]) for f in found)
