"""Evidence beyond density: crowds are not blocks, rings still are, and every block has a confidence."""

from __future__ import annotations

import numpy as np

from headcount.detect import ActionLog
from headcount.detect.detection import detect_all
from headcount.detect.evidence import confidence
from headcount.simulate.injection import background, inject

DAY = 86_400


def _flash(shared_networks: int | None, seed: int = 3, lives_elsewhere: int = 0) -> ActionLog:
    """A background and 2,000 people on 3 launched targets within minutes.

    `lives_elsewhere`: each of them also follows that many background targets on other days,
    from a network of their own (the launch was watched at a venue's, a school's wi-fi)."""
    rng = np.random.default_rng(seed)
    bg = background(n_actors=5_000, n_targets=1_000, n_events=60_000, seed=seed)
    n = 2_000
    who = 5_000 + np.arange(n)
    picks = rng.random((n, 3)) < 0.7
    picks[np.arange(n), rng.integers(0, 3, n)] = True
    i, j = np.nonzero(picks)
    at = int(bg.ts.min()) + 10 * DAY
    ts = at + rng.integers(0, 600, i.size)
    nets = (np.arange(n) % shared_networks) if shared_networks else np.arange(n)
    ip = 900_000_000 + nets[i]
    own = np.repeat(np.arange(n), lives_elsewhere)
    return ActionLog.from_arrays(
        np.concatenate([bg.actor, who[i], who[own]]),
        np.concatenate([bg.target, 2_000 + j, rng.integers(0, 1_000, own.size)]),
        np.concatenate([bg.ts, ts, int(bg.ts.min()) + rng.integers(0, 9 * DAY, own.size)]),
        {"ip": np.concatenate([bg.ip.astype(np.int64), ip, 800_000_000 + own])})


def test_a_flash_crowd_of_diverse_people_is_not_a_block() -> None:
    found = detect_all(_flash(shared_networks=None))
    assert found.blocks == [] and found.rejected >= 1


def test_the_same_crowd_from_a_few_networks_is_a_block() -> None:
    found = detect_all(_flash(shared_networks=8))
    assert found.blocks and found.blocks[0].evidence["crowd_like"]
    assert found.blocks[0].evidence["tests"]["shared_infrastructure"] >= 2
    assert found.blocks[0].confidence >= 0.99


def test_a_crowd_on_a_few_shared_networks_that_lives_elsewhere_is_not_a_block() -> None:
    """The venue's or school's network is where they were that day, not where they live: only
    members whose block network is also their usual one count as sharing it."""
    found = detect_all(_flash(shared_networks=8, lives_elsewhere=4))
    assert found.blocks == [] and found.rejected >= 1


def test_an_injected_ring_keeps_its_block_and_gets_a_confidence() -> None:
    inj = inject(density=0.2, burst_s=6 * 3600, seed=2, n_actors=5_000, n_targets=1_000, n_events=60_000,
                 ring_actors=60, ring_targets=20)
    log = ActionLog.from_arrays(inj.actor, inj.target, inj.ts, {"ip": inj.ip})
    block = detect_all(log).blocks[0]
    assert len(set(block.actors.tolist()) & inj.ring_actors) >= 55
    assert block.to_dict()["confidence"] == round(block.confidence, 4) and block.confidence > 0.99


def test_confidence_is_the_posterior_at_even_odds() -> None:
    assert confidence(0.0) == 0.5 and abs(confidence(2.0) - 1 / 1.01) < 1e-12 and confidence(40) == 1.0
