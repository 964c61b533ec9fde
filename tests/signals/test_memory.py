"""Behaviour memory counts lapses for whoever made them. A device's lapses are its
owner's; a mailbox or number can be typed by anyone, so an attacker who types a real
person's address from their own device and lets the holds lapse poisons their own
device, not that person; a family member using the shared number from their own phone
is not charged for another's abandoned carts. On every store, through the library."""

from __future__ import annotations

from headcount.core import Headcount
from headcount.settings import Settings
from headcount.store.base import Store
from headcount.types import ActorInfo, PoolSpec, Result
from tests.signals._world import T0, Clock, letters

MEMORY = {"abandoned_holds", "abandoned_repeatedly"}


def reasons(out: object) -> set[str]:
    body = out.body  # type: ignore[attr-defined]
    return set(body["risk"]["reasons"] if "risk" in body else body["reasons"])


def test_lapses_count_for_the_device_that_made_them(store: Store, uid: str) -> None:
    clock = Clock()
    hc = Headcount.over(store, settings=Settings(), clock=clock)
    pool = f"shop-{uid}"
    assert hc.create_pool(PoolSpec(pool, "Shop", "stock", 100, 5, 600)).ok
    victim = f"jana.{letters(uid)}@web.de"
    attacker = f"att-{uid}"
    for i in range(5):  # the attacker types the victim's address and abandons every cart
        clock.now = T0 + 60 * i
        out = hc.hold(pool, 1, ActorInfo(email=victim, device=attacker, ip=f"81.20.{i}.9"))
        if out.result is Result.HELD:
            assert hc.release(out.body["hold_id"]).ok
    clock.now = T0 + 600
    mine = hc.hold(pool, 1, ActorInfo(email=victim, device=f"own-{uid}", ip="93.184.10.20"))
    assert mine.result is Result.HELD and not MEMORY & reasons(mine)
    again = hc.hold(pool, 1, ActorInfo(email=f"paul.{letters(uid)}@web.de", device=attacker, ip="81.20.9.9"))
    assert "abandoned_repeatedly" in reasons(again)  # the device carries its own lapses
    bare = hc.hold(pool, 1, ActorInfo(email=victim, ip="81.20.8.9"))  # no device: the address's count
    assert MEMORY & reasons(bare)
