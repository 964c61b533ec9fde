"""The null suite of streaming detection: on ordinary crowds with no ring the service flags nobody.

Each seed is an innocent follow log nobody tuned on (`simulate.crowds`: Zipf popularity,
a daily cycle, mass followers, carrier NAT, a flash crowd on a launch, households and
choirs on the same niche accounts one evening, a class of 25 on its teacher and two
classmates), replayed through the service's own detection job (`GroupWatch.stream_tick`
round by round on an SQLite store, then the full pass), as `testing.streamreplay` does.
A planted ring in the same traffic is the control that the stream does report.

Finding (kept visible as strict xfails, not loosened): the full pass blocks a class partly
on the school network: a crowd moment on a few targets passes the crowd test when more of
its members share a network than a household does (`detect.evidence`), and a school's
network carrying only the class looks like a farm's. Households and choirs on their home
network were blocked too, until up to `evidence.HOUSEHOLD` members on one value counted as
what a household shares. The same logs with every member on their own network report nothing
(`test_without_shared_networks_...`). The stream flags none of them.
Before the household rule (`python bench/stream_null.py`, 50 seeds, 8-15k follows each):
with shared networks 46/50 seeds had a full-pass false block (households 38, classes 41),
127 false-blocked actors per 10,000 (median; worst 212); the stream 0/50; with every
member on their own network 0/50 for both. After it (same command): 37/50 seeds (households
in 6, classes in 35), 91 per 10,000 (median; worst 212); the stream still 0/50.
After only members whose block network is also their usual one count as sharing it (a class
on the school's wi-fi for a day lives elsewhere the rest of the log): 4/50 (classes whose
pupils follow little else, so the school is their most used network), median 0, worst 117;
on seeds 1000-1049, never looked at before (`--first-seed 1000`): 6/50, median 0, worst 132.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from headcount.simulate.crowds import CrowdLog, innocent_follows, plant_ring
from headcount.testing.streamreplay import Replay, replay

SEEDS = range(22)
# seeds whose full pass blocks a class partly on the school network (see the module docstring;
# households on their home network were blocked in 18 and 19 too, until up to
# evidence.HOUSEHOLD members on one network counted as a household; 17 more class seeds until
# only members usually on the shared network counted); strict: a fix makes these pass and
# must drop them
SHARED_NETWORK_FALSE_BLOCKS = frozenset({16})

Replayed = tuple[CrowdLog, set[str], Replay]


def crowd(seed: int, shared_networks: bool = True) -> CrowdLog:
    """A small innocent log (about 5-8k follows) so that the suite runs in well under a minute."""
    return innocent_follows(seed, people=1000 + seed * 37 % 800, crowd=(200, 600),
                            shared_networks=shared_networks)


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Replayed]:
    """Each log replayed once through the service's job, shared by the tests that read it."""
    cache: dict[tuple[int, bool, bool], Replayed] = {}

    def get(seed: int, shared_networks: bool = True, ring: bool = False) -> Replayed:
        key = (seed, shared_networks, ring)
        if key not in cache:
            log = crowd(seed, shared_networks)
            planted = plant_ring(log, seed) if ring else set()
            db = tmp_path_factory.mktemp(f"null{seed}") / "s.db"
            cache[key] = (log, planted, replay(log, db))
        return cache[key]

    return get


def described(log: CrowdLog, blocks: list) -> list[tuple[str, int, int, list[str]]]:  # type: ignore[type-arg]
    """Each block as (detector, actors, targets, the benign patterns its members belong to)."""
    return [(b.detector, len(b.actors), len(b.targets),
             sorted({p for a in b.actors for p in log.pattern_of(a)})) for b in blocks]


@pytest.mark.parametrize("seed", SEEDS)
def test_the_stream_flags_nobody_in_an_innocent_crowd(seed: int, replayed: Callable[..., Replayed]) -> None:
    log, _, run = replayed(seed)
    assert 3_000 <= len(log) <= 20_000 and run.rounds >= 15
    assert len(log.patterns["flash_crowd"]) >= 200 and len(log.patterns["class"]) == 25
    assert not run.stream, described(log, list(run.stream.values()))


@pytest.mark.parametrize("seed", [
    pytest.param(s, marks=pytest.mark.xfail(
        strict=True, reason="full pass blocks a class partly on the school network: more members on one "
                            "network than a household, in a crowd moment, passes the evidence tests"))
    if s in SHARED_NETWORK_FALSE_BLOCKS else s
    for s in SEEDS])
def test_the_full_pass_flags_nobody_in_an_innocent_crowd(seed: int, replayed: Callable[..., Replayed]) -> None:
    log, _, run = replayed(seed)
    assert not run.full, described(log, run.full)


@pytest.mark.parametrize("seed", sorted(SHARED_NETWORK_FALSE_BLOCKS | {0, 1})[:3])
def test_without_shared_networks_the_same_crowds_are_flagged_by_nobody(
        seed: int, replayed: Callable[..., Replayed]) -> None:
    """What the false blocks rest on: the same logs, every member on their own network."""
    log, _, run = replayed(seed, shared_networks=False)
    assert not run.stream and not run.full, described(log, [*run.stream.values(), *run.full])


@pytest.mark.parametrize("seed", [0, 9])
def test_a_ring_in_the_same_traffic_is_reported_by_the_stream(seed: int, replayed: Callable[..., Replayed]) -> None:
    """The control: 30 new accounts on 10 targets within 20 minutes, among the same crowd."""
    log, ring, run = replayed(seed, ring=True)
    assert run.admitted_rounds >= 1
    best = max(run.stream.values(), key=lambda b: len(set(b.actors) & ring), default=None)
    assert best is not None, "the stream stored no block"
    hit = len(set(best.actors) & ring)
    assert 2 * hit / (len(best.actors) + len(ring)) >= 0.9
    assert best.detector == "stream" and best.evidence["confidence"] > 0.99
