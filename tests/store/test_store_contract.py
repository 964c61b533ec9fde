"""The store contract: every backend must give these answers.

Runs once per backend (SQLite always, PostgreSQL when a server is available).
"""

from __future__ import annotations

import pytest

from headcount.services.keys import Role, create_key, verify_key
from headcount.store.base import Store
from headcount.types import (
    MAX_HOLD_LIFETIME_FACTOR,
    HoldRequest,
    IdempotencyKey,
    LightThresholds,
    PoolSpec,
    Result,
)

T0 = 1_800_000_000.0


def make_pool(store: Store, pool_id: str, capacity: int = 10, limit: int = 2, ttl: int = 600) -> None:
    outcome = store.create_pool(PoolSpec(pool_id, "Pool", "event", capacity, limit, ttl), T0)
    assert outcome.result is Result.CREATED


def hold(store: Store, pool_id: str, actor: str, qty: int = 1, now: float = T0, **kw: object):
    return store.place_hold(HoldRequest(pool_id, qty, actor, **kw), now)  # type: ignore[arg-type]


def test_pool_create_is_unique_and_readable(store: Store, uid: str) -> None:
    spec = PoolSpec(uid, "Arena", "event", 19_200, 2, 900, LightThresholds(0.3, 0.1))
    assert store.create_pool(spec, T0).result is Result.CREATED
    assert store.create_pool(spec, T0).result is Result.EXISTS
    pool = store.get_pool(uid, T0)
    assert pool is not None
    assert (pool.capacity, pool.held, pool.confirmed, pool.available) == (19_200, 0, 0, 19_200)
    assert pool.light_thresholds == LightThresholds(0.3, 0.1)
    assert uid in [p.id for p in store.list_pools(T0)]
    assert store.get_pool(uid + "-missing", T0) is None


def test_holds_never_exceed_capacity(store: Store, uid: str) -> None:
    make_pool(store, uid, capacity=3, limit=5)
    assert hold(store, uid, "a", 2).result is Result.HELD
    assert hold(store, uid, "b", 2).result is Result.SOLD_OUT
    assert hold(store, uid, "b", 1).result is Result.HELD
    assert hold(store, uid, "c", 1).result is Result.SOLD_OUT
    pool = store.get_pool(uid, T0)
    assert pool is not None and (pool.held, pool.available, pool.light) == (3, 0, "red")


def test_per_actor_limit_counts_held_and_confirmed(store: Store, uid: str) -> None:
    make_pool(store, uid, capacity=10, limit=2)
    first = hold(store, uid, "alice")
    store.confirm_hold(first.body["hold_id"], T0)
    assert hold(store, uid, "alice").result is Result.HELD
    limited = hold(store, uid, "alice")
    assert limited.result is Result.ACTOR_LIMIT
    assert limited.body["limit"] == 2 and limited.body["used"] == 2
    assert store.actor_usage(uid, "alice", T0) == 2
    assert hold(store, uid, "bob", 2).result is Result.HELD


def test_guard_can_tighten_cap_and_shorten_holds(store: Store, uid: str) -> None:
    make_pool(store, uid, capacity=10, limit=4, ttl=600)
    risky = hold(store, uid, "r", 1, actor_cap=1, ttl_factor=0.25, risk_score=0.7, risk_reasons=("disposable_email",))
    assert risky.result is Result.HELD
    assert risky.body["expires_at"] == pytest.approx(T0 + 150)
    assert risky.body["risk"] == {"score": 0.7, "reasons": ["disposable_email"]}
    second = hold(store, uid, "r", 1, actor_cap=1)
    assert second.result is Result.ACTOR_LIMIT
    assert "disposable_email" not in second.body["reasons"]


def test_expired_holds_never_count_even_before_the_sweep(store: Store, uid: str) -> None:
    make_pool(store, uid, capacity=2, limit=2, ttl=60)
    h = hold(store, uid, "a", 2)
    assert h.result is Result.HELD
    assert hold(store, uid, "b", 1, now=T0 + 59).result is Result.SOLD_OUT
    later = T0 + 60
    pool = store.get_pool(uid, later)
    assert pool is not None and pool.held == 0 and pool.available == 2
    assert store.actor_usage(uid, "a", later) == 0
    assert hold(store, uid, "b", 2, now=later).result is Result.HELD
    assert store.confirm_hold(h.body["hold_id"], later).result is Result.BAD_STATE
    assert store.sweep(later + 1000) >= 1  # b's hold has expired by then too
    pool = store.get_pool(uid, later + 1000)
    assert pool is not None and (pool.held, pool.confirmed) == (0, 0)


def test_confirm_release_and_their_counters(store: Store, uid: str) -> None:
    make_pool(store, uid, capacity=5, limit=5)
    a = hold(store, uid, "a", 2).body["hold_id"]
    b = hold(store, uid, "b", 1).body["hold_id"]
    assert store.confirm_hold(a, T0 + 1).body["status"] == "confirmed"
    assert store.confirm_hold(a, T0 + 2).result is Result.CONFIRMED  # confirming twice is harmless
    pool = store.get_pool(uid, T0 + 2)
    assert pool is not None and (pool.held, pool.confirmed) == (1, 2)
    assert store.release_hold(b, T0 + 3).body["status"] == "released"
    assert store.release_hold(b, T0 + 4).result is Result.RELEASED  # and releasing twice
    assert store.confirm_hold(b, T0 + 5).result is Result.BAD_STATE
    assert store.release_hold(a, T0 + 6).body["status"] == "released"  # a cancellation
    pool = store.get_pool(uid, T0 + 6)
    assert pool is not None and (pool.held, pool.confirmed, pool.available) == (0, 0, 5)
    held = store.get_hold(a)
    assert held is not None and held.status == "released"


def test_extension_is_capped(store: Store, uid: str) -> None:
    make_pool(store, uid, capacity=5, ttl=100)
    h = hold(store, uid, "a").body["hold_id"]
    cap = T0 + 100 * MAX_HOLD_LIFETIME_FACTOR
    expires = T0 + 100
    expiries = []
    while True:
        out = store.extend_hold(h, expires - 10)  # a buyer who keeps asking for more time
        if out.result is not Result.EXTENDED:
            break
        expires = out.body["expires_at"]
        expiries.append(expires)
    assert out.result is Result.BAD_STATE and out.body["reasons"] == ["extension_cap_reached"]
    assert expiries[-1] == pytest.approx(cap)
    assert store.extend_hold(h, cap + 1).result is Result.BAD_STATE  # expired by now


@pytest.mark.parametrize("forged", ["h1_0000000000000000", "h1", "x", "h-1_ab", "h99999999_ab", "h1_" + "a" * 80])
def test_hold_ids_cannot_be_guessed(store: Store, uid: str, forged: str) -> None:
    make_pool(store, uid)
    hold(store, uid, "a")
    assert store.confirm_hold(forged, T0).result is Result.NOT_FOUND
    assert store.release_hold(forged, T0).result is Result.NOT_FOUND
    assert store.get_hold(forged) is None


def test_unknown_pool(store: Store, uid: str) -> None:
    out = hold(store, uid + "-nope", "a")
    assert out.result is Result.NOT_FOUND and out.body["reasons"] == ["unknown_pool"]


def test_idempotent_writes_replay_and_reject_other_bodies(store: Store, uid: str) -> None:
    make_pool(store, uid, capacity=5, limit=5)
    key = IdempotencyKey(uid, "k1", "hash-a")
    first = store.place_hold(HoldRequest(uid, 1, "a"), T0, key)
    again = store.place_hold(HoldRequest(uid, 1, "a"), T0 + 5, key)
    assert again.replayed and again.body == first.body and again.result is Result.HELD
    other = store.place_hold(HoldRequest(uid, 2, "a"), T0 + 5, IdempotencyKey(uid, "k1", "hash-b"))
    assert other.result is Result.IDEMPOTENCY_MISMATCH
    pool = store.get_pool(uid, T0 + 5)
    assert pool is not None and pool.held == 1  # nothing changed by the replays
    # the same key from another caller is another request
    assert store.place_hold(HoldRequest(uid, 1, "b"), T0, IdempotencyKey(uid + "x", "k1", "h")).result is Result.HELD
    # failures replay too
    sold_key = IdempotencyKey(uid, "k-big", "h")
    assert store.place_hold(HoldRequest(uid, 4, "c"), T0, sold_key).result is Result.SOLD_OUT
    assert store.place_hold(HoldRequest(uid, 4, "c"), T0, sold_key).replayed
    confirm_key = IdempotencyKey(uid, "k-confirm", "h")
    c1 = store.confirm_hold(first.body["hold_id"], T0 + 6, confirm_key)
    c2 = store.confirm_hold(first.body["hold_id"], T0 + 7, confirm_key)
    assert c1.result is c2.result is Result.CONFIRMED and c2.replayed


def test_action_log_records_every_decision(store: Store, uid: str) -> None:
    make_pool(store, uid, capacity=1)
    before = store.read_actions(0, 1_000_000)
    last = before[-1].seq if before else 0
    h = hold(store, uid, f"{uid}-a", risk_score=0.25, risk_reasons=("velocity",))
    hold(store, uid, f"{uid}-b")
    store.confirm_hold(h.body["hold_id"], T0 + 1)
    rows = [r for r in store.read_actions(last) if r.pool_id == uid]
    assert [(r.verb, r.decision) for r in rows] == [("hold", "held"), ("hold", "sold_out"), ("confirm", "confirmed")]
    assert rows[0].reasons == ("velocity",) and rows[0].score == pytest.approx(0.25)
    assert rows[1].reasons == ("sold_out",)


def test_api_keys_are_stored_hashed(store: Store) -> None:
    key = create_key(store, Role.STAFF)
    verified = verify_key(store, key)
    assert verified is not None and verified[1] is Role.STAFF
    record = store.get_api_key(verified[0])
    assert record is not None and key.split("_", 2)[2] not in record.secret_hash
    assert verify_key(store, key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert verify_key(store, "hc_nothere_secret") is None
    assert verify_key(store, "not a key") is None
