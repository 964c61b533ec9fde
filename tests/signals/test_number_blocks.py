"""Number blocks judged against their area: a dense town's real crowd shares blocks by
chance and is served; a run of bought numbers in a quiet area is not. On every store,
through the library as a ticket shop calls it."""

from __future__ import annotations

import random
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from headcount.core import Headcount
from headcount.guard.numbering import AREA_BLOCKS, area_of, block_of, unusual_block
from headcount.policy import Policy, PolicyError
from headcount.settings import Settings
from headcount.store.base import Store
from headcount.types import ActorInfo, PoolSpec, Result
from tests.signals._world import T0, Clock, letters

DEFAULT_POLICY = (resources.files("headcount.policy") / "default.toml").read_text("utf-8")
GERMAN_MOBILE = ("151", "152", "157", "159", "160", "162", "163", *(str(p) for p in range(170, 180)))
BLOCK_REASONS = {"identity_fanout_block", "velocity_phone_block"}
FIRST = ["anna", "lena", "paul", "jonas", "mia", "ben", "emma", "noah", "lea", "finn", "clara", "emil"]
LAST = ["meyer", "schulz", "wagner", "becker", "hoffmann", "koch", "richter", "klein", "wolf", "braun"]


def person(rng: random.Random, uid: str, i: int, number: str) -> ActorInfo:
    """A real-looking person of this test's own: a mailbox, a phone, a home network, a browser."""
    mailbox = f"{rng.choice(FIRST)}.{rng.choice(LAST)}.{letters(uid)}{i}@web.de"
    ip = f"{rng.randrange(11, 90)}.{rng.randrange(1, 250)}.{rng.randrange(1, 250)}.{rng.randrange(2, 250)}"
    agent = f"Mozilla/5.0 (Linux; Android {rng.randrange(10, 15)}) Chrome/{rng.randrange(110, 132)}.0"
    return ActorInfo(email=mailbox, phone=number, device=f"d-{uid}-{i}", ip=ip, user_agent=agent)


def area_prefix(uid: str, salt: int) -> str:
    """A German mobile area (+49 15x/16x/17x, then three digits) of this test's own: 17,000 of
    them, so tests sharing a PostgreSQL database (whose identity graph outlives a run) rarely meet."""
    h = int(uid[:8], 16) + salt
    return f"+49{GERMAN_MOBILE[h % len(GERMAN_MOBILE)]}{(h // len(GERMAN_MOBILE)) % 1000:03d}"


@pytest.fixture
def hc(store: Store) -> Headcount:
    return Headcount.over(store, settings=Settings(), clock=Clock())


def test_a_dense_areas_real_crowd_is_served(hc: Headcount, uid: str) -> None:
    rng = random.Random(uid)
    pool = f"drop-{uid}"
    assert hc.create_pool(PoolSpec(pool, "Drop", "stock", 5000, 2, 600)).ok
    area = area_prefix(uid, 0)
    numbers = rng.sample(range(100_000), 800)  # a town's 800 buyers, all in one area of a hundred blocks
    blocked = []
    for i, n in enumerate(numbers):
        hc.clock.now = T0 + i * 0.75  # ten minutes
        out = hc.hold(pool, 1, person(rng, uid, i, f"{area}{n:05d}"))
        if out.result is not Result.HELD or BLOCK_REASONS & set(out.body["risk"]["reasons"]):
            blocked.append(out.body["risk"]["reasons"])
    assert blocked == []


def test_a_run_of_bought_numbers_is_refused(hc: Headcount, uid: str) -> None:
    rng = random.Random(uid)
    pool = f"rally-{uid}"
    assert hc.create_pool(PoolSpec(pool, "Rally", "event", 5000, 2, 600)).ok
    start = f"{area_prefix(uid, 500)}{rng.randrange(10) * 10_000 + rng.randrange(5) * 1000:05d}"
    refused = 0
    for i in range(30):  # thirty consecutive numbers, each with its own mailbox, phone and network
        hc.clock.now = T0 + 20 * i
        out = hc.hold(pool, 1, person(rng, uid, i, f"{int(start) + i:+d}"))
        refused += out.result is not Result.HELD
    assert refused >= 25


def test_the_blocks_and_areas_of_a_number() -> None:
    assert block_of("+4915112345678") == "+4915112345"
    assert area_of("+4915112345678") == "+49151123"
    assert AREA_BLOCKS == 100


@given(st.integers(1, 60), st.integers(0, 5000), st.integers(0, 20))
def test_unusual_is_monotone(in_block: int, in_area: int, more: int) -> None:
    alpha = 0.001
    if unusual_block(in_block, in_area + more, alpha):
        assert unusual_block(in_block, in_area, alpha)  # a quieter area makes a block no less unusual
        assert unusual_block(in_block + more, in_area + more, alpha)  # more in the block, no less


def test_chance_and_runs() -> None:
    assert not unusual_block(4, 400, 0.001)  # a busy area: four in a block is ordinary
    assert unusual_block(4, 4, 0.001)  # four numbers, all in one block of a hundred: a run
    assert not unusual_block(0, 0, 0.001)


def test_block_alpha_must_be_a_probability() -> None:
    with pytest.raises(PolicyError, match=r"graph\.block_alpha"):
        Policy.from_toml(DEFAULT_POLICY.replace("block_alpha = 0.001", "block_alpha = 2"))
