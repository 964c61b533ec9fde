"""A device that shows itself to be a farm's loses what it was given as a household.

One device may show a few mailboxes (a family's tablet) before fan-out is risk, so
an operator with many devices used to keep `device_mailboxes` holds on each, confirmed
or not. Past `[graph] revoke_device_after` those holds are released, and only that
device's: only its owner sends its id. On every store, through the library."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from headcount.core import Headcount
from headcount.settings import Settings
from headcount.store.base import Store
from headcount.types import ActorInfo, PoolSpec, Result
from tests.signals._world import Clock, letters


def mailbox(uid: str, i: int) -> str:
    return f"{['jana', 'paul', 'lena', 'omar'][i % 4]}.{letters(uid)}{'abcdefghijklmnop'[i]}@web.de"


def fill(hc: Headcount, pool: str, device: str, uid: str, n: int, clock: Clock) -> list[str]:
    """`n` mailboxes on one device, each confirming what it gets; the ids of the holds."""
    held = []
    for i in range(n):
        clock.now += 30
        out = hc.hold(pool, 2, ActorInfo(email=mailbox(uid, i), device=device, ip=f"81.20.{i}.9"))
        if out.result is Result.HELD:
            held.append(str(out.body["hold_id"]))
            assert hc.confirm(held[-1]).ok
    return held


def taken(hc: Headcount, pool: str) -> int:
    p = hc.ledger.pool(pool)
    assert p is not None
    return p.held + p.confirmed


def test_a_farm_device_loses_the_holds_it_was_given(store: Store, uid: str) -> None:
    clock = Clock()
    hc = Headcount.over(store, settings=Settings(), clock=clock)
    pool = f"rally-{uid}"
    assert hc.create_pool(PoolSpec(pool, "Rally", "event", 1000, 2, 600)).ok
    family = fill(hc, pool, f"tablet-{uid}", uid + "f", 4, clock)
    held = fill(hc, pool, f"farm-{uid}", uid, 12, clock)
    assert len(held) >= 4  # a household's allowance, given before the device showed more
    assert taken(hc, pool) == 2 * len(family)  # the farm's seats are back in the pool
    assert all(store.get_hold(h).status == "released" for h in held)  # type: ignore[union-attr]
    assert all(store.get_hold(h).status == "confirmed" for h in family)  # type: ignore[union-attr]


def test_a_family_tablet_keeps_what_it_confirmed(store: Store, uid: str) -> None:
    clock = Clock()
    hc = Headcount.over(store, settings=Settings(), clock=clock)
    pool = f"rally-{uid}"
    assert hc.create_pool(PoolSpec(pool, "Rally", "event", 1000, 2, 600)).ok
    held = fill(hc, pool, f"tablet-{uid}", uid, 8, clock)  # a big family: past the limit, not a farm
    assert len(held) >= 4 and taken(hc, pool) == 2 * len(held)
    assert all(store.get_hold(h).status == "confirmed" for h in held)  # type: ignore[union-attr]


def test_revoking_can_be_turned_off(store: Store, uid: str, tmp_path: Path) -> None:
    text = resources.files("headcount.policy").joinpath("default.toml").read_text()
    assert "revoke_device_after = 8" in text
    policy = tmp_path / "kiosk.toml"
    policy.write_text(text.replace("revoke_device_after = 8", "revoke_device_after = 0"))
    clock = Clock()
    hc = Headcount.over(store, settings=Settings(policy=policy), clock=clock)
    pool = f"desk-{uid}"
    assert hc.create_pool(PoolSpec(pool, "Box office", "event", 1000, 2, 600)).ok
    held = fill(hc, pool, f"kiosk-{uid}", uid, 12, clock)
    assert held and taken(hc, pool) == 2 * len(held)
