"""The injection generator keeps its promises: sizes, densities, burst, camouflage, seeds.

The sweep in bench/detect.py scores detectors against this truth, so a wrong
ring here would make every figure in the README wrong.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from headcount.simulate.injection import (
    BURSTS,
    CAMOUFLAGE,
    DAY,
    HOUR,
    InjectionParams,
    background,
    inject,
    ip_to_text,
    log_table,
    write_log,
)


def test_background_sizes_and_shape() -> None:
    start = time.perf_counter()
    bg = background(seed=3)
    assert time.perf_counter() - start < 1.0  # vectorised: 300k events well under a second
    assert bg.actor.shape == bg.target.shape == bg.ts.shape == bg.ip.shape == (300_000,)
    assert bg.actor.dtype == bg.target.dtype == bg.ts.dtype == np.int64
    assert bg.actor.min() >= 0 and bg.actor.max() < 20_000
    assert bg.target.min() >= 0 and bg.target.max() < 5_000
    assert np.all(np.diff(bg.ts) >= 0)
    assert bg.ts.min() >= 1_767_225_600 and bg.ts.max() < 1_767_225_600 + 30 * DAY
    per_actor = np.bincount(bg.actor, minlength=20_000)
    assert per_actor.mean() == pytest.approx(15.0)
    assert per_actor.max() > 10 * per_actor.mean()  # heavy tail
    per_target = np.bincount(bg.target, minlength=5_000)
    # Zipf(0.8): the top target gets about 1/sum(r^-0.8) of all events (~4%)
    assert per_target[0] / per_target.sum() == pytest.approx(bg.popularity[0], rel=0.1)
    assert per_target[:50].sum() > per_target[-50:].sum() * 20


def test_daily_cycle_and_home_networks() -> None:
    bg = background(seed=4)
    hour = (bg.ts % DAY) // HOUR
    per_hour = np.bincount(hour, minlength=24)
    assert per_hour[20] > 2 * per_hour[8]  # peak at 20:00 UTC, trough at 08:00
    assert np.all(bg.ip & 0xFF == 0)  # /24 network addresses
    pairs = np.unique(np.stack([bg.actor, bg.ip.astype(np.int64)]), axis=1)
    nets_per_actor = np.bincount(pairs[0], minlength=20_000)
    assert nets_per_actor.max() <= 2
    assert 0.2 < np.mean(nets_per_actor[nets_per_actor > 0] == 2) < 0.4


@pytest.mark.parametrize("density", [0.05, 0.1, 0.2, 0.5, 0.8])
def test_ring_density_within_tolerance(density: float) -> None:
    inj = inject(density=density, seed=11)
    assert len(inj.ring_actors) == 200 and len(inj.ring_targets) == 50
    ring_actor = inj.actor[inj.is_ring]
    ring_target = inj.target[inj.is_ring]
    assert set(np.unique(ring_actor).tolist()) == set(inj.ring_actors)  # at least one edge each
    assert set(np.unique(ring_target).tolist()) <= set(inj.ring_targets)
    edges = np.unique(np.stack([ring_actor, ring_target]), axis=1).shape[1]
    assert edges == ring_actor.size  # one event per ring edge
    observed = edges / (200 * 50)
    # binomial sd at 10,000 cells is <= 0.005; the at-least-one-edge rule adds up to ~0.02 at 0.05
    assert density - 0.015 <= observed <= density + 0.03
    assert min(inj.ring_actors) >= 20_000  # new accounts


@pytest.mark.parametrize("burst", BURSTS)
def test_ring_events_inside_the_burst(burst: int) -> None:
    inj = inject(density=0.2, burst_s=burst, seed=5)
    start, end = inj.burst
    assert end - start == burst
    ring_ts = inj.ts[inj.is_ring]
    assert ring_ts.min() >= start and ring_ts.max() < end
    assert ring_ts.max() - ring_ts.min() > 0.9 * burst
    assert inj.params.t0 <= start and end <= inj.params.t0 + 30 * DAY


def test_ring_shares_a_few_networks() -> None:
    inj = inject(density=0.5, seed=6)
    ring_nets = np.unique(inj.ip[inj.is_ring])
    assert 1 <= ring_nets.size <= 5
    assert not np.isin(ring_nets, inj.ip[~np.isin(inj.actor, list(inj.ring_actors))]).any()


@pytest.mark.parametrize("camouflage", ["random", "popular"])
def test_camouflage_matches_ring_edges(camouflage: str) -> None:
    inj = inject(density=0.2, camouflage=camouflage, seed=7)
    ring = np.isin(inj.actor, list(inj.ring_actors))
    camo = ring & ~inj.is_ring
    assert camo.sum() == inj.is_ring.sum()  # as many camouflage edges as ring edges
    counts_ring = np.bincount(inj.actor[inj.is_ring] - 20_000, minlength=200)
    counts_camo = np.bincount(inj.actor[camo] - 20_000, minlength=200)
    assert np.array_equal(counts_ring, counts_camo)  # per actor too
    popular_share = np.mean(inj.target[camo] < 50)  # the 50 most popular targets
    if camouflage == "popular":
        assert popular_share > 0.15
    else:
        assert popular_share < 0.05
    assert np.ptp(inj.ts[camo]) > 20 * DAY  # spread over the period, not in the burst


def test_hijacked_actors_are_real_background_accounts() -> None:
    inj = inject(density=0.2, camouflage="hijacked", seed=8)
    ring = np.array(sorted(inj.ring_actors))
    assert ring.max() < 20_000
    background_actors = inj.actor[~inj.is_ring]
    assert np.isin(ring, background_actors).all()  # each has a history of its own
    assert len(inj) == 300_000 + inj.is_ring.sum()
    history = np.isin(background_actors, ring).sum()
    assert history > 200  # about 15 each, heavy-tailed


def test_deterministic_by_seed() -> None:
    a, b = inject(density=0.1, camouflage="popular", seed=9), inject(density=0.1, camouflage="popular", seed=9)
    for name in ("actor", "target", "ts", "ip", "is_ring"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert a.ring_actors == b.ring_actors and a.burst == b.burst
    c = inject(density=0.1, camouflage="popular", seed=10)
    assert not np.array_equal(a.target, c.target)
    # the same seed gives the same background whatever the ring
    d = inject(density=0.8, camouflage="none", seed=9)
    assert np.array_equal(np.sort(a.target[~np.isin(a.actor, list(a.ring_actors))]),
                          np.sort(d.target[~np.isin(d.actor, list(d.ring_actors))]))


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="camouflage"):
        InjectionParams(camouflage="sneaky")
    with pytest.raises(ValueError, match="density"):
        InjectionParams(density=0.0)
    assert set(CAMOUFLAGE) == {"none", "random", "popular", "hijacked"}


def test_writes_csv_and_parquet(tmp_path) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    inj = inject(density=0.2, seed=1, n_actors=500, n_targets=200, n_events=5_000,
                 ring_actors=20, ring_targets=10)
    assert ip_to_text(np.array([0xCB007100], dtype=np.uint32)).to_pylist() == ["203.0.113.0"]
    for name in ("log.csv", "log.parquet"):
        path = write_log(tmp_path / name, inj.table())
        table = pq.read_table(path) if name.endswith("parquet") else pacsv.read_csv(path)
        assert table.column_names == ["actor", "target", "ts", "ip"]
        assert table.num_rows == len(inj)
        assert table.column("ts").to_numpy().tolist() == inj.ts.tolist()
    assert log_table(inj.actor, inj.target, inj.ts).column_names == ["actor", "target", "ts"]


def test_burst_moves_only_the_clock() -> None:
    """Time-blind baselines can be run once per graph: the burst changes times, not edges."""
    graphs = []
    for burst in BURSTS:
        inj = inject(density=0.2, camouflage="popular", burst_s=burst, seed=12)
        graphs.append(np.unique(np.stack([inj.actor, inj.target]), axis=1))
    assert all(np.array_equal(graphs[0], g) for g in graphs[1:])
