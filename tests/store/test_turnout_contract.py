"""Registrations and check-ins per risk band, on every store: what the headcount estimate reads."""

from __future__ import annotations

from headcount.store.base import ActionRequest, Store
from headcount.types import HoldRequest, PoolSpec

T0 = 1_800_000_000.0
EDGES = (0.3, 0.7)


def _pool(store: Store, pool_id: str) -> None:
    assert store.create_pool(PoolSpec(pool_id, pool_id, "event", 1000, 10, 600), T0).ok


def _hold(store: Store, pool_id: str, actor: str, qty: int, score: float) -> str:
    out = store.place_hold(HoldRequest(pool_id, qty, actor, risk_score=score), T0)
    assert out.ok, out
    return str(out.body["hold_id"])


def _checkin(store: Store, actor: str, pool_id: str) -> None:
    store.record_action(ActionRequest(actor, "checkin", pool_id, T0 + 5, ((600, 3600),)))


def test_seats_and_check_ins_per_band(store: Store, uid: str) -> None:
    past, now_pool = f"{uid}-past", f"{uid}-now"
    _pool(store, past)
    _pool(store, now_pool)
    a, b, c, d = (f"{uid}-{x}" for x in "abcd")
    store.confirm_hold(_hold(store, past, a, 2, 0.0), T0)  # low band, party of 2, came
    store.confirm_hold(_hold(store, past, b, 1, 0.1), T0)  # low band, stayed home
    store.confirm_hold(_hold(store, past, c, 3, 0.5), T0)  # middle band, came
    _hold(store, past, d, 1, 0.9)  # high band, still held at T0 + 1
    store.release_hold(_hold(store, past, d, 4, 0.9), T0)  # released: not a registration
    _checkin(store, a, past)
    _checkin(store, a, past)  # twice at the door counts once
    _checkin(store, c, past)
    _checkin(store, f"{uid}-walk-in", past)  # no hold: not part of the count
    _hold(store, now_pool, a, 1, 0.0)

    rows = store.pool_turnout(EDGES, T0 + 1, [past])
    got = {(r.band): (r.seats, r.sum_sq, r.checked_in) for r in rows}
    assert {r.pool_id for r in rows} == {past}
    assert got == {0: (3, 5, 2), 1: (3, 9, 3), 2: (1, 1, 0)}
    # the held one has expired by T0 + 700 and no longer counts
    assert {r.band for r in store.pool_turnout(EDGES, T0 + 700, [past])} == {0, 1}
    # history: every pool with a check-in, never one without
    history = {r.pool_id for r in store.pool_turnout(EDGES, T0 + 1)}
    assert past in history and now_pool not in history
    assert store.pool_turnout(EDGES, T0 + 1, []) == []
    assert [(r.band, r.seats, r.checked_in) for r in store.pool_turnout(EDGES, T0 + 1, [now_pool])] == [(0, 1, 0)]


def test_a_check_in_after_persons_merged_finds_the_holds(store: Store, uid: str) -> None:
    pool = f"{uid}-merge"
    _pool(store, pool)
    mail, phone = f"email:{uid}", f"tel:{uid}"
    p_mail = store.link_identities([mail], T0)
    store.link_identities([f"dev:{uid}", phone], T0)
    store.confirm_hold(_hold(store, pool, p_mail, 2, 0.0), T0)
    merged = store.link_identities([mail, phone], T0)  # the door scans both: one person now
    _checkin(store, merged, pool)
    [row] = store.pool_turnout(EDGES, T0 + 1, [pool])
    assert (row.seats, row.checked_in) == (2, 2)
