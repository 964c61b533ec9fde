"""A refused attempt spends no shared budget: a flood of fakes that the guard refuses
(throwaway mailboxes, a device behind dozens of them) through one carrier NAT must not
use up the network's velocity budget, or the real people behind that NAT are refused
next with `velocity_network`. On every store, through the library as a shop calls it."""

from __future__ import annotations

from headcount.core import Headcount
from headcount.settings import Settings
from headcount.store.base import Store
from headcount.types import ActorInfo, PoolSpec, Result
from tests.signals._world import T0, Clock, letters

AGENT = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36"


def nat_address(uid: str) -> str:
    """One carrier-NAT address of this test's own, so tests sharing a database never count together."""
    return f"81.{int(uid[:2], 16)}.{int(uid[2:4], 16)}.17"


def test_refused_fakes_do_not_use_up_a_carrier_nat(store: Store, uid: str) -> None:
    clock = Clock()
    hc = Headcount.over(store, settings=Settings(), clock=clock)
    pool = f"rally-{uid}"
    assert hc.create_pool(PoolSpec(pool, "Rally", "event", 1000, 2, 600)).ok
    ip = nat_address(uid)
    refused = 0
    for i in range(200):  # a script with throwaway mailboxes and no device id, two a second
        clock.now = T0 + i / 2
        fake = ActorInfo(email=f"x{uid}{i}@mailinator.com", ip=ip, user_agent=AGENT)
        refused += hc.hold(pool, 1, fake).result is not Result.HELD
    assert refused == 200
    served, velocity = 0, 0
    for i in range(60):  # then real people through the same address, each with a phone of their own
        clock.now = T0 + 120 + 5 * i
        real = ActorInfo(email=f"lena.{letters(uid).capitalize()}{i}@gmail.com", device=f"phone-{uid}-{i}", ip=ip,
                         user_agent=f"{AGENT} build/{i}")
        out = hc.hold(pool, 1, real)
        served += out.result is Result.HELD
        velocity += "velocity_network" in out.body["risk"]["reasons"]
    assert velocity == 0
    assert served == 60
