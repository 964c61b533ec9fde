"""Challenges on every store: passed once, spent once, bound to a person and a scope."""

from __future__ import annotations

from headcount.store.base import ChallengeRecord, Store

T0 = 1_800_000_000.0


def _challenge(store: Store, uid: str, expires_in: float = 600) -> ChallengeRecord:
    record = ChallengeRecord(f"ch_{uid}", f"person-{uid}", "pool:p1", 0.7, ("phone_voip", "email_machine_made"),
                             T0, T0 + expires_in)
    store.create_challenge(record)
    return record


def test_a_challenge_is_passed_then_spent_once(store: Store, uid: str) -> None:
    c = _challenge(store, uid)
    assert store.get_challenge(c.id) == c
    assert not store.redeem_challenge(c.id, c.actor_key, c.scope, T0 + 1)  # not passed yet
    passed = store.pass_challenge(c.id, T0 + 10, 300)
    assert passed is not None and passed.passed_at == T0 + 10 and passed.token_expires_at == T0 + 310
    assert store.pass_challenge(c.id, T0 + 20, 300) == passed  # a second pass changes nothing
    assert not store.redeem_challenge(c.id, "someone-else", c.scope, T0 + 30)
    assert not store.redeem_challenge(c.id, c.actor_key, "pool:other", T0 + 30)
    assert store.redeem_challenge(c.id, c.actor_key, c.scope, T0 + 30, "req-1")
    assert not store.redeem_challenge(c.id, c.actor_key, c.scope, T0 + 31)  # once
    assert not store.redeem_challenge(c.id, c.actor_key, c.scope, T0 + 31, "req-2")
    assert store.redeem_challenge(c.id, c.actor_key, c.scope, T0 + 900, "req-1")  # the same request, replayed
    spent = store.get_challenge(c.id)
    assert spent is not None and spent.redeemed_at == T0 + 30 and spent.redeemed_by == "req-1"


def test_expired_challenges_and_tokens_do_not_work(store: Store, uid: str) -> None:
    late = _challenge(store, f"{uid}a", expires_in=60)
    after = store.pass_challenge(late.id, T0 + 61, 300)
    assert after is not None and after.passed_at is None  # too late to pass
    slow = _challenge(store, f"{uid}b")
    store.pass_challenge(slow.id, T0 + 10, 300)
    assert not store.redeem_challenge(slow.id, slow.actor_key, slow.scope, T0 + 310)  # the token expired
    assert store.pass_challenge(f"ch_unknown{uid}", T0, 300) is None
    assert store.get_challenge(f"ch_unknown{uid}") is None


def test_old_challenges_are_swept(store: Store, uid: str) -> None:
    c = _challenge(store, uid)
    store.sweep(T0 + 3600)
    assert store.get_challenge(c.id) is not None  # kept as long as idempotency records
    store.sweep(T0 + 2 * 86400)
    assert store.get_challenge(c.id) is None
